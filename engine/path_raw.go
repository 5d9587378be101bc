package engine

import (
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine/jsv"
)

// The fast paths of paths into RawJSON: a path of plain names into nested
// objects is found with one scan of each object on the way (jsv.FindMember)
// instead of through gjson's and sjson's path languages. Where the scan is
// not sure of giving what the general path gives (white space between
// members, escaped or repeated keys, arrays, keys that need escaping in a
// gjson path) it says so, and the general path runs instead.

// plainKey reports whether sg is a name the fast paths handle: not an
// index, not all digits (which sjson and deleteIn treat specially), and
// made only of letters, digits, '_', '-' and valid UTF-8 beyond ASCII, so
// that the key is written the same in a gjson path and in JSON text.
func plainKey(sg Segment) bool {
	if sg.IsIndex || sg.Key == "" || allDigits(sg.Key) {
		return false
	}
	ascii := true
	for i := 0; i < len(sg.Key); i++ {
		switch c := sg.Key[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c >= utf8.RuneSelf:
			ascii = false
		default:
			return false
		}
	}
	return ascii || utf8.ValidString(sg.Key)
}

// rawMember finds the member named by segs in the JSON object x,
// descending through one object per segment. The member's offsets are
// into x. It is jsv.ScanUnsure when a segment is not a plain key, a value
// on the way is not an object, or an object on the way is not one
// jsv.FindMember is sure of.
func rawMember(x []byte, segs []Segment) (jsv.Member, jsv.Scan) {
	base, obj := 0, x
	for k, sg := range segs {
		if !plainKey(sg) {
			return jsv.Member{}, jsv.ScanUnsure
		}
		m, st := jsv.FindMember(obj, sg.Key)
		if st != jsv.ScanFound {
			return jsv.Member{}, st
		}
		m.Key, m.Value, m.End = m.Key+base, m.Value+base, m.End+base
		if k == len(segs)-1 {
			return m, st
		}
		if x[m.Value] != '{' {
			return jsv.Member{}, jsv.ScanUnsure
		}
		base, obj = m.Value, x[m.Value:m.End]
	}
	return jsv.Member{}, jsv.ScanUnsure
}

// rawValue converts the JSON text of one value, found by rawMember, to a
// message value as lookupIn's general path does (gjson.GetBytes, then
// fromGJSON): numbers and literals without a copy, anything else through
// gjson from a copy of the text.
func rawValue(b []byte) any {
	switch c := b[0]; {
	case c == '-' || c >= '0' && c <= '9':
		return jsv.ParseNumber(b)
	case c == 't':
		return true
	case c == 'f':
		return false
	case c == 'n':
		return nil
	}
	return fromGJSON(gjson.ParseBytes(b))
}

// cutMember returns a copy of x without member m and the comma that
// separates it from its neighbours, as sjson deletes it from compact text.
func cutMember(x []byte, m jsv.Member) RawJSON {
	lo, hi := m.Key, m.End
	if x[lo-1] == ',' {
		lo--
	} else if x[hi] == ',' {
		hi++
	}
	out := make([]byte, 0, len(x)-(hi-lo))
	out = append(out, x[:lo]...)
	return append(out, x[hi:]...)
}

// RawValue finds the value under p below its first segment (payload.a.b:
// a.b) in the JSON text raw, with the fast path of lookups: val is the
// value's text, pointing into raw. sure is false when the fast path cannot
// tell (see rawMember), and the caller must read the value the general way;
// otherwise found says whether the value exists.
func (p Path) RawValue(raw RawJSON) (val []byte, found, sure bool) {
	if len(p.segs) < 2 {
		return nil, false, false
	}
	m, st := rawMember(raw, p.segs[1:])
	switch st {
	case jsv.ScanFound:
		return raw[m.Value:m.End], true, true
	case jsv.ScanMissing:
		return nil, false, true
	}
	return nil, false, false
}
