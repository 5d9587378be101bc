package network_test

// Tests of remote brokers against a real second broker: Debian's
// mosquitto, started on a free loopback port, stopped and restarted by PID.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/nodes/network"
)

// remoteStack is the embedded broker and a runtime running a flow.
type remoteStack struct {
	t   *testing.T
	br  *broker.Broker
	rt  *engine.Runtime
	log *lockedBuffer

	mu     sync.Mutex
	status map[string][]string // node id -> status texts, in order
	cond   *sync.Cond
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startRemoteStack(t *testing.T, flowJSON string, ob engine.OutboxOptions) *remoteStack {
	t.Helper()
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := &remoteStack{t: t, br: br, log: &lockedBuffer{}, status: map[string][]string{}}
	s.cond = sync.NewCond(&s.mu)
	s.rt = engine.New(engine.Options{
		Broker: br, BrokerAddr: br.Addr(), Outbox: ob,
		Logger: slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnStatus: func(ev engine.StatusEvent) {
			s.mu.Lock()
			s.status[ev.NodeID] = append(s.status[ev.NodeID], ev.Status.Text)
			s.cond.Broadcast()
			s.mu.Unlock()
		},
	})
	s.deploy(flowJSON, engine.DeployFull)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.rt.Stop(ctx)
		br.Close()
	})
	return s
}

func (s *remoteStack) deploy(flowJSON string, typ engine.DeployType) {
	s.t.Helper()
	doc, err := flows.Parse([]byte(flowJSON))
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := s.rt.Plan(doc, typ)
	if err != nil {
		s.t.Fatalf("deploy: %v", err)
	}
	if err := s.rt.Apply(context.Background(), p); err != nil {
		s.t.Fatal(err)
	}
}

// waitStatus waits until node id's latest status text is want.
func (s *remoteStack) waitStatus(id, want string) {
	s.t.Helper()
	timer := time.AfterFunc(15*time.Second, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(15 * time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if st := s.status[id]; len(st) > 0 && st[len(st)-1] == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("node %s: status %q, want %q; log:\n%s", id, s.status[id], want, s.log.String())
		}
		s.cond.Wait()
	}
}

func (s *remoteStack) conn(id string) *network.MQTTBroker {
	return s.rt.Graph().Node(id).(*network.MQTTBroker)
}

// collector records payloads in order and signals each arrival.
type collector struct {
	mu   sync.Mutex
	got  []string
	cond *sync.Cond
}

func newCollector() *collector {
	c := &collector{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *collector) add(p string) {
	c.mu.Lock()
	c.got = append(c.got, p)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitFor waits until pred holds for the payloads so far, or d passes.
func (c *collector) waitFor(t *testing.T, d time.Duration, what string, pred func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !pred(c.got) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %d messages: %s", what, len(c.got), summary(c.got))
		}
		c.cond.Wait()
	}
	return append([]string(nil), c.got...)
}

func summary(ps []string) string {
	if len(ps) > 40 {
		return strings.Join(ps[:20], ",") + " ... " + strings.Join(ps[len(ps)-20:], ",")
	}
	return strings.Join(ps, ",")
}

// subscribeRemote subscribes to filter on mosquitto at QoS 1 with a
// persistent session (client id id), so that messages published while it
// is reconnecting wait for it.
func subscribeRemote(t *testing.T, addr, id, filter, user, pass string) *collector {
	t.Helper()
	return subscribeRemoteQoS(t, addr, id, filter, user, pass, 1)
}

// subscribeRemoteQoS is subscribeRemote at QoS qos.
func subscribeRemoteQoS(t *testing.T, addr, id, filter, user, pass string, qos byte) *collector {
	t.Helper()
	c := newCollector()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetOrderMatters(true).SetResumeSubs(true).
		SetUsername(user).SetPassword(pass)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { c.add(string(m.Payload())) })
	o.SetOnConnectHandler(func(cl mqtt.Client) { cl.Subscribe(filter, qos, nil) })
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := cl.Subscribe(filter, qos, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	return c
}

// mosquittoSub runs Debian's mosquitto_sub with a persistent session
// (client id id) on broker m, collecting the payloads of filter until the
// test ends. It reconnects by itself when the broker restarts. It returns
// once a probe published to fwd/probe has come through, which it leaves
// out of the payloads.
func mosquittoSub(t *testing.T, m *mosquittotest.Broker, id, filter string, qos int) *collector {
	t.Helper()
	c := newCollector()
	cmd := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "-i", id, "-c",
		"-q", strconv.Itoa(qos), "-t", filter, "-t", "fwd/probe")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	read := make(chan struct{})
	probed := make(chan struct{}, 1)
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "probe" {
				select {
				case probed <- struct{}{}:
				default:
				}
				continue
			}
			c.add(sc.Text())
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-read
		cmd.Wait()
	})
	for i := 0; ; i++ {
		if out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "-t", "fwd/probe", "-m", "probe").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
		select {
		case <-probed:
			return c
		case <-time.After(100 * time.Millisecond):
		}
		if i > 100 {
			t.Fatal("mosquitto_sub did not subscribe")
		}
	}
}

// publisher connects an MQTT 3.1.1 client to addr, as a device would.
// Its QoS 1 publishes return after the PUBACK, which the embedded broker
// sends once the flow has handled the message.
func publisher(t *testing.T, addr string) func(topic, payload string) {
	t.Helper()
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("device").SetOrderMatters(true))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	return func(topic, payload string) {
		t.Helper()
		if tok := cl.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", payload, tok.Error())
		}
	}
}

func brokerNode(id string, port int, version int, extra string) string {
	return fmt.Sprintf(`{"id":%q,"type":"mqtt-broker","broker":"127.0.0.1","port":"%d","protocolVersion":"%d"%s}`, id, port, version, extra)
}

// TestRemoteInAndOut: an mqtt-in on a remote broker gets what mosquitto_pub
// publishes there, and an mqtt-out publishes there, with MQTT 3.1.1 and 5,
// a user name and password (from the credentials, never logged), and a
// wrong password shown as "disconnected".
func TestRemoteInAndOut(t *testing.T) {
	for _, version := range []int{4, 5} {
		t.Run("v"+strconv.Itoa(version), func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{Passwords: map[string]string{"runnel": "s3cret-pw"}})
			creds := `,"credentials":{"user":"runnel","password":"s3cret-pw"}`
			flow := `[` + brokerNode("b1", m.Port, version, creds+`,"birthTopic":"runnel/status","birthPayload":"online"`) + `,` +
				brokerNode("bad", m.Port, version, `,"credentials":{"user":"runnel","password":"wrong-pw"}`) + `,
{"id":"i1","type":"mqtt-in","topic":"remote/in/#","qos":"1","datatype":"utf8","broker":"b1","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"local/out","qos":"1","wires":[]},
{"id":"i2","type":"mqtt-in","topic":"local/in","qos":"1","datatype":"utf8","wires":[["o2"]]},
{"id":"o2","type":"mqtt-out","topic":"remote/out","qos":"1","broker":"b1","wires":[]},
{"id":"o3","type":"mqtt-out","topic":"remote/out","qos":"1","broker":"bad","wires":[]}]`
			birth := subscribeRemote(t, m.Addr, "birth", "runnel/status", "runnel", "s3cret-pw")
			s := startRemoteStack(t, flow, engine.OutboxOptions{})
			s.waitStatus("i1", "connected")
			s.waitStatus("o2", "connected")
			s.waitStatus("o3", "disconnected")
			birth.waitFor(t, 10*time.Second, "the birth message", func(p []string) bool { return len(p) == 1 && p[0] == "online" })

			local := newCollector()
			cancel, err := s.br.Subscribe("local/out", 1, func(d engine.Delivery) { local.add(string(d.Payload)) })
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			// The subscription is made asynchronously after connecting:
			// publish until the first message arrives, then the rest.
			pub := func(payload string) {
				out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "-u", "runnel", "-P", "s3cret-pw",
					"-V", map[int]string{4: "mqttv311", 5: "mqttv5"}[version], "-q", "1", "-t", "remote/in/dev1", "-m", payload).CombinedOutput()
				if err != nil {
					t.Fatalf("mosquitto_pub: %v: %s", err, out)
				}
			}
			for i := 0; ; i++ {
				pub("probe")
				ok := false
				local.mu.Lock()
				ok = len(local.got) > 0
				local.mu.Unlock()
				if ok {
					break
				}
				if i > 100 {
					t.Fatal("mqtt-in on the remote broker got nothing")
				}
				time.Sleep(50 * time.Millisecond)
			}
			n := len(local.waitFor(t, 5*time.Second, "probe", func(p []string) bool { return len(p) > 0 }))
			for _, p := range []string{"m1", "m2", "m3"} {
				pub(p)
			}
			got := local.waitFor(t, 10*time.Second, "m1..m3", func(p []string) bool { return len(p) >= n+3 && p[len(p)-1] == "m3" })
			if tail := strings.Join(got[len(got)-3:], ","); tail != "m1,m2,m3" {
				t.Fatalf("mqtt-in got %s, want ...m1,m2,m3", summary(got))
			}

			remote := subscribeRemote(t, m.Addr, "sub-"+strconv.Itoa(version), "remote/out", "runnel", "s3cret-pw")
			for _, p := range []string{"p1", "p2", "p3"} {
				if err := s.br.Publish("local/in", []byte(p), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			got = remote.waitFor(t, 10*time.Second, "p1..p3", func(p []string) bool { return len(p) >= 3 })
			if g := strings.Join(got, ","); g != "p1,p2,p3" {
				t.Fatalf("mosquitto subscriber got %s, want p1,p2,p3", g)
			}
			if l := s.log.String(); strings.Contains(l, "s3cret-pw") || strings.Contains(l, "wrong-pw") {
				t.Fatalf("a password was logged:\n%s", l)
			}
		})
	}
}

// forwardFlow: mqtt-in on the embedded broker ("in/data", QoS 1) wired to
// an mqtt-out on remote broker b1 ("fwd/data", QoS 1).
func forwardFlow(port, version int) string {
	return forwardFlowQoS(port, version, 1)
}

// forwardFlowQoS is forwardFlow with mqtt-out at QoS qos.
func forwardFlowQoS(port, version, qos int) string {
	return `[` + brokerNode("b1", port, version, "") + fmt.Sprintf(`,
{"id":"i1","type":"mqtt-in","topic":"in/data","qos":"1","datatype":"utf8","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"fwd/data","qos":"%d","broker":"b1","wires":[]}]`, qos)
}

// checkSequence checks that got is 1..n in order, allowing only
// redeliveries of messages already seen (QoS 1 resends what was not
// acknowledged when the connection dropped), and returns how many of
// those there were.
func checkSequence(t *testing.T, got []string, from, to int) (dups int) {
	t.Helper()
	next := from
	seen := map[int]bool{}
	for i, p := range got {
		v, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("message %d: payload %q", i, p)
		}
		if v == next {
			seen[v] = true
			next++
			continue
		}
		if seen[v] {
			dups++
			continue
		}
		where := -1
		for j, q := range got {
			if q == strconv.Itoa(next) {
				where = j
				break
			}
		}
		t.Fatalf("message %d is %d, want %d (order broken or a message lost; %d is at index %d); got %s", i, v, next, next, where, summary(got[max(0, i-5):min(len(got), i+5)]))
	}
	if next != to+1 {
		t.Fatalf("got up to %d, want %d", next-1, to)
	}
	return dups
}

func lastIs(n int) func([]string) bool {
	want := strconv.Itoa(n)
	return func(p []string) bool {
		for i := len(p) - 1; i >= 0 && i >= len(p)-5; i-- {
			if p[i] == want {
				return true
			}
		}
		return false
	}
}

// TestStoreAndForwardBrokerRestart publishes 3,000 QoS 1 messages through a
// flow whose mqtt-out targets mosquitto, and stops mosquitto (SIGTERM by
// PID) after the 1,000th and starts it again after the 2,000th: the
// subscriber on mosquitto gets every message, in order. Duplicates (QoS 1
// redelivery of messages in flight when the connection dropped) are
// allowed, counted and logged.
//
// At QoS 2 (mqtt-out and the subscriber both), against mosquitto's
// default max_inflight_messages of 20: no message is lost, and the only
// duplicates possible are the messages whose exchange the outage cut
// between PUBREL (mosquitto delivers then) and PUBCOMP, at most the
// window of 10 QoS 2 messages in flight.
func TestStoreAndForwardBrokerRestart(t *testing.T) {
	for _, c := range []struct{ version, qos int }{{4, 1}, {5, 1}, {4, 2}, {5, 2}} {
		version := c.version
		t.Run(fmt.Sprintf("v%d/qos%d", c.version, c.qos), func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
			var sub *collector
			if c.qos == 1 {
				sub = subscribeRemote(t, m.Addr, "sink", "fwd/#", "", "")
			} else {
				// paho.mqtt.golang hands a QoS 2 message over on PUBLISH
				// and again when it is resent after a reconnect;
				// libmosquitto on PUBREL, once.
				sub = mosquittoSub(t, m, "sink", "fwd/#", 2)
			}
			s := startRemoteStack(t, forwardFlowQoS(m.Port, version, c.qos), engine.OutboxOptions{Path: t.TempDir() + "/runnel.db"})
			s.waitStatus("o1", "connected")
			pub := publisher(t, s.br.Addr())
			const n = 3000
			for i := 1; i <= n; i++ {
				pub("in/data", strconv.Itoa(i))
				switch i {
				case 1000:
					m.Stop(syscall.SIGTERM)
					s.waitStatus("o1", "disconnected")
				case 2000:
					if q := s.conn("b1").Conn().Stats().Queue.Messages; q < 900 {
						t.Errorf("queue holds %d messages during the outage, want about 1000", q)
					}
					m.Restart()
				}
			}
			got := sub.waitFor(t, 60*time.Second, "message "+strconv.Itoa(n), lastIs(n))
			dups := checkSequence(t, got, 1, n)
			// Duplicates come from both legs: Runnel resends what mosquitto
			// had not acknowledged, and mosquitto resends to the subscriber
			// what it had not acknowledged when it stopped.
			t.Logf("MQTT v%d, QoS %d: %d sent, all delivered in order across a broker restart, 0 lost, %d duplicates", version, c.qos, n, dups)
			if c.qos == 2 && dups > 10 {
				t.Errorf("%d duplicates at QoS 2, want at most 10 (the messages in flight)", dups)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.conn("b1").Conn().Flush(ctx); err != nil {
				t.Fatalf("flush: %v", err)
			}
			st := s.conn("b1").Conn().Stats()
			if st.Queue.Messages != 0 || st.Queue.Dropped != 0 || st.DroppedQoS0 != 0 {
				t.Fatalf("after delivery: %+v", st)
			}
		})
	}
}

// TestStoreAndForwardBounds: with a bound of 10 messages, 25 published
// during an outage leave the newest 10, which arrive in order after the
// broker is back; the 15 dropped are counted and logged. QoS 0 messages
// during the outage are dropped and counted.
func TestStoreAndForwardBounds(t *testing.T) {
	for _, store := range []string{"sqlite", "memory"} {
		t.Run(store, func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
			sub := subscribeRemote(t, m.Addr, "sink", "fwd/#", "", "")
			ob := engine.OutboxOptions{MaxMessages: 10}
			if store == "sqlite" {
				ob.Path = t.TempDir() + "/runnel.db"
			}
			s := startRemoteStack(t, forwardFlow(m.Port, 4), ob)
			s.waitStatus("o1", "connected")
			m.Stop(syscall.SIGTERM)
			s.waitStatus("o1", "disconnected")
			pub := publisher(t, s.br.Addr())
			for i := 1; i <= 25; i++ {
				pub("in/data", strconv.Itoa(i))
			}
			c := s.conn("b1").Conn()
			c.Publish("fwd/qos0", []byte("x"), 0, false)
			if st, _ := s.conn("b1").Stats(); st.Dropped != 15 || st.Queued != 10 || st.DroppedQoS0 != 1 || st.Connected {
				t.Fatalf("stats = %+v, want 15 dropped, 10 queued, 1 QoS 0 dropped, not connected", st)
			}
			// The same figures reach GET /metrics (engine.Measurer).
			st, _ := s.conn("b1").Stats()
			var figures []string
			for _, m := range s.conn("b1").Metrics() {
				figures = append(figures, fmt.Sprintf("%s=%g", m.Name, m.Value))
			}
			want := fmt.Sprintf("runnel_remote_connected=0 runnel_remote_sent_total=0 runnel_remote_rejected_total=0 runnel_remote_publish_failures_total=0 "+
				"runnel_remote_dropped_qos0_total=1 runnel_outbox_messages=10 runnel_outbox_bytes=%d runnel_outbox_dropped_total=15", st.QueuedBytes)
			if got := strings.Join(figures, " "); got != want || st.QueuedBytes <= 0 {
				t.Fatalf("metrics:\n got %s\nwant %s", got, want)
			}
			if l := s.log.String(); !strings.Contains(l, "store-and-forward queue full: dropped the oldest messages") || !strings.Contains(l, "bound=max_messages") {
				t.Fatalf("no drop warning logged:\n%s", l)
			}
			m.Restart()
			got := sub.waitFor(t, 30*time.Second, "message 25", lastIs(25))
			if g := strings.Join(got, ","); g != "16,17,18,19,20,21,22,23,24,25" {
				t.Fatalf("subscriber got %s, want 16..25", g)
			}
		})
	}
}

// TestForwardQoS2Burst: 1,000 QoS 2 messages published at once to a stock
// mosquitto (max_inflight_messages 20, which it enforces by refusing the
// 21st QoS 2 message in flight, silently over MQTT 3.1.1) all arrive,
// exactly once, in order: Runnel keeps at most its window of QoS 2
// messages in flight (MQTT 5: the broker's Receive Maximum).
func TestForwardQoS2Burst(t *testing.T) {
	for _, version := range []int{4, 5} {
		t.Run("v"+strconv.Itoa(version), func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{})
			sub := subscribeRemoteQoS(t, m.Addr, "sink", "fwd/#", "", "", 2)
			s := startRemoteStack(t, forwardFlowQoS(m.Port, version, 2), engine.OutboxOptions{})
			s.waitStatus("o1", "connected")
			c := s.conn("b1").Conn()
			const n = 1000
			for i := 1; i <= n; i++ {
				if err := c.Publish("fwd/data", []byte(strconv.Itoa(i)), 2, false); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Flush(ctx); err != nil {
				got := sub.waitFor(t, time.Second, "", func([]string) bool { return true })
				t.Fatalf("flush: %v; stats %+v; the subscriber got %d messages: %s", err, c.Stats(), len(got), summary(got))
			}
			got := sub.waitFor(t, 10*time.Second, "message 1000", func(p []string) bool { return len(p) >= n || lastIs(n)(p) })
			// Anything more would arrive right behind.
			time.Sleep(200 * time.Millisecond)
			got = sub.waitFor(t, time.Second, "", func([]string) bool { return true })
			var want []string
			for i := 1; i <= n; i++ {
				want = append(want, strconv.Itoa(i))
			}
			if g := strings.Join(got, ","); g != strings.Join(want, ",") {
				t.Fatalf("subscriber got %d messages: %s; want exactly 1..%d in order", len(got), summary(got), n)
			}
			if st := c.Stats(); st.Sent != n || st.Queue.Messages != 0 || st.Failures != 0 || st.Rejected != 0 {
				t.Fatalf("stats %+v, want %d sent and no failures", st, n)
			}
		})
	}
}

// TestRemoteHotSwap: full deploys of a flow whose mqtt-broker is unchanged
// keep its connection (no reconnect), and the replaced mqtt-in takes over
// the remote subscription, so that none of 2,000 messages published to
// mosquitto meanwhile is lost, repeated or reordered.
func TestRemoteHotSwap(t *testing.T) {
	m := mosquittotest.Start(t, mosquittotest.Options{})
	flow := func(gen int) string {
		return `[` + brokerNode("b1", m.Port, 4, "") + fmt.Sprintf(`,
{"id":"i1","type":"mqtt-in","name":"gen %d","topic":"remote/in","qos":"1","datatype":"utf8","broker":"b1","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","name":"gen %d","topic":"local/out","qos":"1","wires":[]}]`, gen, gen)
	}
	s := startRemoteStack(t, flow(0), engine.OutboxOptions{})
	s.waitStatus("i1", "connected")
	conn := s.conn("b1").Conn()
	local := newCollector()
	cancel, err := s.br.Subscribe("local/out", 1, func(d engine.Delivery) { local.add(string(d.Payload)) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	// The subscription is made right after connecting; wait until it
	// carries messages.
	pub := publisher(t, m.Addr)
	for i := 0; ; i++ {
		pub("remote/in", "probe")
		local.mu.Lock()
		ok := len(local.got) > 0
		local.mu.Unlock()
		if ok {
			break
		}
		if i > 100 {
			t.Fatal("no message came through")
		}
		time.Sleep(20 * time.Millisecond)
	}

	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			pub("remote/in", strconv.Itoa(i))
		}
	}()
	deploys := 0
	for gen := 1; ; gen++ {
		select {
		case <-done:
		default:
			s.deploy(flow(gen), engine.DeployFull)
			deploys++
			continue
		}
		break
	}
	var got []string
	for _, p := range local.waitFor(t, 20*time.Second, "message 2000", lastIs(n)) {
		if p != "probe" {
			got = append(got, p)
		}
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, strconv.Itoa(i))
	}
	if g, w := strings.Join(got, ","), strings.Join(want, ","); g != w {
		checkSequence(t, got, 1, n)
		t.Fatalf("got %d messages with duplicates, want exactly 1..%d", len(got), n)
	}
	if c := s.conn("b1").Conn(); c != conn {
		t.Fatal("the deploys replaced the connection")
	}
	if c := strings.Count(s.log.String(), "remote broker connected"); c != 1 {
		t.Fatalf("connected %d times, want once:\n%s", c, s.log.String())
	}
	t.Logf("%d full deploys during %d messages: none lost, none repeated", deploys, n)
}

// writeTestCA writes a CA and a server certificate for 127.0.0.1 signed by
// it to dir, returning the paths of the CA, the certificate and the key.
func writeTestCA(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "runnel test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// TestRemoteTLS: mqtt-in and mqtt-out reach mosquitto over TLS, trusting a
// generated CA through a tls-config node; without that CA the server's
// certificate is refused and the nodes show "disconnected".
func TestRemoteTLS(t *testing.T) {
	ca, cert, key := writeTestCA(t, t.TempDir())
	m := mosquittotest.Start(t, mosquittotest.Options{Extra: "cafile " + ca + "\ncertfile " + cert + "\nkeyfile " + key + "\n"})
	for _, version := range []int{4, 5} {
		t.Run("v"+strconv.Itoa(version), func(t *testing.T) {
			flow := `[` + brokerNode("b1", m.Port, version, `,"usetls":true,"tls":"t1"`) + `,` +
				brokerNode("b2", m.Port, version, `,"usetls":true,"tls":"t2"`) + `,
{"id":"t1","type":"tls-config","ca":` + strconv.Quote(ca) + `,"verifyservercert":true},
{"id":"t2","type":"tls-config","verifyservercert":true},
{"id":"i1","type":"mqtt-in","topic":"tls/test","qos":"1","datatype":"utf8","broker":"b1","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"local/out","qos":"1","wires":[]},
{"id":"i2","type":"mqtt-in","topic":"local/in","qos":"1","datatype":"utf8","wires":[["o2","o3"]]},
{"id":"o2","type":"mqtt-out","topic":"tls/test","qos":"1","broker":"b1","wires":[]},
{"id":"o3","type":"mqtt-out","topic":"tls/test","qos":"1","broker":"b2","wires":[]}]`
			s := startRemoteStack(t, flow, engine.OutboxOptions{})
			s.waitStatus("i1", "connected")
			s.waitStatus("o3", "disconnected")
			local := newCollector()
			cancel, err := s.br.Subscribe("local/out", 1, func(d engine.Delivery) { local.add(string(d.Payload)) })
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			// mqtt-in subscribes right after connecting: send until the
			// loop through mosquitto carries a message.
			for i := 0; ; i++ {
				s.br.Publish("local/in", []byte("over TLS"), 1, false)
				local.mu.Lock()
				n := len(local.got)
				local.mu.Unlock()
				if n > 0 {
					break
				}
				if i > 100 {
					t.Fatal("nothing came back over TLS")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := local.waitFor(t, 5*time.Second, "a message", func(p []string) bool { return len(p) > 0 }); got[0] != "over TLS" {
				t.Fatalf("got %q", got[0])
			}
			if !strings.Contains(s.log.String(), "certificate signed by unknown authority") {
				t.Fatalf("the refused certificate is not logged:\n%s", s.log.String())
			}
		})
	}
}

// TestMeasureStoreAndForward measures, for MQTT 3.1.1 and 5 with the queue
// in SQLite: forwarding while connected, queueing during an outage, the
// time from the broker's restart to the reconnect, and draining the
// backlog. It only runs with RUNNEL_MEASURE=1:
//
//	RUNNEL_MEASURE=1 go test -run TestMeasureStoreAndForward -v ./nodes/
func TestMeasureStoreAndForward(t *testing.T) {
	if os.Getenv("RUNNEL_MEASURE") == "" {
		t.Skip("set RUNNEL_MEASURE=1")
	}
	const n = 20000
	for _, version := range []int{4, 5} {
		t.Run("v"+strconv.Itoa(version), func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
			sub := subscribeRemote(t, m.Addr, "sink", "fwd/#", "", "")
			s := startRemoteStack(t, forwardFlow(m.Port, version), engine.OutboxOptions{Path: t.TempDir() + "/runnel.db"})
			s.waitStatus("o1", "connected")
			cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + s.br.Addr()).SetClientID("device").SetMaxResumePubInFlight(0))
			if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			defer cl.Disconnect(0)
			// publishAll publishes from..to with up to 64 in flight.
			publishAll := func(from, to int) {
				window := make(chan mqtt.Token, 64)
				done := make(chan struct{})
				go func() {
					for tok := range window {
						tok.Wait()
					}
					close(done)
				}()
				for i := from; i <= to; i++ {
					window <- cl.Publish("in/data", 1, false, strconv.Itoa(i))
				}
				close(window)
				<-done
			}
			start := time.Now()
			publishAll(1, n)
			sub.waitFor(t, 120*time.Second, "the first batch", lastIs(n))
			connected := time.Since(start)

			m.Stop(syscall.SIGTERM)
			s.waitStatus("o1", "disconnected")
			start = time.Now()
			publishAll(n+1, 2*n)
			queueing := time.Since(start)
			if q := s.conn("b1").Conn().Stats().Queue.Messages; q != n {
				t.Fatalf("queued %d, want %d", q, n)
			}
			restart := time.Now()
			m.Restart()
			s.waitStatus("o1", "connected")
			reconnect := time.Since(restart)
			start = time.Now()
			got := sub.waitFor(t, 120*time.Second, "the backlog", lastIs(2*n))
			drain := time.Since(start)
			dups := checkSequence(t, got, 1, 2*n)
			t.Logf("MQTT v%d, %d messages of ~%d bytes, QoS 1:", version, n, len("fwd/data")+5)
			t.Logf("  connected, end to end: %v = %.0f msg/s", connected.Round(time.Millisecond), n/connected.Seconds())
			t.Logf("  outage, into the SQLite queue: %v = %.0f msg/s", queueing.Round(time.Millisecond), n/queueing.Seconds())
			t.Logf("  broker restart to reconnect: %v", reconnect.Round(time.Millisecond))
			t.Logf("  backlog drained to the subscriber: %v = %.0f msg/s (%d duplicates)", drain.Round(time.Millisecond), n/drain.Seconds(), dups)
			// Where the duplicates are: of the messages sent before the
			// outage (mosquitto redelivers what its subscriber had not
			// acknowledged when it stopped), or of the backlog (Runnel
			// resent after a failed publish).
			seen, before, backlog := map[string]bool{}, 0, 0
			for _, p := range got {
				if seen[p] {
					if v, _ := strconv.Atoi(p); v <= n {
						before++
					} else {
						backlog++
					}
				}
				seen[p] = true
			}
			t.Logf("  duplicates of messages from before the outage: %d, of the backlog: %d", before, backlog)
		})
	}
}

// TestMeasureReconnect measures how long a remote connection takes to come
// back after mosquitto was down for 10, 30 and 60 s (stopped with SIGTERM
// and started again on the same port). It only runs with RUNNEL_MEASURE=1
// (about 4 minutes):
//
//	RUNNEL_MEASURE=1 go test -run TestMeasureReconnect -v ./nodes/
func TestMeasureReconnect(t *testing.T) {
	if os.Getenv("RUNNEL_MEASURE") == "" {
		t.Skip("set RUNNEL_MEASURE=1")
	}
	for _, version := range []int{4, 5} {
		t.Run("v"+strconv.Itoa(version), func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{})
			s := startRemoteStack(t, forwardFlow(m.Port, version), engine.OutboxOptions{})
			s.waitStatus("o1", "connected")
			for _, outage := range []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second} {
				m.Stop(syscall.SIGTERM)
				s.waitStatus("o1", "disconnected")
				time.Sleep(outage)
				back := time.Now()
				m.Restart()
				s.waitStatus("o1", "connected")
				t.Logf("MQTT v%d: after a %v outage, reconnected %v after the broker was back", version, outage, time.Since(back).Round(10*time.Millisecond))
			}
		})
	}
}

// TestMQTTBrokerConfigErrors: bad remote broker settings are rejected at
// deploy, naming the node and the field, without connecting anywhere.
func TestMQTTBrokerConfigErrors(t *testing.T) {
	cases := []struct {
		name, props, field, msg string
	}{
		{"port", `"broker":"example.com","port":"70000"`, "port", `invalid port "70000"`},
		{"scheme", `"broker":"http://example.com"`, "broker", `unsupported scheme "http"`},
		{"keepalive", `"broker":"example.com","keepalive":"soon"`, "keepalive", "invalid keep alive"},
		{"client id", `"broker":"example.com","cleansession":false`, "clientid", "a client ID is required when clean session is off"},
		{"protocol", `"broker":"example.com","protocolVersion":"6"`, "protocolVersion", ""},
		{"tls node", `"broker":"example.com","usetls":true,"tls":"nope"`, "tls", `no tls-config config node with id "nope"`},
		{"ws v5", `"broker":"ws://example.com","protocolVersion":"5"`, "broker", "MQTT 5 over WebSocket is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := flows.Parse([]byte(`[{"id":"b1","type":"mqtt-broker",` + c.props + `},
{"id":"o1","type":"mqtt-out","topic":"x","broker":"b1","wires":[]}]`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = engine.New(engine.Options{BrokerAddr: "127.0.0.1:1883"}).Compile(doc)
			var probs flows.Problems
			if !errors.As(err, &probs) {
				t.Fatalf("compile: %v, want problems", err)
			}
			for _, p := range probs {
				if p.NodeID == "b1" && p.Field == c.field && strings.Contains(p.Msg, c.msg) {
					return
				}
			}
			t.Fatalf("problems %v, want one on b1 field %q containing %q", probs, c.field, c.msg)
		})
	}
	// A good remote broker compiles without connecting (runnel validate).
	doc, _ := flows.Parse([]byte(`[{"id":"b1","type":"mqtt-broker","broker":"mqtts://example.com:8883","protocolVersion":"5","credentials":{"user":"u","password":"p"}},
{"id":"o1","type":"mqtt-out","topic":"x","broker":"b1","wires":[]}]`))
	if _, err := engine.New(engine.Options{BrokerAddr: "127.0.0.1:1883"}).Compile(doc); err != nil {
		t.Fatalf("a valid remote broker: %v", err)
	}
}
