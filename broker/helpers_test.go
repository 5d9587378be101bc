package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/broker/mosquittotest"
)

// startBroker starts a broker and closes it when the test ends.
func startBroker(t *testing.T, opts Options) *Broker {
	t.Helper()
	b, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// dial opens a connection to the broker's listener of the given kind
// (tcp, tls, ws, wss); cert, if not nil, is the client certificate.
func dial(b *Broker, pki *testPKI, kind string, cert *tls.Certificate) (net.Conn, error) {
	var tc *tls.Config
	if pki != nil {
		tc = &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
	}
	a := b.Addrs()
	switch kind {
	case "tcp":
		return net.Dial("tcp", a.TCP)
	case "tls":
		c, err := tls.Dial("tcp", a.TLS, tc)
		if err != nil {
			return nil, err
		}
		// A refused client certificate shows up on the first read after
		// TLS 1.3's handshake: finish it here.
		return &lockedConn{Conn: c}, c.Handshake()
	case "ws", "wss":
		d := websocket.Dialer{Subprotocols: []string{"mqtt"}, TLSClientConfig: tc, HandshakeTimeout: 5 * time.Second}
		addr := a.WS
		if kind == "wss" {
			addr = a.WSS
		}
		ws, resp, err := d.Dial(kind+"://"+addr+WebSocketPath, nil)
		if err != nil {
			return nil, err
		}
		if resp.Header.Get("Sec-Websocket-Protocol") != "mqtt" {
			return nil, fmt.Errorf("subprotocol %q", resp.Header.Get("Sec-Websocket-Protocol"))
		}
		return &lockedConn{Conn: &wsConn{ws: ws}}, nil
	}
	return nil, fmt.Errorf("unknown listener %q", kind)
}

// lockedConn is a client's TLS or WebSocket connection: paho.golang
// writes a packet in parts, and holds the connection's lock meanwhile if
// it is a sync.Locker (a TCP connection writes the parts at once).
type lockedConn struct {
	net.Conn
	sync.Mutex
}

// client is a paho.golang (MQTT 5) client whose received messages arrive
// on msgs.
type client struct {
	*paho.Client
	conn    net.Conn
	connack *paho.Connack
	msgs    chan *paho.Publish
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect connects a paho client over conn.
func connect(t *testing.T, conn net.Conn, cp *paho.Connect) (*client, error) {
	t.Helper()
	c := &client{conn: conn, msgs: make(chan *paho.Publish, 100)}
	c.Client = paho.NewClient(paho.ClientConfig{Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			c.msgs <- p.Packet
			return true, nil
		}}})
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ca, err := c.Connect(ctx5(t), cp)
	c.connack = ca
	if err != nil {
		conn.Close()
		return c, err
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c, nil
}

// mustConnect dials a listener and connects a client with a clean start.
func mustConnect(t *testing.T, b *Broker, pki *testPKI, kind, id string) *client {
	t.Helper()
	conn, err := dial(b, pki, kind, clientCert(pki))
	if err != nil {
		t.Fatalf("%s: dial: %v", kind, err)
	}
	c, err := connect(t, conn, &paho.Connect{ClientID: id, CleanStart: true})
	if err != nil {
		t.Fatalf("%s: connect %s: %v", kind, id, err)
	}
	return c
}

func clientCert(pki *testPKI) *tls.Certificate {
	if pki == nil {
		return nil
	}
	return &pki.client
}

func (c *client) sub(t *testing.T, filter string, qos byte) {
	t.Helper()
	sa, err := c.Subscribe(ctx5(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: reasons %v", filter, sa.Reasons)
	}
}

func (c *client) pub(t *testing.T, p *paho.Publish) {
	t.Helper()
	if _, err := c.Publish(ctx5(t), p); err != nil {
		t.Fatalf("publish %s: %v", p.Topic, err)
	}
}

// next waits for the next message.
func (c *client) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.msgs:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

// show formats a received message: topic|payload|qos|retain.
func show(p *paho.Publish) string {
	return fmt.Sprintf("%s|%s|%d|%v", p.Topic, p.Payload, p.QoS, p.Retain)
}

// alive proves that the broker still serves: pub publishes a new payload
// that watcher (subscribed to alive/#) must receive next.
var aliveSeq atomic.Int64

func alive(t *testing.T, pub, watcher *client) {
	t.Helper()
	want := fmt.Sprintf("alive %d", aliveSeq.Add(1))
	pub.pub(t, &paho.Publish{Topic: "alive/x", QoS: 1, Payload: []byte(want)})
	if got := string(watcher.next(t).Payload); got != want {
		t.Fatalf("watcher got %q, want %q", got, want)
	}
}

// raw is a bare TCP connection that speaks MQTT packets by hand.
type raw struct {
	net.Conn
	r       *bufio.Reader
	version byte
}

func dialRaw(t *testing.T, addr string, version byte) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{Conn: c, r: bufio.NewReader(c), version: version}
}

// connectPacket encodes a CONNECT.
func connectPacket(version byte, id string, keepalive uint16) []byte {
	name := "MQTT"
	if version == 3 {
		name = "MQIsdp"
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: version,
		Connect: packets.ConnectParams{ProtocolName: []byte(name), Clean: true, ClientIdentifier: id, Keepalive: keepalive}}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// willConnect encodes an MQTT 3.1.1 CONNECT with a QoS 0 will.
func willConnect(id, topic, payload string) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: id, Keepalive: 30,
			WillFlag: true, WillTopic: topic, WillPayload: []byte(payload)}}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func publishPacket(version byte, topic string, payload []byte) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, ProtocolVersion: version,
		TopicName: topic, Payload: payload}
	var buf bytes.Buffer
	if err := pk.PublishEncode(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func (r *raw) send(t *testing.T, b []byte) {
	t.Helper()
	if _, err := r.Write(b); err != nil {
		t.Fatal(err)
	}
}

// read reads and decodes the next packet within 5 s.
func (r *raw) read() (packets.Packet, error) {
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	var pk packets.Packet
	b, err := r.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r.r)
	if err != nil {
		return pk, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = r.version
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	}
	return pk, err
}

// connack connects and returns the CONNACK.
func (r *raw) connack(t *testing.T, id string, keepalive uint16) packets.Packet {
	t.Helper()
	r.send(t, connectPacket(r.version, id, keepalive))
	pk, err := r.read()
	if err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if pk.FixedHeader.Type != packets.Connack {
		t.Fatalf("got packet type %d, want CONNACK", pk.FixedHeader.Type)
	}
	return pk
}

// closed asserts that the server closes the connection, sending nothing
// more, within 5 s; it returns how long that took.
func (r *raw) closed(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	r.SetReadDeadline(start.Add(5 * time.Second))
	b, err := r.r.ReadByte()
	if err == nil {
		t.Fatalf("server sent %#x, want the connection closed", b)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after 5s")
	}
	return time.Since(start)
}

// mosquitto runs a Debian mosquitto client and returns its output.
func mosquitto(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := mosquittotest.Tool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mosquittoSub starts mosquitto_sub; lines receives its output lines, and
// wait returns once it has exited.
func mosquittoSub(t *testing.T, args ...string) (lines chan string, wait func() error) {
	t.Helper()
	path := mosquittotest.Tool(t, "mosquitto_sub")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines = make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cmd.Wait() })
	return lines, func() error {
		<-done
		err := cmd.Wait()
		if err != nil {
			return fmt.Errorf("%v: %s", err, stderr.String())
		}
		return nil
	}
}

// line waits for the next line from mosquitto_sub.
func line(t *testing.T, lines chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("mosquitto_sub ended early")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line from mosquitto_sub within 10s")
		return ""
	}
}
