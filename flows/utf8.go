package flows

import "unicode/utf8"

// ValidUTF8 returns b with every maximal invalid UTF-8 subsequence
// replaced by U+FFFD, as a JavaScript runtime decodes bytes (the WHATWG
// UTF-8 decoder, Buffer.toString): Node-RED parses a flow document from
// such a string, so what it stores and serves is always valid UTF-8. It
// returns b itself when b is valid.
func ValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		if r, n := utf8.DecodeRune(b[i:]); r != utf8.RuneError || n > 1 {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		i += invalidPrefix(b[i:])
		out = append(out, "\uFFFD"...)
	}
	return out
}

// invalidPrefix is the length of the maximal subpart at the start of b,
// which does not start a valid sequence: a lead byte and the continuation
// bytes that could still follow it (at least 1).
func invalidPrefix(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	need := 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}
