package broker

import (
	"bytes"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestGuardScan: the framing follows packets split anywhere across reads
// and spots the first one over the limit.
func TestGuardScan(t *testing.T) {
	small := publishPacket(4, "a/b", bytes.Repeat([]byte("x"), 100)) // 109 bytes
	exact := publishPacket(4, "a/b", bytes.Repeat([]byte("x"), 200-8))
	if len(exact) != 200 {
		t.Fatalf("exact is %d bytes", len(exact))
	}
	over := publishPacket(4, "a/b", bytes.Repeat([]byte("x"), 201-8))
	for _, c := range []struct {
		name   string
		stream []byte
		want   bool
	}{
		{"small ones", bytes.Repeat(small, 20), false},
		{"exactly the limit", append(bytes.Repeat(small, 3), exact...), false},
		{"one byte over", append(bytes.Repeat(small, 3), over...), true},
		{"header only", over[:3], true},
	} {
		for _, chunk := range []int{1, 2, 3, 7, 64, 4096} {
			g := &guardConn{g: &guard{maxPacket: 200}}
			got := false
			for s := c.stream; len(s) > 0 && !got; {
				n := min(chunk, len(s))
				got = g.scan(s[:n])
				s = s[n:]
			}
			if got != c.want {
				t.Errorf("%s in chunks of %d: too large = %v, want %v", c.name, chunk, got, c.want)
			}
		}
	}
}

// BenchmarkGuardScan: the cost the size guard adds per read of 2 KiB of
// small publishes (mochi reads through a 2 KiB buffer).
func BenchmarkGuardScan(b *testing.B) {
	p := publishPacket(4, "sensors/dev1/data", []byte(`{"temperature":21.5,"humidity":40}`))
	buf := bytes.Repeat(p, 2048/len(p))
	g := &guardConn{g: &guard{maxPacket: 1 << 20}}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if g.scan(buf) {
			b.Fatal("too large")
		}
	}
}

// TestFixConnack: MQTT 5 CONNACKs that accept gain Maximum Packet Size,
// MQTT 3 ones get a return code MQTT 3 has, others pass unchanged.
func TestFixConnack(t *testing.T) {
	encode := func(version, code byte, props packets.Properties) []byte {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ProtocolVersion: version,
			ReasonCode: code, Properties: props}
		var buf bytes.Buffer
		if err := pk.ConnackEncode(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	decode := func(version byte, b []byte) packets.Packet {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ProtocolVersion: version}
		if err := pk.ConnackDecode(b[2:]); err != nil {
			t.Fatal(err)
		}
		return pk
	}
	q, ok := fixConnack(encode(5, 0, packets.Properties{ReceiveMaximum: 1024, AssignedClientID: "abc"}), 4096)
	if !ok {
		t.Fatal("MQTT 5 CONNACK not changed")
	}
	pk := decode(5, q)
	if pk.ReasonCode != 0 || pk.Properties.MaximumPacketSize != 4096 || pk.Properties.ReceiveMaximum != 1024 ||
		pk.Properties.AssignedClientID != "abc" || int(q[1]) != len(q)-2 {
		t.Errorf("got %+v", pk)
	}
	if _, ok := fixConnack(encode(5, 0x89, packets.Properties{}), 4096); ok {
		t.Error("a refusal gained properties")
	}
	if _, ok := fixConnack(encode(5, 0, packets.Properties{}), 0); ok {
		t.Error("no limit, but changed")
	}
	for code, want := range map[byte]byte{0x82: 0x01, 0x87: 0x05, 0x97: 0x03} {
		q, ok := fixConnack(encode(4, code, packets.Properties{}), 4096)
		if !ok || q[3] != want || len(q) != 4 {
			t.Errorf("MQTT 3 code %#x: got % x, want code %#x", code, q, want)
		}
	}
	if _, ok := fixConnack(encode(4, 0x05, packets.Properties{}), 4096); ok {
		t.Error("a valid MQTT 3 code changed")
	}
	if _, ok := fixConnack([]byte{0x30, 0x02, 0, 0}, 4096); ok {
		t.Error("a PUBLISH changed")
	}
}

// FuzzGuardScan: however a byte stream is split into reads, the guard
// reaches the same verdict as a plain reading of the framing.
func FuzzGuardScan(f *testing.F) {
	f.Add(bytes.Repeat(publishPacket(4, "a/b", []byte("hello")), 5), 300, 3)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, 1024, 1)
	f.Fuzz(func(t *testing.T, stream []byte, max, chunk int) {
		if max <= 0 || chunk <= 0 {
			return
		}
		want := false
		for i := 0; i < len(stream) && !want; {
			i++ // type byte
			length, mult, n := 0, 1, 0
			for i < len(stream) {
				x := stream[i]
				i++
				n++
				length += int(x&0x7f) * mult
				mult <<= 7
				if x&0x80 == 0 || n == 4 {
					want = 1+n+length > max
					i += length
					break
				}
			}
		}
		g := &guardConn{g: &guard{maxPacket: uint32(max)}}
		got := false
		for s := stream; len(s) > 0 && !got; {
			k := min(chunk, len(s))
			got = g.scan(s[:k])
			s = s[k:]
		}
		if got != want {
			t.Errorf("chunks of %d, max %d: too large = %v, want %v", chunk, max, got, want)
		}
	})
}
