package sequence

import (
	"crypto/rand"
	"encoding/hex"
	"unicode/utf16"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/tidwall/gjson"
)

// kv is one member of an ordered object.
type kv struct {
	k string
	v any
}

// ordered is a JavaScript object under construction: its keys keep the
// order they were first set in, as JavaScript's do, so that msg.parts and
// a joined object come out as Node-RED writes them.
type ordered []kv

// set sets k to v, in place when k is there already.
func (o *ordered) set(k string, v any) {
	for i := range *o {
		if (*o)[i].k == k {
			(*o)[i].v = v
			return
		}
	}
	*o = append(*o, kv{k, v})
}

// get returns the value of k.
func (o ordered) get(k string) (any, bool) {
	for _, e := range o {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

// raw encodes o as JSON with array-index keys first, as JSON.stringify
// writes an object.
func (o ordered) raw() engine.RawJSON {
	b := []byte{'{'}
	for _, e := range o {
		if _, undef := e.v.(jsv.UndefinedType); undef {
			continue // JSON.stringify leaves undefined members out
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = engine.AppendJSON(b, e.k)
		b = append(b, ':')
		b = engine.AppendJSON(b, e.v)
	}
	b = append(b, '}')
	return engine.CanonicalJSON(engine.RawJSON(b))
}

// newID returns a sequence id as Node-RED's RED.util.generateId makes
// them: 8 random bytes in hexadecimal.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// freshMsgID gives m a new _msgid, as Node-RED does when a node deletes
// msg._msgid before sending.
func freshMsgID(m *engine.Message) {
	m.SetProp("_msgid", engine.NewMessage("", nil).ID())
}

// partsOf returns msg.parts as a decoded object, and whether m has parts
// that are an object.
func partsOf(m *engine.Message) (map[string]any, bool) {
	p, ok := m.Prop("parts")
	if !ok {
		return nil, false
	}
	obj, ok := engine.PlainValue(p).(map[string]any)
	return obj, ok
}

// isArray and isObject tell JavaScript arrays and plain objects apart in
// the value model (see engine.RawJSON).
func isArray(v any) bool {
	switch x := v.(type) {
	case []any:
		return true
	case engine.RawJSON:
		return len(x) > 0 && x[0] == '['
	}
	return false
}

func isObject(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return true
	case engine.RawJSON:
		return len(x) > 0 && x[0] == '{'
	}
	return false
}

// elems returns the elements of an array value.
func elems(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case engine.RawJSON:
		var out []any
		gjson.ParseBytes(x).ForEach(func(_, r gjson.Result) bool {
			out = append(out, jsv.FromGJSON(r))
			return true
		})
		return out
	}
	return nil
}

// members returns the members of an object value in JavaScript's key
// order (array indices first, then the order of the text; a decoded map
// has lost that order, and its other keys come sorted).
func members(v any) ordered {
	var out ordered
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		engine.SortKeys(keys)
		for _, k := range keys {
			out = append(out, kv{k, x[k]})
		}
	case engine.RawJSON:
		gjson.ParseBytes(engine.CanonicalJSON(x)).ForEach(func(k, r gjson.Result) bool {
			out = append(out, kv{k.String(), jsv.FromGJSON(r)})
			return true
		})
	}
	return out
}

// utf16Sub is JavaScript's s.substring(from, to) for 0 <= from <= to.
func utf16Sub(s string, from, to int) string {
	if isASCII(s) {
		if to > len(s) {
			to = len(s)
		}
		if from > to {
			from = to
		}
		return s[from:to]
	}
	u := utf16.Encode([]rune(s))
	if to > len(u) {
		to = len(u)
	}
	if from > to {
		from = to
	}
	return string(utf16.Decode(u[from:to]))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// size estimates the memory a held value takes, for the bounds of the
// nodes that hold messages.
func size(v any) int {
	switch x := v.(type) {
	case string:
		return len(x) + 16
	case []byte:
		return len(x) + 24
	case engine.RawJSON:
		return len(x) + 24
	case []any:
		n := 24
		for _, e := range x {
			n += size(e)
		}
		return n
	case map[string]any:
		n := 48
		for k, e := range x {
			n += len(k) + 16 + size(e)
		}
		return n
	}
	return 16
}

// msgSize estimates the memory a held message takes.
func msgSize(m *engine.Message) int {
	n := 64
	for _, k := range m.Keys() {
		v, _ := m.Prop(k)
		n += len(k) + size(v)
	}
	return n
}
