package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// Values carried in a message follow JavaScript's model, as Node-RED's do:
//
//	nil                 null / undefined
//	bool                boolean
//	float64             number (Go integer types are accepted and treated as numbers)
//	string              string
//	[]byte              Buffer (raw bytes, e.g. an MQTT payload that is not text)
//	RawJSON             an object or array kept as JSON bytes until somebody needs it decoded
//	map[string]any      a decoded object
//	[]any               a decoded array
//
// Values reachable from a message are never mutated in place: whoever changes a
// nested value copies the containers on the way (Message.Set does this), so
// messages can share them after a fan-out.

var errInvalidJSON = errors.New("invalid JSON")

// RawJSON is a JSON object or array kept as its encoded bytes. Paths are read
// from it with gjson without decoding it; it is decoded (RawJSON.Decode) only
// when a node needs the whole value. The bytes must be valid JSON and must
// not be modified. It is jsv.RawJSON, so the JavaScript value rules in
// package jsv, which cannot import engine, know it.
type RawJSON = jsv.RawJSON

// ParseJSON parses JSON text the way JavaScript's JSON.parse does. Objects
// and arrays are returned as RawJSON (compacted, key order kept), scalars as
// their Go value. It returns an error for invalid JSON.
func ParseJSON(b []byte) (any, error) {
	if !json.Valid(b) {
		// Let encoding/json produce a positioned error message.
		var v any
		err := json.Unmarshal(b, &v)
		if err == nil {
			err = errInvalidJSON
		}
		return nil, err
	}
	v := fromGJSON(gjson.ParseBytes(b))
	if r, ok := v.(RawJSON); ok {
		// As JSON.parse makes it, so that every lookup sees what Node-RED
		// sees: of a repeated key, the last value (gjson finds the first).
		return ParsedJSON(r), nil
	}
	return v, nil
}

// fromGJSON converts an existing gjson result to a message value, objects
// and arrays as RawJSON.
func fromGJSON(r gjson.Result) any {
	if r.Type == gjson.Null {
		return nil
	}
	return jsv.FromGJSON(r)
}

// Number returns v as a float64 when it is one of Go's number types (the
// types a custom node may put in a message for a JavaScript number). It is
// jsv.AsNumber.
func Number(v any) (float64, bool) { return jsv.AsNumber(v) }

// Truthy is JavaScript's truthiness of a message value: false for null,
// false, "", 0 and NaN, true for everything else. It is jsv.Truthy.
func Truthy(v any) bool { return jsv.Truthy(v) }

// ToFloat converts a value to a number the way JavaScript's parseFloat does,
// and returns ok=false where the result would be NaN. It is jsv.ParseFloat.
func ToFloat(v any) (float64, bool) { return jsv.ParseFloat(v) }

// FormatNumber formats a number as JavaScript's Number.prototype.toString
// does: 22 for 22.0, 0.1 for 0.1, 1e+21 for 1e21, NaN, Infinity. It is
// jsv.FormatNumber.
func FormatNumber(f float64) string { return jsv.FormatNumber(f) }

// AppendNumber appends the JavaScript string form of f to b.
func AppendNumber(b []byte, f float64) []byte { return jsv.AppendNumber(b, f) }

// ToString converts a value to text the way JavaScript's String() does for
// scalars (numbers in JavaScript form, null as "null"); objects and arrays
// become their JSON text. Buffers are decoded as Node's
// Buffer.toString('utf8') decodes them (see package jsutf8).
func ToString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return jsutf8.Decode(x)
	case float64:
		return FormatNumber(x)
	case nil:
		return "null"
	case jsv.UndefinedType:
		return "undefined"
	}
	return string(AppendJSON(nil, v))
}

// MarshalJSON returns v as JSON.stringify(v) writes it (see CanonicalJSON
// for the details). RawJSON keeps its key order, with array indices
// first; decoded maps are written with array indices first, then the other
// keys sorted (a map does not know the order they came in). Buffers are
// written as Node-RED writes them: {"type":"Buffer","data":[...]}. For a
// RawJSON already in that form the result is its own bytes, which must not
// be modified.
func MarshalJSON(v any) []byte {
	if r, ok := v.(RawJSON); ok {
		return CanonicalJSON(r)
	}
	return AppendJSON(nil, v)
}

// AppendJSON appends the compact JSON encoding of v to b (see MarshalJSON).
func AppendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil, jsv.UndefinedType:
		// undefined is written as null, as JSON.stringify writes it in an
		// array (an undefined property should not reach here).
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...) // as JSON.stringify does
		}
		return AppendNumber(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case string:
		return appendJSONString(b, x)
	case []byte:
		b = append(b, `{"type":"Buffer","data":[`...)
		for i, c := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(c), 10)
		}
		return append(b, "]}"...)
	case RawJSON:
		return appendRawJSON(b, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		SortKeys(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = AppendJSON(b, x[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSON(b, e)
		}
		return append(b, ']')
	}
	// Anything else (a custom node's own type): let encoding/json decide.
	enc, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, enc...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string the way JSON.stringify does:
// only ", \ and control characters are escaped; non-ASCII stays as it is,
// and bytes that are not UTF-8 become U+FFFD as Node decodes them.
// AppendJSONString appends s as a JSON string, as JSON.stringify writes
// it. It is AppendJSON for a string, without boxing s in an interface.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				// Decode up to the next ASCII byte as Buffer.toString
				// does (the decoder starts afresh here, after a valid
				// sequence, as it would at the start of s).
				b = append(b, s[start:i]...)
				j := i + 1
				for j < len(s) && s[j] >= utf8.RuneSelf {
					j++
				}
				b = jsutf8.AppendDecode(b, unsafeBytes(s[i:j]))
				i = j
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		b = appendEscaped(b, c)
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscaped writes the ASCII character c, which must be escaped in a
// JSON string, as JSON.stringify does.
func appendEscaped(b []byte, c byte) []byte {
	switch c {
	case '"':
		return append(b, `\"`...)
	case '\\':
		return append(b, `\\`...)
	case '\n':
		return append(b, `\n`...)
	case '\r':
		return append(b, `\r`...)
	case '\t':
		return append(b, `\t`...)
	case '\b':
		return append(b, `\b`...)
	case '\f':
		return append(b, `\f`...)
	}
	b = append(b, `\u00`...)
	return append(b, hexDigits[c>>4], hexDigits[c&0xf])
}

// IndentJSON returns the JSON text of v indented with four spaces, as
// JSON.stringify(v, null, 4) does.
func IndentJSON(v any) []byte {
	compact := AppendJSON(nil, v)
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "    "); err != nil {
		return compact
	}
	return out.Bytes()
}

// Equal reports whether two values are deeply equal, as Node-RED's
// RED.util.compareObjects: scalars strictly (so "1" differs from 1, and NaN
// from itself), arrays element by element, buffers byte by byte, objects by
// their keys in any order. A RawJSON equals a map with the same content.
// It is jsv.DeepEqual.
func Equal(a, b any) bool { return jsv.DeepEqual(a, b) }
