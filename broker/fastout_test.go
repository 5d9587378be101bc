//go:build linux

// The fast path exists where connections are nbConns (Linux): elsewhere
// every flow message takes mochi's path, which the other tests cover.

package broker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/engine"
)

// startFast starts a broker and closes it when the test ends, once the
// test's clients, closed before, are gone: mochi's Close, run while a
// client's disconnection is handled, can deadlock (Clients.GetByListener
// read-locks twice, mochi-mqtt/server#488).
func startFast(t testing.TB, opts Options) *Broker {
	t.Helper()
	b, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for !b.closed.Load() && b.srv.Clients.Len() > 1 && time.Now().Before(deadline) { // 1: the inline client
			time.Sleep(time.Millisecond)
		}
		b.Close()
	})
	return b
}

// fastClient is a bare MQTT client over TCP: it sends packets encoded by
// mochi's encoder and reads whole packets as the bytes that arrived.
type fastClient struct {
	net.Conn
	r       *bufio.Reader
	version byte
	ids     uint16
}

// fastDialOpts are the unusual parts of a fastClient's connection.
type fastDialOpts struct {
	props      packets.Properties // MQTT 5 CONNECT properties
	user, pass string
	rcvbuf     int  // SO_RCVBUF, so that the broker's socket fills soon; 0: the system's
	ws         bool // over WebSocket: addr is a WS listener's
	resume     bool // no clean start: resume the client id's session
}

// fastDial connects a fastClient (version 4: MQTT 3.1.1, 5: MQTT 5) and
// checks that the broker accepts it.
func fastDial(t testing.TB, addr string, version byte, id string, o fastDialOpts) *fastClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if o.rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	var conn net.Conn
	if o.ws {
		wd := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second, NetDialContext: d.DialContext}
		ws, _, err := wd.Dial("ws://"+addr+WebSocketPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		conn = &wsConn{ws: ws}
	} else {
		var err error
		if conn, err = d.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { conn.Close() })
	c := &fastClient{Conn: conn, r: bufio.NewReaderSize(conn, 64<<10), version: version}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: version,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: !o.resume, ClientIdentifier: id, Keepalive: 60}}
	if version == 5 {
		pk.Properties = o.props
	}
	if o.user != "" {
		pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(o.user)
		pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(o.pass)
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	c.write(t, buf.Bytes())
	ack := c.expect(t, packets.Connack)
	if ack.ReasonCode != 0 {
		t.Fatalf("%s: CONNACK %#x", id, ack.ReasonCode)
	}
	return c
}

func (c *fastClient) write(t testing.TB, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// packet reads the next whole packet, waiting at most d, and returns its
// bytes as they arrived.
func (c *fastClient) packet(d time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(d))
	first, err := c.r.ReadByte()
	if err != nil {
		return nil, err
	}
	hdr := []byte{first}
	rem, mult := 0, 1
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return nil, err
		}
		hdr = append(hdr, b)
		rem += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
		if len(hdr) == 5 {
			return nil, fmt.Errorf("malformed remaining length % x", hdr)
		}
	}
	out := make([]byte, len(hdr)+rem)
	copy(out, hdr)
	if _, err := io.ReadFull(c.r, out[len(hdr):]); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeFast decodes a whole packet of the given protocol version.
func decodeFast(b []byte, version byte) (packets.Packet, error) {
	var pk packets.Packet
	pk.ProtocolVersion = version
	if len(b) < 2 {
		return pk, fmt.Errorf("packet of %d bytes", len(b))
	}
	if err := pk.FixedHeader.Decode(b[0]); err != nil {
		return pk, err
	}
	n, bu, err := packets.DecodeLength(bytes.NewReader(b[1:]))
	if err != nil {
		return pk, err
	}
	body := b[1+bu:]
	if n != len(body) {
		return pk, fmt.Errorf("remaining length %d, body %d bytes", n, len(body))
	}
	pk.FixedHeader.Remaining = n
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Unsuback:
		err = pk.UnsubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// next reads and decodes the next packet within 5 s.
func (c *fastClient) next(t testing.TB) packets.Packet {
	t.Helper()
	b, err := c.packet(5 * time.Second)
	if err != nil {
		t.Fatalf("reading a packet: %v", err)
	}
	pk, err := decodeFast(b, c.version)
	if err != nil {
		t.Fatalf("decoding % x: %v", b[:min(len(b), 32)], err)
	}
	return pk
}

// expect reads the next packet, which must be of the given type.
func (c *fastClient) expect(t testing.TB, typ byte) packets.Packet {
	t.Helper()
	pk := c.next(t)
	if pk.FixedHeader.Type != typ {
		t.Fatalf("got packet type %d, want %d", pk.FixedHeader.Type, typ)
	}
	return pk
}

// nextPublish reads the next packet, which must be a PUBLISH, and returns
// "topic payload".
func (c *fastClient) nextPublish(t testing.TB) string {
	t.Helper()
	pk := c.expect(t, packets.Publish)
	return pk.TopicName + " " + string(pk.Payload)
}

// subscribe subscribes to filters, with the subscription identifier id
// if above 0 (MQTT 5), and checks the SUBACK grants them.
func (c *fastClient) subscribe(t testing.TB, id int, subs ...packets.Subscription) {
	t.Helper()
	c.ids++
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: c.version,
		PacketID: c.ids, Filters: subs}
	if id > 0 {
		pk.Properties.SubscriptionIdentifier = []int{id}
	}
	var buf bytes.Buffer
	if err := pk.SubscribeEncode(&buf); err != nil {
		t.Fatal(err)
	}
	c.write(t, buf.Bytes())
	ack := c.expect(t, packets.Suback)
	if ack.PacketID != c.ids || len(ack.ReasonCodes) != len(subs) {
		t.Fatalf("SUBACK %d %v, want id %d and %d codes", ack.PacketID, ack.ReasonCodes, c.ids, len(subs))
	}
	for i, code := range ack.ReasonCodes {
		if code != subs[i].Qos {
			t.Fatalf("SUBACK codes %v for %v", ack.ReasonCodes, subs)
		}
	}
}

// sub subscribes to filters at QoS 0.
func (c *fastClient) sub(t testing.TB, filters ...string) {
	t.Helper()
	var subs []packets.Subscription
	for _, f := range filters {
		subs = append(subs, packets.Subscription{Filter: f})
	}
	c.subscribe(t, 0, subs...)
}

// unsubscribe unsubscribes and waits for UNSUBACK.
func (c *fastClient) unsubscribe(t testing.TB, filters ...string) {
	t.Helper()
	c.ids++
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, ProtocolVersion: c.version,
		PacketID: c.ids}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f})
	}
	var buf bytes.Buffer
	if err := pk.UnsubscribeEncode(&buf); err != nil {
		t.Fatal(err)
	}
	c.write(t, buf.Bytes())
	if ack := c.expect(t, packets.Unsuback); ack.PacketID != c.ids {
		t.Fatalf("UNSUBACK for %d, want %d", ack.PacketID, c.ids)
	}
}

// fastStream reads a fastClient's packets in a goroutine, until its
// connection ends or a packet does not decode.
type fastStream struct {
	mu   sync.Mutex
	pks  []packets.Packet
	err  error // why reading ended
	done chan struct{}
	more chan struct{}
	// pause, if set, is called before each packet is read.
	pause func(n int)
}

func (c *fastClient) stream(pause func(n int)) *fastStream {
	s := &fastStream{done: make(chan struct{}), more: make(chan struct{}, 1), pause: pause}
	go func() {
		defer close(s.done)
		for {
			if s.pause != nil {
				s.pause(s.len())
			}
			b, err := c.packet(time.Minute)
			var pk packets.Packet
			if err == nil {
				pk, err = decodeFast(b, c.version)
			}
			s.mu.Lock()
			if err != nil {
				s.err = err
			} else {
				s.pks = append(s.pks, pk)
			}
			s.mu.Unlock()
			select {
			case s.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *fastStream) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pks)
}

// wait waits until n packets have arrived, failing after timeout or if
// reading ends first.
func (s *fastStream) wait(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	if err := s.waitErr(n, timeout); err != nil {
		t.Fatal(err)
	}
}

// waitErr is wait for goroutines other than the test's.
func (s *fastStream) waitErr(n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, err := len(s.pks), s.err
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading ended after %d packets, want %d: %v", got, n, err)
		}
		select {
		case <-s.more:
		case <-deadline:
			return fmt.Errorf("%d packets within %v, want %d", got, timeout, n)
		}
	}
}

// failed returns why reading ended, if it did.
func (s *fastStream) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// end waits for reading to end and returns the packets and the error.
func (s *fastStream) end(t testing.TB) ([]packets.Packet, error) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end within 10s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pks, s.err
}

func (s *fastStream) packets() []packets.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pks)
}

// planned asserts that the flows' messages to topic take the fast path,
// to want network subscribers.
func planned(t testing.TB, b *Broker, topic string, want int) {
	t.Helper()
	if b.fast == nil {
		t.Fatal("the broker has no fast path")
	}
	p := b.fast.subs.plan(topic)
	if !p.ok || len(p.targets) != want {
		t.Fatalf("plan for %s: ok %v, %d targets; want the fast path to %d", topic, p.ok, len(p.targets), want)
	}
}

// idle waits until no connection reader is handling input, so that what
// the flows queue is written at once.
func idle(t testing.TB, b *Broker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.bt.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers still busy after 5s", b.bt.open.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func mustPublish(t testing.TB, b *Broker, topic string, payload []byte) {
	t.Helper()
	if err := b.Publish(topic, payload, 0, false); err != nil {
		t.Fatal(err)
	}
}

// seqPayload is message i of a sequence: its number, then filler that
// depends on it, size bytes in all (at least 8).
func seqPayload(i, size int) []byte {
	p := make([]byte, size)
	copy(p, fmt.Sprintf("%08d", i))
	for j := 8; j < size; j++ {
		p[j] = byte('a' + (i+j)%26)
	}
	return p
}

// seqOf checks a payload made by seqPayload and returns its number.
func seqOf(p []byte, size int) (int, error) {
	if len(p) != size {
		return 0, fmt.Errorf("payload of %d bytes, want %d", len(p), size)
	}
	i, err := strconv.Atoi(string(p[:8]))
	if err != nil {
		return 0, fmt.Errorf("payload %q: %v", p[:8], err)
	}
	if !bytes.Equal(p, seqPayload(i, size)) {
		return 0, fmt.Errorf("payload of message %d is corrupted", i)
	}
	return i, nil
}

// TestFastOutAppendPublish0: the fast path's encoding of a QoS 0 PUBLISH is
// mochi's, byte for byte, for MQTT 3.1.1 and 5, with and without a
// message expiry, at every size of the remaining length.
func TestFastOutAppendPublish0(t *testing.T) {
	topics := []string{"a", "sensors/kitchen/temp", "ünïcødé/温度/🚀", strings.Repeat("t", 300)}
	// Remaining lengths around the variable byte integer's steps.
	rems := []int{0, 1, 126, 127, 128, 129, 16383, 16384, 16385, 2097151, 2097152, 2097153}
	for _, v5 := range []bool{false, true} {
		for _, expiry := range []int64{0, 1, 86400, math.MaxUint32} {
			if !v5 && expiry > 0 {
				continue
			}
			for _, topic := range topics {
				for _, rem := range rems {
					over := 2 + len(topic)
					if v5 {
						over++
						if expiry > 0 {
							over += 5
						}
					}
					n := max(rem-over, 0)
					payload := seqPayload(n, max(n, 8))[:n]
					version := byte(4)
					if v5 {
						version = 5
					}
					pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, ProtocolVersion: version,
						TopicName: topic, Payload: payload, Properties: packets.Properties{MessageExpiryInterval: uint32(expiry)}}
					var want bytes.Buffer
					if err := pk.PublishEncode(&want); err != nil {
						t.Fatal(err)
					}
					prefix := []byte("kept")
					got := appendPublish0(slices.Clone(prefix), topic, payload, v5, expiry)
					if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want.Bytes()) {
						t.Fatalf("v5 %v, expiry %d, topic %q, %d bytes payload: got % x..., want % x...",
							v5, expiry, topic, len(payload), got[:min(len(got), 24)], want.Bytes()[:min(want.Len(), 20)])
					}
				}
			}
		}
	}
	// An expiry beyond the property's 32 bits is the largest it holds.
	got := appendPublish0(nil, "t", []byte("x"), true, math.MaxUint32+10)
	if want := []byte{0x30, 10, 0, 1, 't', 5, 0x02, 0xff, 0xff, 0xff, 0xff, 'x'}; !bytes.Equal(got, want) {
		t.Fatalf("expiry above 2^32-1: % x, want % x", got, want)
	}
}

// TestFastOutBytesMatchMochi: what MQTT 3.1.1 and 5 subscribers receive
// from the flows' QoS 0 messages is, byte for byte, what mochi's own path
// sends them, for a broker with a message expiry and one without.
func TestFastOutBytesMatchMochi(t *testing.T) {
	huge := seqPayload(1, 2<<20+100) // remaining length in 4 bytes
	cases := []struct {
		name, topic string
		payload     []byte
	}{
		{"short", "eq/a", []byte("hello")},
		{"empty", "eq/empty", nil},
		{"rem127", "eq/b", seqPayload(2, 127-6)},
		{"rem128", "eq/b", seqPayload(3, 128-6)},
		{"long", "eq/long", seqPayload(4, 200<<10)},
		{"unicode", "eq/ünïcødé/温度/🚀", []byte("☃ snow ❄")},
		{"huge", "eq/huge", huge},
	}
	for _, lim := range []struct {
		name   string
		expiry time.Duration
	}{{"expiry", 24 * time.Hour}, {"noexpiry", 0}} {
		t.Run(lim.name, func(t *testing.T) {
			l := DefaultLimits()
			l.MessageExpiryMax = lim.expiry
			fast := startFast(t, Options{Addr: "127.0.0.1:0", Limits: &l})
			slow := startFast(t, Options{Addr: "127.0.0.1:0", Limits: &l, noFastOut: true})
			if slow.fast != nil {
				t.Fatal("noFastOut broker has a fast path")
			}
			var fastSubs, slowSubs []*fastClient
			for _, v := range []byte{4, 5} {
				id := fmt.Sprintf("sub-v%d", v)
				for _, b := range []*Broker{fast, slow} {
					c := fastDial(t, b.Addr(), v, id, fastDialOpts{})
					c.sub(t, "eq/#")
					if b == fast {
						fastSubs = append(fastSubs, c)
					} else {
						slowSubs = append(slowSubs, c)
					}
				}
			}
			for _, tc := range cases {
				planned(t, fast, tc.topic, 2)
				for attempt := 1; ; attempt++ {
					// mochi counts the expiry down from the second the
					// message was published to the second it is written:
					// across a second's boundary it sends one less.
					sec := time.Now().Unix()
					mustPublish(t, fast, tc.topic, tc.payload)
					mustPublish(t, slow, tc.topic, tc.payload)
					same := true
					var diffs []string
					for i, fc := range fastSubs {
						got, err := fc.packet(5 * time.Second)
						if err != nil {
							t.Fatalf("%s: v%d fast path: %v", tc.name, fc.version, err)
						}
						want, err := slowSubs[i].packet(5 * time.Second)
						if err != nil {
							t.Fatalf("%s: v%d mochi: %v", tc.name, fc.version, err)
						}
						pk, err := decodeFast(got, fc.version)
						if err != nil || pk.TopicName != tc.topic || !bytes.Equal(pk.Payload, tc.payload) ||
							pk.FixedHeader.Qos != 0 || pk.FixedHeader.Retain || pk.FixedHeader.Dup {
							t.Fatalf("%s: v%d fast path sent %s %d bytes (%v)", tc.name, fc.version, pk.TopicName, len(pk.Payload), err)
						}
						if fc.version == 5 && pk.Properties.MessageExpiryInterval != uint32(lim.expiry/time.Second) {
							t.Fatalf("%s: message expiry %d, want %d", tc.name, pk.Properties.MessageExpiryInterval, lim.expiry/time.Second)
						}
						if !bytes.Equal(got, want) {
							same = false
							at := 0
							for at < min(len(got), len(want)) && got[at] == want[at] {
								at++
							}
							diffs = append(diffs, fmt.Sprintf("v%d: %d bytes vs mochi's %d, first difference at %d: fast % x, mochi % x",
								fc.version, len(got), len(want), at, got[at:min(len(got), at+8)], want[at:min(len(want), at+8)]))
						}
					}
					if same {
						break
					}
					if time.Now().Unix() == sec || attempt == 3 {
						t.Fatalf("%s: bytes differ:\n%s", tc.name, strings.Join(diffs, "\n"))
					}
				}
			}
			if d := atomic.LoadInt64(&fast.srv.Info.MessagesDropped); d != 0 {
				t.Errorf("%d messages dropped", d)
			}
			// mochi's counters count the fast path's messages as its own.
			fi, si := fast.srv.Info, slow.srv.Info
			for _, c := range []struct {
				name       string
				fast, slow int64
			}{
				{"MessagesSent", atomic.LoadInt64(&fi.MessagesSent), atomic.LoadInt64(&si.MessagesSent)},
				{"MessagesReceived", atomic.LoadInt64(&fi.MessagesReceived), atomic.LoadInt64(&si.MessagesReceived)},
			} {
				if c.fast != c.slow {
					t.Errorf("%s: %d with the fast path, %d without", c.name, c.fast, c.slow)
				}
			}
		})
	}
}

// TestFastOutOrder: 20,000 flow messages in a row reach mosquitto_sub,
// all of them, in order.
func TestFastOutOrder(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	host, port, _ := net.SplitHostPort(b.Addr())
	const n = 20000
	lines, wait := mosquittoSub(t, "-h", host, "-p", port, "-V", "mqttv311", "-t", "order/t", "-C", strconv.Itoa(n), "-F", "%p")
	waitSubscribed(t, b, "order/t", 1)
	planned(t, b, "order/t", 1)
	for i := range n {
		mustPublish(t, b, "order/t", []byte(strconv.Itoa(i)))
	}
	for i := range n {
		if got := line(t, lines); got != strconv.Itoa(i) {
			t.Fatalf("message %d is %q", i, got)
		}
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
		t.Fatalf("%d messages dropped", d)
	}
}

// waitSubscribed waits until n network clients subscribe to topic.
func waitSubscribed(t testing.TB, b *Broker, topic string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.srv.Topics.Subscribers(topic).Subscriptions) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d subscribers to %s after 10s", n, topic)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFastOutInterleave: while the flows publish to a topic, a network
// client (paho, MQTT 5) publishes to it too, through mochi's path, and a
// subscriber that reads slowly through a small receive buffer (so that
// writes to it are partial and wait for room) receives a stream of whole
// packets with every message of each publisher in its order.
func TestFastOutInterleave(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxQueued = 1 << 16 // mochi must not drop the network client's messages
	b := startFast(t, Options{Addr: "127.0.0.1:0", Limits: &lim})
	const flows, netw = 20000, 5000
	sub := fastDial(t, b.Addr(), 4, "slow-reader", fastDialOpts{rcvbuf: 4096})
	sub.sub(t, "mix/t")
	planned(t, b, "mix/t", 1)
	s := sub.stream(func(n int) {
		if n%200 == 199 {
			time.Sleep(time.Millisecond) // let the broker's socket fill
		}
	})
	pub := mustConnect(t, b, nil, "tcp", "net-publisher")
	var wg sync.WaitGroup
	wg.Add(2)
	start := make(chan struct{})
	errc := make(chan error, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		defer wg.Done()
		<-start
		for i := range netw {
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: "mix/t", Payload: []byte("n" + strconv.Itoa(i))}); err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		<-start
		for i := range flows {
			if err := b.Publish("mix/t", []byte("f"+strconv.Itoa(i)), 0, false); err != nil {
				errc <- err
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	s.wait(t, flows+netw, 30*time.Second)
	next := map[byte]int{'f': 0, 'n': 0}
	for i, pk := range s.packets() {
		if pk.FixedHeader.Type != packets.Publish || pk.TopicName != "mix/t" || len(pk.Payload) < 2 {
			t.Fatalf("packet %d: type %d topic %q payload %q", i, pk.FixedHeader.Type, pk.TopicName, pk.Payload)
		}
		from := pk.Payload[0]
		want, ok := next[from]
		if !ok || string(pk.Payload[1:]) != strconv.Itoa(want) {
			t.Fatalf("packet %d: payload %q, want %c%d", i, pk.Payload, from, want)
		}
		next[from]++
	}
	if next['f'] != flows || next['n'] != netw {
		t.Fatalf("received %d flow and %d network messages, want %d and %d", next['f'], next['n'], flows, netw)
	}
	if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
		t.Fatalf("%d messages dropped", d)
	}
}

// TestFastOutFlowsSee: the flows' own subscriptions get the flows'
// messages as mochi's path hands them over (Internal, QoS 0, not
// retained), before Publish returns, whether network clients subscribe or
// not; a flow that publishes from its handler reaches the network too.
func TestFastOutFlowsSee(t *testing.T) {
	for _, noFast := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "mochi"}[noFast], func(t *testing.T) {
			b := startFast(t, Options{Addr: "127.0.0.1:0", noFastOut: noFast})
			var mu sync.Mutex
			var got []engine.Delivery
			cancel, err := b.Subscribe("see/#", 1, func(d engine.Delivery) {
				mu.Lock()
				got = append(got, d)
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			relay, err := b.Subscribe("in/+", 0, func(d engine.Delivery) {
				if err := b.Publish("see/t", append([]byte("relayed "), d.Payload...), 0, false); err != nil {
					t.Error(err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer relay()
			sub := fastDial(t, b.Addr(), 4, "net-sub", fastDialOpts{})
			sub.sub(t, "see/t")
			if !noFast {
				planned(t, b, "see/t", 1)
				planned(t, b, "see/none", 0)
				planned(t, b, "in/x", 0)
			}
			check := func(topic, payload string) {
				t.Helper()
				mu.Lock()
				defer mu.Unlock()
				want := engine.Delivery{Topic: topic, Payload: []byte(payload), QoS: 0, Retain: false, Internal: true}
				if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
					t.Fatalf("flows got %+v, want only %+v", got, want)
				}
				got = nil
			}
			mustPublish(t, b, "see/t", []byte("one"))
			check("see/t", "one") // before Publish returned
			if m := sub.nextPublish(t); m != "see/t one" {
				t.Fatalf("network subscriber got %q", m)
			}
			mustPublish(t, b, "see/none", []byte("two"))
			check("see/none", "two")
			mustPublish(t, b, "in/x", []byte("three"))
			check("see/t", "relayed three")
			if m := sub.nextPublish(t); m != "see/t relayed three" {
				t.Fatalf("network subscriber got %q", m)
			}
		})
	}
}

// TestFastOutNoReaderBusy: a message the flows publish while no
// connection's reader handles input (a timer's message, say) is written
// out before Publish returns, with nothing left for the backstop timer;
// one published by a flow that then blocks the reader that ran it is
// written by the backstop timer meanwhile.
func TestFastOutNoReaderBusy(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	sub := fastDial(t, b.Addr(), 4, "sub", fastDialOpts{})
	sub.sub(t, "idle/t")
	planned(t, b, "idle/t", 1)
	var slowest time.Duration
	for i := range 50 {
		idle(t, b)
		start := time.Now()
		mustPublish(t, b, "idle/t", []byte(strconv.Itoa(i)))
		if n, armed := b.bt.ndirty.Load(), b.bt.isArmed(); n != 0 || armed {
			t.Fatalf("after Publish: %d connections dirty, timer armed %v; want the output written", n, armed)
		}
		p, err := sub.packet(2 * time.Second) // a bound to fail instead of hang
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		slowest = max(slowest, time.Since(start))
		if pk, err := decodeFast(p, 4); err != nil || string(pk.Payload) != strconv.Itoa(i) {
			t.Fatalf("message %d: %q %v", i, pk.Payload, err)
		}
	}
	t.Logf("slowest arrival: %v", slowest)

	// A flow that blocks the publisher's reader after publishing.
	release := make(chan struct{})
	cancel, err := b.Subscribe("idle/trigger", 0, func(d engine.Delivery) {
		if err := b.Publish("idle/t", []byte("from a blocked reader"), 0, false); err != nil {
			t.Error(err)
		}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	pub := mustConnect(t, b, nil, "tcp", "trigger")
	pub.pub(t, &paho.Publish{Topic: "idle/trigger", Payload: []byte("go")})
	p, err := sub.packet(5 * time.Second)
	close(release)
	if err != nil {
		t.Fatalf("message from a blocked reader: %v", err)
	}
	if pk, err := decodeFast(p, 4); err != nil || string(pk.Payload) != "from a blocked reader" {
		t.Fatalf("got %q %v", pk.Payload, err)
	}
}

// sendBufferMax is the most a TCP socket's send buffer grows to.
func sendBufferMax() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if f := strings.Fields(string(b)); err == nil && len(f) == 3 {
		if n, err := strconv.Atoi(f[2]); err == nil {
			return n
		}
	}
	return 4 << 20
}

// TestFastOutSlowSubscriber: a subscriber that stops reading costs the
// flows nothing: Publish does not wait for it, the messages it cannot
// take are dropped and counted, another subscriber gets every message
// meanwhile, and when the slow one reads again it gets whole packets, in
// order, exactly the ones not counted as dropped.
func TestFastOutSlowSubscriber(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	stalled := fastDial(t, b.Addr(), 4, "stalled", fastDialOpts{rcvbuf: 4096})
	stalled.sub(t, "slow/t")
	good := fastDial(t, b.Addr(), 5, "good", fastDialOpts{})
	good.sub(t, "slow/t")
	planned(t, b, "slow/t", 2)
	gs := good.stream(nil)
	// More than the stalled connection holds: its pending output and
	// the socket's send buffer (at most tcp_wmem's maximum, 4 MB by
	// default), with the small receive buffer: 8 MB by default.
	const size = 1000
	n := (DefaultMaxQueuedBytes + sendBufferMax() + 3<<20) / size
	var inPublish, slowest time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			start := time.Now()
			if err := b.Publish("slow/t", seqPayload(i, size), 0, false); err != nil {
				t.Error(err)
				return
			}
			d := time.Since(start)
			inPublish += d
			slowest = max(slowest, d)
			if i%100 == 99 {
				// Keep the good subscriber within reach.
				if err := gs.waitErr(i+1, 10*time.Second); err != nil {
					t.Errorf("good subscriber: %v", err)
					return
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("publishing to a stalled subscriber blocked")
	}
	if t.Failed() {
		return
	}
	t.Logf("%d messages: %v in Publish, slowest %v", n, inPublish, slowest)
	if inPublish > 20*time.Second || slowest > 2*time.Second {
		t.Fatalf("Publish took %v in all, %v at most: it waits for the stalled subscriber", inPublish, slowest)
	}
	gs.wait(t, n, 10*time.Second)
	for i, pk := range gs.packets() {
		if seq, err := seqOf(pk.Payload, size); err != nil || seq != i {
			t.Fatalf("good subscriber: message %d is %d (%v)", i, seq, err)
		}
	}
	dropped := atomic.LoadInt64(&b.srv.Info.MessagesDropped)
	if dropped == 0 {
		t.Fatal("no message counted as dropped")
	}

	// The stalled subscriber reads again; an end mark, published until
	// one gets through, closes its sequence.
	ss := stalled.stream(nil)
	deadline := time.Now().Add(20 * time.Second)
	for ended := false; !ended; {
		if time.Now().After(deadline) {
			t.Fatal("no end mark reached the stalled subscriber within 20s")
		}
		mustPublish(t, b, "slow/t", []byte("end"))
		time.Sleep(10 * time.Millisecond)
		if err := ss.failed(); err != nil {
			t.Fatalf("stalled subscriber, after %d packets: %v", ss.len(), err)
		}
		for _, pk := range ss.packets() {
			ended = ended || string(pk.Payload) == "end"
		}
	}
	var seqs []int
	for _, pk := range ss.packets() {
		if pk.FixedHeader.Type != packets.Publish || pk.TopicName != "slow/t" {
			t.Fatalf("stalled subscriber got type %d, topic %q", pk.FixedHeader.Type, pk.TopicName)
		}
		if string(pk.Payload) == "end" {
			break
		}
		seq, err := seqOf(pk.Payload, size)
		if err != nil {
			t.Fatalf("stalled subscriber, after %d messages: %v", len(seqs), err)
		}
		if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
			t.Fatalf("stalled subscriber got %d after %d", seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, seq)
	}
	if len(seqs) == 0 || seqs[0] != 0 {
		t.Fatalf("stalled subscriber's first messages: %v", seqs[:min(len(seqs), 5)])
	}
	if int64(len(seqs))+dropped != int64(n) {
		t.Fatalf("stalled subscriber got %d messages and %d were dropped: %d, want %d", len(seqs), dropped, int64(len(seqs))+dropped, n)
	}
	t.Logf("stalled subscriber: %d received, %d dropped", len(seqs), dropped)
}

// TestFastOutACL: the ACL's read rules apply to the flows' messages on the
// fast path as on mochi's: a user whose subscription covers a topic the
// ACL denies it does not get that topic's messages, another user does.
func TestFastOutACL(t *testing.T) {
	for _, noFast := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "mochi"}[noFast], func(t *testing.T) {
			b := startFast(t, Options{Addr: "127.0.0.1:0", noFastOut: noFast, Auth: AuthOptions{
				Users: []User{{Name: "limited", PasswordHash: mustHash(t, "l")}, {Name: "full", PasswordHash: mustHash(t, "f")}},
				ACL: []ACLRule{
					{User: "limited", Topic: "acl/secret", Access: AccessDeny},
					{User: "limited", Topic: "acl/#", Access: AccessRead},
					{User: "full", Topic: "acl/#", Access: AccessRead},
				},
			}})
			limited := fastDial(t, b.Addr(), 4, "limited-1", fastDialOpts{user: "limited", pass: "l"})
			limited.sub(t, "acl/#")
			full := fastDial(t, b.Addr(), 5, "full-1", fastDialOpts{user: "full", pass: "f"})
			full.sub(t, "acl/#")
			if !noFast {
				planned(t, b, "acl/secret", 2)
				planned(t, b, "acl/open", 2)
			}
			var wantFull, wantLimited []string
			for i := range 100 {
				for _, topic := range []string{"acl/secret", "acl/open"} {
					m := fmt.Sprintf("%s %d", topic, i)
					mustPublish(t, b, topic, []byte(strconv.Itoa(i)))
					wantFull = append(wantFull, m)
					if topic == "acl/open" {
						wantLimited = append(wantLimited, m)
					}
				}
			}
			mustPublish(t, b, "acl/open", []byte("end"))
			wantFull, wantLimited = append(wantFull, "acl/open end"), append(wantLimited, "acl/open end")
			for _, c := range []struct {
				name string
				sub  *fastClient
				want []string
			}{{"limited", limited, wantLimited}, {"full", full, wantFull}} {
				var got []string
				for len(got) < len(c.want) {
					got = append(got, c.sub.nextPublish(t))
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("%s got %d messages:\n%s\nwant %d", c.name, len(got), strings.Join(got, "\n"), len(c.want))
				}
			}
			if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
				t.Errorf("%d messages dropped", d)
			}
		})
	}
}

// TestFastOutFallbacks: subscriptions the fast path does not serve (a
// shared subscription, a subscription identifier, No Local, topic
// aliases, a WebSocket connection) make the topic take mochi's path, and
// their clients get the flows' messages as mochi sends them, as does a
// plain subscriber of the same topic.
func TestFastOutFallbacks(t *testing.T) {
	cases := []struct {
		name string
		// subscribe connects a client that subscribes to topic and
		// returns a function that reads its next message (or fails).
		subscribe func(t *testing.T, b *Broker, topic string) func() string
	}{
		{"shared", func(t *testing.T, b *Broker, topic string) func() string {
			c := mustConnect(t, b, nil, "tcp", "shared")
			c.sub(t, "$share/g/"+topic, 0)
			return func() string { return show(c.next(t)) }
		}},
		{"identifier", func(t *testing.T, b *Broker, topic string) func() string {
			c := fastDial(t, b.Addr(), 5, "identifier", fastDialOpts{})
			c.subscribe(t, 7, packets.Subscription{Filter: topic})
			return func() string {
				pk := c.expect(t, packets.Publish)
				if !slices.Equal(pk.Properties.SubscriptionIdentifier, []int{7}) {
					t.Fatalf("subscription identifiers %v, want [7]", pk.Properties.SubscriptionIdentifier)
				}
				return fmt.Sprintf("%s|%s|%d|%v", pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain)
			}
		}},
		{"nolocal", func(t *testing.T, b *Broker, topic string) func() string {
			c := fastDial(t, b.Addr(), 5, "nolocal", fastDialOpts{})
			c.subscribe(t, 0, packets.Subscription{Filter: topic, NoLocal: true})
			return func() string {
				pk := c.expect(t, packets.Publish)
				return fmt.Sprintf("%s|%s|%d|%v", pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain)
			}
		}},
		{"alias", func(t *testing.T, b *Broker, topic string) func() string {
			c := fastDial(t, b.Addr(), 5, "alias", fastDialOpts{props: packets.Properties{TopicAliasMaximum: 5}})
			c.sub(t, topic)
			aliases := map[uint16]string{}
			return func() string {
				pk := c.expect(t, packets.Publish)
				if a := pk.Properties.TopicAlias; a > 0 {
					if pk.TopicName != "" {
						aliases[a] = pk.TopicName
					} else {
						pk.TopicName = aliases[a]
					}
				} else {
					t.Fatalf("message to %q without a topic alias", pk.TopicName)
				}
				return fmt.Sprintf("%s|%s|%d|%v", pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain)
			}
		}},
		{"websocket", func(t *testing.T, b *Broker, topic string) func() string {
			c := mustConnect(t, b, nil, "ws", "websocket")
			c.sub(t, topic, 0)
			return func() string { return show(c.next(t)) }
		}},
	}
	b := startFast(t, Options{Addr: "127.0.0.1:0", WSAddr: "127.0.0.1:0"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := "fb/" + tc.name
			plain := fastDial(t, b.Addr(), 4, "plain-"+tc.name, fastDialOpts{})
			plain.sub(t, topic)
			planned(t, b, topic, 1)
			next := tc.subscribe(t, b, topic)
			if p := b.fast.subs.plan(topic); p.ok {
				t.Fatalf("plan for %s takes the fast path with %d targets", topic, len(p.targets))
			}
			for i := range 3 {
				mustPublish(t, b, topic, []byte(strconv.Itoa(i)))
			}
			for i := range 3 {
				if got, want := next(), fmt.Sprintf("%s|%d|0|false", topic, i); got != want {
					t.Errorf("%s got %s, want %s", tc.name, got, want)
				}
				if got, want := plain.nextPublish(t), fmt.Sprintf("%s %d", topic, i); got != want {
					t.Errorf("plain subscriber got %s, want %s", got, want)
				}
			}
		})
	}
}

// TestFastOutSubscriptionChanges: the plan of a topic follows its
// subscriptions: a client that subscribes after the plan was made gets the
// next messages, one that unsubscribes or leaves gets no more.
func TestFastOutSubscriptionChanges(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	first := fastDial(t, b.Addr(), 4, "first", fastDialOpts{})
	first.sub(t, "chg/t", "chg/mark")
	planned(t, b, "chg/t", 1)
	mustPublish(t, b, "chg/t", []byte("1"))
	if p, q := b.fast.subs.plan("chg/t"), b.fast.subs.plan("chg/t"); p != q {
		t.Fatal("the plan is not kept while the subscriptions stay")
	}
	if m := first.nextPublish(t); m != "chg/t 1" {
		t.Fatalf("first got %q", m)
	}

	second := fastDial(t, b.Addr(), 5, "second", fastDialOpts{})
	second.sub(t, "chg/t")
	mustPublish(t, b, "chg/t", []byte("2"))
	for _, c := range []*fastClient{first, second} {
		if m := c.nextPublish(t); m != "chg/t 2" {
			t.Fatalf("v%d got %q, want chg/t 2", c.version, m)
		}
	}

	first.unsubscribe(t, "chg/t")
	mustPublish(t, b, "chg/t", []byte("3"))
	mustPublish(t, b, "chg/mark", []byte("after 3"))
	if m := first.nextPublish(t); m != "chg/mark after 3" {
		t.Fatalf("first got %q after unsubscribing, want chg/mark after 3", m)
	}
	if m := second.nextPublish(t); m != "chg/t 3" {
		t.Fatalf("second got %q", m)
	}

	// The second client leaves: the flows' messages go nowhere (and
	// nothing is counted as dropped); a third one then gets them.
	second.write(t, []byte{0xe0, 0})
	if _, err := second.packet(5 * time.Second); err != io.EOF {
		t.Fatalf("after DISCONNECT: %v, want EOF", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(b.srv.Topics.Subscribers("chg/t").Subscriptions) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second client's subscription outlived it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mustPublish(t, b, "chg/t", []byte("4"))
	third := fastDial(t, b.Addr(), 4, "third", fastDialOpts{})
	third.sub(t, "chg/t")
	mustPublish(t, b, "chg/t", []byte("5"))
	mustPublish(t, b, "chg/mark", []byte("after 5"))
	if m := third.nextPublish(t); m != "chg/t 5" {
		t.Fatalf("third got %q, want chg/t 5", m)
	}
	if m := first.nextPublish(t); m != "chg/mark after 5" {
		t.Fatalf("first got %q, want chg/mark after 5", m)
	}
	if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
		t.Fatalf("%d messages dropped", d)
	}
}

// TestFastOutClose: the messages the flows publish right before
// Broker.Close reach the subscribers that read, before their connections
// end (MQTT 5: before the DISCONNECT "server shutting down"), whether they
// were queued by a goroutine of the flows' own or by a connection's
// reader, whose output waits for the reader's next read.
func TestFastOutClose(t *testing.T) {
	const n = 1000
	for _, from := range []string{"goroutine", "reader"} {
		t.Run(from, func(t *testing.T) {
			b := startFast(t, Options{Addr: "127.0.0.1:0"})
			v4 := fastDial(t, b.Addr(), 4, "v4", fastDialOpts{})
			v4.sub(t, "close/t")
			v5 := fastDial(t, b.Addr(), 5, "v5", fastDialOpts{})
			v5.sub(t, "close/t")
			planned(t, b, "close/t", 2)
			streams := []*fastStream{v4.stream(nil), v5.stream(nil)}
			publish := func() {
				for i := range n {
					if err := b.Publish("close/t", []byte(strconv.Itoa(i)), 0, false); err != nil {
						t.Error(err)
					}
				}
			}
			if from == "goroutine" {
				publish()
			} else {
				published := make(chan struct{})
				cancel, err := b.Subscribe("close/trigger", 0, func(engine.Delivery) { publish(); close(published) })
				if err != nil {
					t.Fatal(err)
				}
				defer cancel()
				pub := mustConnect(t, b, nil, "tcp", "trigger")
				pub.pub(t, &paho.Publish{Topic: "close/trigger", Payload: []byte("go")})
				select {
				case <-published:
				case <-time.After(10 * time.Second):
					t.Fatal("the flow did not run")
				}
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			for k, s := range streams {
				version := []int{4, 5}[k]
				pks, err := s.end(t)
				if !errors.Is(err, io.EOF) {
					t.Errorf("v%d: reading ended with %v, want EOF", version, err)
				}
				// MQTT 5 ends with a DISCONNECT; 3.1.1 has none from the
				// server, so the connection just ends.
				if len(pks) == 0 {
					t.Fatalf("v%d: nothing received", version)
				}
				msgs := pks
				if version == 5 {
					last := pks[len(pks)-1]
					if last.FixedHeader.Type != packets.Disconnect || last.ReasonCode != packets.ErrServerShuttingDown.Code {
						t.Errorf("v%d: last packet is type %d reason %#x, want DISCONNECT (0x8b)", version, last.FixedHeader.Type, last.ReasonCode)
					}
					msgs = pks[:len(pks)-1]
				}
				if len(msgs) != n {
					t.Fatalf("v%d subscriber got %d messages, want %d", version, len(msgs), n)
				}
				for i, pk := range msgs {
					if pk.FixedHeader.Type != packets.Publish || string(pk.Payload) != strconv.Itoa(i) {
						t.Fatalf("packet %d: type %d payload %q", i, pk.FixedHeader.Type, pk.Payload)
					}
				}
			}
		})
	}
}

// TestFastOutLargeMessages: messages larger than the output a connection
// may have pending (DefaultMaxQueuedBytes) reach a subscriber that keeps up, as
// through mochi: each on its own, and one queued in a batch (published
// by a flow that runs on a connection's reader) behind smaller ones.
// (Messages queued behind it while more than the bound is still pending
// are dropped, by design; how soon the socket takes it depends on the
// machine, so the batch ends with it.)
func TestFastOutLargeMessages(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	sub := fastDial(t, b.Addr(), 5, "sub", fastDialOpts{rcvbuf: 4 << 20})
	sub.sub(t, "large/t")
	planned(t, b, "large/t", 1)
	s := sub.stream(nil)
	var sizes []int
	publish := func(size int) {
		t.Helper()
		if err := b.Publish("large/t", seqPayload(len(sizes), max(size, 8)), 0, false); err != nil {
			t.Error(err)
		}
		sizes = append(sizes, size)
	}
	for _, size := range []int{3 << 20, DefaultMaxQueuedBytes - 100, DefaultMaxQueuedBytes, DefaultMaxQueuedBytes + 1, 10} {
		publish(size) // from a goroutine of the flows' own
		s.wait(t, len(sizes), 10*time.Second)
	}
	published := make(chan struct{})
	cancel, err := b.Subscribe("large/trigger", 0, func(engine.Delivery) {
		defer close(published)
		for _, size := range []int{10, 20, 30, 40, DefaultMaxQueuedBytes + 1} {
			publish(size)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	pub := mustConnect(t, b, nil, "tcp", "trigger")
	pub.pub(t, &paho.Publish{Topic: "large/trigger", Payload: []byte("go")})
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("the flow did not run")
	}
	s.wait(t, len(sizes), 10*time.Second)
	for i, pk := range s.packets() {
		if seq, err := seqOf(pk.Payload, max(sizes[i], 8)); err != nil || seq != i {
			t.Fatalf("message %d: %d (%v)", i, seq, err)
		}
	}
	if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
		t.Fatalf("%d messages dropped", d)
	}
}

// TestFastOutBurstFromReader: a flow that publishes a burst of messages
// in answer to one network message (a split node, say) runs on that
// message's reader, whose output waits for its next read: the burst, 3 MB
// here, more than a connection may have pending, still reaches a
// subscriber whose socket takes it, in order.
func TestFastOutBurstFromReader(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	sub := fastDial(t, b.Addr(), 4, "sub", fastDialOpts{rcvbuf: 4 << 20})
	sub.sub(t, "burst/t")
	planned(t, b, "burst/t", 1)
	s := sub.stream(nil)
	const n, size = 3000, 1000
	published := make(chan struct{})
	cancel, err := b.Subscribe("burst/trigger", 0, func(engine.Delivery) {
		defer close(published)
		for i := range n {
			if err := b.Publish("burst/t", seqPayload(i, size), 0, false); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	pub := mustConnect(t, b, nil, "tcp", "trigger")
	pub.pub(t, &paho.Publish{Topic: "burst/trigger", Payload: []byte("go")})
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("the flow did not run")
	}
	s.wait(t, n, 10*time.Second)
	for i, pk := range s.packets() {
		if seq, err := seqOf(pk.Payload, size); err != nil || seq != i {
			t.Fatalf("message %d: %d (%v)", i, seq, err)
		}
	}
	if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
		t.Fatalf("%d messages dropped", d)
	}
}

// TestFastOutMaximumPacketSize: an MQTT 5 client's Maximum Packet Size
// keeps the flows' larger messages from it, as mochi does, to the byte,
// and lets the others through.
func TestFastOutMaximumPacketSize(t *testing.T) {
	const limit = 100
	// The packet: 1 type byte, the remaining length in 1 or 2 bytes,
	// then the topic with its length, the properties (expiry) and the
	// payload.
	const topic = "max/t"
	payload := func(total int) []byte {
		rem := total - 2
		if rem > 127 {
			rem--
		}
		return bytes.Repeat([]byte("x"), rem-(2+len(topic))-(1+5))
	}
	for _, noFast := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "mochi"}[noFast], func(t *testing.T) {
			b := startFast(t, Options{Addr: "127.0.0.1:0", noFastOut: noFast})
			c := fastDial(t, b.Addr(), 5, "small", fastDialOpts{props: packets.Properties{MaximumPacketSize: limit}})
			c.sub(t, topic)
			other := fastDial(t, b.Addr(), 5, "other", fastDialOpts{})
			other.sub(t, topic)
			if !noFast {
				planned(t, b, topic, 2)
			}
			sizes := []int{50, limit + 1, limit, 5000, limit + 1, 60}
			for _, size := range sizes {
				mustPublish(t, b, topic, payload(size))
			}
			for _, size := range sizes {
				p, err := other.packet(5 * time.Second)
				if err != nil || len(p) != size {
					t.Fatalf("other got %d bytes (%v), want %d", len(p), err, size)
				}
				if size > limit {
					continue
				}
				p, err = c.packet(5 * time.Second)
				if err != nil || len(p) != size {
					t.Fatalf("limited client got %d bytes (%v), want %d", len(p), err, size)
				}
			}
			mustPublish(t, b, topic, payload(limit))
			if p, err := c.packet(5 * time.Second); err != nil || len(p) != limit {
				t.Fatalf("limited client got %d bytes (%v), want %d", len(p), err, limit)
			}
		})
	}
}

// countFlusher counts its flushes.
type countFlusher struct{ n atomic.Int64 }

func (c *countFlusher) flushPending() { c.n.Add(1) }

// TestFastOutBackstop: while a reader handles input (and may never come
// back for more), output queued is written by the backstop timer, also
// after other readers' flushes raced with more queuing. (A flush used to
// stop the timer, which could be one just armed again for newer output,
// leaving it marked armed and never to fire: cycle 10 or so of 300.)
func TestFastOutBackstop(t *testing.T) {
	bt := newBatcher()
	bt.enter() // a reader busy for the whole test
	busy := &countFlusher{}
	for cycle := range 300 {
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // flows on the busy reader's goroutine queue output
			defer wg.Done()
			for !stop.Load() {
				bt.mark(busy)
				bt.done()
			}
		}()
		go func() { // other readers come back for more
			defer wg.Done()
			for !stop.Load() {
				bt.flushIfDirty()
			}
		}()
		time.Sleep(200 * time.Microsecond)
		stop.Store(true)
		wg.Wait()
		last := &countFlusher{}
		bt.mark(last)
		bt.done()
		deadline := time.Now().Add(2 * time.Second)
		for last.n.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("cycle %d: output queued while a reader is busy not written within 2s (timer armed: %v)", cycle, bt.isArmed())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// BenchmarkFastOut: Broker.Publish of a 64-byte QoS 0 message to one
// subscriber over TCP that reads as fast as it can, through the fast path
// and through mochi's. drops/op: the share of messages the subscriber
// could not take in time (mochi's queue or the pending output was full).
func BenchmarkFastOut(b *testing.B) {
	for _, noFast := range []bool{false, true} {
		b.Run(map[bool]string{false: "fast", true: "mochi"}[noFast], func(b *testing.B) {
			br, err := Start(Options{Addr: "127.0.0.1:0", noFastOut: noFast})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			c := fastDial(b, br.Addr(), 4, "drain", fastDialOpts{})
			c.sub(b, "bench/t")
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				io.Copy(io.Discard, c.r)
			}()
			payload := bytes.Repeat([]byte("p"), 64)
			b.ReportAllocs()
			for b.Loop() {
				if err := br.Publish("bench/t", payload, 0, false); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(atomic.LoadInt64(&br.srv.Info.MessagesDropped))/float64(b.N), "drops/op")
			br.Close()
			<-drained
		})
	}
}
