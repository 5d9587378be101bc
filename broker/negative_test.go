package broker

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestRefusals: oversized and malformed packets, a PUBLISH before CONNECT,
// a client that never sends CONNECT, wrong TLS client certificates and a
// WebSocket on the wrong path are each refused as the protocol says, and
// a client connected all along keeps receiving.
func TestRefusals(t *testing.T) {
	pki := newTestPKI(t)
	lim := DefaultLimits()
	lim.MaxPacketSize = 4096
	lim.ConnectTimeout = 300 * time.Millisecond
	b := allListeners(t, pki, &lim)
	watcher := mustConnect(t, b, nil, "tcp", "watcher")
	watcher.sub(t, "alive/#", 1)
	pub := mustConnect(t, b, nil, "tcp", "pub")
	big := bytes.Repeat([]byte("x"), 8000)

	t.Run("oversized packet, MQTT 5", func(t *testing.T) {
		r := dialRaw(t, b.Addr(), 5)
		ack := r.connack(t, "big5", 30)
		if ack.ReasonCode != 0 || ack.Properties.MaximumPacketSize != 4096 {
			t.Fatalf("CONNACK reason %#x, maximum packet size %d; want 0, 4096", ack.ReasonCode, ack.Properties.MaximumPacketSize)
		}
		r.send(t, publishPacket(5, "big", big))
		pk, err := r.read()
		if err != nil {
			t.Fatalf("want DISCONNECT, got %v", err)
		}
		if pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != 0x95 {
			t.Fatalf("got packet type %d reason %#x, want DISCONNECT 0x95", pk.FixedHeader.Type, pk.ReasonCode)
		}
		r.closed(t)
		alive(t, pub, watcher)
	})
	t.Run("oversized packet, MQTT 3.1.1", func(t *testing.T) {
		r := dialRaw(t, b.Addr(), 4)
		if ack := r.connack(t, "big4", 30); ack.ReasonCode != 0 {
			t.Fatalf("CONNACK %#x", ack.ReasonCode)
		}
		r.send(t, publishPacket(4, "big", big))
		r.closed(t)
		alive(t, pub, watcher)
	})
	t.Run("oversized CONNECT", func(t *testing.T) {
		r := dialRaw(t, b.Addr(), 4)
		r.send(t, willConnect("bigwill", "w", string(big)))
		r.closed(t)
		alive(t, pub, watcher)
	})
	t.Run("a packet just under the limit passes", func(t *testing.T) {
		// 4096 bytes on the wire: 1 type byte, 2 length bytes, 2+5 topic, 4086 payload.
		p := publishPacket(4, "alive", bytes.Repeat([]byte("y"), 4086))
		if len(p) != 4096 {
			t.Fatalf("packet is %d bytes", len(p))
		}
		r := dialRaw(t, b.Addr(), 4)
		r.connack(t, "fits", 30)
		r.send(t, p)
		if got := watcher.next(t); len(got.Payload) != 4086 {
			t.Errorf("watcher got %d bytes", len(got.Payload))
		}
	})
	t.Run("malformed remaining length", func(t *testing.T) {
		r := dialRaw(t, b.Addr(), 4)
		r.connack(t, "badlen", 30)
		r.send(t, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}) // five length bytes
		r.closed(t)
		r = dialRaw(t, b.Addr(), 4)
		r.send(t, []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x01}) // the same in place of CONNECT
		r.closed(t)
		alive(t, pub, watcher)
	})
	t.Run("bad protocol name", func(t *testing.T) {
		r := dialRaw(t, b.Addr(), 4)
		r.send(t, bytes.Replace(connectPacket(4, "badname", 30), []byte("MQTT"), []byte("MQTX"), 1))
		// mochi answers with 0x82 protocol error, which MQTT 3.1.1 does
		// not have; the client gets 0x01 unacceptable protocol version.
		if pk, err := r.read(); err != nil || pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0x01 {
			t.Errorf("got packet type %d code %#x (%v), want CONNACK 0x01", pk.FixedHeader.Type, pk.ReasonCode, err)
		}
		r.closed(t)
		alive(t, pub, watcher)
	})
	t.Run("PUBLISH before CONNECT", func(t *testing.T) {
		r := dialRaw(t, b.Addr(), 4)
		r.send(t, publishPacket(4, "alive/sneak", []byte("must not arrive")))
		r.closed(t)
		alive(t, pub, watcher) // the next message is this one, not the sneaked one
	})
	t.Run("no CONNECT", func(t *testing.T) {
		for _, addr := range []string{b.Addr(), b.Addrs().TLS} {
			r := dialRaw(t, addr, 4) // sends nothing, not even a TLS hello
			if took := r.closed(t); took < 250*time.Millisecond || took > 3*time.Second {
				t.Errorf("%s: closed after %s, want the 300ms connect timeout", addr, took)
			}
		}
		alive(t, pub, watcher)
	})
	t.Run("wrong TLS client certificate", func(t *testing.T) {
		for name, cert := range map[string]*tls.Certificate{"from another CA": &pki.rogue, "none": nil} {
			conn, err := dial(b, pki, "tls", cert)
			if err == nil {
				// TLS 1.3: the server's verdict may come with the first read.
				_, err = connect(t, conn, &paho.Connect{ClientID: "rogue", CleanStart: true})
			}
			if err == nil {
				t.Errorf("%s: connected", name)
			}
		}
		if _, err := dial(b, pki, "wss", &pki.rogue); err == nil {
			t.Error("wss with a rogue certificate: connected")
		}
		alive(t, pub, watcher)
	})
	t.Run("WebSocket on another path", func(t *testing.T) {
		resp, err := http.Get("http://" + b.Addrs().WS + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET / on the WS listener: %s, want 404", resp.Status)
		}
	})
}

// connectV5 encodes an MQTT 5 CONNECT with properties.
func connectV5(id string, keepalive uint16, props packets.Properties) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5, Properties: props,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, ClientIdentifier: id, Keepalive: keepalive}}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TestLimits: the connection limit refuses with the right CONNACK per
// protocol version, keep alive bounds are told (MQTT 5) or refused (MQTT
// 3.1.1), and inflight, session and message expiry caps reach the clients.
func TestLimits(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxConnections = 1
	lim.KeepaliveMin, lim.KeepaliveMax = 10, 60
	lim.MaxInflight = 20
	lim.SessionExpiryMax = time.Minute
	lim.MessageExpiryMax = time.Minute
	b := startBroker(t, Options{Addr: "127.0.0.1:0", Limits: &lim})

	first := mustConnect(t, b, nil, "tcp", "first")
	if rm := first.connack.Properties.ReceiveMaximum; rm == nil || *rm != 20 {
		t.Errorf("receive maximum %v, want 20", rm)
	}
	r := dialRaw(t, b.Addr(), 5)
	if ack := r.connack(t, "second5", 30); ack.ReasonCode != 0x89 {
		t.Errorf("MQTT 5 over the limit: CONNACK %#x, want 0x89 server busy", ack.ReasonCode)
	}
	r.closed(t)
	r = dialRaw(t, b.Addr(), 4)
	if ack := r.connack(t, "second4", 30); ack.ReasonCode != 0x03 {
		t.Errorf("MQTT 3.1.1 over the limit: CONNACK %#x, want 0x03 server unavailable", ack.ReasonCode)
	}
	r.closed(t)
	// The first client is unaffected; its messages carry the capped
	// expiry.
	first.sub(t, "self", 1)
	hour := uint32(3600)
	first.pub(t, &paho.Publish{Topic: "self", QoS: 1, Payload: []byte("still here"),
		Properties: &paho.PublishProperties{MessageExpiry: &hour}})
	m := first.next(t)
	if string(m.Payload) != "still here" || m.Properties.MessageExpiry == nil ||
		*m.Properties.MessageExpiry < 59 || *m.Properties.MessageExpiry > 60 {
		t.Errorf("got %q, expiry %v; want the 60 s cap", m.Payload, m.Properties.MessageExpiry)
	}
	first.Disconnect(&paho.Disconnect{})
	waitClients(t, b, 0)

	cases := []struct {
		version   byte
		keepalive uint16
		code      byte
		told      uint16 // MQTT 5 Server Keep Alive; 0: none
	}{
		{5, 30, 0, 0}, {5, 0, 0, 60}, {5, 120, 0, 60}, {5, 5, 0, 10},
		{4, 30, 0, 0}, {4, 0, 0x02, 0}, {4, 120, 0x02, 0}, {4, 5, 0x02, 0},
	}
	for _, c := range cases {
		r := dialRaw(t, b.Addr(), c.version)
		ack := r.connack(t, "ka", c.keepalive)
		told := uint16(0)
		if ack.Properties.ServerKeepAliveFlag {
			told = ack.Properties.ServerKeepAlive
		}
		if ack.ReasonCode != c.code || told != c.told {
			t.Errorf("MQTT %d keep alive %d: CONNACK %#x, server keep alive %d; want %#x, %d",
				c.version, c.keepalive, ack.ReasonCode, told, c.code, c.told)
		}
		r.Close()
		waitClients(t, b, 0)
	}

	r = dialRaw(t, b.Addr(), 5)
	r.send(t, connectV5("long", 30, packets.Properties{SessionExpiryInterval: 86400, SessionExpiryIntervalFlag: true}))
	ack, err := r.read()
	if err != nil || ack.ReasonCode != 0 || !ack.Properties.SessionExpiryIntervalFlag || ack.Properties.SessionExpiryInterval != 60 {
		t.Errorf("session expiry: CONNACK %#x, expiry %d (%v); want 0, 60", ack.ReasonCode, ack.Properties.SessionExpiryInterval, err)
	}
}

// waitClients waits until n network clients are connected.
func waitClients(t *testing.T, b *Broker, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for atomic.LoadInt64(&b.srv.Info.ClientsConnected) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients connected, want %d", atomic.LoadInt64(&b.srv.Info.ClientsConnected), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
