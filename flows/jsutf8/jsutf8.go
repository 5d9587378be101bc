// Package jsutf8 turns bytes into text the way Node.js does, so that a
// Buffer that becomes a string in Runnel becomes the same string it would
// in Node-RED.
//
// Decode is Buffer.toString('utf8'): valid UTF-8 is kept, and each maximal
// subpart of an invalid sequence becomes one U+FFFD (the WHATWG Encoding
// Standard's UTF-8 decoder, which V8 implements). Go's own conversions
// differ: utf8.DecodeRune and range loops give one U+FFFD per byte of a
// truncated sequence ("\xF0\x9F\x98" is three, Node makes one), and
// strings.ToValidUTF8 gives one for a whole run of invalid bytes.
//
// IsUTF8 is the test of the is-utf8 package that Node-RED's mqtt-in node
// uses to decide whether a payload is text.
package jsutf8

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// Decode returns b as text, as Node's Buffer.toString('utf8') does. Valid
// UTF-8 is copied as it is.
func Decode(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := AppendDecode(make([]byte, 0, len(b)+8), b)
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// DecodeString returns s with its invalid UTF-8 replaced as Decode does;
// a valid s is returned as it is, without a copy.
func DecodeString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return Decode(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// AppendDecode appends b to dst as Decode does.
func AppendDecode(dst, b []byte) []byte {
	const repl = "\uFFFD"
	i := 0
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			start := i
			for i < len(b) && b[i] < utf8.RuneSelf {
				i++
			}
			dst = append(dst, b[start:i]...)
			continue
		}
		// The number of continuation bytes the lead byte asks for, and
		// the range the first of them must be in (which excludes
		// overlong forms, surrogates and code points above U+10FFFF).
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
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
		default:
			// A continuation byte without a lead, C0, C1 or F5..FF.
			dst = append(dst, repl...)
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) || b[j] < lo || b[j] > hi {
				ok = false
				break
			}
			lo, hi = 0x80, 0xBF
			j++
		}
		if ok {
			dst = append(dst, b[i:j]...)
		} else {
			// The bytes read so far are the maximal subpart: one
			// replacement, and the byte that broke it starts afresh.
			dst = append(dst, repl...)
		}
		i = j
	}
	return dst
}

// IsUTF8 reports whether Node-RED's mqtt-in node takes b for text, with
// the test of the is-utf8 package (0.2.1): well-formed UTF-8 whose ASCII
// bytes are printable or tab, line feed or carriage return. Other control
// characters (NUL, ESC, DEL...) make it binary.
//
// The multi-byte forms is-utf8 accepts are exactly well-formed UTF-8
// sequences (what utf8.Valid checks), and a byte below 0x80 is always a
// character of its own in well-formed UTF-8, so the control characters
// can be looked for in every byte, eight at a time.
func IsUTF8(b []byte) bool {
	return utf8.Valid(b) && !hasControl(b)
}

const (
	lanes1  = 0x0101010101010101 // 0x01 in each byte
	lanes80 = 0x8080808080808080 // 0x80 in each byte
)

// hasControl reports whether b holds a byte below 0x20 other than tab,
// line feed and carriage return, or 0x7F.
func hasControl(b []byte) bool {
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ (0x7F * lanes1)
		// The high bit of a lane is set where x's byte is below 0x20 or
		// y's is 0 (a borrow only runs on from a lane that is already
		// set, so the test of the word as a whole is exact). Tab, LF and
		// CR, common in text, are told apart byte by byte.
		if ((x-0x20*lanes1)&^x|(y-lanes1)&^y)&lanes80 != 0 && hasControlBytes(b[:8]) {
			return true
		}
		b = b[8:]
	}
	return hasControlBytes(b)
}

func hasControlBytes(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F {
			return true
		}
	}
	return false
}
