package engine

import "unicode/utf8"

// inParsedForm reports, reading s once and writing nothing, whether the
// valid JSON text s is already what ParsedJSON makes of it, so that
// reencode may return it as it is. It answers false whenever it is not
// sure, and ParsedJSON then re-encodes: for white space, a backslash
// escape or text that is not UTF-8 in a string, a key that is an array
// index, a repeated key, an object of more than maxFormKeys keys, or
// nesting deeper than maxFormDepth.
func inParsedForm(s []byte) bool {
	f := formScan{s: s}
	return f.value(0) && f.i == len(s)
}

const (
	maxFormKeys  = 16
	maxFormDepth = 32
)

// formScan is the state of inParsedForm.
type formScan struct {
	s []byte
	i int
}

func (f *formScan) value(depth int) bool {
	if f.i >= len(f.s) {
		return false
	}
	switch f.s[f.i] {
	case '{':
		return depth < maxFormDepth && f.object(depth+1)
	case '[':
		return depth < maxFormDepth && f.array(depth+1)
	case '"':
		_, ok := f.str()
		return ok
	case 't', 'n':
		f.i += 4
		return f.i <= len(f.s)
	case 'f':
		f.i += 5
		return f.i <= len(f.s)
	}
	// A number, kept as written: run to the next delimiter.
	for f.i < len(f.s) {
		switch f.s[f.i] {
		case ',', '}', ']':
			return true
		case ' ', '\t', '\n', '\r':
			return false
		}
		f.i++
	}
	return true
}

// str reads a string without escapes in valid UTF-8 and returns its
// content.
func (f *formScan) str() ([]byte, bool) {
	f.i++ // '"'
	start, ascii := f.i, true
	for f.i < len(f.s) {
		switch c := f.s[f.i]; {
		case c == '"':
			text := f.s[start:f.i]
			f.i++
			return text, ascii || utf8.Valid(text)
		case c == '\\':
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		f.i++
	}
	return nil, false
}

func (f *formScan) object(depth int) bool {
	f.i++ // '{'
	if f.i < len(f.s) && f.s[f.i] == '}' {
		f.i++
		return true
	}
	var keys [maxFormKeys][]byte
	n := 0
	for {
		if f.i >= len(f.s) || f.s[f.i] != '"' || n == maxFormKeys {
			return false
		}
		key, ok := f.str()
		if !ok || arrayIndex(key) >= 0 {
			return false
		}
		for _, k := range keys[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		keys[n] = key
		n++
		if f.i >= len(f.s) || f.s[f.i] != ':' {
			return false
		}
		f.i++
		if !f.value(depth) {
			return false
		}
		if f.i >= len(f.s) {
			return false
		}
		switch f.s[f.i] {
		case ',':
			f.i++
		case '}':
			f.i++
			return true
		default:
			return false
		}
	}
}

func (f *formScan) array(depth int) bool {
	f.i++ // '['
	if f.i < len(f.s) && f.s[f.i] == ']' {
		f.i++
		return true
	}
	for {
		if !f.value(depth) || f.i >= len(f.s) {
			return false
		}
		switch f.s[f.i] {
		case ',':
			f.i++
		case ']':
			f.i++
			return true
		default:
			return false
		}
	}
}
