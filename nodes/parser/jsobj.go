package parser

import (
	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
)

// object is a JavaScript object that keeps its keys in JavaScript's order
// (the order they were added; JSON.stringify puts array-index keys first,
// which engine's encoder does when the object leaves as RawJSON). The
// parsers build their results as objects and hand them to the message as
// RawJSON (see toValue), so the order survives.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

// set is obj[k] = v: a new key goes last, an existing one keeps its place.
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// toJS converts a message value to the parsers' working form: RawJSON and
// map[string]any objects become *object (a map's keys in JSON.stringify's
// order, since a map keeps none), arrays []any of converted elements.
// Scalars, strings and buffers are returned as they are.
func toJS(v any) any {
	switch x := v.(type) {
	case engine.RawJSON:
		return fromGJSONOrdered(gjson.ParseBytes(x))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		engine.SortKeys(keys)
		o := &object{keys: keys, vals: make(map[string]any, len(x))}
		for _, k := range keys {
			o.vals[k] = toJS(x[k])
		}
		return o
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJS(e)
		}
		return out
	}
	if f, ok := engine.Number(v); ok {
		return f
	}
	return v
}

func fromGJSONOrdered(r gjson.Result) any {
	switch r.Type {
	case gjson.Null:
		return nil
	case gjson.False:
		return false
	case gjson.True:
		return true
	case gjson.Number:
		return r.Num
	case gjson.String:
		return r.Str
	case gjson.JSON:
		if r.IsArray() {
			var out []any
			r.ForEach(func(_, e gjson.Result) bool {
				out = append(out, fromGJSONOrdered(e))
				return true
			})
			if out == nil {
				out = []any{}
			}
			return out
		}
		o := newObject()
		var idx []string
		r.ForEach(func(k, e gjson.Result) bool {
			if _, ok := engine.ArrayIndex(k.Str); ok {
				if _, seen := o.vals[k.Str]; !seen {
					idx = append(idx, k.Str)
				}
				o.vals[k.Str] = fromGJSONOrdered(e)
				return true
			}
			o.set(k.Str, fromGJSONOrdered(e))
			return true
		})
		if len(idx) > 0 { // array indices first, ascending, as in JavaScript
			engine.SortKeys(idx)
			o.keys = append(idx, o.keys...)
		}
		return o
	}
	return nil
}

// appendJS appends the JSON text of a working value.
func appendJS(b []byte, v any) []byte {
	switch x := v.(type) {
	case *object:
		b = append(b, '{')
		for i, k := range x.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = engine.AppendJSONString(b, k)
			b = append(b, ':')
			b = appendJS(b, x.vals[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJS(b, e)
		}
		return append(b, ']')
	}
	return engine.AppendJSON(b, v)
}

// toValue converts a working value to a message value: objects and arrays
// become RawJSON, the rest stays.
func toValue(v any) any {
	switch v.(type) {
	case *object, []any:
		return engine.RawJSON(appendJS(nil, v))
	}
	return v
}

// ensureString is Node-RED's RED.util.ensureString: a buffer as UTF-8
// text, an object (or null) as JSON, anything else as String(v).
func ensureString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return engine.ToString(x)
	case nil, *object, []any:
		return string(appendJS(nil, x))
	}
	return engine.ToString(v)
}

// isObjectJS reports whether typeof v is "object" in JavaScript (null,
// objects, arrays and buffers).
func isObjectJS(v any) bool {
	switch v.(type) {
	case nil, *object, []any, []byte:
		return true
	}
	return false
}
