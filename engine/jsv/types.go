package jsv

import (
	"encoding/json"
	"fmt"
)

// TypeOf is JavaScript's typeof: "undefined", "boolean", "number", "string",
// or "object" (for null, objects, arrays and buffers alike).
func TypeOf(v any) string {
	switch v.(type) {
	case UndefinedType:
		return "undefined"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "number"
	}
	if _, ok := AsNumber(v); ok {
		return "number"
	}
	return "object"
}

// TypeName names a value's type the way Node-RED's switch node and its
// editor do: "undefined", "null", "boolean", "number", "string", "array",
// "buffer" or "object". For a Go type outside the value model it returns
// the Go type's name, for error messages.
func TypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case UndefinedType:
		return "undefined"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "number"
	case []byte:
		return "buffer"
	case []any:
		return "array"
	case RawJSON:
		if x.IsArray() {
			return "array"
		}
		return "object"
	case map[string]any:
		return "object"
	}
	if _, ok := AsNumber(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// IsType is the switch node's "is of type" rule. t is one of string,
// number, boolean, array, buffer, object, json, null, undefined:
//
//   - array, buffer: the value is one;
//   - null: the value is null (not undefined);
//   - json: JSON.parse(String(v)) succeeds, so a string of JSON text, but also
//     a number, a boolean, null, a buffer holding JSON, or an array whose
//     elements join to JSON ([5]); not undefined or an object;
//   - string, number, boolean, undefined: typeof v is t;
//   - object: an object that is not null, an array or a buffer.
//
// Any other t is false, as typeof never returns it.
func IsType(v any, t string) bool {
	switch t {
	case "array":
		return TypeName(v) == "array"
	case "buffer":
		_, ok := v.([]byte)
		return ok
	case "null":
		return v == nil
	case "json":
		switch v.(type) {
		case UndefinedType:
			return false // JSON.parse("undefined") fails
		case nil, bool:
			return true
		}
		return json.Valid([]byte(ToString(v)))
	case "object":
		switch TypeName(v) {
		case "null", "array", "buffer":
			return false
		}
		return TypeOf(v) == "object"
	case "string", "number", "boolean", "undefined":
		return TypeOf(v) == t
	}
	return false
}
