package flows

import "testing"

// The replacements of the WHATWG UTF-8 decoder (what Node's
// Buffer.toString('utf8') gives): one U+FFFD per maximal subpart.
func TestValidUTF8(t *testing.T) {
	const r = "\uFFFD"
	for _, c := range []struct{ in, want string }{
		{"plain é ✓ 😀", "plain é ✓ 😀"},
		{"a\xffb", "a" + r + "b"},
		{"\x80\x80", r + r},
		{"\xc0\xaf", r + r},         // overlong: C0 is never a lead byte
		{"\xe0\x80\xaf", r + r + r}, // overlong: E0 needs A0..BF next
		{"\xe2\x82", r},             // truncated at the end
		{"\xe2\x82c", r + "c"},      // truncated
		{"\xf0\x9f\x98", r},         // truncated 4-byte sequence
		{"\xf0\x9f\x98\xf0\x9f\x98\x80", r + "😀"},
		{"\xed\xa0\x80", r + r + r},         // a surrogate
		{"\xf4\x90\x80\x80", r + r + r + r}, // above U+10FFFF
		{"\xf5\x80", r + r},
	} {
		if got := string(ValidUTF8([]byte(c.in))); got != c.want {
			t.Errorf("ValidUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
