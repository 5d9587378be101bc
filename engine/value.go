package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

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
// from it with gjson without decoding it; it is decoded only when a node needs
// the whole value. The bytes must be valid JSON and must not be modified.
type RawJSON []byte

// Decode returns the decoded value: map[string]any, []any or a scalar.
// Numbers decode as float64.
func (r RawJSON) Decode() any {
	return fromGJSON(gjson.ParseBytes(r), true)
}

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
	return fromGJSON(gjson.ParseBytes(b), false), nil
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

// Number returns v as a float64 when it is one of Go's number types (the
// types a custom node may put in a message for a JavaScript number).
func Number(v any) (float64, bool) {
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

// Truthy is JavaScript's truthiness of a message value: false for null,
// false, "", 0 and NaN, true for everything else.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	}
	if f, ok := Number(v); ok {
		return f != 0 && !math.IsNaN(f)
	}
	return true
}

// ToFloat converts a value to a number the way JavaScript's parseFloat does
// for strings, and returns ok=false where the result would be NaN.
func ToFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case string:
		return parseFloatPrefix(x)
	case []byte:
		return parseFloatPrefix(string(x))
	}
	// parseFloat(true) is NaN, and so is anything else that is not a number.
	f, ok := Number(v)
	return f, ok && !math.IsNaN(f)
}

// parseFloatPrefix mimics JavaScript's parseFloat: leading white space is
// skipped and the longest numeric prefix is parsed.
func parseFloatPrefix(s string) (float64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
		i++
	}
	s = s[i:]
	if len(s) >= 8 {
		for _, p := range []string{"Infinity", "+Infinity", "-Infinity"} {
			if len(s) >= len(p) && s[:len(p)] == p {
				if p[0] == '-' {
					return math.Inf(-1), true
				}
				return math.Inf(1), true
			}
		}
	}
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	digits := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
		digits++
	}
	if end < len(s) && s[end] == '.' {
		end++
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if end < len(s) && (s[end] == 'e' || s[end] == 'E') {
		e := end + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		ed := e
		for ed < len(s) && s[ed] >= '0' && s[ed] <= '9' {
			ed++
		}
		if ed > e {
			end = ed
		}
	}
	f, err := strconv.ParseFloat(s[:end], 64)
	if err != nil {
		// Out of range values parse to ±Inf with an error; JavaScript agrees.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// FormatNumber formats a number as JavaScript's Number.prototype.toString
// does: 22 for 22.0, 0.1 for 0.1, 1e+21 for 1e21, NaN, Infinity.
func FormatNumber(f float64) string {
	return string(AppendNumber(nil, f))
}

// AppendNumber appends the JavaScript string form of f to b.
func AppendNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		return append(b, '0')
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		if math.Abs(f) < 1<<53 {
			return strconv.AppendInt(b, int64(f), 10)
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	// Exponent form: JavaScript writes 1e+21 and 1.5e-7.
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	// Go writes e+21 / e-07; JavaScript writes e+21 / e-7.
	for i := start; i < len(b); i++ {
		if b[i] == 'e' {
			j := i + 2
			k := j
			for k < len(b)-1 && b[k] == '0' {
				k++
			}
			b = append(b[:j], b[k:]...)
			break
		}
	}
	return b
}

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
	case nil:
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
func Equal(a, b any) bool {
	if r, ok := a.(RawJSON); ok {
		a = r.Decode()
	}
	if r, ok := b.(RawJSON); ok {
		b = r.Decode()
	}
	if x, ok := Number(a); ok {
		y, ok := Number(b)
		return ok && x == y // NaN differs from itself, as in JavaScript
	}
	switch x := a.(type) {
	case nil, bool, string:
		return a == b
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return bytes.Equal(AppendJSON(nil, a), AppendJSON(nil, b))
}
