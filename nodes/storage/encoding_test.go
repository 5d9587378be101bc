package storage

import (
	"encoding/hex"
	"testing"
)

// TestCodecAsIconvLite pins what Node-RED 4.1.15's file nodes write and
// read through iconv-lite (checked by the differential cases
// file-encodings and file-in-formats): base64 text is decoded as Node's
// Buffer.from(s, "base64") (no padding needed, white space skipped, the
// URL alphabet taken, stop at "="); ascii writes "?" for what it lacks
// and reads U+FFFD for bytes above 0x7f; binary writes the low byte of
// each UTF-16 unit; single-byte character sets write "??" for a character
// beyond the BMP.
func TestCodecAsIconvLite(t *testing.T) {
	for _, c := range []struct{ enc, text, hex string }{
		{"base64", "R3LDvMOfZQ==", "4772c3bcc39f65"},
		{"base64", "R3LDvMOfZQ", "4772c3bcc39f65"},
		{"base64", "R3LD vMOf\nZQ==", "4772c3bcc39f65"},
		{"base64", "a-_b", "6befdb"},
		{"base64", "R3L=DvMO", "4772"},
		{"base64", "R!3LD*vM", "4772c3bc"},
		{"base64", "R3LDv", "4772c3"},
		{"base64", "Z", ""},
		{"ascii", "Grüße\x00\x7f😀", "47723f3f65007f3f3f"},
		{"binary", "Grüße €😀", "4772fcdf6520ac3d00"},
		{"latin1", "Grüße €😀", "4772fcdf65203f3f3f"},
		{"windows-1252", "a😀€", "613f3f80"},
		{"shift_jis", "a😀", "613f"},
	} {
		cd, err := newCodec(c.enc)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(cd.encode(c.text)); got != c.hex {
			t.Errorf("%s encode %q = %s, want %s", c.enc, c.text, got, c.hex)
		}
	}
	for _, c := range []struct{ enc, hex, text string }{
		{"ascii", "41fc80ff7f", "A\ufffd\ufffd\ufffd\x7f"},
		{"binary", "41fc80", "Aü\u0080"},
		{"latin1", "41fc", "Aü"},
		{"base64", "4772c3bcc39f65", "R3LDvMOfZQ=="},
	} {
		cd, _ := newCodec(c.enc)
		b, _ := hex.DecodeString(c.hex)
		if got := cd.decode(b); got != c.text {
			t.Errorf("%s decode %s = %q, want %q", c.enc, c.hex, got, c.text)
		}
	}
}
