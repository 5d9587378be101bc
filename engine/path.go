package engine

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/runnel-io/runnel/engine/jsv"
)

// Segment is one step of a property path: an object key or an array index.
type Segment struct {
	Key   string // the key, or the decimal form of Index
	Index int    // the array index when IsIndex is set
	// IsIndex is set for bracketed numbers (a[0]) and for dotted names
	// of digits followed by another dotted name (the 0 of a.0.b), which
	// Node-RED reads as numbers. A missing container is created as an
	// array when the segment inside it is an index, as an object
	// otherwise, so a.0 = x makes {"0": x} and a[0] = x makes [x].
	IsIndex bool
}

// Path is a parsed property path such as payload.readings[0].t. It reads
// and writes message properties the same way everywhere in Runnel.
type Path struct {
	src   string
	segs  []Segment
	gpath string // gjson/sjson form of segs[1:], escaped
}

// ParsePath parses a property path in Node-RED's syntax: dotted names,
// bracketed indexes and quoted keys (payload["key with space"],
// payload['a.b']). It rejects empty paths, empty segments and unbalanced
// brackets with an error that says where.
func ParsePath(s string) (Path, error) {
	var segs []Segment
	i := 0
	n := len(s)
	if strings.TrimSpace(s) == "" {
		return Path{}, fmt.Errorf("empty property path")
	}
	expectName := true
	for i < n {
		c := s[i]
		switch {
		case c == '.':
			if expectName {
				return Path{}, fmt.Errorf("invalid property path %q: unexpected '.' at position %d", s, i+1)
			}
			expectName = true
			i++
			if i == n {
				return Path{}, fmt.Errorf("invalid property path %q: ends with '.'", s)
			}
		case c == '[':
			if len(segs) == 0 {
				return Path{}, fmt.Errorf("invalid property path %q: must start with a name", s)
			}
			if expectName && i > 0 && s[i-1] == '.' {
				return Path{}, fmt.Errorf("invalid property path %q: unexpected '[' after '.' at position %d", s, i+1)
			}
			i++
			if i >= n {
				return Path{}, fmt.Errorf("invalid property path %q: unclosed '['", s)
			}
			if q := s[i]; q == '"' || q == '\'' {
				j := i + 1
				var key strings.Builder
				for j < n && s[j] != q {
					if s[j] == '\\' && j+1 < n {
						j++
					}
					key.WriteByte(s[j])
					j++
				}
				if j+1 >= n || s[j+1] != ']' {
					return Path{}, fmt.Errorf("invalid property path %q: unclosed quoted key at position %d", s, i+1)
				}
				segs = append(segs, Segment{Key: key.String()})
				i = j + 2
			} else {
				j := strings.IndexByte(s[i:], ']')
				if j < 0 {
					return Path{}, fmt.Errorf("invalid property path %q: unclosed '['", s)
				}
				idx, err := strconv.Atoi(strings.TrimSpace(s[i : i+j]))
				if err != nil || idx < 0 {
					return Path{}, fmt.Errorf("invalid property path %q: %q is not an array index (position %d)", s, s[i:i+j], i+1)
				}
				segs = append(segs, Segment{Key: strconv.Itoa(idx), Index: idx, IsIndex: true})
				i += j + 1
			}
			expectName = false
		case c == ']' || c == '"' || c == '\'':
			return Path{}, fmt.Errorf("invalid property path %q: unexpected %q at position %d", s, c, i+1)
		default:
			if !expectName {
				return Path{}, fmt.Errorf("invalid property path %q: unexpected %q at position %d", s, c, i+1)
			}
			j := i
			for j < n && s[j] != '.' && s[j] != '[' && s[j] != ']' {
				j++
			}
			name := s[i:j]
			seg := Segment{Key: name}
			// Node-RED reads a dotted name of digits as an array index
			// only when another dotted name follows it: payload.a.0.b
			// creates a missing a as an array, payload.a.0 and
			// payload.a.0[1] create it as an object with the key "0".
			if len(segs) > 0 && j < n && s[j] == '.' && allDigits(name) {
				if idx, err := strconv.Atoi(name); err == nil {
					seg = Segment{Key: strconv.Itoa(idx), Index: idx, IsIndex: true}
				}
			}
			segs = append(segs, seg)
			i = j
			expectName = false
		}
	}
	p := Path{src: s, segs: segs}
	if len(segs) > 1 {
		parts := make([]string, len(segs)-1)
		for k, sg := range segs[1:] {
			parts[k] = gjson.Escape(sg.Key)
		}
		p.gpath = strings.Join(parts, ".")
	}
	return p, nil
}

// MustParsePath is ParsePath for paths known to be valid; it panics otherwise.
func MustParsePath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the path as it was written.
func (p Path) String() string { return p.src }

// IsZero reports whether p is the zero Path (no path was parsed).
func (p Path) IsZero() bool { return len(p.segs) == 0 }

// Segments returns the path's segments. The first is the message property.
func (p Path) Segments() []Segment { return p.segs }

// Lookup reads the value under the path's remaining segments from v, which
// holds the value of the first segment. It reports whether the value exists.
func (p Path) lookupIn(v any) (any, bool) {
	rest := p.segs[1:]
	for k, sg := range rest {
		switch x := v.(type) {
		case RawJSON:
			if m, st := rawMember(x, rest[k:]); st != jsv.ScanUnsure {
				if st == jsv.ScanMissing {
					return nil, false
				}
				return rawValue(x[m.Value:m.End]), true
			}
			if hasEmptyKey(rest[k:]) {
				return Path{segs: append([]Segment{{}}, rest[k:]...)}.lookupIn(x.Decode())
			}
			path := p.gpath
			if k > 0 {
				path = escapedTail(rest[k:])
			}
			r := gjson.GetBytes(x, path)
			if !r.Exists() {
				return nil, false
			}
			return fromGJSON(r), true
		case map[string]any:
			nv, ok := x[sg.Key]
			if !ok {
				return nil, false
			}
			v = nv
		case []any:
			idx, err := strconv.Atoi(sg.Key)
			if err != nil || idx < 0 || idx >= len(x) {
				return nil, false
			}
			v = x[idx]
		default:
			return nil, false
		}
	}
	return v, true
}

// hasEmptyKey reports keys that gjson and sjson paths cannot express: empty
// ones and ones that are not valid UTF-8.
func hasEmptyKey(segs []Segment) bool {
	for _, s := range segs {
		if s.Key == "" || !utf8.ValidString(s.Key) {
			return true
		}
	}
	return false
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// setPath is escapedTail for sjson: a key of digits that is not an index
// gets sjson's ':' prefix, so that a missing container is created as an
// object ({"0": ...}); on an existing array the key still names an element,
// as "0" does in JavaScript.
func setPath(segs []Segment) string {
	parts := make([]string, len(segs))
	for i, sg := range segs {
		parts[i] = gjson.Escape(sg.Key)
		if !sg.IsIndex && allDigits(sg.Key) {
			parts[i] = ":" + parts[i]
		}
	}
	return strings.Join(parts, ".")
}

func escapedTail(segs []Segment) string {
	parts := make([]string, len(segs))
	for i, sg := range segs {
		parts[i] = gjson.Escape(sg.Key)
	}
	return strings.Join(parts, ".")
}

// maxSetIndex bounds the array index a path may write to, so that a path
// such as payload[99999999999] cannot make the runtime allocate a huge
// array (JavaScript would make a sparse one).
const maxSetIndex = 1 << 20

// setIn returns a copy of container v with the value under segs set to
// val, copying only the containers on the path. Missing containers are
// created: arrays for index segments, objects otherwise.
func setIn(v any, segs []Segment, val any) (any, error) {
	if len(segs) == 0 {
		return val, nil
	}
	sg := segs[0]
	tooLarge := func() error {
		if idx, err := strconv.Atoi(sg.Key); err == nil && idx > maxSetIndex {
			return fmt.Errorf("array index %d is too large (at most %d)", idx, maxSetIndex)
		}
		return nil
	}
	switch x := v.(type) {
	case RawJSON:
		if hasEmptyKey(segs) {
			// gjson and sjson paths cannot name an empty key.
			return setIn(x.Decode(), segs, val)
		}
		if TypeName(x) == "array" || sg.IsIndex {
			if err := tooLarge(); err != nil {
				return nil, err
			}
		}
		// sjson pads an array up to any index deeper in the path too.
		for _, d := range segs[1:] {
			if idx, err := strconv.Atoi(d.Key); err == nil && d.IsIndex && idx > maxSetIndex {
				return nil, fmt.Errorf("array index %d is too large (at most %d)", idx, maxSetIndex)
			}
		}
		// sjson would replace a scalar on the way; Node-RED (and the
		// decoded case below) refuse to set beneath one.
		for k := 1; k < len(segs); k++ {
			r := gjson.GetBytes(x, escapedTail(segs[:k]))
			if !r.Exists() {
				break
			}
			if !r.IsObject() && !r.IsArray() {
				return nil, fmt.Errorf("cannot set property %q of a %s", segs[k].Key, TypeName(fromGJSON(r)))
			}
		}
		raw, err := sjson.SetRawBytes(x, setPath(segs), AppendJSON(nil, val))
		if err != nil {
			return nil, err
		}
		return RawJSON(raw), nil
	case map[string]any:
		if cur, ok := x[sg.Key]; ok && cur == nil && len(segs) > 1 {
			return nil, fmt.Errorf("cannot set property %q of a null", segs[1].Key)
		}
		child, err := setIn(x[sg.Key], segs[1:], val)
		if err != nil {
			return nil, err
		}
		cp := make(map[string]any, len(x)+1)
		for k, e := range x {
			cp[k] = e
		}
		cp[sg.Key] = child
		return cp, nil
	case []any:
		idx, err := strconv.Atoi(sg.Key)
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("cannot set %q on an array", sg.Key)
		}
		if err := tooLarge(); err != nil {
			return nil, err
		}
		n := len(x)
		if idx >= n {
			n = idx + 1
		}
		cp := make([]any, n)
		copy(cp, x)
		child, err := setIn(cp[idx], segs[1:], val)
		if err != nil {
			return nil, err
		}
		cp[idx] = child
		return cp, nil
	case nil:
		// Created as JSON, so that the keys set later keep their order,
		// as they do in a JavaScript object.
		if sg.IsIndex {
			return setIn(RawJSON("[]"), segs, val)
		}
		return setIn(RawJSON("{}"), segs, val)
	default:
		return nil, fmt.Errorf("cannot set property %q of a %s", sg.Key, TypeName(v))
	}
}

// deleteIn returns a copy of v without the value under segs.
func deleteIn(v any, segs []Segment) any {
	if len(segs) == 0 {
		return v
	}
	sg := segs[0]
	switch x := v.(type) {
	case RawJSON:
		if m, st := rawMember(x, segs); st != jsv.ScanUnsure {
			if st == jsv.ScanMissing {
				return v
			}
			return cutMember(x, m)
		}
		if hasEmptyKey(segs) {
			return deleteIn(x.Decode(), segs)
		}
		if last := segs[len(segs)-1]; !last.IsIndex && allDigits(last.Key) {
			// Deleting a.0 from an array leaves a hole (see below).
			parent := gjson.ParseBytes(x)
			if len(segs) > 1 {
				parent = gjson.GetBytes(x, escapedTail(segs[:len(segs)-1]))
			}
			if parent.IsArray() {
				if !gjson.GetBytes(x, escapedTail(segs)).Exists() {
					return v
				}
				raw, err := sjson.SetRawBytes(x, setPath(segs), []byte("null"))
				if err != nil {
					return v
				}
				return RawJSON(raw)
			}
		}
		raw, err := sjson.DeleteBytes(x, setPath(segs))
		if err != nil {
			return v
		}
		return RawJSON(raw)
	case map[string]any:
		cur, ok := x[sg.Key]
		if !ok {
			return v
		}
		cp := make(map[string]any, len(x))
		for k, e := range x {
			cp[k] = e
		}
		if len(segs) == 1 {
			delete(cp, sg.Key)
		} else {
			cp[sg.Key] = deleteIn(cur, segs[1:])
		}
		return cp
	case []any:
		idx, err := strconv.Atoi(sg.Key)
		if err != nil || idx < 0 || idx >= len(x) {
			return v
		}
		if len(segs) == 1 && !sg.IsIndex {
			// Node-RED deletes a.0 (the key "0") from an array as
			// JavaScript's delete does: it leaves a hole, which
			// JSON.stringify writes as null.
			cp := make([]any, len(x))
			copy(cp, x)
			cp[idx] = nil
			return cp
		}
		if len(segs) == 1 {
			// Node-RED's setObjectProperty(..., undefined) splices an
			// index (a[0]) out, as sjson does with RawJSON.
			cp := make([]any, 0, len(x)-1)
			return append(append(cp, x[:idx]...), x[idx+1:]...)
		}
		cp := make([]any, len(x))
		copy(cp, x)
		cp[idx] = deleteIn(cp[idx], segs[1:])
		return cp
	}
	return v
}

// TypeName names the JavaScript type of a value for error messages:
// string, number, boolean, object, array, buffer, null. It is jsv.TypeName.
func TypeName(v any) string { return jsv.TypeName(v) }
