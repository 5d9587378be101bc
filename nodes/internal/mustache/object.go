package mustache

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine/jsv"
)

// objIndex finds keys in the last JSON object a render looked a key up in.
// A template usually reads several properties of the same object
// (payload.a, payload.b), so the object's top-level entries are indexed
// as they are scanned: each lookup scans only as far as its key, past what
// earlier lookups scanned, and values are converted only when they are
// looked up (a number is not parsed unless it is read).
//
// The index holds offsets into the object's text, not strings, so that
// filling it stores no pointers. It finds the first of repeated keys, as
// gjson.Get does. What the scanner does not handle (a key with an escape,
// text that is not valid JSON) hands the lookup to gjson.Get, which reads
// past it; so do objects with more entries than the index holds, for the
// keys beyond it.
type objIndex struct {
	src  string   // the object's text (compared by address and length)
	ents []objEnt // the first entries of src, in order
	pos  int      // the offset in src just after the last entry in ents, or after '{'
	end  bool     // ents holds every entry of src
	slow bool     // there is an entry after pos that the scanner does not handle
}

// objEnt is one entry of an indexed object: its key and value as offsets
// into the object's text. The key has no escapes (it is the key's text).
type objEnt struct {
	k0, k1 int // the key, without its quotes
	v0, v1 int // the value's JSON text
}

// maxIndexed bounds the entries indexed; keys beyond them are scanned for
// on each lookup.
const maxIndexed = 32

// scanStatus is the outcome of scanning one entry of an object.
type scanStatus uint8

const (
	scanEntry scanStatus = iota // an entry was scanned
	scanEnd                     // the object ends here
	scanOdd                     // something the scanner does not handle
)

// reset starts indexing the object s.
func (x *objIndex) reset(s string) {
	x.src, x.ents, x.end, x.slow = s, x.ents[:0], false, false
	x.pos = 1
	if s == "" || s[0] != '{' {
		x.slow = true // not an object's text: let gjson decide
	}
}

// release drops the object, so that nothing of a message stays reachable
// from a recycled renderer.
func (x *objIndex) release() {
	x.src, x.ents = "", x.ents[:0]
}

// lookupIn returns the value of key in the JSON object s, as gjson.Get(s,
// esc) finds it (the first of repeated keys), and whether s has the key.
// esc is key escaped for a gjson path. key must not be "" (see emptyKey).
// The value goes to *out; *out is left alone when s does not have key.
func (x *objIndex) lookupIn(s, key, esc string, out *Value) bool {
	if len(s) != len(x.src) || unsafe.StringData(s) != unsafe.StringData(x.src) {
		x.reset(s)
	}
	for _, e := range x.ents {
		if s[e.k0:e.k1] == key {
			valueOfJSON(s[e.v0:e.v1], out)
			return true
		}
	}
	if x.end {
		return false
	}
	if !x.slow {
		if found, done := x.scanFor(key, out); done {
			return found
		}
	}
	res := gjson.Get(s, esc)
	if !res.Exists() {
		return false
	}
	*out = fromGJSON(res)
	return true
}

// scanFor scans the entries after the indexed ones for key, indexing them
// while there is room. It reports done when it has the answer; otherwise
// (an entry it does not handle) the caller must ask gjson.
func (x *objIndex) scanFor(key string, out *Value) (found, done bool) {
	s := x.src
	pos := x.pos
	for {
		e, next, st := nextEntry(s, pos, pos == 1)
		switch st {
		case scanEnd:
			if pos == x.pos {
				x.end = true // every entry is indexed
			}
			return false, true
		case scanOdd:
			if pos == x.pos {
				x.slow = true
			}
			return false, false
		}
		if pos == x.pos && len(x.ents) < maxIndexed {
			x.ents = append(x.ents, e)
			x.pos = next
		}
		pos = next
		if s[e.k0:e.k1] == key {
			valueOfJSON(s[e.v0:e.v1], out)
			return true, true
		}
	}
}

// nextEntry scans the object entry of s that starts at offset i, which is
// just after '{' (first) or just after the previous entry's value. It
// returns the entry and the offset just after its value.
func nextEntry(s string, i int, first bool) (objEnt, int, scanStatus) {
	i = skipSpace(s, i)
	if i >= len(s) {
		return objEnt{}, 0, scanOdd
	}
	if s[i] == '}' {
		return objEnt{}, 0, scanEnd
	}
	if !first {
		if s[i] != ',' {
			return objEnt{}, 0, scanOdd
		}
		i = skipSpace(s, i+1)
	}
	if i >= len(s) || s[i] != '"' {
		return objEnt{}, 0, scanOdd
	}
	kend, esc := jsv.StringEnd(s, i)
	if kend < 0 || esc {
		return objEnt{}, 0, scanOdd
	}
	j := skipSpace(s, kend)
	if j >= len(s) || s[j] != ':' {
		return objEnt{}, 0, scanOdd
	}
	j = skipSpace(s, j+1)
	vend := valueEnd(s, j)
	if vend < 0 {
		return objEnt{}, 0, scanOdd
	}
	return objEnt{k0: i + 1, k1: kend - 1, v0: j, v1: vend}, vend, scanEntry
}

// skipSpace returns the offset of the first byte at or after i that is not
// JSON white space.
func skipSpace(s string, i int) int {
	if i < len(s) && s[i] > ' ' {
		return i // compact JSON: no white space
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}

// valueEnd returns the offset just after the JSON value that starts at
// s[i], followed by a delimiter or the end, or -1 if there is none the
// scanner handles there (jsv.ValueEnd: a number is checked only for its
// characters, which strconv.ParseFloat reads later, a nested value only
// for its brackets and strings).
func valueEnd(s string, i int) int {
	end, ok := jsv.ValueEnd(s, i)
	if !ok {
		return -1
	}
	return delimited(s, end)
}

// delimited returns j if a JSON scalar may end at s[j] (a delimiter or the
// end follows), else -1.
func delimited(s string, j int) int {
	if j == len(s) {
		return j
	}
	switch s[j] {
	case ',', '}', ']', ' ', '\n', '\r', '\t':
		return j
	}
	return -1
}

// valueOfJSON returns the Value of a JSON value's text, as found by
// valueEnd. A number keeps its text when JavaScript writes it the same
// and is then not parsed; an escaped string is unescaped by gjson, so that
// it reads exactly as gjson reads it elsewhere. The value goes to *out.
func valueOfJSON(raw string, out *Value) {
	switch raw[0] {
	case '"':
		body := raw[1 : len(raw)-1]
		if strings.IndexByte(body, '\\') < 0 {
			*out = Value{k: kString, s: body}
		} else {
			*out = fromGJSON(gjson.Parse(raw))
		}
	case '{':
		*out = Value{k: kObjectJSON, s: raw}
	case '[':
		*out = Value{k: kArrayJSON, s: raw}
	case 't':
		*out = Value{k: kBool, b: true}
	case 'f':
		*out = Value{k: kBool}
	case 'n':
		*out = Value{k: kNull}
	default:
		*out = numberValue(raw)
	}
}

// numberValue returns the Value of a JSON number's text: its text when
// JavaScript writes it the same (n is then left unset), else its value
// as gjson parses it.
func numberValue(raw string) Value {
	if jsv.IsCanonicalNumber(raw) {
		return Value{k: kNumber, s: raw}
	}
	f, _ := strconv.ParseFloat(raw, 64)
	return Value{k: kNumber, n: f}
}
