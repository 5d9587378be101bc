package function

import (
	"math"
	"strings"

	"github.com/dop251/goja/ast"

	"github.com/runnel-io/runnel/engine/jsv"
)

// The methods the straight-line path calls itself (see function_fast.go):
// String's on a string receiver, Math's on the global Math.

// maxFastArgs bounds the arguments of a call the path makes.
const maxFastArgs = 8

// strMethod is a String.prototype method on a receiver s; false: give up.
type strMethod func(r *frun, s string, args []fv) (fv, bool)

var strMethods = map[string]strMethod{
	"split": func(r *frun, s string, args []fv) (fv, bool) {
		if len(args) == 0 {
			start := len(r.arena)
			r.arena = append(r.arena, strV(s))
			return fv{k: fArr, a: r.arena[start:len(r.arena):len(r.arena)]}, true
		}
		if len(args) != 1 || args[0].k != fStr || args[0].s == "" {
			return fv{}, false // a limit, a regular expression, or "" (UTF-16 units)
		}
		sep := args[0].s
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
		return fv{k: fArr, a: r.arena[start:len(r.arena):len(r.arena)]}, true
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

// call compiles a method call the path makes itself.
func (c *fcomp) call(e *ast.CallExpression) fexpr {
	dot, ok := e.Callee.(*ast.DotExpression)
	if !ok || len(e.ArgumentList) > maxFastArgs {
		return nil
	}
	name := dot.Identifier.Name.String()
	var args []fexpr
	for _, a := range e.ArgumentList {
		f := c.expr(a)
		if f == nil {
			return nil
		}
		args = append(args, f)
	}
	if id, isID := dot.Left.(*ast.Identifier); isID && id.Name.String() == "Math" {
		if _, local := c.locals["Math"]; !local {
			fn := mathFns[name]
			if fn == nil {
				return nil
			}
			return func(r *frun) (fv, bool) {
				var buf [maxFastArgs]float64
				for i, a := range args {
					v, ok := a(r)
					if !ok {
						return fv{}, false
					}
					if buf[i], ok = toNumber(v); !ok {
						return fv{}, false
					}
				}
				return numV(fn(buf[:len(args)])), true
			}
		}
	}
	method := strMethods[name]
	base := c.expr(dot.Left)
	if method == nil || base == nil {
		return nil
	}
	return func(r *frun) (fv, bool) {
		b, ok := base(r)
		if !ok || b.k != fStr {
			return fv{}, false
		}
		var buf [maxFastArgs]fv
		for i, a := range args {
			if buf[i], ok = a(r); !ok {
				return fv{}, false
			}
		}
		return method(r, b.s, buf[:len(args)])
	}
}
