package jsv

import "encoding/base64"

// DecodeBase64 is Node's Buffer.from(s, "base64"): both the standard and
// the URL-safe alphabet, characters outside them skipped, decoding stopped
// at the first '=', a trailing group of 2 or 3 characters giving 1 or 2
// bytes.
func DecodeBase64(s string) []byte {
	if out, err := base64.StdEncoding.DecodeString(s); err == nil {
		return out
	}
	out := make([]byte, 0, len(s)*3/4+3)
	var acc uint32
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '-':
			v = 62
		case c == '/' || c == '_':
			v = 63
		case c == '=':
			i = len(s)
			continue
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	if max := Base64Length(s); len(out) > max {
		out = out[:max]
	}
	return out
}

// Base64Length is Node's estimate of a base64 string's decoded size, which
// also caps what Buffer.from(s, 'base64') keeps.
func Base64Length(s string) int {
	n := len(s)
	if n > 0 && s[n-1] == '=' {
		n--
	}
	if n > 1 && s[n-1] == '=' {
		n--
	}
	return n * 3 >> 2
}
