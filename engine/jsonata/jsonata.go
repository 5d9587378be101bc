// Package jsonata evaluates JSONata expressions the way Node-RED 4.1.15 does
// for its "jsonata" typed inputs (change, switch, inject, ...).
//
// It wraps github.com/blues/jsonata-go (a Go port of jsonata-js 1.5 with many
// later functions) and adds what Node-RED users rely on and the library lacks
// or gets wrong:
//
//   - Node-RED's own functions: $flowContext(key[, store]),
//     $globalContext(key[, store]), $env(name) and $clone(value), read
//     through an [Env] the caller provides; $moment fails with an error;
//   - Node-RED's legacy mode: an expression that mentions msg (as in
//     msg.payload) is evaluated against {"msg": message};
//   - jsonata-js behaviour for $string, & (15 significant digits, JavaScript
//     number formatting), comments, quoted path steps ("Product Name"), and a
//     ~> b(...) evaluated more than once;
//   - safety: one compiled [Expr] may be evaluated from many goroutines at
//     once, and a runaway expression (deep recursion, huge ranges, long loops)
//     ends with an error instead of hanging or crashing the process.
//
// Values in and out follow Runnel's value model: nil, bool, float64 (other Go
// numbers are accepted), string, []byte, map[string]any and []any. See
// docs/jsonata.md for the differences from jsonata-js that remain.
package jsonata

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"time"
	"unsafe"

	lib "github.com/blues/jsonata-go"
	"github.com/blues/jsonata-go/jparse"
)

// Env is what an expression can see of the world beyond its input. The engine
// implements it; a nil Env behaves as Node-RED does for an expression
// evaluated without a node: context reads and $env return "".
type Env interface {
	// FlowContext returns the flow context value under key in the named
	// store ("" for the default store). A missing key is (nil, nil).
	FlowContext(key, store string) (any, error)
	// GlobalContext is FlowContext for the global context.
	GlobalContext(key, store string) (any, error)
	// EnvVar returns the value of a flow, group or process environment
	// variable, and whether it is set.
	EnvVar(name string) (any, bool)
	// Bindings returns extra variables for this evaluation, keyed without
	// the $ (for example "A", "I", "N" for the join node's reduce
	// expression). It may return nil.
	Bindings() map[string]any
}

// Limits bound one evaluation. A zero field takes its default.
type Limits struct {
	// MaxDepth is the deepest nesting of function (lambda) calls.
	// Default 10000.
	MaxDepth int
	// MaxRangeItems is the total number of items all range operators
	// ([a..b]) of one evaluation may produce. Default 1000000.
	MaxRangeItems int
	// Timeout is how long one evaluation may run; it is checked at each
	// function call and range. Default 10 s.
	Timeout time.Duration
}

// DefaultLimits are the limits Compile uses.
var DefaultLimits = Limits{MaxDepth: 10000, MaxRangeItems: 1000000, Timeout: 10 * time.Second}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxRangeItems <= 0 {
		l.MaxRangeItems = DefaultLimits.MaxRangeItems
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultLimits.Timeout
	}
	return l
}

// SyntaxError is returned by Compile for an expression that does not parse.
type SyntaxError struct {
	Position int    // byte offset in the expression, 0-based
	Message  string // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("JSONata syntax error at position %d: %s", e.Position, e.Message)
}

// Expr is a compiled JSONata expression. It is safe for concurrent use.
type Expr struct {
	src    string
	base   lib.Expr // the rewritten program; its registry stays nil
	legacy bool     // evaluate against {"msg": input}
	limits Limits
	exts   map[string]bool // the extension functions the program calls
	shared []string        // library built-ins it refers to, cloned per instance
	pool   sync.Pool       // *instance
	order  *KeyOrder       // see KeyOrder
}

// legacyRE is Node-RED's test for an expression written against msg.
var legacyRE = regexp.MustCompile(`(^|[^a-zA-Z0-9_'".])msg([^a-zA-Z0-9_'"]|$)`)

// Compile parses src with DefaultLimits.
func Compile(src string) (*Expr, error) {
	return CompileLimits(src, DefaultLimits)
}

// CompileLimits parses src; evaluations are bounded by lim.
func CompileLimits(src string, lim Limits) (*Expr, error) {
	clean, err := preprocess(src)
	if err != nil {
		return nil, err
	}
	c, err := lib.Compile(clean)
	if err != nil {
		var pe *jparse.Error
		if errors.As(err, &pe) {
			return nil, &SyntaxError{Position: pe.Position, Message: pe.Error()}
		}
		return nil, &SyntaxError{Message: err.Error()}
	}
	e := &Expr{src: src, legacy: legacyRE.MatchString(src), limits: lim.withDefaults()}
	e.base = *c
	if !registryNil(&e.base) {
		return nil, errors.New("jsonata: the library's global registry is in use; jsonata-go's RegisterExts must not be called")
	}
	root := astRoot(&e.base)
	if !e.legacy {
		e.order = orderOf(*root)
	}
	rw := rewriter{vars: map[string]bool{}, exts: map[string]bool{}}
	*root = rw.node(*root)
	e.exts = rw.exts
	for name := range rw.vars {
		if nodeRedFuncs[name] || replaced[name] {
			e.exts[name] = true
		} else if isBuiltin(name) {
			e.shared = append(e.shared, name)
		}
	}
	return e, nil
}

// String returns the source the expression was compiled from.
func (e *Expr) String() string { return e.src }

// Eval evaluates the expression against input (normally a message) and
// returns its result in the value model. An expression with no result (JSONata
// "undefined") returns (nil, nil), as Node-RED then sets the property to
// undefined; use EvalDefined to tell the two apart.
func (e *Expr) Eval(input any, env Env) (any, error) {
	v, _, err := e.EvalDefined(input, env)
	return v, err
}

// EvalDefined is Eval that also says whether the result is defined.
func (e *Expr) EvalDefined(input any, env Env) (result any, defined bool, err error) {
	in := e.getInstance()
	panicked := true
	defer func() {
		// An instance whose evaluation panicked may be in any state: it is
		// dropped, not reused.
		if !panicked {
			e.pool.Put(in)
		}
	}()
	in.st = evalState{env: env, limits: e.limits, deadline: time.Now().Add(e.limits.Timeout), los: in.st.los[:0]}
	defer func() { in.st.env = nil }()
	if err := in.bind(env); err != nil {
		panicked = false
		return nil, false, err
	}
	data := toLib(input)
	if e.legacy {
		data = map[string]any{"msg": data}
	}
	defer func() {
		if r := recover(); r != nil {
			result, defined, err = nil, false, fmt.Errorf("jsonata: evaluation failed: %v", r)
		}
	}()
	v, err := in.e.Eval(data)
	panicked = false
	if errors.Is(err, lib.ErrUndefined) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("jsonata: %w", err)
	}
	return fromLib(v), true, nil
}

// instance is one evaluator: a copy of the program with its own copies of the
// library's function objects (which the library mutates on each call) and of
// the extensions, used by one goroutine at a time.
type instance struct {
	e     lib.Expr
	st    evalState
	bound map[string]bool // user bindings set on e by the last evaluation
}

func (e *Expr) getInstance() *instance {
	if in, ok := e.pool.Get().(*instance); ok {
		return in
	}
	in := &instance{e: e.base}
	vars := map[string]any{}
	for _, name := range e.shared {
		vars[name] = cloneBuiltin(name)
	}
	exts := map[string]lib.Extension{}
	for name := range e.exts {
		exts[name] = extension(name, &in.st)
	}
	if len(exts) > 0 {
		if err := in.e.RegisterExts(exts); err != nil {
			panic(err) // the extensions are ours: a failure is a bug
		}
	}
	if len(vars) > 0 {
		if err := in.e.RegisterVars(vars); err != nil {
			panic(err)
		}
	}
	return in
}

// bind sets the environment's extra bindings on the instance, unsetting those
// a previous evaluation bound.
func (in *instance) bind(env Env) error {
	var b map[string]any
	if env != nil {
		b = env.Bindings()
	}
	if len(b) == 0 && len(in.bound) == 0 {
		return nil
	}
	vars := make(map[string]any, len(b)+len(in.bound))
	for name := range in.bound {
		vars[name] = nil // reflect.ValueOf(nil) is JSONata's undefined
	}
	if in.bound == nil {
		in.bound = map[string]bool{}
	}
	clear(in.bound)
	for name, v := range b {
		vars[name] = toLib(v)
		in.bound[name] = true
	}
	if err := in.e.RegisterVars(vars); err != nil {
		return fmt.Errorf("jsonata: bindings: %w", err)
	}
	return nil
}

// The library keeps a compiled program and its registry in unexported
// fields. Two things need them: the program is rewritten once after parsing
// (see rewrite.go), and each instance must start with no registry of its own.
var (
	exprType   = reflect.TypeOf(lib.Expr{})
	nodeField  reflect.StructField
	regField   reflect.StructField
	fieldsOnce = func() bool {
		var ok1, ok2 bool
		nodeField, ok1 = exprType.FieldByName("node")
		regField, ok2 = exprType.FieldByName("registry")
		if !ok1 || !ok2 || nodeField.Type != reflect.TypeOf((*jparse.Node)(nil)).Elem() || regField.Type.Kind() != reflect.Map {
			panic("jsonata: unexpected layout of jsonata-go's Expr; update engine/jsonata for the new library version")
		}
		return true
	}()
)

func astRoot(e *lib.Expr) *jparse.Node {
	return (*jparse.Node)(unsafe.Add(unsafe.Pointer(e), nodeField.Offset))
}

func registryNil(e *lib.Expr) bool {
	return reflect.ValueOf(e).Elem().FieldByIndex(regField.Index).IsNil()
}
