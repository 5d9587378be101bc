package network

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/runnel-io/runnel/engine"
)

// Node-RED's http in parses the query string with Express's "extended"
// query parser and form bodies with body-parser's extended urlencoded
// parser, both the qs package: a[b]=1 nests, c[]=2 and c[0]=2 make
// arrays, repeated keys combine into arrays. This file follows qs's
// parse (as Node-RED 4.1.15 ships it, with the options Express and
// body-parser give it: allowPrototypes, no dots, no comma lists) and
// returns the result as JSON text in JavaScript's key order (integer
// keys ascending, then the others in the order they came), which a Go
// map cannot keep.

// qsOptions are the limits of one parser.
type qsOptions struct {
	// depth is how many bracket groups of a key nest; the rest of the
	// key becomes one literal key (or an error with strictDepth).
	depth       int
	strictDepth bool
	// arrayLimit is the largest index (and length) an array may have;
	// beyond it the array becomes an object with integer keys.
	arrayLimit int
	// parameterLimit is how many key=value pairs are read; the rest
	// are ignored.
	parameterLimit int
}

// queryQS are Express's options for req.query (qs's defaults but
// arrayLimit 1000).
var queryQS = qsOptions{depth: 5, arrayLimit: 1000, parameterLimit: 1000}

// errQSDepth is body-parser's "The input exceeded the depth" (400).
var errQSDepth = errors.New("the input exceeded the depth")

// errQSParams is body-parser's "too many parameters" (413).
var errQSParams = errors.New("too many parameters")

// formQS returns body-parser's options for a form body (depth 32, strict;
// arrayLimit at least 100, or the number of parameters), or errQSParams
// when it has more than 1000 parameters.
func formQS(body string) (qsOptions, error) {
	n := strings.Count(body, "&") + 1
	if n > 1000 {
		return qsOptions{}, errQSParams
	}
	return qsOptions{depth: 32, strictDepth: true, arrayLimit: max(100, n), parameterLimit: 1000}, nil
}

// qsObj is a JavaScript object: its keys in the order they were added,
// and, for an array that outgrew arrayLimit, qs's overflow mark with the
// largest index so far.
type qsObj struct {
	keys     []string
	vals     map[string]any
	overflow bool
	maxIndex int
}

// qsArr is a JavaScript array; a nil element is a hole.
type qsArr struct{ items []any }

func newObj() *qsObj { return &qsObj{vals: map[string]any{}} }

func (o *qsObj) has(k string) bool { _, ok := o.vals[k]; return ok }

func (o *qsObj) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// ownKeys returns the keys in JavaScript's order: array indices
// ascending, then the others in insertion order.
func (o *qsObj) ownKeys() []string {
	if !slices.ContainsFunc(o.keys, func(k string) bool { _, ok := engine.ArrayIndex(k); return ok }) {
		return o.keys
	}
	var idx, rest []string
	for _, k := range o.keys {
		if _, ok := engine.ArrayIndex(k); ok {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	slices.SortFunc(idx, func(a, b string) int {
		x, _ := engine.ArrayIndex(a)
		y, _ := engine.ArrayIndex(b)
		return cmp.Compare(x, y)
	})
	return append(idx, rest...)
}

func (a *qsArr) has(i int) bool { return i < len(a.items) && a.items[i] != nil }

func (a *qsArr) setAt(i int, v any) {
	for len(a.items) <= i {
		a.items = append(a.items, nil)
	}
	a.items[i] = v
}

// toObject is qs's arrayToObject: the array's elements under their
// indices, holes left out.
func (a *qsArr) toObject() *qsObj {
	o := newObj()
	for i, v := range a.items {
		if v != nil {
			o.set(strconv.Itoa(i), v)
		}
	}
	return o
}

func overflowObj(a *qsArr, maxIndex int) *qsObj {
	o := a.toObject()
	o.overflow, o.maxIndex = true, maxIndex
	return o
}

// concat is JavaScript's [].concat(a, b): arrays are spread (holes
// kept), anything else is one element.
func concat(vs ...any) *qsArr {
	out := &qsArr{}
	for _, v := range vs {
		if a, ok := v.(*qsArr); ok {
			out.items = append(out.items, a.items...)
		} else {
			out.items = append(out.items, v)
		}
	}
	return out
}

// combine is qs's combine: b added to a, an array unless it grows beyond
// the limit.
func (o qsOptions) combine(a, b any) any {
	if ob, ok := a.(*qsObj); ok && ob.overflow {
		ob.maxIndex++
		ob.set(strconv.Itoa(ob.maxIndex), b)
		return ob
	}
	r := concat(a, b)
	if len(r.items) > o.arrayLimit {
		return overflowObj(r, len(r.items)-1)
	}
	return r
}

// qsDecode is qs's decoder: + is a space, then decodeURIComponent; text
// it cannot decode (a bad escape, bytes that are not UTF-8) stays as it
// is.
func qsDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return s
		}
		b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	if !utf8.Valid(b) {
		return s
	}
	return string(b)
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// parseValues splits the text into its keys (undecoded brackets and
// all) and values, combining repeated keys.
func (o qsOptions) parseValues(s string) *qsObj {
	obj := newObj()
	s = replaceFold(replaceFold(s, "%5B", "["), "%5D", "]")
	for n := 0; n < o.parameterLimit; n++ {
		part, rest, more := strings.Cut(s, "&")
		s = rest
		pos := strings.Index(part, "]=")
		if pos >= 0 {
			pos++
		} else {
			pos = strings.IndexByte(part, '=')
		}
		var key string
		var val any
		if pos < 0 {
			key, val = qsDecode(part), ""
		} else {
			key, val = qsDecode(part[:pos]), qsDecode(part[pos+1:])
		}
		if obj.has(key) {
			obj.set(key, o.combine(obj.vals[key], val))
		} else {
			obj.set(key, val)
		}
		if !more {
			break
		}
	}
	return obj
}

// replaceFold replaces old (ASCII) in s, in any case.
func replaceFold(s, old, new string) string {
	var b strings.Builder
	for {
		i := indexFold(s, old)
		if i < 0 {
			if b.Len() == 0 {
				return s
			}
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(new)
		s = s[i+len(old):]
	}
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// segments splits a key such as a[b][c] into a, [b], [c]: at most depth
// bracket groups (nested brackets balanced), the rest as one more
// literal group (or errQSDepth with strictDepth).
func (o qsOptions) segments(key string) ([]string, error) {
	var segs []string
	open := strings.IndexByte(key, '[')
	parent := key
	if open >= 0 {
		parent = key[:open]
	}
	if parent != "" {
		segs = append(segs, parent)
	}
	for collected := 0; open >= 0 && collected < o.depth; collected++ {
		level, end := 1, -1
		for i := open + 1; i < len(key) && end < 0; i++ {
			switch key[i] {
			case '[':
				level++
			case ']':
				if level--; level == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			return append(segs, "["+key[open:]+"]"), nil
		}
		segs = append(segs, key[open:end+1])
		next := strings.IndexByte(key[end+1:], '[')
		if next < 0 {
			open = -1
		} else {
			open = end + 1 + next
		}
	}
	if open >= 0 {
		if o.strictDepth {
			return nil, errQSDepth
		}
		segs = append(segs, "["+key[open:]+"]")
	}
	return segs, nil
}

// parseObject builds the value of one key's segments, from the leaf up.
func (o qsOptions) parseObject(chain []string, leaf any) any {
	for i := len(chain) - 1; i >= 0; i-- {
		root := chain[i]
		if root == "[]" {
			if ob, ok := leaf.(*qsObj); ok && ob.overflow {
				continue
			}
			leaf = o.combine(&qsArr{}, leaf)
			continue
		}
		clean := root
		if len(root) >= 2 && root[0] == '[' && root[len(root)-1] == ']' {
			clean = root[1 : len(root)-1]
		}
		index, isIndex := -1, false
		if clean != root {
			index, isIndex = canonicalIndex(clean)
		}
		switch {
		case isIndex && index < o.arrayLimit:
			a := &qsArr{}
			a.setAt(index, leaf)
			leaf = a
		case isIndex:
			ob := newObj()
			ob.set(clean, leaf)
			ob.overflow, ob.maxIndex = true, index
			leaf = ob
		default:
			ob := newObj()
			if clean != "__proto__" {
				ob.set(clean, leaf)
			}
			leaf = ob
		}
	}
	return leaf
}

// canonicalIndex reports whether s is what JavaScript's String(parseInt(s))
// gives back: a non-negative integer written without a sign, leading
// zeros or an exponent. Indices too large for an int are not taken as
// indices (qs would make them object keys too: they exceed any limit).
func canonicalIndex(s string) (int, bool) {
	if s == "" || len(s) > 15 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || s[0] == '+' {
		return 0, false
	}
	return n, true
}

// merge is qs's merge of source into target.
func (o qsOptions) merge(target, source any) any {
	if source == nil || source == "" {
		return target
	}
	if _, ok := source.(string); ok {
		switch t := target.(type) {
		case *qsArr:
			next := len(t.items)
			if next >= o.arrayLimit {
				return overflowObj(concat(t, source), next)
			}
			t.items = append(t.items, source)
		case *qsObj:
			if t.overflow {
				t.maxIndex++
				t.set(strconv.Itoa(t.maxIndex), source)
			} else {
				return &qsArr{items: []any{t, source}}
			}
		default:
			return &qsArr{items: []any{target, source}}
		}
		return target
	}
	if ts, ok := target.(string); ok || target == nil {
		if ob, ok := source.(*qsObj); ok && ob.overflow {
			r := newObj()
			r.set("0", ts)
			for _, k := range ob.ownKeys() {
				n, _ := strconv.Atoi(k)
				r.set(strconv.Itoa(n+1), ob.vals[k])
			}
			r.overflow, r.maxIndex = true, ob.maxIndex+1
			return r
		}
		c := concat(ts, source)
		if len(c.items) > o.arrayLimit {
			return overflowObj(c, len(c.items)-1)
		}
		return c
	}
	ta, tArr := target.(*qsArr)
	sa, sArr := source.(*qsArr)
	if tArr && sArr {
		for i, item := range sa.items {
			if item == nil {
				continue // forEach skips holes
			}
			if ta.has(i) {
				ti := ta.items[i]
				if isContainer(ti) && isContainer(item) {
					ta.items[i] = o.merge(ti, item)
				} else {
					ta.items = append(ta.items, item)
				}
			} else {
				ta.setAt(i, item)
			}
		}
		if len(ta.items) > o.arrayLimit {
			return overflowObj(ta, len(ta.items)-1)
		}
		return ta
	}
	var acc *qsObj
	if tArr {
		acc = ta.toObject()
	} else {
		acc = target.(*qsObj)
	}
	var keys []string
	var val func(string) any
	if sArr {
		for i, v := range sa.items {
			if v != nil {
				keys = append(keys, strconv.Itoa(i))
			}
		}
		val = func(k string) any { i, _ := strconv.Atoi(k); return sa.items[i] }
	} else {
		so := source.(*qsObj)
		keys = so.ownKeys()
		val = func(k string) any { return so.vals[k] }
		if so.overflow && !acc.overflow {
			acc.overflow, acc.maxIndex = true, so.maxIndex
		}
	}
	for _, k := range keys {
		v := val(k)
		if acc.has(k) {
			acc.set(k, o.merge(acc.vals[k], v))
		} else {
			acc.set(k, v)
		}
		if acc.overflow {
			if n, ok := canonicalIndex(k); ok && n > acc.maxIndex {
				acc.maxIndex = n
			}
		}
	}
	return acc
}

func isContainer(v any) bool {
	switch v.(type) {
	case *qsArr, *qsObj:
		return true
	}
	return false
}

// parse parses a query string or form body as qs does.
func (o qsOptions) parse(s string) (*qsObj, error) {
	obj := newObj()
	if s == "" {
		return obj, nil
	}
	temp := o.parseValues(s)
	if !slices.ContainsFunc(temp.keys, func(k string) bool { return strings.IndexByte(k, '[') >= 0 }) {
		// No key nests: each is one segment, which parseObject and merge
		// would set as it is (but for "" and __proto__).
		if temp.has("") || temp.has("__proto__") {
			temp.keys = slices.DeleteFunc(temp.keys, func(k string) bool { return k == "" || k == "__proto__" })
			delete(temp.vals, "")
			delete(temp.vals, "__proto__")
		}
		return temp, nil
	}
	var acc any = obj
	for _, key := range temp.ownKeys() {
		if key == "" {
			continue
		}
		segs, err := o.segments(key)
		if err != nil {
			return nil, err
		}
		acc = o.merge(acc, o.parseObject(segs, temp.vals[key]))
	}
	switch x := acc.(type) {
	case *qsObj:
		return x, nil
	case *qsArr:
		return x.toObject(), nil
	}
	return obj, nil
}

// parseQS parses s with o and returns the object as JSON text, arrays
// without their holes (qs's compact).
func parseQS(s string, o qsOptions) (engine.RawJSON, error) {
	obj, err := o.parse(s)
	if err != nil {
		return nil, err
	}
	return engine.RawJSON(appendQS(make([]byte, 0, len(s)+16), obj)), nil
}

func appendQS(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return engine.AppendJSON(b, x)
	case *qsArr:
		b = append(b, '[')
		first := true
		for _, e := range x.items {
			if e == nil {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendQS(b, e)
		}
		return append(b, ']')
	case *qsObj:
		b = append(b, '{')
		for i, k := range x.ownKeys() {
			if i > 0 {
				b = append(b, ',')
			}
			b = engine.AppendJSON(b, k)
			b = append(b, ':')
			b = appendQS(b, x.vals[k])
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}
