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
	"golang.org/x/crypto/bcrypt"
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

// mosquitto runs mosquitto_pub or mosquitto_sub against addr and returns
// its combined output and exit code.
func mosquitto(t *testing.T, addr, tool string, args ...string) (string, int) {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s is not installed (Debian package mosquitto-clients)", tool)
	}
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
	out, code := mosquitto(t, addr, "mosquitto_pub", "-V", "mqttv311", "-u", "sensor1", "-P", "nope", "-t", "a", "-m", "1")
	if code != 5 || !strings.Contains(out, "Connection Refused: not authorised.") {
		t.Errorf("mosquitto_pub 3.1.1 wrong password: exit %d, %q", code, out)
	}
	out, code = mosquitto(t, addr, "mosquitto_pub", "-V", "mqttv5", "-u", "sensor1", "-P", "nope", "-t", "a", "-m", "1")
	if code != 134 || !strings.Contains(out, "Connection error: Bad User Name or Password") {
		t.Errorf("mosquitto_pub 5 wrong password: exit %d, %q", code, out)
	}
	for _, v := range []string{"mqttv311", "mqttv5"} {
		out, code = mosquitto(t, addr, "mosquitto_pub", "-V", v, "-u", "sensor1", "-P", "s3cret", "-t", "a", "-m", "1")
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
	out, code := mosquitto(t, b.Addr(), "mosquitto_pub", "-V", "mqttv311", "-t", "x/1", "-m", "hello")
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
