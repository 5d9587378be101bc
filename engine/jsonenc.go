package engine

import (
	"bytes"
	"sort"
	"strconv"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/runnel-io/runnel/flows/jsutf8"
)

// JSON text leaves Runnel the way JSON.stringify writes it in Node-RED,
// whether the value is decoded (map[string]any, []any) or still the JSON
// text it was parsed from (RawJSON). For RawJSON that means what
// JSON.stringify(JSON.parse(text)) gives:
//
//   - no white space;
//   - an object's keys that are array indices (canonical decimal integers
//     below 2³²−1: "0", "2", "10", not "01", "-1" or "4294967295") first, in
//     ascending numeric order, then the others in the order they came;
//   - of duplicate keys the last value, at the place of the first;
//   - numbers as JavaScript writes them (1.0 is 1, 1E2 is 100, -0 is 0), and
//     numbers too large for a double (1e400, Infinity to JavaScript) as null;
//   - strings with only ", \ and control characters escaped (as \b \t \n
//     \f \r or \u00xx); other \u escapes become their characters, except
//     lone surrogates, which stay escaped; bytes that are not UTF-8 become
//     U+FFFD as Node's Buffer.toString('utf8') makes them.
//
// Text that is already in that form is passed on as it is (see
// CanonicalJSON), so re-encoding a compact payload costs one scan and no
// allocation.

// CanonicalJSON returns JSON.stringify(JSON.parse(r)): r itself when it is
// already in that form, else a new encoding.
func CanonicalJSON(r RawJSON) RawJSON { return reencode(r, false) }

// reencode returns r re-encoded by rawDec (numbers kept as written when
// keepNumbers is set): r itself when that changes nothing.
func reencode(r RawJSON, keepNumbers bool) RawJSON {
	if keepNumbers && inParsedForm(r) {
		return r
	}
	sp := encPool.Get().(*[]byte)
	d := rawDec{s: r, keepNumbers: keepNumbers}
	out := d.value((*sp)[:0])
	res := r
	if !bytes.Equal(out, r) {
		res = RawJSON(bytes.Clone(out))
	}
	if cap(out) <= 64<<10 {
		*sp = out
		encPool.Put(sp)
	}
	return res
}

// ParsedJSON returns the text of what JSON.parse makes of r, an object
// or array as text, for lookups into it: of a repeated key only the last
// value, at the first one's place (gjson, reading the text, would find
// the first), array-index keys first, and no white space. Numbers stay as
// they are written, since -0 and 1e400 (-0 and Infinity to JavaScript)
// have no JSON text of their own. r itself is returned when it is already
// in that form, as compact text without repeated keys is.
func ParsedJSON(r RawJSON) RawJSON { return reencode(r, true) }

var encPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendRawJSON appends JSON.stringify(JSON.parse(raw)) to b. raw must be
// valid JSON text.
func appendRawJSON(b []byte, raw []byte) []byte {
	d := rawDec{s: raw}
	return d.value(b)
}

// rawDec re-encodes valid JSON text in one pass.
type rawDec struct {
	s []byte
	i int
	// keepNumbers writes numbers as they are written in s (see
	// ParsedJSON) instead of as JavaScript writes them.
	keepNumbers bool
}

func (d *rawDec) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *rawDec) value(b []byte) []byte {
	d.ws()
	if d.i >= len(d.s) {
		return append(b, "null"...)
	}
	switch c := d.s[d.i]; c {
	case '{':
		return d.object(b)
	case '[':
		d.i++
		b = append(b, '[')
		d.ws()
		if d.i < len(d.s) && d.s[d.i] == ']' {
			d.i++
			return append(b, ']')
		}
		for {
			b = d.value(b)
			d.ws()
			if d.i >= len(d.s) || d.s[d.i] != ',' {
				d.i++ // ']'
				return append(b, ']')
			}
			d.i++
			b = append(b, ',')
		}
	case '"':
		return d.str(b)
	case 't':
		d.i += 4
		return append(b, "true"...)
	case 'f':
		d.i += 5
		return append(b, "false"...)
	case 'n':
		d.i += 4
		return append(b, "null"...)
	}
	return d.number(b)
}

// member is where one object member was written: the key from start to
// colon (quoted), the value up to end; index is the key's numeric value
// when it is an array index, else -1.
type member struct {
	start, colon, end int
	index             int64
}

func (d *rawDec) object(b []byte) []byte {
	d.i++ // '{'
	base := len(b)
	b = append(b, '{')
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return append(b, '}')
	}
	var small [16]member
	ms := small[:0]
	reorder := false
	lastIndex, named := int64(-1), false
	var seen map[string]struct{} // keys so far, for large objects
	for {
		d.ws()
		m := member{start: len(b)}
		b = d.str(b)
		m.colon = len(b)
		m.index = arrayIndex(b[m.start+1 : m.colon-1])
		d.ws()
		d.i++ // ':'
		b = append(b, ':')
		b = d.value(b)
		m.end = len(b)
		switch {
		case reorder:
		case m.index >= 0:
			// Array indices after other keys, out of order or twice.
			reorder = named || m.index <= lastIndex
			lastIndex = m.index
		default:
			named = true
			// A duplicate key needs rewriting too.
			key := b[m.start:m.colon]
			if len(ms) < len(small) {
				for _, p := range ms {
					if p.colon-p.start == len(key) && bytes.Equal(b[p.start:p.colon], key) {
						reorder = true
						break
					}
				}
			} else {
				if seen == nil {
					seen = make(map[string]struct{}, 2*len(ms))
					for _, p := range ms {
						seen[string(b[p.start:p.colon])] = struct{}{}
					}
				}
				if _, dup := seen[string(key)]; dup {
					reorder = true
				}
				seen[string(key)] = struct{}{}
			}
		}
		ms = append(ms, m)
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != ',' {
			d.i++ // '}'
			break
		}
		d.i++
		b = append(b, ',')
	}
	if !reorder {
		return append(b, '}')
	}
	return rewriteObject(b, base, ms)
}

// rewriteObject rewrites the object written from b[base] with its members
// ms: duplicates resolved (the last value at the first key's place) and
// array-index keys first, in ascending order.
func rewriteObject(b []byte, base int, ms []member) []byte {
	type piece struct {
		key, val []byte
		index    int64
		pos      int
	}
	src := bytes.Clone(b[base:])
	at := func(off int) int { return off - base }
	pieces := make([]piece, 0, len(ms))
	first := make(map[string]int, len(ms))
	for _, m := range ms {
		key := src[at(m.start):at(m.colon)]
		val := src[at(m.colon)+1 : at(m.end)]
		if j, dup := first[string(key)]; dup {
			pieces[j].val = val
			continue
		}
		first[string(key)] = len(pieces)
		pieces = append(pieces, piece{key: key, val: val, index: m.index, pos: len(pieces)})
	}
	sort.SliceStable(pieces, func(i, j int) bool {
		a, c := pieces[i], pieces[j]
		if (a.index >= 0) != (c.index >= 0) {
			return a.index >= 0
		}
		if a.index >= 0 {
			return a.index < c.index
		}
		return a.pos < c.pos
	})
	b = append(b[:base], '{')
	for i, p := range pieces {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.key...)
		b = append(b, ':')
		b = append(b, p.val...)
	}
	return append(b, '}')
}

// arrayIndex returns the value of an object key that JavaScript treats as
// an array index (a canonical decimal integer from 0 to 2³²−2), or -1.
// key is the key as written by str (so an index is plain digits).
func arrayIndex(key []byte) int64 {
	if len(key) == 0 || len(key) > 10 || (key[0] == '0' && len(key) > 1) {
		return -1
	}
	var n int64
	for _, c := range key {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	if n > 4294967294 {
		return -1
	}
	return n
}

// ArrayIndex reports whether JavaScript treats the object key k as an
// array index, and its value: such keys come first in an object, in
// ascending order.
func ArrayIndex(k string) (uint32, bool) {
	n := arrayIndex(unsafeBytes(k))
	return uint32(n), n >= 0
}

// SortKeys orders an object's keys as JSON.stringify writes them: array
// indices first in ascending order, then the others. A map does not keep
// the order its keys were added in, so those are sorted.
func SortKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, aok := ArrayIndex(keys[i])
		c, cok := ArrayIndex(keys[j])
		if aok != cok {
			return aok
		}
		if aok {
			return a < c
		}
		return keys[i] < keys[j]
	})
}

// number re-writes a JSON number as JavaScript does.
func (d *rawDec) number(b []byte) []byte {
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c >= '0' && c <= '9' || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+' {
			d.i++
			continue
		}
		break
	}
	tok := d.s[start:d.i]
	if d.keepNumbers || plainNumber(tok) {
		return append(b, tok...)
	}
	f, err := strconv.ParseFloat(unsafeString(tok), 64)
	if err != nil {
		// Only a range error is possible for valid JSON: ±Infinity to
		// JavaScript, which JSON.stringify writes as null.
		return append(b, "null"...)
	}
	return AppendNumber(b, f)
}

// plainNumber reports whether a valid JSON number is written by
// JavaScript exactly as it is: no exponent, at most 15 significant digits
// (so that they are the shortest form of the double they parse to), no
// trailing zero after a decimal point, not -0 and not below 1e-6.
func plainNumber(tok []byte) bool {
	i := 0
	if tok[0] == '-' {
		i++
	}
	intStart := i
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	intDigits := i - intStart
	zeroInt := intDigits == 1 && tok[intStart] == '0'
	if i == len(tok) {
		// An integer: -0 is written 0.
		return intDigits <= 15 && !(zeroInt && intStart == 1)
	}
	if tok[i] != '.' {
		return false // an exponent
	}
	i++
	fracStart := i
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	if i != len(tok) || tok[i-1] == '0' {
		return false // an exponent follows, or a trailing zero
	}
	sig := intDigits + (i - fracStart)
	if zeroInt {
		lead := 0
		for tok[fracStart+lead] == '0' {
			lead++
		}
		if lead >= 6 {
			return false // below 1e-6: JavaScript writes 1e-7
		}
		sig = i - fracStart - lead
	}
	return sig <= 15
}

// str re-writes a JSON string as JSON.stringify does.
func (d *rawDec) str(b []byte) []byte {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c == '"' {
			seg := d.s[start:d.i]
			d.i++
			b = append(b, '"')
			b = appendValidText(b, seg)
			return append(b, '"')
		}
		if c == '\\' {
			break
		}
		d.i++
	}
	// With escapes: decode them one by one.
	b = append(b, '"')
	b = appendValidText(b, d.s[start:d.i])
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return append(b, '"')
		case c == '\\':
			b = d.escape(b)
		default:
			run := d.i
			for d.i < len(d.s) && d.s[d.i] != '"' && d.s[d.i] != '\\' {
				d.i++
			}
			b = appendValidText(b, d.s[run:d.i])
		}
	}
	return append(b, '"')
}

// escape decodes the escape at d.i and writes it as JSON.stringify would.
func (d *rawDec) escape(b []byte) []byte {
	c := d.s[d.i+1]
	d.i += 2
	switch c {
	case '"':
		return append(b, `\"`...)
	case '\\':
		return append(b, `\\`...)
	case '/':
		return append(b, '/')
	case 'b':
		return append(b, `\b`...)
	case 'f':
		return append(b, `\f`...)
	case 'n':
		return append(b, `\n`...)
	case 'r':
		return append(b, `\r`...)
	case 't':
		return append(b, `\t`...)
	}
	// \uXXXX
	r := hex4(d.s[d.i:])
	d.i += 4
	if r >= 0xD800 && r <= 0xDBFF && d.i+6 <= len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
		if lo := hex4(d.s[d.i+2:]); lo >= 0xDC00 && lo <= 0xDFFF {
			d.i += 6
			return utf8.AppendRune(b, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
		}
	}
	switch {
	case r >= 0xD800 && r <= 0xDFFF:
		// A lone surrogate: JSON.stringify escapes it.
		return append(b, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
	case r < 0x20 || r == '"' || r == '\\':
		return appendEscaped(b, byte(r))
	}
	return utf8.AppendRune(b, r)
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// appendValidText appends bytes that need no escaping, with invalid UTF-8
// replaced as Node decodes it.
func appendValidText(b, s []byte) []byte {
	if utf8.Valid(s) {
		return append(b, s...)
	}
	return jsutf8.AppendDecode(b, s)
}
