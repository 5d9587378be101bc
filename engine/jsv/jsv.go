// Package jsv is Runnel's JavaScript value model: the rules by which Node-RED
// nodes, written in JavaScript, compare, convert, format and name the values a
// message carries. Every node and expression language in Runnel uses these
// rules, so a switch rule, a change rule and an expr expression agree with
// each other and with Node-RED.
//
// A message value is one of:
//
//	nil                 null
//	Undefined           undefined (never stored in a message; see below)
//	bool                boolean
//	float64             number (Go's other number types are accepted as numbers)
//	string              string (UTF-8; compared as JavaScript compares UTF-16)
//	[]byte              Buffer
//	RawJSON             an object or array kept as JSON bytes, key order kept
//	map[string]any      an object
//	[]any               an array
//
// Any other Go type is treated as a plain object.
//
// # null and undefined
//
// nil is JavaScript's null. A missing property is undefined; message paths
// report it as a lookup that found nothing, and a caller that has to pass it
// to a rule here (Node-RED's switch tells null from undefined in its istype
// rule, and JSON.stringify drops undefined properties) passes the sentinel
// Undefined. Undefined never appears inside a message: JSON has no undefined,
// and Node-RED drops such properties when it clones or serialises a message.
//
// The package imports only the standard library, gjson and flows/jsutf8, so
// any package may use it.
package jsv

import (
	"github.com/tidwall/gjson"
)

// UndefinedType is the type of Undefined.
type UndefinedType struct{}

// Undefined is JavaScript's undefined: the value of a property that does not
// exist. It is comparable, so v == jsv.Undefined tests for it.
var Undefined = UndefinedType{}

// String returns "undefined".
func (UndefinedType) String() string { return "undefined" }

// RawJSON is a JSON object or array kept as its encoded bytes. Paths are read
// from it with gjson without decoding it; it is decoded only when a node needs
// the whole value. The bytes must be valid JSON and must not be modified.
// (engine.RawJSON is an alias of this type.)
type RawJSON []byte

// Decode returns the decoded value: map[string]any, []any or a scalar.
// Numbers decode as float64.
func (r RawJSON) Decode() any {
	return fromGJSON(gjson.ParseBytes(r), true)
}

// IsArray reports whether r holds an array (otherwise it holds an object).
func (r RawJSON) IsArray() bool {
	for _, c := range r {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '['
	}
	return false
}

// FromGJSON converts a gjson result to a message value: Undefined when the
// result does not exist, objects and arrays as RawJSON sharing the result's
// text, scalars as their Go values.
func FromGJSON(r gjson.Result) any {
	if r.Type == gjson.Null && !r.Exists() {
		return Undefined
	}
	return fromGJSON(r, false)
}

// DecodeGJSON converts a gjson result (which must exist) to a message value
// with objects and arrays decoded to map[string]any and []any.
func DecodeGJSON(r gjson.Result) any {
	return fromGJSON(r, true)
}

// fromGJSON converts a gjson result to a message value. With deep set,
// objects and arrays are decoded; otherwise they stay RawJSON.
func fromGJSON(r gjson.Result, deep bool) any {
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
		if !deep {
			return RawJSON(r.Raw)
		}
		if r.IsArray() {
			arr := r.Array()
			out := make([]any, len(arr))
			for i, e := range arr {
				out[i] = fromGJSON(e, true)
			}
			return out
		}
		out := make(map[string]any)
		r.ForEach(func(k, v gjson.Result) bool {
			out[k.Str] = fromGJSON(v, true)
			return true
		})
		return out
	}
	return nil
}

// AsNumber returns v as a float64 when v is a JavaScript number, that is
// float64 or one of Go's other number types (a custom node may put an int in
// a message). It does not convert strings; see ToNumber and ParseFloat.
func AsNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case float32:
		return float64(x), true
	}
	return 0, false
}
