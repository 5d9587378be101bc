package jsonata

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	lib "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jlib"
	"github.com/blues/jsonata-go/jtypes"
)

// evalState is the state of one evaluation, read by the extensions of the
// instance running it.
type evalState struct {
	env        Env
	limits     Limits
	deadline   time.Time
	depth      int
	rangeItems int
	los        []float64 // left ends of the ranges being evaluated
}

// ErrLimit is wrapped by the errors of evaluations stopped by a Limits bound.
var ErrLimit = errors.New("jsonata: evaluation limit exceeded")

func (st *evalState) checkTime() error {
	if time.Now().After(st.deadline) {
		return fmt.Errorf("%w: expression has run for more than %v", ErrLimit, st.limits.Timeout)
	}
	return nil
}

// nodeRedFuncs are the functions Node-RED 4.1.15 adds to every JSONata
// expression (@node-red/util lib/util.js prepareJSONataExpression).
var nodeRedFuncs = map[string]bool{"flowContext": true, "globalContext": true, "env": true, "moment": true, "clone": true}

// replaced are library built-ins we replace to match jsonata-js.
var replaced = map[string]bool{"string": true, "formatNumber": true, "keys": true, "each": true}

var undefinedErr = jtypes.ErrUndefined

func extension(name string, st *evalState) lib.Extension {
	switch name {
	case fnEnter:
		return lib.Extension{Func: func() (bool, error) {
			st.depth++
			if st.depth > st.limits.MaxDepth {
				return false, fmt.Errorf("%w: function calls nested more than %d deep (non-terminating recursion?)", ErrLimit, st.limits.MaxDepth)
			}
			return true, st.checkTime()
		}}
	case fnLeave:
		return lib.Extension{Func: func(_ bool, v reflect.Value) (any, error) {
			st.depth--
			return passValue(v)
		}}
	case fnLo:
		return lib.Extension{Func: func(v reflect.Value) (any, error) {
			n, ok := jtypes.AsNumber(v)
			if !ok {
				n = math.NaN()
			}
			st.los = append(st.los, n)
			return passValue(v)
		}}
	case fnHi:
		return lib.Extension{Func: func(v reflect.Value) (any, error) {
			lo := math.NaN()
			if k := len(st.los); k > 0 {
				lo = st.los[k-1]
				st.los = st.los[:k-1]
			}
			if hi, ok := jtypes.AsNumber(v); ok && hi >= lo {
				st.rangeItems += int(math.Min(hi-lo+1, float64(math.MaxInt32)))
				if st.rangeItems > st.limits.MaxRangeItems {
					return nil, fmt.Errorf("%w: ranges would make more than %d items", ErrLimit, st.limits.MaxRangeItems)
				}
			}
			if err := st.checkTime(); err != nil {
				return nil, err
			}
			return passValue(v)
		}}
	case fnConcat:
		return lib.Extension{Func: func(a, b reflect.Value) (string, error) {
			sa, err := concatString(a)
			if err != nil {
				return "", err
			}
			sb, err := concatString(b)
			return sa + sb, err
		}}
	case "flowContext", "globalContext":
		global := name == "globalContext"
		return lib.Extension{Func: func(key string, store jtypes.OptionalString) (any, error) {
			if st.env == nil {
				return "", nil
			}
			var v any
			var err error
			if global {
				v, err = st.env.GlobalContext(key, store.String)
			} else {
				v, err = st.env.FlowContext(key, store.String)
			}
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, undefinedErr
			}
			return toLib(v), nil
		}}
	case "env":
		return lib.Extension{Func: func(name string) (any, error) {
			if st.env != nil {
				if v, ok := st.env.EnvVar(name); ok {
					return toLib(v), nil
				}
			}
			return "", nil
		}}
	case "moment":
		return lib.Extension{Func: func(...reflect.Value) (any, error) {
			return nil, errors.New("$moment is not supported by Runnel: use $now, $millis, $fromMillis or $toMillis")
		}}
	case "clone":
		// Values are never changed in place, so a clone is the value.
		return lib.Extension{Func: func(v reflect.Value) (any, error) { return passValue(v) }}
	case "string":
		return lib.Extension{
			// The second argument is any value: $map([1], $string) passes
			// the index there, as jsonata-js does (only true prettifies).
			Func: func(v reflect.Value, pretty jtypes.OptionalValue) (string, error) {
				p, _ := jtypes.AsBool(pretty.Value)
				return jsString(v, p && pretty.IsSet())
			},
			UndefinedHandler:   jtypes.ArgUndefined(0),
			EvalContextHandler: jtypes.ArgCountEquals(0),
		}
	case "keys":
		return lib.Extension{
			Func: func(v reflect.Value) (any, error) {
				keys := sortedKeys(v)
				switch len(keys) {
				case 0:
					return nil, undefinedErr
				case 1:
					return keys[0], nil
				}
				out := make([]any, len(keys))
				for i, k := range keys {
					out[i] = k
				}
				return out, nil
			},
			UndefinedHandler:   jtypes.ArgUndefined(0),
			EvalContextHandler: jtypes.ArgCountEquals(0),
		}
	case "each":
		return lib.Extension{
			Func: func(obj reflect.Value, fn jtypes.Callable) (any, error) {
				obj = jtypes.Resolve(obj)
				if obj.Kind() != reflect.Map {
					return nil, errors.New("argument 1 of function \"each\" does not match function signature")
				}
				var out []any
				for _, k := range sortedKeys(obj) {
					args := []reflect.Value{obj.MapIndex(reflect.ValueOf(k)), reflect.ValueOf(k), obj}
					if n := fn.ParamCount(); n < len(args) {
						args = args[:n]
					}
					r, err := fn.Call(args)
					if err != nil {
						return nil, err
					}
					if r.IsValid() {
						out = append(out, r.Interface())
					}
				}
				switch len(out) {
				case 0:
					return nil, undefinedErr
				case 1:
					return out[0], nil
				}
				return out, nil
			},
			UndefinedHandler:   jtypes.ArgUndefined(0),
			EvalContextHandler: jtypes.ArgCountEquals(1),
		}
	case "formatNumber":
		return lib.Extension{
			Func: func(x float64, picture string, opts jtypes.OptionalValue) (string, error) {
				// jsonata-go loops for ever on zero or a negative number with
				// an exponent picture: format 1 or -x instead.
				if strings.ContainsAny(picture, "eE") && !strings.Contains(picture, ";") {
					switch {
					case x == 0:
						s, err := jlib.FormatNumber(1, picture, opts)
						return strings.Replace(s, "1", "0", 1), err
					case x < 0:
						s, err := jlib.FormatNumber(-x, picture, opts)
						return "-" + s, err
					}
				}
				return jlib.FormatNumber(x, picture, opts)
			},
			UndefinedHandler: jtypes.ArgUndefined(0),
		}
	}
	panic("jsonata: no extension " + name)
}

// passValue returns v unchanged as an extension result (undefined stays
// undefined).
func passValue(v reflect.Value) (any, error) {
	if !v.IsValid() {
		return nil, undefinedErr
	}
	return v.Interface(), nil
}

// concatString is how & turns an operand into a string: undefined is "",
// strings are themselves, anything else is $string of it.
func concatString(v reflect.Value) (string, error) {
	v = jtypes.Resolve(v)
	if !v.IsValid() {
		return "", nil
	}
	return jsString(v, false)
}

// jsString is jsonata-js's $string: strings unchanged, numbers with 15
// significant digits in JavaScript's format, functions as "", anything else
// as JSON.stringify with numbers the same way.
func jsString(v reflect.Value, pretty bool) (string, error) {
	v = jtypes.Resolve(v)
	if s, ok := jtypes.AsString(v); ok && v.Kind() == reflect.String {
		return s, nil
	}
	if n, ok := jtypes.AsNumber(v); ok {
		if math.IsInf(n, 0) || math.IsNaN(n) {
			return "", errors.New("attempting to invoke string function on Infinity or NaN")
		}
		return formatNumber(precision15(n)), nil
	}
	if jtypes.IsCallable(v) {
		return "", nil
	}
	var b strings.Builder
	var val any
	if v.IsValid() && v.CanInterface() {
		val = v.Interface()
	}
	if err := writeJSON(&b, fromLib(val), pretty, ""); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Library built-ins are function objects the library mutates on every call
// (it stores the call's context and name in them), so concurrent evaluations
// must not share them: each instance binds its own copies under the same
// names, which hide the library's.
var (
	builtinMu  sync.Mutex
	builtins   = map[string]reflect.Value{} // name -> pointer to the library's object, invalid if not a built-in
	probeInput = map[string]any{}
)

func builtinValue(name string) reflect.Value {
	builtinMu.Lock()
	defer builtinMu.Unlock()
	if v, ok := builtins[name]; ok {
		return v
	}
	var v reflect.Value
	if validName(name) {
		if e, err := lib.Compile("$" + name); err == nil {
			if r, err := e.Eval(probeInput); err == nil {
				rv := reflect.ValueOf(r)
				if rv.Kind() == reflect.Pointer && jtypes.IsCallable(rv) {
					v = rv
				}
			}
		}
	}
	builtins[name] = v
	return v
}

func validName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func isBuiltin(name string) bool { return builtinValue(name).IsValid() }

// cloneBuiltin returns a private copy of the library's function object.
func cloneBuiltin(name string) any {
	v := builtinValue(name)
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface()
}

// sortedKeys returns the keys of an object in sorted order, or for an array
// the keys of its objects, each object's sorted, without repeats. Objects are
// Go maps, which keep no insertion order; sorted is the deterministic choice.
func sortedKeys(v reflect.Value) []string {
	v = jtypes.Resolve(v)
	switch v.Kind() {
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		return keys
	case reflect.Slice, reflect.Array:
		var out []string
		seen := map[string]bool{}
		for i := 0; i < v.Len(); i++ {
			for _, k := range sortedKeys(v.Index(i)) {
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
		return out
	}
	return nil
}
