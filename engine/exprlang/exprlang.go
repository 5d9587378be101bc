// Package exprlang is Runnel's fast expression type, expr: expressions in
// the expr language (github.com/expr-lang/expr), compiled once when a flow
// is deployed and evaluated per message, with JavaScript's value rules
// (package jsv) in place of expr's own wherever they differ, so that a
// Node-RED user's msg.payload.temperature * 9 / 5 + 32 or
// msg.payload.temperature > 20 && msg.payload.unit == "C" gives what
// JavaScript gives.
//
// An expression sees msg, flow, global and env through an Env the caller
// fills per evaluation; see docs/expr.md for the language.
//
// The package imports expr and jsv, not engine, so the engine can import it.
package exprlang

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/runnel-io/runnel/engine/jsv"
)

// Env is what an expression reads: the message being evaluated, the flow
// and global context and the environment. The engine fills one per
// evaluation; a Program never keeps it.
type Env interface {
	// Prop returns the message's top-level property name (msg.payload is
	// Prop("payload")); ok is false when the message has no such property.
	Prop(name string) (v any, ok bool)
	// Message returns the whole message as an object. It is called only by
	// expressions that use msg on its own (keys(msg), {"m": msg}); the
	// result is read, never modified.
	Message() map[string]any
	// Flow returns the flow context's value under key (a context key, which
	// may be a path such as "a.b[0]") in the named store ("" for the
	// default); ok is false when it is not set.
	Flow(key, store string) (v any, ok bool)
	// Global is Flow for the global context.
	Global(key, store string) (v any, ok bool)
	// Env returns the environment variable name as Node-RED's env.get does
	// (flow, then global, then the process environment).
	Env(name string) (v any, ok bool)
}

// Limits on what one evaluation may build.
const (
	// MaxStringLen bounds a string an expression builds with + or
	// repeat-like growth.
	MaxStringLen = 16 << 20
	// memoryBudget bounds the elements of arrays and ranges an evaluation
	// builds (expr counts them); nested loops over ranges count too.
	memoryBudget = 1 << 20
	// maxNodes bounds the size of an expression's syntax tree.
	maxNodes = 10000
)

// frame is the environment type expr's checker sees: its fields name the
// roots an expression may use. The patcher replaces every use of them with
// calls that take $env, and at run time $env is the caller's Env itself
// (no frame is built per evaluation).
type frame struct {
	Msg    any `expr:"msg"`
	Flow   any `expr:"flow"`
	Global any `expr:"global"`
	EnvVar any `expr:"env"`
	Math   any `expr:"Math"`
	JSON   any `expr:"JSON"`
	// JavaScript's constants, replaced by their values.
	Null      any `expr:"null"`
	Undefined any `expr:"undefined"`
	NaN       any `expr:"NaN"`
	Infinity  any `expr:"Infinity"`
}

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	src   string
	prog  *vm.Program
	paths []*path
	vms   sync.Pool
}

// Compile compiles src. The error names the position of the first problem.
func Compile(src string) (*Program, error) {
	p := &Program{src: src}
	pt := &patcher{prog: p}
	opts := []expr.Option{
		expr.Env(frame{}),
		expr.MaxNodes(maxNodes),
		expr.Patch(pt),
		expr.DisableBuiltin("repeat"), // builds strings past any budget
	}
	opts = append(opts, p.functions()...)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("expr: %w", err)
	}
	pt.check()
	if pt.err != nil {
		return nil, fmt.Errorf("expr: %w", pt.err)
	}
	p.prog = prog
	p.vms.New = func() any { return &vm.VM{MemoryBudget: memoryBudget} }
	return p, nil
}

// MustCompile is Compile that panics on error, for tests and fixed
// expressions.
func MustCompile(src string) *Program {
	p, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the expression's source.
func (p *Program) String() string { return p.src }

// Eval evaluates the expression against e. The result is a message value:
// numbers as float64, objects as map[string]any, arrays as []any, and
// jsv.Undefined for a missing property (JSON.stringify would drop it).
// Errors and panics inside the evaluation are returned as errors.
func (p *Program) Eval(e Env) (res any, err error) {
	m := p.vms.Get().(*vm.VM)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("expr: %v", r)
			m = nil // its state is unknown; let it go
		}
		if m != nil {
			p.vms.Put(m)
		}
	}()
	out, err := m.Run(p.prog, e)
	if err != nil {
		return nil, fmt.Errorf("expr: %w", err)
	}
	return normalize(out), nil
}

// Bool evaluates the expression and returns its JavaScript truthiness.
func (p *Program) Bool(e Env) (bool, error) {
	v, err := p.Eval(e)
	if err != nil {
		return false, err
	}
	return jsv.Truthy(v), nil
}

// errStringTooLong is returned when an expression builds too long a string.
var errStringTooLong = errors.New("string longer than the limit")

// normalize turns what expr produced into a message value: Go integers
// become float64, typed slices and maps become []any and map[string]any,
// and undefined map entries are dropped as JSON.stringify drops them (in
// an array undefined becomes null). Containers are copied only when
// something in them changes.
func normalize(v any) any {
	n, _ := normal(v)
	return n
}

// normal is normalize, also reporting whether the value changed.
func normal(v any) (any, bool) {
	switch x := v.(type) {
	case nil, bool, string, float64, []byte, jsv.UndefinedType, jsv.RawJSON:
		return v, false
	case map[string]any:
		var cp map[string]any
		for k, e := range x {
			n, changed := normal(e)
			_, undef := n.(jsv.UndefinedType)
			if !changed && !undef {
				continue
			}
			if cp == nil {
				cp = make(map[string]any, len(x))
				for k2, e2 := range x {
					cp[k2] = e2
				}
			}
			if undef {
				delete(cp, k)
			} else {
				cp[k] = n
			}
		}
		if cp != nil {
			return cp, true
		}
		return x, false
	case []any:
		var cp []any
		for i, e := range x {
			n, changed := normal(e)
			if _, undef := n.(jsv.UndefinedType); undef {
				n, changed = nil, true
			}
			if !changed {
				continue
			}
			if cp == nil {
				cp = append([]any(nil), x...)
			}
			cp[i] = n
		}
		if cp != nil {
			return cp, true
		}
		return x, false
	}
	if f, ok := jsv.AsNumber(v); ok {
		return f, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out, true
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			it := rv.MapRange()
			for it.Next() {
				out[it.Key().String()] = normalize(it.Value().Interface())
			}
			return out, true
		}
	}
	return v, false
}
