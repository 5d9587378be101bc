package engine

import (
	"slices"

	"github.com/runnel-io/runnel/engine/exprlang"
	"github.com/runnel-io/runnel/engine/jsonata"
)

// evaluator computes a typed value for a message.
type evaluator = func(h *Host, m *Message) (any, error)

// compileJSONata compiles a JSONata expression (see package jsonata) into
// an evaluator that runs it against the whole message, decoded, with
// Node-RED's $flowContext, $globalContext and $env reading through the
// node's Host.
func compileJSONata(src string) (evaluator, error) {
	e, err := jsonata.Compile(src)
	if err != nil {
		return nil, err
	}
	order := e.KeyOrder()
	return func(h *Host, m *Message) (any, error) {
		v, err := e.Eval(PlainMessage(m), jsonataEnv{h: h})
		if err != nil || order == nil {
			return v, err
		}
		return OrderedJSONata(v, order), nil
	}, nil
}

// OrderedJSONata returns v, the result of a JSONata expression whose key
// order is order (see jsonata.Expr.KeyOrder), as JSON text with the keys
// in the order the expression writes them, as JavaScript keeps them; v
// itself when it is not an object.
func OrderedJSONata(v any, order *jsonata.KeyOrder) any {
	obj, ok := v.(map[string]any)
	if !ok || order == nil {
		return v
	}
	return CanonicalJSON(RawJSON(appendOrdered(nil, obj, order)))
}

// appendOrdered writes obj with the keys of order first, in that order,
// then any others sorted.
func appendOrdered(b []byte, obj map[string]any, order *jsonata.KeyOrder) []byte {
	b = append(b, '{')
	first := true
	member := func(k string, v any) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		if sub, ok := v.(map[string]any); ok && order.Nested[k] != nil {
			b = appendOrdered(b, sub, order.Nested[k])
			return
		}
		b = AppendJSON(b, v)
	}
	done := make(map[string]bool, len(order.Keys))
	for _, k := range order.Keys {
		if v, ok := obj[k]; ok {
			member(k, v)
			done[k] = true
		}
	}
	if len(done) < len(obj) {
		rest := make([]string, 0, len(obj)-len(done))
		for k := range obj {
			if !done[k] {
				rest = append(rest, k)
			}
		}
		slices.Sort(rest)
		for _, k := range rest {
			member(k, obj[k])
		}
	}
	return append(b, '}')
}

// EvalJSONata evaluates a compiled JSONata expression against input (a
// message as PlainMessage gives it, or any plain value) for the node h,
// with extra variables (join's $A, $I, $N; switch's sequence rules), as
// nodes with expressions of their own need.
func EvalJSONata(e *jsonata.Expr, h *Host, input any, bindings map[string]any) (any, error) {
	v, err := e.Eval(PlainValue(input), jsonataEnv{h: h, bind: bindings})
	if err != nil {
		return nil, err
	}
	return OrderedJSONata(v, e.KeyOrder()), nil
}

// jsonataEnv gives JSONata expressions the node's context and
// environment.
type jsonataEnv struct {
	h    *Host
	bind map[string]any
}

func (e jsonataEnv) get(c *Context, key, store string) (any, error) {
	if e.h == nil {
		return nil, nil
	}
	if store != "" {
		key = "#:(" + store + ")::" + key
	}
	v, _ := c.Get(key)
	return PlainValue(v), nil
}

func (e jsonataEnv) FlowContext(key, store string) (any, error) {
	if e.h == nil {
		return nil, nil
	}
	return e.get(e.h.FlowContext(), key, store)
}

func (e jsonataEnv) GlobalContext(key, store string) (any, error) {
	if e.h == nil {
		return nil, nil
	}
	return e.get(e.h.GlobalContext(), key, store)
}

func (e jsonataEnv) EnvVar(name string) (any, bool) {
	if e.h == nil {
		return nil, false
	}
	return e.h.Env(name)
}

func (e jsonataEnv) Bindings() map[string]any { return e.bind }

// PlainMessage returns the whole message as one decoded object (see
// PlainValue), as expressions see msg.
func PlainMessage(m *Message) map[string]any {
	v := m.Value()
	for k, x := range v {
		v[k] = PlainValue(x)
	}
	return v
}

// PlainValue returns v with every RawJSON in it decoded, so that code
// that walks values (expressions) sees only map[string]any, []any and
// scalars. Containers without RawJSON in them are returned as they are.
func PlainValue(v any) any {
	if !hasRawJSON(v) {
		return v
	}
	switch x := v.(type) {
	case RawJSON:
		return x.Decode()
	case map[string]any:
		cp := make(map[string]any, len(x))
		for k, e := range x {
			cp[k] = PlainValue(e)
		}
		return cp
	case []any:
		cp := make([]any, len(x))
		for i, e := range x {
			cp[i] = PlainValue(e)
		}
		return cp
	}
	return v
}

func hasRawJSON(v any) bool {
	switch x := v.(type) {
	case RawJSON:
		return true
	case map[string]any:
		for _, e := range x {
			if hasRawJSON(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasRawJSON(e) {
				return true
			}
		}
	}
	return false
}

// compileExpr compiles an expr-lang expression (see package exprlang)
// into an evaluator that reads the message, the node's flow and global
// context and its environment.
func compileExpr(src string) (evaluator, error) {
	p, err := exprlang.Compile(src)
	if err != nil {
		return nil, err
	}
	return func(h *Host, m *Message) (any, error) {
		return p.Eval(&exprEnv{h: h, m: m})
	}, nil
}

// exprEnv is what an expr expression sees.
type exprEnv struct {
	h *Host
	m *Message
}

func (e *exprEnv) Prop(name string) (any, bool) {
	if e.m == nil {
		return nil, false
	}
	return e.m.Prop(name)
}

func (e *exprEnv) Message() map[string]any {
	if e.m == nil {
		return nil
	}
	return e.m.Value()
}

func (e *exprEnv) context(c *Context, key, store string) (any, bool) {
	if store != "" {
		key = "#:(" + store + ")::" + key
	}
	return c.Get(key)
}

func (e *exprEnv) Flow(key, store string) (any, bool) {
	if e.h == nil {
		return nil, false
	}
	return e.context(e.h.FlowContext(), key, store)
}

func (e *exprEnv) Global(key, store string) (any, bool) {
	if e.h == nil {
		return nil, false
	}
	return e.context(e.h.GlobalContext(), key, store)
}

func (e *exprEnv) Env(name string) (any, bool) {
	if e.h == nil {
		return nil, false
	}
	return e.h.Env(name)
}
