package jsv

import (
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// Scan is what a scan of JSON text (FindMember) found.
type Scan uint8

const (
	// ScanUnsure: the text is not in the form the scan handles (white
	// space between members, an escaped or repeated key, not an object);
	// the caller must use a general parser.
	ScanUnsure Scan = iota
	// ScanMissing: the object has no member with the key.
	ScanMissing
	// ScanFound: the object has exactly one member with the key.
	ScanFound
)

// Member is where one member of a JSON object is in the object's text,
// as byte offsets: Key is the key's opening quote, Value the value's first
// byte and End the byte just past the value.
type Member struct {
	Key, Value, End int
}

// FindMember finds the member named key in obj, the text of a JSON object,
// with one scan and no allocation. It is sure (ScanFound or ScanMissing)
// only of compact text (no white space between members; values may hold
// any), whose keys have no escapes, in which key occurs at most once: then
// every JSON reader agrees on the member, whether it keeps the first of
// repeated keys (gjson) or the last (JSON.parse). Anything else is
// ScanUnsure. Once the member is found, the rest of the object is not
// scanned member by member when a search shows that it cannot hold key
// again (see mayHoldKey): the answer is then the one gjson gives even if
// the rest were not compact or valid, and obj must be valid JSON for it
// to be JSON.parse's too. key is compared byte for byte, so it must be
// one that JSON writes without escapes.
func FindMember(obj []byte, key string) (Member, Scan) {
	n := len(obj)
	if n < 2 || obj[0] != '{' || obj[n-1] != '}' {
		return Member{}, ScanUnsure
	}
	if n == 2 {
		return Member{}, ScanMissing
	}
	var found Member
	st := ScanMissing
	for i := 1; ; {
		if obj[i] != '"' {
			return Member{}, ScanUnsure
		}
		ke, ok := keyEnd(obj, i, key)
		if !ok || ke+1 >= n || obj[ke+1] != ':' {
			return Member{}, ScanUnsure
		}
		end, ok := SkipValue(obj, ke+2)
		if !ok || end >= n {
			return Member{}, ScanUnsure
		}
		if string(obj[i+1:ke]) == key {
			if st == ScanFound {
				return Member{}, ScanUnsure // repeated: readers differ
			}
			found, st = Member{Key: i, Value: ke + 2, End: end}, ScanFound
			if obj[end] == ',' && !mayHoldKey(obj[end:], key) {
				return found, st // the rest cannot repeat key
			}
		}
		switch obj[end] {
		case ',':
			i = end + 1
			if i >= n {
				return Member{}, ScanUnsure
			}
		case '}':
			if end != n-1 {
				return Member{}, ScanUnsure
			}
			return found, st
		default:
			return Member{}, ScanUnsure
		}
	}
}

// mayHoldKey reports whether text, the rest of an object after a member,
// may hold another member named key: whether key appears in it between
// quotes, or any escape does (an escaped key may spell key). When it
// does not, the rest needs no scan: whatever else it holds, no reader
// finds key in it.
func mayHoldKey(text []byte, key string) bool {
	s := unsafe.String(unsafe.SliceData(text), len(text))
	if strings.IndexByte(s, '\\') >= 0 {
		return true
	}
	for i := 0; ; {
		j := strings.Index(s[i:], key)
		if j < 0 {
			return false
		}
		j += i
		if j > 0 && s[j-1] == '"' && j+len(key) < len(s) && s[j+len(key)] == '"' {
			return true
		}
		i = j + 1
	}
}

// keyEnd returns the offset of the closing quote of the key whose opening
// quote is at obj[i], with ok false when the key has an escape or does not
// end. The key being looked for is tried first: it has no escapes, so
// text that holds it and then a quote holds the whole key.
func keyEnd(obj []byte, i int, key string) (int, bool) {
	if ke := i + 1 + len(key); ke < len(obj) && obj[ke] == '"' && string(obj[i+1:ke]) == key {
		return ke, true
	}
	for ke := i + 1; ke < len(obj); ke++ {
		switch c := obj[ke]; {
		case c > '\\':
			// Lower-case letters and most of the rest: neither the
			// quote nor the backslash.
		case c == '"':
			return ke, true
		case c == '\\':
			return 0, false
		}
	}
	return 0, false
}

// SkipValue returns the offset just past the JSON value that starts at
// b[i], with ok false when no value starts there or it does not end
// within b (ValueEnd).
func SkipValue(b []byte, i int) (end int, ok bool) {
	return ValueEnd(unsafe.String(unsafe.SliceData(b), len(b)), i)
}

// ValueEnd returns the offset just past the JSON value that starts at
// s[i], with ok false when no value starts there or it does not end
// within s. It checks the value's framing (quotes, brackets, literals),
// not that every byte inside is valid JSON: a number is read up to the
// first byte that cannot be in one.
func ValueEnd(s string, i int) (end int, ok bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c == '"':
		end, _ = StringEnd(s, i)
		return end, end > 0
	case c == '{' || c == '[':
		return containerEnd(s, i)
	case c == 't':
		return literalEnd(s, i, "true")
	case c == 'f':
		return literalEnd(s, i, "false")
	case c == 'n':
		return literalEnd(s, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		j := i + 1
		for j < len(s) && isNumberByte(s[j]) {
			j++
		}
		return j, true
	}
	return 0, false
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// StringEnd returns the offset just past the JSON string whose opening
// quote is at s[i], and whether the string has escapes; -1 if it is not
// closed. It reads eight bytes at a time while they hold neither a quote
// nor a backslash.
func StringEnd(s string, i int) (end int, escaped bool) {
	j := i + 1
	for ; j+8 <= len(s); j += 8 {
		t := s[j : j+8]
		w := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		if hasByte(w, '"') || hasByte(w, '\\') {
			break
		}
	}
	for ; j < len(s); j++ {
		switch s[j] {
		case '"':
			return j + 1, false
		case '\\':
			for ; j < len(s); j++ {
				switch s[j] {
				case '"':
					return j + 1, true
				case '\\':
					j++ // the escaped byte (the rest of \uXXXX is plain)
				}
			}
			return -1, true
		}
	}
	return -1, false
}

// hasByte reports whether one of the eight bytes of w is c.
func hasByte(w uint64, c byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := w ^ (ones * uint64(c))
	return (x-ones)&^x&highs != 0
}

// containerEnd returns the offset past the object or array whose opening
// bracket is at s[i].
func containerEnd(s string, i int) (int, bool) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			end, _ := StringEnd(s, j)
			if end < 0 {
				return 0, false
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}

func literalEnd(s string, i int, lit string) (int, bool) {
	end := i + len(lit)
	if end > len(s) || s[i:end] != lit {
		return 0, false
	}
	return end, true
}

// ParseNumber returns the value of the JSON number text b as gjson (and
// strconv.ParseFloat) reads it, a number too large for a double being
// ±Inf. Integers of up to 15 digits, the common case, are converted
// without strconv: they are exact in a double.
func ParseNumber(b []byte) float64 {
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i = 1
	}
	if digits := len(b) - i; digits > 0 && digits <= 15 {
		var n int64
		for _, c := range b[i:] {
			if c < '0' || c > '9' {
				goto general
			}
			n = n*10 + int64(c-'0')
		}
		if i == 1 {
			if n == 0 {
				return math.Copysign(0, -1)
			}
			return -float64(n)
		}
		return float64(n)
	}
general:
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return f
}
