package jsv

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/flows/jsutf8"
)

// Truthy is JavaScript's truthiness (Boolean(v)): false for undefined, null,
// false, "", 0, -0 and NaN, true for everything else, including empty
// objects, arrays and buffers.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil, UndefinedType:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	}
	if f, ok := AsNumber(v); ok {
		return f != 0 && !math.IsNaN(f)
	}
	return true
}

// ToNumber is JavaScript's Number(v): undefined is NaN, null and false 0,
// true 1, a string is parsed as a whole number literal after trimming white
// space ("" is 0, "0x1f" 31, "1e3" 1000, "12px" NaN), and objects go through
// their string form (ToPrimitive): [] is 0, [5] 5, [1,2] NaN, {} NaN, a
// buffer its text.
func ToNumber(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case nil:
		return 0
	case UndefinedType:
		return math.NaN()
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		return StringToNumber(x)
	}
	if f, ok := AsNumber(v); ok {
		return f
	}
	p := ToPrimitive(v)
	if _, ok := p.(string); !ok {
		return math.NaN()
	}
	return StringToNumber(p.(string))
}

// isSpace reports whether r is JavaScript white space or a line terminator
// (the characters String.prototype.trim and Number() strip).
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0xfeff, 0x2028, 0x2029:
		return true
	}
	return r > 0xff && unicode.Is(unicode.Zs, r)
}

// TrimSpace removes JavaScript white space from both ends of s, as
// String.prototype.trim does.
func TrimSpace(s string) string {
	return strings.TrimFunc(s, isSpace)
}

// StringToNumber is Number(s) for a string s: the whole string, trimmed of
// white space, must be a decimal literal (with optional sign, fraction and
// exponent), Infinity with optional sign, or a 0x / 0o / 0b integer without a
// sign; "" is 0 and anything else NaN.
func StringToNumber(s string) float64 {
	s = TrimSpace(s)
	if s == "" {
		return 0
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			return parseRadix(s[2:], base)
		}
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	if body == "Infinity" {
		if s[0] == '-' {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	if n := decimalPrefix(body); n == 0 || n != len(body) {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f // ±Inf or ±0, as JavaScript rounds
		}
		return math.NaN()
	}
	return f
}

// parseRadix parses digits in base 2, 8 or 16 exactly and rounds the result
// to the nearest float64, as JavaScript does for 0x, 0o and 0b literals.
func parseRadix(digits string, base int) float64 {
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return math.NaN()
		}
		if d >= base {
			return math.NaN()
		}
	}
	if len(digits) <= 13 { // fits in 52 bits whatever the base
		n, _ := strconv.ParseUint(digits, base, 64)
		return float64(n)
	}
	n, _ := new(big.Int).SetString(digits, base)
	f, _ := new(big.Float).SetInt(n).Float64()
	return f
}

// decimalPrefix returns the length of the longest prefix of s that is an
// unsigned decimal literal (digits, optional fraction, optional exponent);
// 0 when there is none.
func decimalPrefix(s string) int {
	end, digits := 0, 0
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
		return 0
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
	return end
}

// ParseFloat is JavaScript's parseFloat(v): the value's string form, leading
// white space skipped, its longest decimal or Infinity prefix. ok is false
// where JavaScript's result is NaN (parseFloat(true), parseFloat("abc"),
// parseFloat("")).
func ParseFloat(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case string:
		return parseFloatPrefix(x)
	}
	if f, ok := AsNumber(v); ok {
		// parseFloat reads String(f), which writes -0 as "0".
		return f + 0, !math.IsNaN(f)
	}
	switch v.(type) {
	case nil, UndefinedType, bool:
		return 0, false
	}
	return parseFloatPrefix(ToString(v))
}

func parseFloatPrefix(s string) (float64, bool) {
	s = strings.TrimLeftFunc(s, isSpace)
	sign := ""
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		sign, body = body[:1], body[1:]
	}
	if strings.HasPrefix(body, "Infinity") {
		if sign == "-" {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	n := decimalPrefix(body)
	if n == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s[:len(sign)+n], 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// FormatNumber formats a number as JavaScript's String(number) does: 22 for
// 22.0, 0.1 for 0.1, 1e+21 for 1e21, 1.5e-7, NaN, Infinity, and 0 for -0.
func FormatNumber(f float64) string {
	return string(AppendNumber(nil, f))
}

// AppendNumber appends FormatNumber(f) to b.
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
	// Exponent form: Go writes e+21 / e-07; JavaScript writes e+21 / e-7.
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
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

// ToString is JavaScript's String(v): "undefined", "null", "true", numbers as
// FormatNumber writes them, a buffer decoded as UTF-8 the way Node's
// Buffer.toString does (see package jsutf8), an array as its elements'
// strings joined with "," (null and undefined elements as ""), and any other
// object as "[object Object]".
//
// It is not JSON: engine.ToString, which MQTT out and template use, writes
// objects as JSON as Node-RED does for payloads.
func ToString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return FormatNumber(x)
	case nil:
		return "null"
	case UndefinedType:
		return "undefined"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []byte:
		return jsutf8.Decode(x)
	case []any, RawJSON:
		return string(appendString(nil, v))
	}
	if f, ok := AsNumber(v); ok {
		return FormatNumber(f)
	}
	return "[object Object]"
}

// appendString appends ToString(v) to b.
func appendString(b []byte, v any) []byte {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendElement(b, e)
		}
		return b
	case RawJSON:
		if !x.IsArray() {
			return append(b, "[object Object]"...)
		}
		i := 0
		gjson.ParseBytes(x).ForEach(func(_, e gjson.Result) bool {
			if i > 0 {
				b = append(b, ',')
			}
			i++
			b = appendElement(b, fromGJSON(e, false))
			return true
		})
		return b
	case float64:
		return AppendNumber(b, x)
	}
	return append(b, ToString(v)...)
}

// appendElement appends an array element as Array.prototype.join writes it.
func appendElement(b []byte, e any) []byte {
	switch e.(type) {
	case nil, UndefinedType:
		return b
	}
	return appendString(b, e)
}

// ToPrimitive is JavaScript's ToPrimitive(v) for the values of this model:
// primitives are returned as they are (Go number types as float64), and
// objects, arrays and buffers become their string form (none of them has a
// valueOf that returns a primitive).
func ToPrimitive(v any) any {
	switch v.(type) {
	case nil, UndefinedType, bool, string, float64:
		return v
	}
	if f, ok := AsNumber(v); ok {
		return f
	}
	return ToString(v)
}

// isPrimitive reports whether v is not an object.
func isPrimitive(v any) bool {
	switch v.(type) {
	case nil, UndefinedType, bool, string, float64:
		return true
	}
	_, ok := AsNumber(v)
	return ok
}

// utf16Compare compares a and b comparing UTF-16 code units, as
// JavaScript compares strings. UTF-8 byte order is code point order, which
// differs from UTF-16 order only between a supplementary character (stored
// as surrogates 0xD800-0xDFFF) and one in 0xE000-0xFFFF.
func utf16Compare(a, b string) int {
	for a != "" && b != "" {
		if a[0] == b[0] && a[0] < utf8.RuneSelf {
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra == rb {
			a, b = a[na:], b[nb:]
			continue
		}
		ua, ub := firstUnit(ra), firstUnit(rb)
		if ua == ub { // both supplementary with the same high surrogate
			ua, ub = ra, rb
		}
		if ua < ub {
			return -1
		}
		return 1
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// firstUnit is the first UTF-16 code unit of r.
func firstUnit(r rune) rune {
	if r >= 0x10000 {
		return 0xd800 + (r-0x10000)>>10
	}
	return r
}

// UTF16Len is the length of s as JavaScript counts it: in UTF-16 code
// units, so a character outside the Basic Multilingual Plane counts 2.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// IsCanonicalNumber reports whether raw, the text of a JSON number, is
// what JavaScript's String(Number(raw)) writes, so that it can be copied
// instead of parsed and formatted again. It is for the common forms only:
// no exponent, no leading zeros, no trailing zeros in the fraction, at
// most 15 significant digits (so no other decimal of as few digits names
// the same double), not -0, and not below 1e-6 in magnitude (JavaScript
// writes those with an exponent). Anything else reports false, which is
// always safe.
func IsCanonicalNumber(raw string) bool {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	start := i
	if i >= len(raw) || raw[i] < '0' || raw[i] > '9' {
		return false
	}
	if raw[i] == '0' {
		i++
	} else {
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			i++
		}
	}
	sig := i - start
	zero := raw[start] == '0'
	if zero {
		sig = 0
	}
	if i == len(raw) {
		return sig <= 15 && !(zero && start == 1) // -0 is written 0
	}
	if raw[i] != '.' {
		return false
	}
	i++
	fs := i
	for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
		i++
	}
	if i != len(raw) || i == fs || raw[i-1] == '0' {
		return false
	}
	frac := raw[fs:]
	if !zero {
		return sig+len(frac) <= 15
	}
	z := 0
	for z < len(frac) && frac[z] == '0' {
		z++
	}
	return z < 6 && len(frac)-z <= 15
}
