package mustache

import (
	"math"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

type kind uint8

const (
	kUndefined kind = iota
	kNull
	kBool
	kNumber
	kString
	kObjectJSON // a JSON object kept as text (s)
	kArrayJSON  // a JSON array kept as text (s)
	kGo         // a Go value (v): map[string]any, []any, []byte or another type
	kRoot       // the Context's root view
)

// Value is a value as the renderer sees it: one of the message value types
// of package engine (see engine/value.go), with JSON kept as text. The zero
// Value is JavaScript's undefined. Build Values with ValueOf or
// StringValue; they are small and never allocate.
type Value struct {
	k kind
	b bool
	n float64
	// s is a string; JSON text (kObjectJSON, kArrayJSON); or a number's
	// JSON text when JavaScript writes it the same, else "". A number with
	// its text may leave n unset: read it from s.
	s string
	v any
}

// ValueOf returns the Value of a message value: nil, bool, a number
// (float64 or a Go integer type), string, []byte (a Buffer),
// engine.RawJSON (read in place, without decoding), map[string]any or
// []any. Other types are treated as objects and written as their JSON.
func ValueOf(x any) Value {
	switch v := x.(type) {
	case nil:
		return Value{k: kNull}
	case string:
		return Value{k: kString, s: v}
	case float64:
		return Value{k: kNumber, n: v}
	case bool:
		return Value{k: kBool, b: v}
	case engine.RawJSON:
		return rawJSONValue(v)
	}
	if f, ok := engine.Number(x); ok {
		return Value{k: kNumber, n: f}
	}
	return Value{k: kGo, v: x}
}

// StringValue returns a string Value. It is ValueOf(s) without boxing s in
// an interface.
func StringValue(s string) Value { return Value{k: kString, s: s} }

// IsUndefined reports whether v is undefined (the zero Value).
func (v Value) IsUndefined() bool { return v.k == kUndefined }

func rawJSONValue(r engine.RawJSON) Value {
	if len(r) == 0 {
		return Value{}
	}
	// RawJSON is immutable (see engine.RawJSON), so it can be read as a
	// string without a copy.
	s := unsafeString(r)
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	if i < len(s) {
		switch s[i] {
		case '{':
			return Value{k: kObjectJSON, s: s[i:]}
		case '[':
			return Value{k: kArrayJSON, s: s[i:]}
		}
	}
	return fromGJSON(gjson.Parse(s))
}

func fromGJSON(r gjson.Result) Value {
	switch r.Type {
	case gjson.Null:
		return Value{k: kNull}
	case gjson.False:
		return Value{k: kBool}
	case gjson.True:
		return Value{k: kBool, b: true}
	case gjson.Number:
		v := Value{k: kNumber, n: r.Num}
		if jsv.IsCanonicalNumber(r.Raw) {
			v.s = r.Raw // written as it is (see appendString)
		}
		return v
	case gjson.String:
		return Value{k: kString, s: r.Str}
	case gjson.JSON:
		if len(r.Raw) > 0 && r.Raw[0] == '[' {
			return Value{k: kArrayJSON, s: r.Raw}
		}
		return Value{k: kObjectJSON, s: r.Raw}
	}
	return Value{}
}

// nullish reports whether v is null or undefined.
func (v Value) nullish() bool { return v.k <= kNull }

// truthy is JavaScript's truthiness: objects and arrays, even empty ones,
// are true.
func (v Value) truthy() bool {
	switch v.k {
	case kUndefined, kNull:
		return false
	case kBool:
		return v.b
	case kNumber:
		if v.s != "" {
			return v.s != "0" // the only text of zero that is kept (see IsCanonicalNumber)
		}
		return v.n != 0 && !math.IsNaN(v.n)
	case kString:
		return v.s != ""
	}
	return true
}

// isArray reports whether v is an array, and whether it is empty.
func (v Value) isArray() (array, empty bool) {
	switch v.k {
	case kArrayJSON:
		empty = true
		gjson.Result{Type: gjson.JSON, Raw: v.s}.ForEach(func(_, _ gjson.Result) bool {
			empty = false
			return false
		})
		return true, empty
	case kGo:
		if a, ok := v.v.([]any); ok {
			return true, len(a) == 0
		}
	}
	return false, false
}

// prop reads property p of v (v[p] in JavaScript) and reports whether v
// has it. Strings have their own properties (length and indexes) only when
// primitives is set: mustache.js looks at them only inside dotted names.
//
// The property goes to *out, which may be v itself.
func (r *renderer) prop(v *Value, p *part, primitives bool, out *Value) bool {
	switch v.k {
	case kRoot:
		return r.rootPropTo(p.key, out)
	case kObjectJSON:
		if p.key != "" {
			return r.objs.lookupIn(v.s, p.key, p.esc, out)
		}
	}
	var ok bool
	*out, ok = otherProp(v, p, primitives)
	return ok
}

// otherProp is prop for the views that are not the root and the keys of
// JSON objects that are not "".
func otherProp(v *Value, p *part, primitives bool) (Value, bool) {
	switch v.k {
	case kObjectJSON:
		return emptyKey(v.s)
	case kArrayJSON:
		if p.index >= 0 {
			res := gjson.Get(v.s, p.key)
			if !res.Exists() {
				return Value{}, false
			}
			return fromGJSON(res), true
		}
		if p.key == "length" {
			n := 0
			gjson.Result{Type: gjson.JSON, Raw: v.s}.ForEach(func(_, _ gjson.Result) bool {
				n++
				return true
			})
			return Value{k: kNumber, n: float64(n)}, true
		}
	case kString:
		if !primitives {
			return Value{}, false
		}
		if p.key == "length" {
			return Value{k: kNumber, n: float64(jsv.UTF16Len(v.s))}, true
		}
		if p.index >= 0 {
			return utf16At(v.s, p.index)
		}
	case kGo:
		switch x := v.v.(type) {
		case map[string]any:
			e, ok := x[p.key]
			if !ok {
				return Value{}, false
			}
			return ValueOf(e), true
		case []any:
			if p.index >= 0 {
				if p.index < len(x) {
					return ValueOf(x[p.index]), true
				}
				return Value{}, false
			}
			if p.key == "length" {
				return Value{k: kNumber, n: float64(len(x))}, true
			}
		case []byte:
			if p.index >= 0 {
				if p.index < len(x) {
					return Value{k: kNumber, n: float64(x[p.index])}, true
				}
				return Value{}, false
			}
			if p.key == "length" {
				return Value{k: kNumber, n: float64(len(x))}, true
			}
		}
	}
	return Value{}, false
}

// rootProp returns property key of the root view, where the cache of the
// last one read holds it (valid until the next rootProp), and whether the
// root has it.
func (r *renderer) rootProp(key string) (*Value, bool) {
	c := &r.root
	if !c.set || c.key != key {
		// Field by field: a whole-struct store takes a bulk write barrier.
		c.v, c.ok = r.ctx.Lookup(key)
		c.key, c.set = key, true
	}
	return &c.v, c.ok
}

// rootPropTo is rootProp with the value copied to *out.
func (r *renderer) rootPropTo(key string, out *Value) bool {
	v, ok := r.rootProp(key)
	*out = *v
	return ok
}

// emptyKey looks up the key "" in a JSON object, which gjson's path syntax
// cannot express.
func emptyKey(obj string) (Value, bool) {
	var out Value
	found := false
	gjson.Result{Type: gjson.JSON, Raw: obj}.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "" {
			out, found = fromGJSON(v), true
			return false
		}
		return true
	})
	return out, found
}

// utf16At returns s[i] as JavaScript indexes strings (by UTF-16 unit). Half
// of a surrogate pair cannot be written as UTF-8 and becomes U+FFFD.
func utf16At(s string, i int) (Value, bool) {
	n := 0
	for off, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if i < n+w {
			if w == 2 {
				return Value{k: kString, s: "\uFFFD"}, true
			}
			_, size := utf8.DecodeRuneInString(s[off:])
			if r == utf8.RuneError && size == 1 {
				return Value{k: kString, s: "\uFFFD"}, true
			}
			return Value{k: kString, s: s[off : off+size]}, true
		}
		n += w
	}
	return Value{}, false
}

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
