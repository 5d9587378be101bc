package broker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// allListeners starts a broker with every listener on a free loopback
// port, TLS and WSS requiring client certificates from pki's CA.
func allListeners(t *testing.T, pki *testPKI, lim *Limits) *Broker {
	return startBroker(t, Options{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", WSSAddr: "127.0.0.1:0",
		TLS: TLSFiles{Cert: pki.certFile, Key: pki.keyFile, ClientCA: pki.caFile}, Limits: lim})
}

// TestMosquittoClients: Debian's mosquitto_pub and mosquitto_sub, MQTT
// 3.1.1 and 5, over TCP and TLS with client certificates: QoS 0, 1 and 2,
// a retained message, and a message from paho (MQTT 5) over the same
// listener.
func TestMosquittoClients(t *testing.T) {
	pki := newTestPKI(t)
	b := allListeners(t, pki, nil)
	for _, version := range []string{"mqttv311", "mqttv5"} {
		for _, kind := range []string{"tcp", "tls"} {
			t.Run(version+"/"+kind, func(t *testing.T) {
				addr := b.Addrs().TCP
				var tlsArgs []string
				if kind == "tls" {
					addr = b.Addrs().TLS
					tlsArgs = []string{"--cafile", pki.caFile, "--cert", pki.clientCert, "--key", pki.clientKey}
				}
				host, port, _ := strings.Cut(addr, ":")
				common := append([]string{"-h", host, "-p", port, "-V", version}, tlsArgs...)
				topic := "it/" + version + "/" + kind
				mosquitto(t, "mosquitto_pub", append(common, "-t", topic+"/retained", "-m", "kept", "-r", "-q", "1")...)
				lines, wait := mosquittoSub(t, append(common, "-t", topic+"/#", "-q", "2", "-C", "5", "-F", "%t|%p|%q|%r")...)
				// The retained message arrives once the subscription is in place.
				got := []string{line(t, lines)}
				for q, payload := range []string{"zero", "one", "two"} {
					mosquitto(t, "mosquitto_pub", append(common, "-t", topic+"/q"+strconv.Itoa(q), "-m", payload, "-q", strconv.Itoa(q))...)
					got = append(got, line(t, lines))
				}
				p := mustConnect(t, b, pki, kind, "paho-"+version+"-"+kind)
				p.pub(t, &paho.Publish{Topic: topic + "/paho", QoS: 2, Payload: []byte("from paho")})
				got = append(got, line(t, lines))
				if err := wait(); err != nil {
					t.Fatal(err)
				}
				want := []string{topic + "/retained|kept|1|1", topic + "/q0|zero|0|0", topic + "/q1|one|1|0",
					topic + "/q2|two|2|0", topic + "/paho|from paho|2|0"}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("mosquitto_sub got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// TestPahoListeners: paho.golang (MQTT 5) over TCP, TLS, WebSocket and
// secure WebSocket: QoS 0, 1 and 2 and a retained message, each way
// between every pair of listeners' clients.
func TestPahoListeners(t *testing.T) {
	pki := newTestPKI(t)
	b := allListeners(t, pki, nil)
	kinds := []string{"tcp", "tls", "ws", "wss"}
	subs := map[string]*client{}
	for _, k := range kinds {
		subs[k] = mustConnect(t, b, pki, k, "sub-"+k)
		subs[k].sub(t, "p/"+k+"/#", 2)
	}
	for _, from := range kinds {
		pub := mustConnect(t, b, pki, from, "pub-"+from)
		for _, to := range kinds {
			for q := byte(0); q <= 2; q++ {
				pub.pub(t, &paho.Publish{Topic: "p/" + to + "/" + from, QoS: q, Payload: []byte(fmt.Sprintf("q%d", q))})
				want := fmt.Sprintf("p/%s/%s|q%d|%d|false", to, from, q, q)
				if got := show(subs[to].next(t)); got != want {
					t.Errorf("%s -> %s: got %s, want %s", from, to, got, want)
				}
			}
		}
		pub.pub(t, &paho.Publish{Topic: "retained/" + from, QoS: 1, Retain: true, Payload: []byte("kept " + from)})
	}
	for _, k := range kinds {
		late := mustConnect(t, b, pki, k, "late-"+k)
		late.sub(t, "retained/"+k, 1)
		if got, want := show(late.next(t)), "retained/"+k+"|kept "+k+"|1|true"; got != want {
			t.Errorf("%s: retained got %s, want %s", k, got, want)
		}
	}
}

// TestLastWill: a client whose connection drops without DISCONNECT has its
// will published (MQTT 5 with paho, 3.1.1 by hand); one that disconnects
// properly does not.
func TestLastWill(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0"})
	watcher := mustConnect(t, b, nil, "tcp", "watcher")
	watcher.sub(t, "will/#", 1)

	conn, _ := dial(b, nil, "tcp", nil)
	if _, err := connect(t, conn, &paho.Connect{ClientID: "dies", CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "will/dies", Payload: []byte("gone"), QoS: 1}}); err != nil {
		t.Fatal(err)
	}
	polite, _ := dial(b, nil, "tcp", nil)
	pc, err := connect(t, polite, &paho.Connect{ClientID: "polite", CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "will/polite", Payload: []byte("must not appear"), QoS: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	conn.Close() // no DISCONNECT
	if got := show(watcher.next(t)); got != "will/dies|gone|1|false" {
		t.Errorf("will: got %s", got)
	}

	// MQTT 3.1.1, written by hand: CONNECT with a will, then a dropped
	// connection.
	r := dialRaw(t, b.Addr(), 4)
	r.send(t, willConnect("dies311", "will/dies311", "gone too"))
	if ack, err := r.read(); err != nil || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %v %v", ack.ReasonCode, err)
	}
	r.Close()
	if got := show(watcher.next(t)); got != "will/dies311|gone too|0|false" {
		t.Errorf("3.1.1 will: got %s", got)
	}
	// The polite client's will never came: the next message is this one.
	watcher2 := mustConnect(t, b, nil, "tcp", "pub")
	watcher2.pub(t, &paho.Publish{Topic: "will/marker", QoS: 1, Payload: []byte("marker")})
	if got := show(watcher.next(t)); got != "will/marker|marker|1|false" {
		t.Errorf("after the polite disconnect: got %s", got)
	}
}

// TestSessions: a persistent session keeps its subscription and queues
// QoS 1 messages while the client is away (MQTT 5 with paho, 3.1.1 with
// mosquitto_sub -c); a clean start drops both.
func TestSessions(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0"})
	pub := mustConnect(t, b, nil, "tcp", "pub")
	expiry := uint32(300)
	persistent := func(clean bool) *client {
		conn, _ := dial(b, nil, "tcp", nil)
		c, err := connect(t, conn, &paho.Connect{ClientID: "keeper", CleanStart: clean,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := persistent(true)
	if c.connack.SessionPresent {
		t.Error("session present on a clean start")
	}
	c.sub(t, "sess/#", 1)
	c.Disconnect(&paho.Disconnect{})
	pub.pub(t, &paho.Publish{Topic: "sess/a", QoS: 1, Payload: []byte("1")})
	pub.pub(t, &paho.Publish{Topic: "sess/b", QoS: 1, Payload: []byte("2")})
	c = persistent(false)
	if !c.connack.SessionPresent {
		t.Error("session not present")
	}
	// mochi resends a session's queued messages sorted by the second
	// they were queued in, so two from the same second may swap.
	if got := sorted(show(c.next(t)), show(c.next(t))); got != "sess/a|1|1|false sess/b|2|1|false" {
		t.Errorf("queued: got %s", got)
	}
	c.Disconnect(&paho.Disconnect{})
	c = persistent(true)
	if c.connack.SessionPresent {
		t.Error("session present after a clean start")
	}
	pub.pub(t, &paho.Publish{Topic: "sess/c", QoS: 1, Payload: []byte("3")})
	c.sub(t, "marker", 1)
	pub.pub(t, &paho.Publish{Topic: "marker", QoS: 1, Payload: []byte("m")})
	if got := show(c.next(t)); got != "marker|m|1|false" {
		t.Errorf("after a clean start: got %s, want only the marker", got)
	}

	// MQTT 3.1.1, clean session false.
	host, port, _ := strings.Cut(b.Addr(), ":")
	args := []string{"-h", host, "-p", port, "-V", "mqttv311", "-i", "keeper311", "-c", "-q", "1", "-t", "s311/#"}
	mosquitto(t, "mosquitto_sub", append(args, "-E")...) // subscribe, then go away
	pub.pub(t, &paho.Publish{Topic: "s311/x", QoS: 1, Payload: []byte("while away 1")})
	pub.pub(t, &paho.Publish{Topic: "s311/y", QoS: 1, Payload: []byte("while away 2")})
	out := mosquitto(t, "mosquitto_sub", append(args, "-C", "2", "-v")...)
	if out = sorted(strings.Split(strings.TrimSpace(out), "\n")...); out != "s311/x while away 1 s311/y while away 2" {
		t.Errorf("mosquitto_sub -c got %q", out)
	}
}

// sorted joins s sorted, with spaces.
func sorted(s ...string) string {
	slices.Sort(s)
	return strings.Join(s, " ")
}

// TestMQTT5Properties: user properties arrive intact and in order, topic
// aliases work, and expired messages, retained or queued, are not
// delivered.
func TestMQTT5Properties(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0"})
	sub := mustConnect(t, b, nil, "tcp", "sub")
	sub.sub(t, "props/#", 1)
	pub := mustConnect(t, b, nil, "tcp", "pub")

	user := paho.UserProperties{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}, {Key: "ünï", Value: "ç ø"}}
	pub.pub(t, &paho.Publish{Topic: "props/user", QoS: 1, Payload: []byte("u"), Properties: &paho.PublishProperties{User: user}})
	m := sub.next(t)
	if m.Properties == nil || fmt.Sprint(m.Properties.User) != fmt.Sprint(user) {
		t.Errorf("user properties: got %v, want %v", m.Properties, user)
	}

	// Topic alias 1 set with the first publish, used alone by the second.
	alias := uint16(1)
	pub.pub(t, &paho.Publish{Topic: "props/alias", QoS: 1, Payload: []byte("first"),
		Properties: &paho.PublishProperties{TopicAlias: &alias}})
	pub.pub(t, &paho.Publish{Topic: "", QoS: 1, Payload: []byte("second"),
		Properties: &paho.PublishProperties{TopicAlias: &alias}})
	if got := show(sub.next(t)) + " " + show(sub.next(t)); got != "props/alias|first|1|false props/alias|second|1|false" {
		t.Errorf("topic alias: got %s", got)
	}

	// Message expiry: a retained message and a queued one with 1 s to
	// live, each beside one without expiry.
	one := uint32(1)
	expiry := uint32(300)
	conn, _ := dial(b, nil, "tcp", nil)
	away, err := connect(t, conn, &paho.Connect{ClientID: "away", CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatal(err)
	}
	away.sub(t, "exp/queued", 1)
	away.Disconnect(&paho.Disconnect{})
	for _, p := range []*paho.Publish{
		{Topic: "exp/retained/short", Retain: true, QoS: 1, Payload: []byte("short"), Properties: &paho.PublishProperties{MessageExpiry: &one}},
		{Topic: "exp/retained/long", Retain: true, QoS: 1, Payload: []byte("long")},
		{Topic: "exp/queued", QoS: 1, Payload: []byte("short"), Properties: &paho.PublishProperties{MessageExpiry: &one}},
		{Topic: "exp/queued", QoS: 1, Payload: []byte("long")},
	} {
		pub.pub(t, p)
	}
	time.Sleep(2100 * time.Millisecond) // the expiry itself is what is tested
	late := mustConnect(t, b, nil, "tcp", "late")
	late.sub(t, "exp/retained/#", 1)
	if got := show(late.next(t)); got != "exp/retained/long|long|1|true" {
		t.Errorf("retained after expiry: got %s", got)
	}
	conn, _ = dial(b, nil, "tcp", nil)
	back, err := connect(t, conn, &paho.Connect{ClientID: "away", CleanStart: false,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatal(err)
	}
	if got := show(back.next(t)); got != "exp/queued|long|1|false" {
		t.Errorf("queued after expiry: got %s", got)
	}
	select {
	case m := <-late.msgs:
		t.Errorf("late subscriber got another message: %s", show(m))
	case m := <-back.msgs:
		t.Errorf("returning client got another message: %s", show(m))
	default:
	}
}
