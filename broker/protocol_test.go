package broker

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// encodePublish encodes a PUBLISH for a protocol version (4: 3.1.1, 5).
func encodePublish(version byte, topic string, qos byte, id uint16, props packets.Properties) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, ProtocolVersion: version,
		TopicName: topic, PacketID: id, Payload: []byte("x"), Properties: props}
	var buf bytes.Buffer
	if err := pk.PublishEncode(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// expectBytes reads exactly len(want) bytes and compares them.
func (r *raw) expectBytes(t *testing.T, what string, want []byte) {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if n, err := io.ReadFull(r.r, got); err != nil {
		t.Fatalf("%s: read % x, then %v; want % x", what, got[:n], err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

// TestPubackWithoutProperties: the acknowledgements of a PUBLISH that
// carries properties are the bare packet id, as mosquitto sends them;
// mochi used to copy the PUBLISH's properties into the PUBACK, with the
// reason code 0x01 that PUBACK does not have, which strict clients (the
// Eclipse Paho test client) refuse ("Puback packet is wrong length 18").
func TestPubackWithoutProperties(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0"})
	r := dialRaw(t, b.Addr(), 5)
	if ca := r.connack(t, "props", 30); ca.ReasonCode != 0 {
		t.Fatalf("CONNACK %#x", ca.ReasonCode)
	}
	props := packets.Properties{
		PayloadFormat: 1, PayloadFormatFlag: true, ContentType: "text/plain",
		ResponseTopic: "reply/here", CorrelationData: []byte("42"),
		User: []packets.UserProperty{{Key: "a", Val: "b"}},
	}
	r.send(t, encodePublish(5, "props/t", 1, 1, props))
	r.expectBytes(t, "PUBACK", []byte{0x40, 0x02, 0x00, 0x01})
	r.send(t, encodePublish(5, "props/t", 2, 2, props))
	r.expectBytes(t, "PUBREC", []byte{0x50, 0x02, 0x00, 0x02})
	r.send(t, []byte{0x62, 0x02, 0x00, 0x02}) // PUBREL
	r.expectBytes(t, "PUBCOMP", []byte{0x70, 0x02, 0x00, 0x02})
}

// TestSysPublishAnswered: a QoS 1 or 2 publish to a $SYS topic is
// answered as mosquitto answers it, and dropped: MQTT 5 gets PUBACK or
// PUBREC 0x87 "not authorized", MQTT 3.1.1 an ordinary PUBACK, or PUBREC
// and then PUBCOMP. mochi used to drop it without an answer, so the
// client waited forever.
func TestSysPublishAnswered(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0"})
	watch := mustConnect(t, b, nil, "tcp", "watch")
	watch.sub(t, "$SYS/x", 1)
	watch.sub(t, "sys/mark", 1)

	v5 := dialRaw(t, b.Addr(), 5)
	v5.connack(t, "sys5", 30)
	v5.send(t, encodePublish(5, "$SYS/x", 1, 1, packets.Properties{}))
	v5.expectBytes(t, "MQTT 5 PUBACK", []byte{0x40, 0x03, 0x00, 0x01, 0x87})
	v5.send(t, encodePublish(5, "$SYS/x", 2, 2, packets.Properties{}))
	v5.expectBytes(t, "MQTT 5 PUBREC", []byte{0x50, 0x03, 0x00, 0x02, 0x87})
	v5.send(t, encodePublish(5, "$SYS/x", 0, 0, packets.Properties{}))

	v3 := dialRaw(t, b.Addr(), 4)
	v3.connack(t, "sys3", 30)
	v3.send(t, encodePublish(4, "$SYS/x", 1, 1, packets.Properties{}))
	v3.expectBytes(t, "MQTT 3.1.1 PUBACK", []byte{0x40, 0x02, 0x00, 0x01})
	v3.send(t, encodePublish(4, "$SYS/x", 2, 2, packets.Properties{}))
	v3.expectBytes(t, "MQTT 3.1.1 PUBREC", []byte{0x50, 0x02, 0x00, 0x02})
	v3.send(t, []byte{0x62, 0x02, 0x00, 0x02})
	v3.expectBytes(t, "MQTT 3.1.1 PUBCOMP", []byte{0x70, 0x02, 0x00, 0x02})

	// Both connections still work, and nothing reached the subscriber.
	v5.send(t, encodePublish(5, "sys/mark", 1, 3, packets.Properties{}))
	v5.expectBytes(t, "PUBACK", []byte{0x40, 0x02, 0x00, 0x03})
	v3.send(t, []byte{0xC0, 0x00}) // PINGREQ
	v3.expectBytes(t, "PINGRESP", []byte{0xD0, 0x00})
	if got := show(watch.next(t)); got != "sys/mark|x|1|false" {
		t.Errorf("the subscriber got %s, want only the marker", got)
	}
}

// TestTopicAliasRemapRefused: a PUBLISH that maps a topic alias to a new
// topic maps it even when the ACL refuses the message, as in mosquitto;
// the next PUBLISH with the alias alone goes to the new topic (and is
// refused too), not to the one the alias named before.
func TestTopicAliasRemapRefused(t *testing.T) {
	b, _ := aclBroker(t)
	watch := mustDialV5(t, b.Addr(), "watch", "admin", "a")
	if _, err := watch.subscribe(t, "sensors/#"); err != nil {
		t.Fatal(err)
	}
	writer := mustDialV5(t, b.Addr(), "w", "writer", "w")
	alias := uint16(3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	publish := func(topic, payload string) byte {
		t.Helper()
		resp, err := writer.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload),
			Properties: &paho.PublishProperties{TopicAlias: &alias}})
		if resp == nil {
			t.Fatalf("publish %q with alias: %v", topic, err)
		}
		return resp.ReasonCode
	}
	if code := publish("sensors/writer/a", "1"); code != 0 {
		t.Fatalf("allowed publish: reason %#x", code)
	}
	if code := publish("sensors/other/a", "2"); code != 0x87 {
		t.Fatalf("re-map to a denied topic: reason %#x, want 0x87", code)
	}
	if code := publish("", "3"); code != 0x87 {
		t.Errorf("alias only, after the refused re-map: reason %#x, want 0x87", code)
	}
	if _, err := writer.publish(t, "sensors/writer/end", "e", 1); err != nil {
		t.Fatal(err)
	}
	watch.expectMsg(t, "sensors/writer/a 1")
	watch.expectMsg(t, "sensors/writer/end e")
	watch.expectNoMsg(t)
}

// TestNoDisconnectToMQTT3: MQTT 3.1.1 has no DISCONNECT from server to
// client; a 3.1.1 client the broker disconnects sees its connection
// closed, with nothing sent, whether its session is taken over, its
// publish is refused or the broker shuts down, as with mosquitto. MQTT 5
// clients still get DISCONNECT with a reason code.
func TestNoDisconnectToMQTT3(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0"})
	addr := b.Addr()

	// A session taken over.
	old := dialRaw(t, addr, 4)
	old.connack(t, "dup", 30)
	dup := dialRaw(t, addr, 4)
	dup.connack(t, "dup", 30)
	old.closed(t)
	old5 := dialRaw(t, addr, 5)
	old5.connack(t, "dup5", 30)
	dup5 := dialRaw(t, addr, 5)
	dup5.connack(t, "dup5", 30)
	if pk, err := old5.read(); err != nil || pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != 0x8E {
		t.Errorf("MQTT 5 session taken over: got type %d reason %#x, %v; want DISCONNECT 0x8E", pk.FixedHeader.Type, pk.ReasonCode, err)
	}

	// A QoS 1 publish the ACL refuses.
	ab, _ := aclBroker(t)
	conn, code := rawConnect311(t, ab.Addr(), "p-reader", "reader", "r", "")
	if code != 0 {
		t.Fatalf("CONNACK %#x", code)
	}
	reader := &raw{Conn: conn, r: bufio.NewReader(conn), version: 4}
	reader.send(t, encodePublish(4, "sensors/reader/x", 1, 1, packets.Properties{}))
	reader.closed(t)

	// The broker shutting down.
	last := dialRaw(t, addr, 4)
	last.connack(t, "last", 30)
	last5 := dialRaw(t, addr, 5)
	last5.connack(t, "last5", 30)
	b.Close()
	last.closed(t)
	if pk, err := last5.read(); err != nil || pk.FixedHeader.Type != packets.Disconnect || pk.ReasonCode != 0x8B {
		t.Errorf("MQTT 5 at shutdown: got type %d reason %#x, %v; want DISCONNECT 0x8B", pk.FixedHeader.Type, pk.ReasonCode, err)
	}
}

func TestDropDisconnects(t *testing.T) {
	pub := encodePublish(4, "a/b", 1, 7, packets.Properties{})
	disc := []byte{0xE0, 0x00}
	e0pub := publishPacket(4, "a/b", bytes.Repeat([]byte{0xE0, 0x00}, 200))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name string
		in   []byte
		want []byte // nil: written as it is
	}{
		{"alone", disc, []byte{}},
		{"between", cat(pub, disc, pub), cat(pub, pub)},
		{"last", cat(pub, pub, disc), cat(pub, pub)},
		{"none", cat(pub, pub), nil},
		{"0xE0 in a payload", encodePublish(4, "\xe0", 0, 0, packets.Properties{}), nil},
		{"not whole packets", cat(pub, disc)[1:], nil},
		{"0xE0 bytes in payloads", cat(e0pub, e0pub), nil},
		{"0xE0 bytes in payloads, and a DISCONNECT", cat(e0pub, disc, e0pub), cat(e0pub, e0pub)},
	} {
		q, ok := dropDisconnects(c.in)
		if ok != (c.want != nil) || ok && !bytes.Equal(q, c.want) {
			t.Errorf("%s: got % x, %v; want % x", c.name, q, ok, c.want)
		}
	}
}

func TestClearSessionPresent(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte{0x20, 0x02, 0x01, 0x00}, []byte{0x20, 0x02, 0x00, 0x00}},
		{[]byte{0x20, 0x03, 0x01, 0x00, 0x00}, []byte{0x20, 0x03, 0x00, 0x00, 0x00}},
		{[]byte{0x20, 0x02, 0x00, 0x00}, []byte{0x20, 0x02, 0x00, 0x00}},
	} {
		if got := clearSessionPresent(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("% x: got % x, want % x", c.in, got, c.want)
		}
	}
}
