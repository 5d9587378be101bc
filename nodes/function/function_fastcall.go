package function

import (
	"math"
	"strings"
	"time"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/ftoa"

	"github.com/runnel-io/runnel/engine/jsv"
)

// The methods the straight-line path calls itself (see function_fast.go):
// String's on a string receiver, Math's on the global Math.

// maxFastArgs bounds the arguments of a call the path makes.
const maxFastArgs = 8

// strMethod is a String.prototype method on a receiver s; false: give up.
type strMethod func(r *frun, s string, args []fv) (fv, bool)

// method is a method on any receiver; false: give up.
type method func(r *frun, recv fv, args []fv) (fv, bool)

// methods are the methods the path calls: String's on strings, and
// toFixed and toString.
var methods = map[string]method{
	"toFixed":  toFixed,
	"toString": toStringMethod,
}

func init() {
	for name, m := range strMethods {
		methods[name] = onString(m)
	}
}

// onString makes a String method a method that gives up on another
// receiver.
func onString(m strMethod) method {
	return func(r *frun, recv fv, args []fv) (fv, bool) {
		if recv.k != fStr {
			return fv{}, false
		}
		return m(r, recv.s, args)
	}
}

// toFixed is Number.prototype.toFixed, written by goja's own ftoa (what
// the goja path calls) for a number receiver.
func toFixed(r *frun, recv fv, args []fv) (fv, bool) {
	if recv.k != fNum || len(args) > 1 {
		return fv{}, false
	}
	digits := 0.0
	if len(args) == 1 {
		d, ok := toNumber(args[0])
		if !ok {
			return fv{}, false
		}
		if d != d {
			d = 0
		}
		digits = math.Trunc(d)
	}
	if digits < 0 || digits > 100 {
		return fv{}, false // a RangeError: goja
	}
	if recv.n != recv.n {
		return strV("NaN"), true
	}
	var buf [128]byte
	return strV(string(ftoa.FToStr(recv.n, ftoa.ModeFixed, int(digits), buf[:0]))), true
}

// toStringMethod is toString() without a radix on a primitive.
func toStringMethod(r *frun, recv fv, args []fv) (fv, bool) {
	if len(args) != 0 || (recv.k != fNum && recv.k != fStr && recv.k != fBool) {
		return fv{}, false
	}
	return strV(jsv.ToString(recv.primitive())), true
}

// globalFns are the global functions the path calls: Number, String,
// Boolean and parseFloat of a primitive.
var globalFns = map[string]func(args []fv) (fv, bool){
	"Number": func(args []fv) (fv, bool) {
		if len(args) == 0 {
			return numV(0), true
		}
		n, ok := toNumber(args[0])
		return numV(n), ok
	},
	"String": func(args []fv) (fv, bool) {
		if len(args) == 0 {
			return strV(""), true
		}
		if !args[0].isPrimitive() {
			return fv{}, false
		}
		return strV(jsv.ToString(args[0].primitive())), true
	},
	"Boolean": func(args []fv) (fv, bool) {
		return boolV(len(args) > 0 && args[0].truthy()), true
	},
	"parseFloat": func(args []fv) (fv, bool) {
		if len(args) == 0 {
			return numV(math.NaN()), true
		}
		if !args[0].isPrimitive() {
			return fv{}, false
		}
		f, ok := jsv.ParseFloat(args[0].primitive())
		if !ok {
			f = math.NaN()
		}
		return numV(f), true
	},
}

var strMethods = map[string]strMethod{
	"split": func(r *frun, s string, args []fv) (fv, bool) {
		if len(args) == 0 {
			start := len(r.arena)
			r.arena = append(r.arena, strV(s))
			return r.newArr(start), true
		}
		if len(args) != 1 || args[0].k != fStr || args[0].s == "" {
			return fv{}, false // a limit, a regular expression, or "" (UTF-16 units)
		}
		sep := args[0].s
		if len(r.arena)+strings.Count(s, sep)+1 > maxFastArena {
			return fv{}, false // goja, with its memory guard
		}
		start := len(r.arena)
		for {
			i := strings.Index(s, sep)
			if i < 0 {
				break
			}
			r.arena = append(r.arena, strV(s[:i]))
			s = s[i+len(sep):]
		}
		r.arena = append(r.arena, strV(s))
		return r.newArr(start), true
	},
	"toUpperCase": func(_ *frun, s string, args []fv) (fv, bool) {
		return strV(strings.ToUpper(s)), isASCII(s)
	},
	"toLowerCase": func(_ *frun, s string, args []fv) (fv, bool) {
		return strV(strings.ToLower(s)), isASCII(s)
	},
	"trim": func(_ *frun, s string, args []fv) (fv, bool) {
		return strV(jsv.TrimSpace(s)), true
	},
	"includes": func(_ *frun, s string, args []fv) (fv, bool) {
		sub, ok := oneString(args)
		return boolV(strings.Contains(s, sub)), ok
	},
	"startsWith": func(_ *frun, s string, args []fv) (fv, bool) {
		sub, ok := oneString(args)
		return boolV(strings.HasPrefix(s, sub)), ok
	},
	"endsWith": func(_ *frun, s string, args []fv) (fv, bool) {
		sub, ok := oneString(args)
		return boolV(strings.HasSuffix(s, sub)), ok
	},
	"indexOf": func(_ *frun, s string, args []fv) (fv, bool) {
		sub, ok := oneString(args)
		i := strings.Index(s, sub)
		if i > 0 {
			i = jsv.UTF16Len(s[:i]) // JavaScript counts UTF-16 units
		}
		return numV(float64(i)), ok
	},
}

// maxFastArena bounds the array elements one run makes (split's): 40
// bytes each, and a run has no memory guard.
const maxFastArena = 1 << 16

// oneString returns the only argument when it is a string.
func oneString(args []fv) (string, bool) {
	if len(args) != 1 || args[0].k != fStr {
		return "", false
	}
	return args[0].s, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// mathFns are the Math functions the path computes.
var mathFns = map[string]func(args []float64) float64{
	"round": func(a []float64) float64 { return jsRound(arg0(a)) },
	"floor": func(a []float64) float64 { return math.Floor(arg0(a)) },
	"ceil":  func(a []float64) float64 { return math.Ceil(arg0(a)) },
	"trunc": func(a []float64) float64 { return math.Trunc(arg0(a)) },
	"abs":   func(a []float64) float64 { return math.Abs(arg0(a)) },
	"sqrt":  func(a []float64) float64 { return math.Sqrt(arg0(a)) },
	"max": func(a []float64) float64 {
		m := math.Inf(-1)
		for _, x := range a {
			switch {
			case math.IsNaN(x):
				return x
			case x > m || (x == 0 && m == 0 && !math.Signbit(x)):
				m = x
			}
		}
		return m
	},
	"min": func(a []float64) float64 {
		m := math.Inf(1)
		for _, x := range a {
			switch {
			case math.IsNaN(x):
				return x
			case x < m || (x == 0 && m == 0 && math.Signbit(x)):
				m = x
			}
		}
		return m
	},
}

// arg0 is a one-argument function's argument: NaN when there is none.
func arg0(a []float64) float64 {
	if len(a) == 0 {
		return math.NaN()
	}
	return a[0]
}

// evalArgs evaluates a call's arguments onto r.args and returns where
// they start there; the caller truncates r.args back to that.
func evalArgs(r *frun, args []fexpr) (start int, ok bool) {
	start = len(r.args)
	for _, a := range args {
		v, ok := a(r)
		if !ok {
			r.args = r.args[:start]
			return 0, false
		}
		r.args = append(r.args, v)
	}
	return start, true
}

// global reports whether name is the global of that name: no local
// hides it.
func (c *fcomp) global(e ast.Expression, name string) bool {
	id, ok := e.(*ast.Identifier)
	if !ok || id.Name.String() != name {
		return false
	}
	_, local := c.locals[name]
	return !local && !c.declared[name] // a declaration anywhere hides it (hoisting)
}

// call compiles a call the path makes itself.
func (c *fcomp) call(e *ast.CallExpression) fexpr {
	if len(e.ArgumentList) > maxFastArgs {
		return nil
	}
	args, ok := c.exprs(e.ArgumentList)
	if !ok {
		return nil
	}
	if id, ok := e.Callee.(*ast.Identifier); ok {
		name := id.Name.String()
		fn := globalFns[name]
		if fn == nil || !c.global(id, name) {
			return nil
		}
		return func(r *frun) (fv, bool) {
			start, ok := evalArgs(r, args)
			if !ok {
				return fv{}, false
			}
			v, ok := fn(r.args[start:])
			r.args = r.args[:start]
			return v, ok
		}
	}
	dot, ok := e.Callee.(*ast.DotExpression)
	if !ok {
		return nil
	}
	name := dot.Identifier.Name.String()
	if c.global(dot.Left, "Date") {
		if name != "now" || len(args) != 0 {
			return nil
		}
		return func(r *frun) (fv, bool) { return numV(float64(time.Now().UnixMilli())), true }
	}
	if c.global(dot.Left, "Math") {
		fn := mathFns[name]
		if fn == nil {
			return nil
		}
		return func(r *frun) (fv, bool) {
			start, ok := evalArgs(r, args)
			if !ok {
				return fv{}, false
			}
			nstart := len(r.nums)
			for _, v := range r.args[start:] {
				n, ok := toNumber(v)
				if !ok {
					r.args, r.nums = r.args[:start], r.nums[:nstart]
					return fv{}, false
				}
				r.nums = append(r.nums, n)
			}
			v := numV(fn(r.nums[nstart:]))
			r.args, r.nums = r.args[:start], r.nums[:nstart]
			return v, true
		}
	}
	m := methods[name]
	base := c.expr(dot.Left)
	if m == nil || base == nil {
		return nil
	}
	return func(r *frun) (fv, bool) {
		b, ok := base(r)
		if !ok {
			return fv{}, false
		}
		start, ok := evalArgs(r, args)
		if !ok {
			return fv{}, false
		}
		v, ok := m(r, b, r.args[start:])
		r.args = r.args[:start]
		return v, ok
	}
}
