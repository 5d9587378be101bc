package broker

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine"
)

var discardLog = slog.New(slog.DiscardHandler)

// syncBuffer is a bytes.Buffer safe for concurrent use, to collect logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits until the log holds a line with every one of parts.
func (s *syncBuffer) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(s.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// startAuthBroker starts a broker on a free loopback port with auth
// options, logging at warn level into the returned buffer.
func startAuthBroker(t *testing.T, auth AuthOptions) (*Broker, *syncBuffer) {
	t.Helper()
	logs := new(syncBuffer)
	b, err := Start(Options{
		Addr:   "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Auth:   auth,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, logs
}

// v5Client is a paho.golang (MQTT 5) client whose received messages
// ("topic payload") and server DISCONNECT reason codes arrive on channels.
type v5Client struct {
	*paho.Client
	msgs chan string
	disc chan byte
}

// dialV5 connects an MQTT 5 client; user "" connects anonymously. It
// returns the CONNACK (nil if none came) and Connect's error.
func dialV5(t *testing.T, addr, id, user, pass string, will *paho.WillMessage) (*v5Client, *paho.Connack, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &v5Client{msgs: make(chan string, 100), disc: make(chan byte, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			c.msgs <- p.Packet.Topic + " " + string(p.Packet.Payload)
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { c.disc <- d.ReasonCode },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, WillMessage: will}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	ca, err := c.Connect(ctx, cp)
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}); conn.Close() })
	return c, ca, err
}

func mustDialV5(t *testing.T, addr, id, user, pass string) *v5Client {
	t.Helper()
	c, _, err := dialV5(t, addr, id, user, pass, nil)
	if err != nil {
		t.Fatalf("connect %s as %q: %v", id, user, err)
	}
	return c
}

// expectMsg waits for the next message a client receives.
func (c *v5Client) expectMsg(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-c.msgs:
		if got != want {
			t.Fatalf("received %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no message, want %q", want)
	}
}

// expectNoMsg checks that nothing was received; call it after a message
// that was published later and has arrived (the broker keeps order).
func (c *v5Client) expectNoMsg(t *testing.T) {
	t.Helper()
	select {
	case got := <-c.msgs:
		t.Fatalf("received %q, want nothing", got)
	default:
	}
}

func (c *v5Client) publish(t *testing.T, topic, payload string, qos byte) (*paho.PublishResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
}

func (c *v5Client) subscribe(t *testing.T, filter string) (*paho.Suback, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
}

// MQTT 3.1.1 packets, written by hand so that the tests see the exact
// bytes the broker answers.

func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// rawConnect311 sends an MQTT 3.1.1 CONNECT and returns the connection
// and the CONNACK return code.
func rawConnect311(t *testing.T, addr, id, user, pass, willTopic string) (net.Conn, byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	flags := byte(0x02) // clean session
	payload := mqttString(id)
	if willTopic != "" {
		flags |= 0x04
		payload = append(payload, mqttString(willTopic)...)
		payload = append(payload, mqttString("gone")...)
	}
	if user != "" {
		flags |= 0xC0
		payload = append(payload, mqttString(user)...)
		payload = append(payload, mqttString(pass)...)
	}
	vh := append(mqttString("MQTT"), 4, flags, 0, 30)
	body := append(vh, payload...)
	if _, err := conn.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	ack := readN(t, conn, 4)
	if ack[0] != 0x20 || ack[1] != 2 {
		t.Fatalf("CONNACK header % x", ack)
	}
	return conn, ack[3]
}

// rawSubscribe311 subscribes with MQTT 3.1.1 and returns the SUBACK code.
func rawSubscribe311(t *testing.T, conn net.Conn, filter string) byte {
	t.Helper()
	body := append([]byte{0, 7}, mqttString(filter)...)
	body = append(body, 1)
	if _, err := conn.Write(append([]byte{0x82, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	ack := readN(t, conn, 5)
	if ack[0] != 0x90 || ack[1] != 3 || ack[2] != 0 || ack[3] != 7 {
		t.Fatalf("SUBACK % x", ack)
	}
	return ack[4]
}

func readN(t *testing.T, conn net.Conn, n int) []byte {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(conn, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// mosquittoAt runs mosquitto_pub or mosquitto_sub against addr and returns
// its combined output and exit code.
func mosquittoAt(t *testing.T, addr, tool string, args ...string) (string, int) {
	t.Helper()
	path := mosquittotest.Tool(t, tool)
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", tool, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// TestConnectCredentials: right and wrong passwords, unknown users and
// anonymous clients, with the exact CONNACK codes of MQTT 5 (paho) and
// 3.1.1 (raw packets and mosquitto_pub).
func TestConnectCredentials(t *testing.T) {
	b, logs := startAuthBroker(t, AuthOptions{Users: []User{{Name: "sensor1", PasswordHash: mustHash(t, "s3cret")}}})
	addr := b.Addr()

	if _, ca, err := dialV5(t, addr, "ok5", "sensor1", "s3cret", nil); err != nil || ca.ReasonCode != 0 {
		t.Fatalf("v5 right password: %v %+v", err, ca)
	}
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", "sensor1", "nope"},
		{"unknown user", "sensor2", "s3cret"},
		{"anonymous", "", ""},
	} {
		_, ca, err := dialV5(t, addr, "bad5", c.user, c.pass, nil)
		if err == nil || ca == nil || ca.ReasonCode != 0x86 || ca.Properties.ReasonString != "bad username or password" {
			t.Errorf("v5 %s: CONNACK %+v, err %v; want 0x86 bad username or password", c.name, ca, err)
		}
	}
	if _, code := rawConnect311(t, addr, "ok3", "sensor1", "s3cret", ""); code != 0 {
		t.Errorf("3.1.1 right password: CONNACK %#x, want 0", code)
	}
	for _, c := range []struct{ name, user, pass string }{
		{"wrong password", "sensor1", "nope"},
		{"anonymous", "", ""},
	} {
		if _, code := rawConnect311(t, addr, "bad3", c.user, c.pass, ""); code != 0x05 {
			t.Errorf("3.1.1 %s: CONNACK %#x, want 0x05 not authorized", c.name, code)
		}
	}
	logs.waitLog(t, "mqtt connection refused", "user=sensor1", `reason="wrong password"`)
	logs.waitLog(t, "mqtt connection refused", "user=sensor2", `reason="unknown user"`)
	if strings.Contains(logs.String(), "nope") {
		t.Error("a password reached the log")
	}

	// mosquitto_pub, both protocol versions.
	out, code := mosquittoAt(t, addr, "mosquitto_pub", "-V", "mqttv311", "-u", "sensor1", "-P", "nope", "-t", "a", "-m", "1")
	if code != 5 || !strings.Contains(out, "Connection Refused: not authorised.") {
		t.Errorf("mosquitto_pub 3.1.1 wrong password: exit %d, %q", code, out)
	}
	out, code = mosquittoAt(t, addr, "mosquitto_pub", "-V", "mqttv5", "-u", "sensor1", "-P", "nope", "-t", "a", "-m", "1")
	if code != 134 || !strings.Contains(out, "Connection error: Bad User Name or Password") {
		t.Errorf("mosquitto_pub 5 wrong password: exit %d, %q", code, out)
	}
	for _, v := range []string{"mqttv311", "mqttv5"} {
		out, code = mosquittoAt(t, addr, "mosquitto_pub", "-V", v, "-u", "sensor1", "-P", "s3cret", "-t", "a", "-m", "1")
		if code != 0 || out != "" {
			t.Errorf("mosquitto_pub %s right password: exit %d, %q", v, code, out)
		}
	}
}

// TestAnonymousLoopback: with no users the broker accepts anonymous
// clients from loopback (real TCP clients), and with allow_anonymous
// beside users too.
func TestAnonymousLoopback(t *testing.T) {
	b, _ := startAuthBroker(t, AuthOptions{})
	sub := mustDialV5(t, b.Addr(), "sub", "", "")
	if _, err := sub.subscribe(t, "x/#"); err != nil {
		t.Fatal(err)
	}
	out, code := mosquittoAt(t, b.Addr(), "mosquitto_pub", "-V", "mqttv311", "-t", "x/1", "-m", "hello")
	if code != 0 || out != "" {
		t.Fatalf("mosquitto_pub: exit %d, %q", code, out)
	}
	sub.expectMsg(t, "x/1 hello")

	b2, _ := startAuthBroker(t, AuthOptions{AllowAnonymous: true, Users: []User{{Name: "u", PasswordHash: mustHash(t, "pw")}}})
	if _, code := rawConnect311(t, b2.Addr(), "anon", "", "", ""); code != 0 {
		t.Errorf("allow_anonymous with users: CONNACK %#x, want 0", code)
	}
	if _, code := rawConnect311(t, b2.Addr(), "u", "u", "bad", ""); code != 0x05 {
		t.Errorf("allow_anonymous, wrong password: CONNACK %#x, want 0x05", code)
	}
}

// aclUsers is the setup of the ACL tests: a read-only user, a write-only
// user who writes below its own name, a device whose client id is its
// topic, and an admin.
func aclBroker(t *testing.T) (*Broker, *syncBuffer) {
	return startAuthBroker(t, AuthOptions{
		Users: []User{
			{Name: "reader", PasswordHash: mustHash(t, "r")},
			{Name: "writer", PasswordHash: mustHash(t, "w")},
			{Name: "device", PasswordHash: mustHash(t, "d")},
			{Name: "admin", PasswordHash: mustHash(t, "a")},
		},
		ACL: []ACLRule{
			{User: "admin", Topic: "#", Access: AccessReadWrite},
			{User: "reader", Topic: "sensors/#", Access: AccessRead},
			{User: "writer", Topic: "sensors/%u/#", Access: AccessWrite},
			{User: "device", Topic: "devices/%c/#", Access: AccessReadWrite},
		},
	})
}

// TestACLPublishMQTT5: what a read-only user publishes is refused with
// PUBACK 0x87 (QoS 1) or a DISCONNECT 0x87 (QoS 0), %u and %c apply, and
// the other clients carry on.
func TestACLPublishMQTT5(t *testing.T) {
	b, logs := aclBroker(t)
	addr := b.Addr()
	watch := mustDialV5(t, addr, "watch", "admin", "a")
	if _, err := watch.subscribe(t, "#"); err != nil {
		t.Fatal(err)
	}
	reader := mustDialV5(t, addr, "r1", "reader", "r")
	if _, err := reader.subscribe(t, "sensors/#"); err != nil {
		t.Fatal(err)
	}
	writer := mustDialV5(t, addr, "w1", "writer", "w")

	// The writer publishes below its own name only.
	if _, err := writer.publish(t, "sensors/writer/t", "21", 1); err != nil {
		t.Fatal(err)
	}
	resp, err := writer.publish(t, "sensors/other/t", "22", 1)
	if err == nil || resp == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("writer to sensors/other/t: %+v, %v; want PUBACK 0x87", resp, err)
	}
	// The reader may not publish at all.
	resp, err = reader.publish(t, "sensors/reader/t", "23", 1)
	if err == nil || resp == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("reader QoS 1: %+v, %v; want PUBACK 0x87", resp, err)
	}
	resp, err = reader.publish(t, "sensors/reader/t", "24", 2) // paho reports a PUBREC error in the response only
	if err != nil || resp == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("reader QoS 2: %+v, %v; want PUBREC 0x87", resp, err)
	}
	logs.waitLog(t, "mqtt publish denied by the ACL", "client=w1", "user=writer", "topic=sensors/other/t")
	logs.waitLog(t, "mqtt publish denied by the ACL", "client=r1", "user=reader", "topic=sensors/reader/t")
	// The refusals did not disconnect anyone.
	if _, err := writer.publish(t, "sensors/writer/t", "25", 1); err != nil {
		t.Fatal(err)
	}
	reader.expectMsg(t, "sensors/writer/t 21")
	reader.expectMsg(t, "sensors/writer/t 25")
	watch.expectMsg(t, "sensors/writer/t 21")
	watch.expectMsg(t, "sensors/writer/t 25")

	// QoS 0 has no acknowledgement: the reader is disconnected with 0x87.
	if _, err := reader.publish(t, "sensors/reader/t", "26", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-reader.disc:
		if code != 0x87 {
			t.Fatalf("reader disconnected with %#x, want 0x87", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reader was not disconnected after a denied QoS 0 publish")
	}
	logs.waitLog(t, "mqtt publish denied by the ACL; disconnecting", "client=r1", "topic=sensors/reader/t")

	// %c: a device reads and writes below its own client id only.
	dev := mustDialV5(t, addr, "dev-7", "device", "d")
	if _, err := dev.subscribe(t, "devices/dev-7/cmd"); err != nil {
		t.Fatal(err)
	}
	if sa, err := dev.subscribe(t, "devices/dev-8/cmd"); err == nil || sa.Reasons[0] != 0x87 {
		t.Fatalf("device subscribes to another device: %+v, %v; want SUBACK 0x87", sa, err)
	}
	if _, err := dev.publish(t, "devices/dev-7/state", "on", 1); err != nil {
		t.Fatal(err)
	}
	if resp, err := dev.publish(t, "devices/dev-8/state", "on", 1); err == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("device publishes for another device: %+v, %v; want PUBACK 0x87", resp, err)
	}
	if _, err := watch.publish(t, "devices/dev-7/cmd", "off", 1); err != nil {
		t.Fatal(err)
	}
	dev.expectMsg(t, "devices/dev-7/cmd off")
	// None of the refused messages reached anyone.
	watch.expectMsg(t, "devices/dev-7/state on")
	watch.expectMsg(t, "devices/dev-7/cmd off")
	watch.expectNoMsg(t)
	dev.expectNoMsg(t)
}

// TestACLSubscribe: a write-only user cannot subscribe (SUBACK 0x87 on
// MQTT 5, 0x80 on 3.1.1), and a subscription must lie within a read
// rule.
func TestACLSubscribe(t *testing.T) {
	b, logs := aclBroker(t)
	addr := b.Addr()
	writer := mustDialV5(t, addr, "w5", "writer", "w")
	sa, err := writer.subscribe(t, "sensors/writer/#")
	if err == nil || sa == nil || len(sa.Reasons) != 1 || sa.Reasons[0] != 0x87 {
		t.Fatalf("v5 write-only subscribe: %+v, %v; want SUBACK 0x87", sa, err)
	}
	logs.waitLog(t, "mqtt subscription denied by the ACL", "client=w5", "user=writer", "topic=sensors/writer/#")
	conn, code := rawConnect311(t, addr, "w3", "writer", "w", "")
	if code != 0 {
		t.Fatalf("CONNACK %#x", code)
	}
	if code := rawSubscribe311(t, conn, "sensors/writer/#"); code != 0x80 {
		t.Errorf("3.1.1 write-only subscribe: SUBACK %#x, want 0x80", code)
	}
	// The connection stays usable: a PINGREQ is answered.
	conn.Write([]byte{0xC0, 0})
	if got := readN(t, conn, 2); got[0] != 0xD0 {
		t.Errorf("after the refused subscription: % x, want PINGRESP", got)
	}
	reader := mustDialV5(t, addr, "r5", "reader", "r")
	if sa, err := reader.subscribe(t, "$share/g/sensors/+/t"); err != nil || sa.Reasons[0] != 1 {
		t.Errorf("shared subscription within the rule: %+v, %v", sa, err)
	}
	if sa, err := reader.subscribe(t, "#"); err == nil || sa.Reasons[0] != 0x87 {
		t.Errorf("subscription wider than the rule: %+v, %v; want 0x87", sa, err)
	}

	// mosquitto_sub, both versions.
	for _, v := range []string{"mqttv311", "mqttv5"} {
		out, code := mosquittoAt(t, addr, "mosquitto_sub", "-V", v, "-u", "writer", "-P", "w", "-t", "sensors/writer/x", "-C", "1", "-W", "3")
		if code != 0 || out != "All subscription requests were denied.\n" {
			t.Errorf("mosquitto_sub %s write-only: exit %d, %q", v, code, out)
		}
	}
}

// TestACLMQTT311Publish: a 3.1.1 client's denied QoS 0 publish is dropped
// and logged (the protocol cannot refuse it); a denied QoS 1 publish
// closes its connection. Other clients are not affected.
func TestACLMQTT311Publish(t *testing.T) {
	b, logs := aclBroker(t)
	addr := b.Addr()
	watch := mustDialV5(t, addr, "watch", "admin", "a")
	if _, err := watch.subscribe(t, "sensors/#"); err != nil {
		t.Fatal(err)
	}
	pub := func(user, pass, topic, msg, qos string) (string, int) {
		return mosquittoAt(t, addr, "mosquitto_pub", "-V", "mqttv311", "-i", "p-"+user, "-u", user, "-P", pass,
			"-t", topic, "-m", msg, "-q", qos)
	}
	if out, code := pub("reader", "r", "sensors/reader/x", "dropped", "0"); code != 0 || out != "" {
		t.Errorf("3.1.1 QoS 0 denied: exit %d, %q; want a silent drop", code, out)
	}
	logs.waitLog(t, "mqtt publish denied by the ACL", "client=p-reader", "user=reader", "topic=sensors/reader/x")
	// Closed without a DISCONNECT, which 3.1.1 does not define (one made
	// mosquitto_pub report a protocol error).
	out, code := pub("reader", "r", "sensors/reader/x", "refused", "1")
	if code == 0 || out != "Error: The connection was lost.\n" {
		t.Errorf("3.1.1 QoS 1 denied: exit %d, %q; want the connection closed", code, out)
	}
	if out, code := pub("writer", "w", "sensors/writer/x", "ok", "1"); code != 0 || out != "" {
		t.Errorf("3.1.1 QoS 1 allowed: exit %d, %q", code, out)
	}
	// Both versions of mosquitto_pub for MQTT 5: QoS 1 gets "not authorized".
	out, code = mosquittoAt(t, addr, "mosquitto_pub", "-V", "mqttv5", "-u", "reader", "-P", "r", "-t", "sensors/reader/x", "-m", "refused", "-q", "1")
	if !strings.Contains(out, "Publish 1 failed: Not authorized.") {
		t.Errorf("mosquitto_pub 5 QoS 1 denied: exit %d, %q", code, out)
	}
	watch.expectMsg(t, "sensors/writer/x ok")
	if _, err := watch.publish(t, "sensors/end", "end", 1); err != nil {
		t.Fatal(err)
	}
	watch.expectMsg(t, "sensors/end end")
	watch.expectNoMsg(t)
}

// TestACLWill: a will topic the client may not publish to refuses the
// connection with "not authorized", as mosquitto does.
func TestACLWill(t *testing.T) {
	b, _ := aclBroker(t)
	addr := b.Addr()
	_, ca, err := dialV5(t, addr, "r-will", "reader", "r", &paho.WillMessage{Topic: "sensors/x", Payload: []byte("gone")})
	if err == nil || ca == nil || ca.ReasonCode != 0x87 {
		t.Errorf("v5 denied will: %+v, %v; want CONNACK 0x87", ca, err)
	}
	if _, code := rawConnect311(t, addr, "r-will3", "reader", "r", "sensors/x"); code != 0x05 {
		t.Errorf("3.1.1 denied will: CONNACK %#x, want 0x05", code)
	}
	if _, code := rawConnect311(t, addr, "w-will3", "writer", "w", "sensors/writer/status"); code != 0 {
		t.Errorf("3.1.1 allowed will: CONNACK %#x, want 0", code)
	}
}

// TestACLTopicAlias: an MQTT 5 publish that names its topic by alias
// only is checked against the aliased topic.
func TestACLTopicAlias(t *testing.T) {
	b, _ := aclBroker(t)
	watch := mustDialV5(t, b.Addr(), "watch", "admin", "a")
	if _, err := watch.subscribe(t, "sensors/#"); err != nil {
		t.Fatal(err)
	}
	writer := mustDialV5(t, b.Addr(), "w", "writer", "w")
	alias := uint16(3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, topic := range []string{"sensors/writer/a", ""} {
		_, err := writer.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("v"),
			Properties: &paho.PublishProperties{TopicAlias: &alias}})
		if err != nil {
			t.Fatalf("publish with alias, topic %q: %v", topic, err)
		}
	}
	watch.expectMsg(t, "sensors/writer/a v")
	watch.expectMsg(t, "sensors/writer/a v")
}

// TestFlowsUser: with flows_user set, the flows' own subscriptions and
// publishes are checked as that user; network clients still see what the
// flows publish, subject to their own rules.
func TestFlowsUser(t *testing.T) {
	b, _ := startAuthBroker(t, AuthOptions{
		Users:     []User{{Name: "admin", PasswordHash: mustHash(t, "a")}},
		FlowsUser: "flows",
		ACL: []ACLRule{
			{User: "admin", Topic: "#", Access: AccessReadWrite},
			{User: "flows", Topic: "sensors/secret", Access: AccessDeny},
			{User: "flows", Topic: "sensors/#", Access: AccessRead},
			{User: "flows", Topic: "out/%u/#", Access: AccessWrite},
		},
	})
	if _, err := b.Subscribe("admin/#", 0, func(engine.Delivery) {}); err == nil ||
		err.Error() != `the broker ACL does not allow flows user "flows" to subscribe to "admin/#"` {
		t.Errorf("denied subscription: %v", err)
	}
	if _, err := b.Subscribe("$share/g/#", 0, func(engine.Delivery) {}); err == nil ||
		err.Error() != `the broker ACL does not allow flows user "flows" to subscribe to "#"` {
		t.Errorf("denied shared subscription: %v", err)
	}
	got := make(chan string, 10)
	cancel, err := b.Subscribe("sensors/#", 0, func(d engine.Delivery) { got <- d.Topic + " " + string(d.Payload) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := b.Publish("sensors/x", []byte("1"), 0, false); err == nil ||
		err.Error() != `the broker ACL does not allow flows user "flows" to publish to "sensors/x"` {
		t.Errorf("denied publish: %v", err)
	}
	watch := mustDialV5(t, b.Addr(), "watch", "admin", "a")
	if _, err := watch.subscribe(t, "#"); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("out/flows/y", []byte("2"), 1, false); err != nil {
		t.Fatal(err)
	}
	watch.expectMsg(t, "out/flows/y 2")
	// The deny rule cuts sensors/secret out of the flows' sensors/#.
	for _, topic := range []string{"sensors/secret", "sensors/a"} {
		if _, err := watch.publish(t, topic, "3", 1); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-got:
		if m != "sensors/a 3" {
			t.Fatalf("flows received %q, want sensors/a 3", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the flows did not receive sensors/a")
	}

	// Without flows_user the flows may do anything, ACL or not.
	b2, _ := startAuthBroker(t, AuthOptions{ACL: []ACLRule{{User: "nobody", Topic: "#", Access: AccessDeny}}})
	if err := b2.Publish("any/where", nil, 0, false); err != nil {
		t.Error(err)
	}
	if c, err := b2.Subscribe("#", 0, func(engine.Delivery) {}); err != nil {
		t.Error(err)
	} else {
		c()
	}
}

// BenchmarkACLCheck measures OnACLCheck as it runs for every delivery
// to a network client and every publish, with twelve rules and the
// matching rule near the end.
func BenchmarkACLCheck(b *testing.B) {
	var rules []ACLRule
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"} {
		rules = append(rules, ACLRule{User: u, Topic: "sensors/" + u + "/#", Access: AccessReadWrite})
	}
	rules = append(rules,
		ACLRule{Topic: "secret/#", Access: AccessDeny},
		ACLRule{Client: "gw-1", Topic: "gw/%c/#", Access: AccessRead},
		ACLRule{Topic: "devices/%u/%c/#", Access: AccessWrite},
		ACLRule{Topic: "sensors/+/temp", Access: AccessRead},
	)
	c, err := compileAuth(AuthOptions{ACL: rules})
	if err != nil {
		b.Fatal(err)
	}
	h := newAuthHook(c, nil, discardLog)
	cl := &mqtt.Client{ID: "dev-42"}
	cl.Properties.Username = []byte("sensor9")
	for _, bc := range []struct {
		name, topic string
		write, want bool
	}{
		{"read-last-rule", "sensors/kitchen/temp", false, true},
		{"write-substituted", "devices/sensor9/dev-42/state", true, true},
		{"denied", "other/topic", true, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if h.OnACLCheck(cl, bc.topic, bc.write) != bc.want && bc.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
	b.Run("no-rules", func(b *testing.B) {
		h := newAuthHook(&compiledAuth{}, nil, discardLog)
		b.ReportAllocs()
		for b.Loop() {
			h.OnACLCheck(cl, "sensors/kitchen/temp", false)
		}
	})
}

// TestACLDeliveryFilter: a deny rule before a broad read rule cuts topics
// out of a subscription, retained messages included.
func TestACLDeliveryFilter(t *testing.T) {
	b, _ := startAuthBroker(t, AuthOptions{ACL: []ACLRule{
		{Topic: "a/secret", Access: AccessDeny},
		{Topic: "a/#", Access: AccessReadWrite},
	}})
	// The flows (no flows_user) publish unchecked.
	for _, topic := range []string{"a/secret", "a/open"} {
		if err := b.Publish(topic, []byte("kept"), 0, true); err != nil {
			t.Fatal(err)
		}
	}
	c := mustDialV5(t, b.Addr(), "anon", "", "") // anonymous, from loopback
	if _, err := c.subscribe(t, "a/#"); err != nil {
		t.Fatal(err)
	}
	c.expectMsg(t, "a/open kept")
	for _, topic := range []string{"a/secret", "a/open"} {
		if err := b.Publish(topic, []byte("live"), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	c.expectMsg(t, "a/open live")
	c.expectNoMsg(t)
}

func TestLogLimiter(t *testing.T) {
	var l logLimiter
	now := time.Unix(1000, 0)
	for i := range logBurst {
		if ok, dropped := l.take(now); !ok || dropped != 0 {
			t.Fatalf("line %d: %v, %d", i, ok, dropped)
		}
	}
	for range 3 {
		if ok, _ := l.take(now.Add(500 * time.Millisecond)); ok {
			t.Fatal("more than logBurst lines in a second")
		}
	}
	if ok, dropped := l.take(now.Add(time.Second)); !ok || dropped != 3 {
		t.Fatalf("next second: %v, %d dropped; want true, 3", ok, dropped)
	}
	if ok, dropped := l.take(now.Add(time.Second)); !ok || dropped != 0 {
		t.Fatalf("the dropped count is reported once: %v, %d", ok, dropped)
	}
}

// TestAuthNote: a listener that only loopback clients may use, on a
// non-loopback address, is pointed out at start.
func TestAuthNote(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	for _, c := range []struct {
		opts AuthOptions
		addr string
		want bool
	}{
		{AuthOptions{}, "0.0.0.0:1883", true},
		{AuthOptions{}, "127.0.0.1:1883", false},
		{AuthOptions{AllowAnonymous: true}, "0.0.0.0:1883", false},
		{AuthOptions{Users: []User{{Name: "u", PasswordHash: mustHash(t, "p")}}}, "0.0.0.0:1883", false},
	} {
		buf.b.Reset()
		comp, err := compileAuth(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		authNote(log, comp, Addrs{TCP: c.addr})
		if got := strings.Contains(buf.String(), "only clients on this machine (loopback) may connect"); got != c.want {
			t.Errorf("%+v on %s: note %v, want %v: %s", c.opts, c.addr, got, c.want, buf.String())
		}
	}
	buf.b.Reset()
	comp, err := compileAuth(AuthOptions{
		Users:     []User{{Name: "u", PasswordHash: mustHash(t, "p")}},
		FlowsUser: "flows",
		ACL: []ACLRule{
			{User: "u", Topic: "a", Access: AccessRead},
			{User: "flows", Topic: "a", Access: AccessRead},
			{User: "typo", Topic: "a", Access: AccessRead},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	authNote(log, comp, Addrs{TCP: "127.0.0.1:1883"})
	if got := buf.String(); strings.Count(got, "\n") != 1 ||
		!strings.Contains(got, `broker: broker.acl[2].user: \"typo\" is neither a broker user nor the flows user, so the rule never applies`) {
		t.Errorf("notes: %s", got)
	}
}

// remoteAs is a listener whose connections report another remote
// address, to connect over TCP as if from elsewhere on the network.
type remoteAs struct {
	net.Listener
	addr net.Addr
}

func (l remoteAs) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c, l.addr}, nil
}

type remoteConn struct {
	net.Conn
	addr net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.addr }

// TestAnonymousFromNetwork: with no users, an anonymous client from a
// non-loopback address is refused (CONNACK 0x86 on MQTT 5, 0x05 on
// 3.1.1) unless allow_anonymous is on.
func TestAnonymousFromNetwork(t *testing.T) {
	for _, allow := range []bool{false, true} {
		comp, err := compileAuth(AuthOptions{AllowAnonymous: allow})
		if err != nil {
			t.Fatal(err)
		}
		srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: discardLog})
		if err := srv.AddHook(newAuthHook(comp, srv, discardLog), nil); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		far := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 40000}
		if err := srv.AddListener(listeners.NewNet("far", remoteAs{ln, far})); err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(); err != nil {
			t.Fatal(err)
		}
		want3, want5 := byte(0x05), byte(0x86)
		if allow {
			want3, want5 = 0, 0
		}
		if _, code := rawConnect311(t, ln.Addr().String(), "far3", "", "", ""); code != want3 {
			t.Errorf("allow_anonymous=%v: 3.1.1 CONNACK %#x, want %#x", allow, code, want3)
		}
		_, ca, _ := dialV5(t, ln.Addr().String(), "far5", "", "", nil)
		if ca == nil || ca.ReasonCode != want5 {
			t.Errorf("allow_anonymous=%v: v5 CONNACK %+v, want %#x", allow, ca, want5)
		}
		srv.Close()
	}
}
