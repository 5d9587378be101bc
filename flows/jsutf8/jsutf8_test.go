package jsutf8

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// The expected code points and is-utf8 answers were printed by Node.js 20
// with node-red 4.1.15's is-utf8 module:
//
//	const s = Buffer.from(hex, "hex").toString("utf8")
//	[...s].map(x => x.codePointAt(0).toString(16).padStart(4, "0")).join(" ")
//	require("is-utf8")(Buffer.from(hex, "hex"))
var nodeCases = []struct {
	hex    string
	points string
	isUTF8 bool
}{
	{"", "", true},
	{"41", "0041", true},
	{"F09F98", "fffd", false},                  // a 4-byte sequence cut short: one U+FFFD
	{"EDA080", "fffd fffd fffd", false},        // a surrogate
	{"C0AF", "fffd fffd", false},               // overlong
	{"F4908080", "fffd fffd fffd fffd", false}, // above U+10FFFF
	{"80", "fffd", false},                      // a lone continuation byte
	{"BFBF", "fffd fffd", false},
	{"E282", "fffd", false},
	{"E282AC", "20ac", true},
	{"F09F9880", "1f600", true},
	{"61F09F9862", "0061 fffd 0062", false},
	{"FF", "fffd", false},
	{"FE", "fffd", false},
	{"E0808F", "fffd fffd fffd", false},
	{"E09F80", "fffd fffd fffd", false},
	{"F08F8080", "fffd fffd fffd fffd", false},
	{"F0908080", "10000", true},
	{"C2", "fffd", false},
	{"E1", "fffd", false},
	{"E180", "fffd", false},
	{"EDBFBF", "fffd fffd fffd", false},
	{"ED9FBF", "d7ff", true},
	{"F48F", "fffd", false},
	{"F48FBFBF", "10ffff", true},
	{"F590", "fffd fffd", false},
	{"C1BF", "fffd fffd", false},
	{"F09F98F09F9880", "fffd 1f600", false},
	{"E282F0", "fffd fffd", false},
	{"EFBFBD", "fffd", true},
	{"00", "0000", false}, // is-utf8 takes control characters for binary
	{"09", "0009", true},
	{"0A0D", "000a 000d", true},
	{"0B", "000b", false},
	{"1B5B", "001b 005b", false},
	{"7F", "007f", false},
	{"7E", "007e", true},
	{"C280", "0080", true},
	{"E0A080", "0800", true},
}

func points(s string) string {
	var parts []string
	for _, r := range s {
		parts = append(parts, fmt.Sprintf("%04x", r))
	}
	return strings.Join(parts, " ")
}

func TestDecodeAsNode(t *testing.T) {
	for _, c := range nodeCases {
		b, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := points(Decode(b)); got != c.points {
			t.Errorf("Decode(%s) = %s, Node gives %s", c.hex, got, c.points)
		}
		if got := points(DecodeString(string(b))); got != c.points {
			t.Errorf("DecodeString(%s) = %s, Node gives %s", c.hex, got, c.points)
		}
		if got := IsUTF8(b); got != c.isUTF8 {
			t.Errorf("IsUTF8(%s) = %v, is-utf8 gives %v", c.hex, got, c.isUTF8)
		}
	}
}

func TestDecodeExactBytes(t *testing.T) {
	got := Decode([]byte("ok \xF0\x9F\x98 \xED\xA0\x80!"))
	want := "ok \uFFFD \uFFFD\uFFFD\uFFFD!"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range nodeCases {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := Decode(b)
		if !strings.Contains(s, "\uFFFD") && s != string(b) {
			t.Fatalf("Decode(%q) = %q changed valid text", b, s)
		}
		if IsUTF8(b) && s != string(b) {
			t.Fatalf("IsUTF8(%q) but Decode changed it", b)
		}
		if points(s) == "" && len(b) > 0 {
			t.Fatalf("Decode(%q) is empty", b)
		}
	})
}
