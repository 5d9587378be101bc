package jsonata

import (
	"errors"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blues/jsonata-go/jtypes"
)

// buffer is how a []byte (a Node.js Buffer) travels through the library: an
// opaque value, as a Buffer is to JSONata in Node-RED. Lookups on it find
// nothing, $exists is true, $string gives Node.js's JSON form, and it comes
// back out as the same []byte.
type buffer struct{ rnBufferBytes []byte }

// toLib converts a value-model value for the library. Only []byte needs it;
// containers are copied only when they hold one.
func toLib(v any) any {
	switch x := v.(type) {
	case []byte:
		return &buffer{rnBufferBytes: x}
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			c := toLib(e)
			if out == nil && !same(c, e) {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = c
			}
		}
		if out != nil {
			return out
		}
	case []any:
		var out []any
		for i, e := range x {
			c := toLib(e)
			if out == nil && !same(c, e) {
				out = make([]any, len(x))
				copy(out, x)
			}
			if out != nil {
				out[i] = c
			}
		}
		if out != nil {
			return out
		}
	}
	return v
}

func same(a, b any) bool {
	_, isBuf := a.(*buffer)
	switch b.(type) {
	case []byte:
		return false
	case map[string]any, []any:
		if isBuf {
			return false
		}
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	return true
}

// fromLib converts a library result to the value model: float64 numbers,
// map[string]any, []any, []byte for a Buffer, nil for functions.
func fromLib(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return v
	case *buffer:
		return x.rnBufferBytes
	case buffer:
		return x.rnBufferBytes
	case map[string]any:
		for k, e := range x {
			if c := fromLib(e); !sameOut(c, e) {
				out := make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = fromLib(e2)
				}
				_ = k
				return out
			}
		}
		return x
	case []any:
		for i, e := range x {
			if c := fromLib(e); !sameOut(c, e) {
				out := make([]any, len(x))
				copy(out, x[:i])
				for j := i; j < len(x); j++ {
					out[j] = fromLib(x[j])
				}
				return out
			}
		}
		return x
	}
	rv := reflect.ValueOf(v)
	if jtypes.IsCallable(rv) {
		return nil
	}
	if n, ok := jtypes.AsNumber(rv); ok {
		return n
	}
	rv = jtypes.Resolve(rv)
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = fromLib(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[it.Key().String()] = fromLib(it.Value().Interface())
		}
		return out
	case reflect.Invalid:
		return nil
	}
	return v
}

func sameOut(a, b any) bool {
	switch b.(type) {
	case nil, string, bool, float64:
		return true
	case map[string]any, []any:
		return reflect.TypeOf(a) == reflect.TypeOf(b) && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	return false
}

// precision15 rounds n to 15 significant digits, as jsonata-js does before
// turning a number that is not an integer into a string.
func precision15(n float64) float64 {
	if n == math.Trunc(n) {
		return n
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(n, 'e', 14, 64), 64)
	if err != nil {
		return n
	}
	return r
}

// formatNumber formats n as JavaScript's Number.prototype.toString does.
func formatNumber(n float64) string {
	if n == 0 {
		return "0"
	}
	if math.IsNaN(n) {
		return "NaN"
	}
	if math.IsInf(n, 0) {
		if n > 0 {
			return "Infinity"
		}
		return "-Infinity"
	}
	s := strconv.FormatFloat(n, 'e', -1, 64) // d.ddde±x
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	k := len(digits)
	p := exp + 1 // position of the decimal point
	var out string
	switch {
	case k <= p && p <= 21:
		out = digits + strings.Repeat("0", p-k)
	case 0 < p && p <= 21:
		out = digits[:p] + "." + digits[p:]
	case -6 < p && p <= 0:
		out = "0." + strings.Repeat("0", -p) + digits
	default:
		e := p - 1
		sign := "+"
		if e < 0 {
			sign, e = "-", -e
		}
		out = digits[:1]
		if k > 1 {
			out += "." + digits[1:]
		}
		out += "e" + sign + strconv.Itoa(e)
	}
	if neg {
		out = "-" + out
	}
	return out
}

var errCycle = errors.New("value nests too deeply to stringify")

// writeJSON writes v as JSON.stringify does in jsonata-js's $string: numbers
// with 15 significant digits, Buffers as Node.js's {"type":"Buffer",...},
// object keys in sorted order (the library keeps no insertion order).
func writeJSON(b *strings.Builder, v any, pretty bool, indent string) error {
	if len(indent) > 2000 {
		return errCycle
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			b.WriteString("null")
		} else {
			b.WriteString(formatNumber(precision15(x)))
		}
	case string:
		writeString(b, x)
	case []byte:
		arr := make([]any, len(x))
		for i, c := range x {
			arr[i] = float64(c)
		}
		return writeJSON(b, map[string]any{"type": "Buffer", "data": arr}, pretty, indent)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		in := indent + "  "
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if pretty {
				b.WriteString("\n" + in)
			}
			if err := writeJSON(b, e, pretty, in); err != nil {
				return err
			}
		}
		if pretty {
			b.WriteString("\n" + indent)
		}
		b.WriteByte(']')
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		in := indent + "  "
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if pretty {
				b.WriteString("\n" + in)
			}
			writeString(b, k)
			b.WriteByte(':')
			if pretty {
				b.WriteByte(' ')
			}
			if err := writeJSON(b, x[k], pretty, in); err != nil {
				return err
			}
		}
		if pretty {
			b.WriteString("\n" + indent)
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
	return nil
}

// writeString writes s as a JSON string the way JSON.stringify does.
func writeString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\b':
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\ufffd`)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
