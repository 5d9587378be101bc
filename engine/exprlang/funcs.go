package exprlang

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine/jsv"
)

// boolFuncs are the functions whose result is always a bool, so that
// && and ?: need no truthiness test on them.
var boolFuncs = map[string]bool{
	"__eq": true, "__ne": true, "__lt": true, "__le": true, "__gt": true, "__ge": true,
	"__not": true, "__truthy": true, "__in": true, "Boolean": true, "isNaN": true,
}

var (
	boolOf2 = new(func(any, any) bool)
	boolOf1 = new(func(any) bool)
)

// functions returns the expr options that define the functions the
// patched tree calls, and the JavaScript helpers users may call.
func (p *Program) functions() []expr.Option {
	f1 := func(name string, fn func(a any) (any, error), types ...any) expr.Option {
		return expr.Function(name, func(args ...any) (any, error) { return fn(args[0]) }, types...)
	}
	f2 := func(name string, fn func(a, b any) (any, error), types ...any) expr.Option {
		return expr.Function(name, func(args ...any) (any, error) { return fn(args[0], args[1]) }, types...)
	}
	b2 := func(name string, fn func(a, b any) bool) expr.Option {
		return expr.Function(name, func(args ...any) (any, error) { return fn(args[0], args[1]), nil }, boolOf2)
	}
	num2 := func(name string, fn func(a, b float64) float64) expr.Option {
		return f2(name, func(a, b any) (any, error) { return fn(toNum(a), toNum(b)), nil })
	}
	return []expr.Option{
		// Message, context and member access.
		f2("__msg", func(env, idx any) (any, error) { return p.readMsg(env.(Env), idx.(int)), nil }),
		f2("__ctx", func(env, idx any) (any, error) { return p.readCtx(env.(Env), idx.(int)), nil }),
		f2("__path", func(v, idx any) (any, error) { return p.readPath(v, p.paths[idx.(int)]), nil }),
		f2("__get", func(v, key any) (any, error) { return getMember(v, key), nil }),
		f2("__root", func(env, name any) (any, error) {
			if name == "msg" {
				return env.(Env).Message(), nil
			}
			return nil, fmt.Errorf("%s cannot be used on its own", name)
		}),
		expr.Function("__ctxget", func(args ...any) (any, error) { return ctxGet(args[0].(Env), args[1].(string), args[2:]) }),
		// keys in JavaScript's order for a decoded object (integer-like
		// keys first, then the rest; Go maps keep no insertion order, so
		// sorted), not expr's random map order.
		f1("keys", func(v any) (any, error) {
			if r, ok := v.(jsv.RawJSON); ok {
				v = r.Decode()
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("keys: %s is not an object", jsv.TypeName(v))
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sortKeys(keys)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = k
			}
			return out, nil
		}),
		// Operators.
		b2("__eq", jsv.LooseEqual),
		b2("__ne", func(a, b any) bool { return !jsv.LooseEqual(a, b) }),
		b2("__lt", jsv.Less),
		b2("__le", jsv.LessOrEqual),
		b2("__gt", jsv.Greater),
		b2("__ge", jsv.GreaterOrEqual),
		f2("__add", add),
		num2("__sub", func(a, b float64) float64 { return a - b }),
		num2("__mul", func(a, b float64) float64 { return a * b }),
		num2("__div", func(a, b float64) float64 { return a / b }),
		num2("__mod", math.Mod),
		num2("__pow", pow),
		f1("__neg", func(a any) (any, error) { return -toNum(a), nil }),
		f1("__not", func(a any) (any, error) { return !jsv.Truthy(a), nil }, boolOf1),
		f1("__truthy", func(a any) (any, error) { return jsv.Truthy(a), nil }, boolOf1),
		f2("__and", func(a, b any) (any, error) {
			if !jsv.Truthy(a) {
				return a, nil
			}
			return b, nil
		}),
		f2("__or", func(a, b any) (any, error) {
			if jsv.Truthy(a) {
				return a, nil
			}
			return b, nil
		}),
		f2("__coalesce", func(a, b any) (any, error) {
			if a == nil || a == jsv.Undefined {
				return b, nil
			}
			return a, nil
		}),
		b2("__in", in),
		// JavaScript's global functions.
		f1("String", func(a any) (any, error) { return jsv.ToString(a), nil }),
		f1("Number", func(a any) (any, error) { return jsv.ToNumber(a), nil }),
		f1("Boolean", func(a any) (any, error) { return jsv.Truthy(a), nil }, boolOf1),
		f1("isNaN", func(a any) (any, error) { return math.IsNaN(jsv.ToNumber(a)), nil }, boolOf1),
		f1("typeof", func(a any) (any, error) { return jsv.TypeOf(a), nil }),
		f1("parseFloat", func(a any) (any, error) {
			f, ok := jsv.ParseFloat(a)
			if !ok {
				return math.NaN(), nil
			}
			return f, nil
		}),
		expr.Function("parseInt", func(args ...any) (any, error) {
			radix := 0.0
			if len(args) > 1 {
				radix = toNum(args[1])
			}
			return parseInt(jsv.ToString(args[0]), radix), nil
		}),
		expr.Function("__math", func(args ...any) (any, error) { return mathFuncs[args[0].(string)](args[1:]) }),
		expr.Function("__method", func(args ...any) (any, error) { return callMethod(args[0], args[1].(string), args[2:]) }),
		f1("__stringify", func(a any) (any, error) { return stringify(a) }),
		f1("__parse", func(a any) (any, error) {
			var v any
			if err := json.Unmarshal([]byte(jsv.ToString(a)), &v); err != nil {
				return nil, fmt.Errorf("JSON.parse: %w", err)
			}
			return v, nil
		}),
	}
}

// toNum is ToNumber after reading a Go number without boxing checks.
func toNum(v any) float64 {
	if f, ok := v.(float64); ok {
		return f
	}
	return jsv.ToNumber(v)
}

// add is JavaScript's +: string concatenation when either side is a string
// after ToPrimitive (so arrays and objects concatenate as their string
// form), numeric addition otherwise.
func add(a, b any) (any, error) {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return x + y, nil
		}
	}
	pa, pb := jsv.ToPrimitive(a), jsv.ToPrimitive(b)
	_, aStr := pa.(string)
	_, bStr := pb.(string)
	if aStr || bStr {
		sa, sb := jsv.ToString(pa), jsv.ToString(pb)
		if len(sa)+len(sb) > MaxStringLen {
			return nil, errStringTooLong
		}
		return sa + sb, nil
	}
	return jsv.ToNumber(pa) + jsv.ToNumber(pb), nil
}

// pow is JavaScript's **, which differs from math.Pow where the base is
// ±1 and the exponent infinite, and for a NaN exponent.
func pow(a, b float64) float64 {
	if math.IsNaN(b) || (math.Abs(a) == 1 && math.IsInf(b, 0)) {
		return math.NaN()
	}
	return math.Pow(a, b)
}

// in is expr's in operator: an element of an array, a key of an object, a
// substring of a string (as includes).
func in(needle, hay any) bool {
	switch h := hay.(type) {
	case []any:
		for _, e := range h {
			if jsv.StrictEqual(needle, e) {
				return true
			}
		}
	case map[string]any:
		_, ok := h[jsv.ToString(needle)]
		return ok
	case string:
		return strings.Contains(h, jsv.ToString(needle))
	}
	return false
}

// readMsg reads msg.<path>.
func (p *Program) readMsg(e Env, idx int) any {
	pt := p.paths[idx]
	v, ok := e.Prop(pt.keys[0])
	if !ok {
		return jsv.Undefined
	}
	return readRest(v, pt)
}

// readCtx reads flow.<path>, global.<path> or env.<name>.
func (p *Program) readCtx(e Env, idx int) any {
	pt := p.paths[idx]
	if len(pt.keys) == 0 {
		return jsv.Undefined
	}
	var v any
	var ok bool
	switch pt.root {
	case rootFlow:
		v, ok = e.Flow(pt.keys[0], "")
	case rootGlobal:
		v, ok = e.Global(pt.keys[0], "")
	case rootEnv:
		v, ok = e.Env(pt.keys[0])
	}
	if !ok {
		return jsv.Undefined
	}
	return readRest(v, pt)
}

// readRest reads the keys after the first from v, the first key's value.
func readRest(v any, pt *path) any {
	if len(pt.keys) == 1 {
		return decodeRaw(v)
	}
	if r, ok := v.(jsv.RawJSON); ok && pt.gpath != "" {
		return fromResult(gjsonGet(r, pt.gpath))
	}
	for _, k := range pt.keys[1:] {
		v = member(v, k)
	}
	return decodeRaw(v)
}

// readPath reads the whole path from a computed value.
func (p *Program) readPath(v any, pt *path) any {
	if r, ok := v.(jsv.RawJSON); ok && pt.gpath != "" {
		return fromResult(gjsonGet(r, pt.gpath))
	}
	for _, k := range pt.keys {
		v = member(v, k)
	}
	return decodeRaw(v)
}

func ctxGet(e Env, which string, args []any) (any, error) {
	key := jsv.ToString(args[0])
	store := ""
	if len(args) > 1 {
		store = jsv.ToString(args[1])
	}
	var v any
	var ok bool
	switch which {
	case "flow":
		v, ok = e.Flow(key, store)
	case "global":
		v, ok = e.Global(key, store)
	default:
		v, ok = e.Env(key)
	}
	if !ok {
		return jsv.Undefined, nil
	}
	return decodeRaw(v), nil
}

// gjsonGet reads path from r without copying: RawJSON is never modified,
// so strings in the result may share its bytes.
func gjsonGet(r jsv.RawJSON, path string) gjson.Result {
	return gjson.Get(unsafe.String(unsafe.SliceData(r), len(r)), path)
}

// decodeRaw decodes JSON kept as bytes, so that expr's builtins (len,
// filter, keys...) see arrays and maps.
func decodeRaw(v any) any {
	if r, ok := v.(jsv.RawJSON); ok {
		return r.Decode()
	}
	return v
}

func fromResult(r gjson.Result) any {
	if !r.Exists() {
		return jsv.Undefined
	}
	if r.Type == gjson.JSON {
		return jsv.DecodeGJSON(r)
	}
	return jsv.FromGJSON(r)
}

// getMember is a[key] for a computed key.
func getMember(v, key any) any {
	var k string
	switch x := key.(type) {
	case string:
		k = x
	default:
		k = jsv.ToString(key)
	}
	return decodeRaw(member(v, k))
}

// member is v[k] with JavaScript's answers for strings, arrays and buffers
// (length, indexes) and undefined, not an error, for anything missing,
// including members of null and undefined.
func member(v any, k string) any {
	switch x := v.(type) {
	case map[string]any:
		if e, ok := x[k]; ok {
			return e
		}
	case []any:
		if k == "length" {
			return float64(len(x))
		}
		if i, ok := index(k); ok && i < len(x) {
			return x[i]
		}
	case jsv.RawJSON:
		if k == "length" && x.IsArray() {
			return float64(gjsonGet(x, "#").Int())
		}
		return fromResult(gjsonGet(x, gjsonPath([]string{k}, false)))
	case string:
		if k == "length" {
			return float64(jsv.UTF16Len(x))
		}
		if i, ok := index(k); ok {
			u := utf16.Encode([]rune(x))
			if i < len(u) {
				return string(utf16.Decode(u[i : i+1]))
			}
		}
	case []byte:
		if k == "length" {
			return float64(len(x))
		}
		if i, ok := index(k); ok && i < len(x) {
			return float64(x[i])
		}
	}
	return jsv.Undefined
}

// index parses an array index as JavaScript accepts one: digits with no
// leading zero.
func index(k string) (int, bool) {
	if k == "" || len(k) > 9 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false
		}
		n = n*10 + int(k[i]-'0')
	}
	return n, true
}

// gjsonPath joins keys as a gjson path, escaping gjson's special
// characters. It returns "" when a key cannot be expressed (length, which
// JavaScript reads as a count, or an empty key). With skipFirst the first
// key is left out (it is read from the Env).
func gjsonPath(keys []string, skipFirst bool) string {
	if skipFirst {
		if len(keys) == 0 {
			return ""
		}
		keys = keys[1:]
	}
	var b strings.Builder
	for i, k := range keys {
		if k == "" || k == "length" {
			return ""
		}
		if i > 0 {
			b.WriteByte('.')
		}
		for j := 0; j < len(k); j++ {
			switch c := k[j]; c {
			case '.', '*', '?', '|', '#', '@', '\\', '!', '=', '<', '>', '%', '[', ']', '{', '}', ',', ':', '"', '(', ')', '^':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// parseInt is JavaScript's parseInt(s, radix).
func parseInt(s string, radix float64) float64 {
	s = jsv.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	r := int(radix)
	if math.IsNaN(radix) || math.IsInf(radix, 0) {
		r = 0
	}
	if r != 0 && (r < 2 || r > 36) {
		return math.NaN()
	}
	if (r == 0 || r == 16) && len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, r = s[2:], 16
	}
	if r == 0 {
		r = 10
	}
	end := 0
	for end < len(s) {
		c := s[end]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'z':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = int(c-'A') + 10
		default:
			d = 99
		}
		if d >= r {
			break
		}
		end++
	}
	if end == 0 {
		return math.NaN()
	}
	n, ok := new(big.Int).SetString(s[:end], r)
	if !ok {
		return math.NaN()
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	if neg {
		f = -f
	}
	return f
}

var mathFuncs = map[string]func(args []any) (any, error){
	"round": math1(func(x float64) float64 { return math.Floor(x + 0.5) }),
	"floor": math1(math.Floor), "ceil": math1(math.Ceil), "abs": math1(math.Abs),
	"trunc": math1(math.Trunc), "sqrt": math1(math.Sqrt), "cbrt": math1(math.Cbrt),
	"sign": math1(func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return x
	}),
	"log": math1(math.Log), "log10": math1(math.Log10), "log2": math1(math.Log2), "exp": math1(math.Exp),
	"sin": math1(math.Sin), "cos": math1(math.Cos), "tan": math1(math.Tan), "atan": math1(math.Atan),
	"pow":   func(args []any) (any, error) { return pow(argNum(args, 0), argNum(args, 1)), nil },
	"atan2": func(args []any) (any, error) { return math.Atan2(argNum(args, 0), argNum(args, 1)), nil },
	"min": func(args []any) (any, error) {
		r := math.Inf(1)
		for i := range args {
			x := argNum(args, i)
			if math.IsNaN(x) {
				return x, nil
			}
			if x < r || (x == 0 && r == 0 && math.Signbit(x)) {
				r = x
			}
		}
		return r, nil
	},
	"max": func(args []any) (any, error) {
		r := math.Inf(-1)
		for i := range args {
			x := argNum(args, i)
			if math.IsNaN(x) {
				return x, nil
			}
			if x > r || (x == 0 && r == 0 && !math.Signbit(x)) {
				r = x
			}
		}
		return r, nil
	},
}

func math1(f func(float64) float64) func([]any) (any, error) {
	return func(args []any) (any, error) { return f(argNum(args, 0)), nil }
}

// argNum is ToNumber of argument i, NaN when it is missing (undefined).
func argNum(args []any, i int) float64 {
	if i >= len(args) {
		return math.NaN()
	}
	return toNum(args[i])
}

// methods are the JavaScript methods an expression may call on a value.
var methods = map[string]bool{
	"toFixed": true, "toString": true, "toUpperCase": true, "toLowerCase": true, "trim": true,
	"includes": true, "indexOf": true, "startsWith": true, "endsWith": true, "split": true,
	"join": true, "slice": true, "replace": true,
}

func callMethod(v any, name string, args []any) (any, error) {
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return jsv.Undefined
	}
	switch v.(type) {
	case nil, jsv.UndefinedType:
		return nil, fmt.Errorf("cannot read properties of %s (reading '%s')", jsv.ToString(v), name)
	}
	switch name {
	case "toString":
		return jsv.ToString(v), nil
	case "toFixed":
		f, ok := v.(float64)
		if !ok {
			if f, ok = jsv.AsNumber(v); !ok {
				return nil, fmt.Errorf("toFixed is not a function on a %s", jsv.TypeName(v))
			}
		}
		d := 0.0
		if len(args) > 0 {
			d = toNum(args[0])
		}
		if math.IsNaN(d) {
			d = 0
		}
		if d < 0 || d > 100 {
			return nil, fmt.Errorf("toFixed() digits argument must be between 0 and 100")
		}
		return toFixed(f, int(d)), nil
	case "join":
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("join is not a function on a %s", jsv.TypeName(v))
		}
		sep := ","
		if a := arg(0); a != jsv.Undefined {
			sep = jsv.ToString(a)
		}
		var b strings.Builder
		for i, e := range arr {
			if i > 0 {
				b.WriteString(sep)
			}
			if e != nil && e != jsv.Undefined {
				b.WriteString(jsv.ToString(e))
			}
			if b.Len() > MaxStringLen {
				return nil, errStringTooLong
			}
		}
		return b.String(), nil
	case "includes", "indexOf":
		if arr, ok := v.([]any); ok {
			for i, e := range arr {
				if jsv.StrictEqual(e, arg(0)) || (name == "includes" && isNaNValue(e) && isNaNValue(arg(0))) {
					if name == "includes" {
						return true, nil
					}
					return float64(i), nil
				}
			}
			if name == "includes" {
				return false, nil
			}
			return -1.0, nil
		}
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%s is not a function on a %s", name, jsv.TypeName(v))
	}
	switch name {
	case "toUpperCase":
		return strings.ToUpper(s), nil
	case "toLowerCase":
		return strings.ToLower(s), nil
	case "trim":
		return jsv.TrimSpace(s), nil
	case "includes":
		return strings.Contains(s, jsv.ToString(arg(0))), nil
	case "startsWith":
		return strings.HasPrefix(s, jsv.ToString(arg(0))), nil
	case "endsWith":
		return strings.HasSuffix(s, jsv.ToString(arg(0))), nil
	case "indexOf":
		i := strings.Index(s, jsv.ToString(arg(0)))
		if i < 0 {
			return -1.0, nil
		}
		return float64(jsv.UTF16Len(s[:i])), nil
	case "split":
		sep := arg(0)
		if sep == jsv.Undefined {
			return []any{s}, nil
		}
		parts := strings.Split(s, jsv.ToString(sep))
		if jsv.ToString(sep) == "" {
			parts = parts[:0]
			for _, u := range utf16.Encode([]rune(s)) {
				parts = append(parts, string(utf16.Decode([]uint16{u})))
			}
		}
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "slice":
		u := utf16.Encode([]rune(s))
		from, to := sliceBounds(len(u), arg(0), arg(1))
		return string(utf16.Decode(u[from:to])), nil
	case "replace":
		// String pattern only: the first occurrence, as JavaScript does.
		return strings.Replace(s, jsv.ToString(arg(0)), jsv.ToString(arg(1)), 1), nil
	}
	return nil, fmt.Errorf("%s is not a function on a string", name)
}

func isNaNValue(v any) bool {
	f, ok := v.(float64)
	return ok && math.IsNaN(f)
}

// sliceBounds resolves String.prototype.slice's arguments.
func sliceBounds(n int, a, b any) (int, int) {
	rel := func(v any, def int) int {
		if v == jsv.Undefined {
			return def
		}
		f := math.Trunc(toNum(v))
		if math.IsNaN(f) {
			f = 0
		}
		if f < 0 {
			f += float64(n)
			if f < 0 {
				f = 0
			}
		}
		if f > float64(n) {
			f = float64(n)
		}
		return int(f)
	}
	from, to := rel(a, 0), rel(b, n)
	if to < from {
		to = from
	}
	return from, to
}

// toFixed is Number.prototype.toFixed: the exact value of f rounded to d
// decimals, halves away from zero; numbers of 1e21 or more as String(f).
func toFixed(f float64, d int) string {
	if math.IsNaN(f) || math.Abs(f) >= 1e21 {
		return jsv.FormatNumber(f)
	}
	neg := f < 0
	x := new(big.Float).SetPrec(2048).SetFloat64(math.Abs(f))
	scale := new(big.Float).SetPrec(2048).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil))
	x.Mul(x, scale)
	x.Add(x, big.NewFloat(0.5))
	n, _ := x.Int(nil)
	digits := n.String()
	if d > 0 {
		if len(digits) <= d {
			digits = strings.Repeat("0", d-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-d] + "." + digits[len(digits)-d:]
	}
	if neg && strings.Trim(digits, "0.") != "" {
		digits = "-" + digits
	}
	return digits
}

// stringify is JSON.stringify for the values an expression holds. It
// returns undefined for undefined, as JavaScript does.
func stringify(v any) (any, error) {
	if v == jsv.Undefined {
		return jsv.Undefined, nil
	}
	b, err := appendJSON(nil, normalize(v))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func appendJSON(b []byte, v any) ([]byte, error) {
	if len(b) > MaxStringLen {
		return nil, errStringTooLong
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...), nil
		}
		return jsv.AppendNumber(b, x), nil
	case string:
		enc, _ := json.Marshal(x)
		return append(b, enc...), nil
	case jsv.RawJSON:
		return appendJSON(b, x.Decode())
	case []byte:
		arr := make([]any, len(x))
		for i, c := range x {
			arr[i] = float64(c)
		}
		return appendJSON(b, map[string]any{"type": "Buffer", "data": arr})
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sortKeys(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			enc, _ := json.Marshal(k)
			b = append(append(b, enc...), ':')
			var err error
			if b, err = appendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// sortKeys orders object keys as JavaScript enumerates them: integer-like
// keys first in numeric order, then the rest (a map has lost their
// insertion order, so sorted).
func sortKeys(keys []string) {
	isIdx := func(k string) bool { _, ok := index(k); return ok }
	less := func(a, b string) bool {
		ia, ib := isIdx(a), isIdx(b)
		switch {
		case ia && ib:
			na, _ := index(a)
			nb, _ := index(b)
			return na < nb
		case ia != ib:
			return ia
		}
		return a < b
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
}
