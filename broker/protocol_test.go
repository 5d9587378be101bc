package broker

import (
	"bytes"
	"io"
	"testing"
	"time"

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
