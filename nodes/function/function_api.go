package function

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dop251/goja"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// installAPI sets the globals of Node-RED's function sandbox.
func (f *fnVM) installAPI() {
	vm, h := f.vm, f.n.h
	set := func(o *goja.Object, name string, fn func(goja.FunctionCall) goja.Value) {
		_ = o.Set(name, fn)
	}

	node := vm.NewObject()
	f.node = node
	path, _ := h.Env("NR_NODE_PATH")
	_ = node.Set("id", h.ID())
	_ = node.Set("name", h.Name())
	_ = node.Set("path", path)
	_ = node.Set("outputCount", f.n.outputs)
	set(node, "send", func(c goja.FunctionCall) goja.Value {
		f.sendResults(c.Argument(0), f.curID(), c.Argument(1).ToBoolean())
		return goja.Undefined()
	})
	set(node, "done", func(goja.FunctionCall) goja.Value {
		f.nodeDone()
		return goja.Undefined()
	})
	set(node, "error", func(c goja.FunctionCall) goja.Value {
		var m *engine.Message
		if o, ok := c.Argument(1).(*goja.Object); ok {
			m = f.msgFromJS(o, f.curID())
		}
		f.reportErr(errors.New(f.errorText(c.Argument(0))), m)
		return goja.Undefined()
	})
	for name, lvl := range map[string]slog.Level{"log": slog.LevelInfo, "warn": slog.LevelWarn, "debug": slog.LevelDebug, "trace": slog.LevelDebug - 4} {
		lvl := lvl
		set(node, name, func(c goja.FunctionCall) goja.Value {
			h.Logger().Log(nil, lvl, f.errorText(c.Argument(0)))
			return goja.Undefined()
		})
	}
	set(node, "status", func(c goja.FunctionCall) goja.Value {
		f.statusUsed = true
		h.Status(f.status(c.Argument(0)))
		return goja.Undefined()
	})
	set(node, "on", func(c goja.FunctionCall) goja.Value {
		switch c.Argument(0).String() {
		case "input":
			panic(vm.NewGoError(errors.New("Cannot add listener to 'input' event within Function")))
		case "close":
			if fn, ok := goja.AssertFunction(c.Argument(1)); ok {
				f.closeFns = append(f.closeFns, fn)
			}
		}
		return goja.Undefined()
	})
	_ = vm.Set("node", node)

	_ = vm.Set("context", f.contextObject(h.Context))
	_ = vm.Set("flow", f.contextObject(h.FlowContext))
	_ = vm.Set("global", f.contextObject(h.GlobalContext))
	ctxObj := vm.Get("context").ToObject(vm)
	_ = ctxObj.Set("flow", vm.Get("flow"))
	_ = ctxObj.Set("global", vm.Get("global"))

	env := vm.NewObject()
	set(env, "get", func(c goja.FunctionCall) goja.Value {
		name := c.Argument(0).String()
		if _, ok := h.Env(name); !ok {
			return goja.Undefined()
		}
		return f.toJS(h.EnvValue(name))
	})
	_ = vm.Set("env", env)

	_ = vm.Set("setTimeout", func(c goja.FunctionCall) goja.Value { return f.addTimer(c, false) })
	_ = vm.Set("setInterval", func(c goja.FunctionCall) goja.Value { return f.addTimer(c, true) })
	_ = vm.Set("clearTimeout", f.clearTimer)
	_ = vm.Set("clearInterval", f.clearTimer)

	red := vm.NewObject()
	ru := vm.NewObject()
	set(ru, "cloneMessage", func(c goja.FunctionCall) goja.Value { return f.toJS(f.fromJS(c.Argument(0))) })
	set(ru, "generateId", func(goja.FunctionCall) goja.Value {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return vm.ToValue(hex.EncodeToString(b[:]))
	})
	set(ru, "getMessageProperty", func(c goja.FunctionCall) goja.Value {
		v, _ := f.walk(c.Argument(0), c.Argument(1).String(), false)
		return v
	})
	set(ru, "setMessageProperty", func(c goja.FunctionCall) goja.Value {
		create := c.Argument(3)
		createMissing := !goja.IsUndefined(c.Argument(2))
		if !goja.IsUndefined(create) {
			createMissing = create.ToBoolean()
		}
		return vm.ToValue(f.setProperty(c.Argument(0), c.Argument(1).String(), c.Argument(2), createMissing))
	})
	set(ru, "evaluateNodeProperty", func(c goja.FunctionCall) goja.Value {
		v, err := f.evaluate(c.Argument(0).String(), c.Argument(1).String(), c.Argument(3))
		if cb, ok := goja.AssertFunction(c.Argument(4)); ok {
			if err != nil {
				_, _ = cb(goja.Undefined(), vm.NewGoError(err))
			} else {
				_, _ = cb(goja.Undefined(), goja.Null(), v)
			}
			return goja.Undefined()
		}
		if err != nil {
			panic(vm.NewGoError(err))
		}
		return v
	})
	set(ru, "encodeObject", func(c goja.FunctionCall) goja.Value {
		o, ok := c.Argument(0).(*goja.Object)
		if !ok {
			return c.Argument(0)
		}
		v := f.fromJS(o.Get("msg"))
		out := vm.NewObject()
		for _, k := range o.Keys() {
			_ = out.Set(k, o.Get(k))
		}
		format := jsv.TypeName(v)
		switch x := v.(type) {
		case string:
			format = "string[" + itoa(len(x)) + "]"
			_ = out.Set("msg", x)
			_ = out.Set("format", format)
			return out
		case []byte:
			format = "buffer[" + itoa(len(x)) + "]"
			_ = out.Set("msg", hex.EncodeToString(x))
			_ = out.Set("format", format)
			return out
		case engine.RawJSON:
			if x.IsArray() {
				format = "array[" + itoa(len(x.Decode().([]any))) + "]"
			} else {
				format = "Object"
			}
		case map[string]any:
			format = "Object"
		case []any:
			format = "array[" + itoa(len(x)) + "]"
		}
		_ = out.Set("msg", string(engine.MarshalJSON(v)))
		_ = out.Set("format", format)
		return out
	})
	_ = red.Set("util", ru)
	_ = vm.Set("RED", red)
}

// status converts node.status's argument, as Node-RED does: a string,
// number or boolean is the text.
func (f *fnVM) status(v goja.Value) engine.Status {
	o, ok := v.(*goja.Object)
	if !ok {
		if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
			return engine.Status{}
		}
		return engine.Status{Text: v.String()}
	}
	str := func(k string) string {
		e := o.Get(k)
		if e == nil || goja.IsUndefined(e) || goja.IsNull(e) {
			return ""
		}
		return e.String()
	}
	return engine.Status{Fill: str("fill"), Shape: str("shape"), Text: str("text")}
}

// contextObject builds context, flow or global: get, set and keys, with
// an optional store name and an optional callback, as Node-RED has them.
func (f *fnVM) contextObject(scope func() *engine.Context) *goja.Object {
	vm := f.vm
	o := vm.NewObject()
	// args splits (store?, callback?) off the arguments from i.
	args := func(c goja.FunctionCall, i int) (store string, cb goja.Callable) {
		for ; i < len(c.Arguments); i++ {
			a := c.Arguments[i]
			if fn, ok := goja.AssertFunction(a); ok {
				return store, fn
			}
			if s, ok := a.Export().(string); ok && store == "" {
				store = s
			}
		}
		return store, nil
	}
	key := func(store, k string) string {
		if store == "" || store == "default" {
			return k
		}
		return "#:(" + store + ")::" + k
	}
	fail := func(cb goja.Callable, err error) goja.Value {
		if cb == nil {
			panic(vm.NewGoError(err))
		}
		_, _ = cb(goja.Undefined(), vm.NewGoError(err))
		return goja.Undefined()
	}
	_ = o.Set("get", func(c goja.FunctionCall) goja.Value {
		store, cb := args(c, 1)
		ctx := scope()
		get := func(k string) (goja.Value, error) {
			v, ok, err := ctxGet(ctx, store, key(store, k))
			if err != nil || !ok {
				return goja.Undefined(), err
			}
			return f.toJS(v), nil
		}
		var vals []goja.Value
		if ko, ok := c.Argument(0).(*goja.Object); ok && ko.ClassName() == "Array" {
			n := int(ko.Get("length").ToInteger())
			for i := 0; i < n; i++ {
				v, err := get(ko.Get(itoa(i)).String())
				if err != nil {
					return fail(cb, err)
				}
				vals = append(vals, v)
			}
			if cb == nil {
				items := make([]any, len(vals))
				for i, v := range vals {
					items[i] = v
				}
				return vm.NewArray(items...)
			}
		} else {
			v, err := get(c.Argument(0).String())
			if err != nil {
				return fail(cb, err)
			}
			if cb == nil {
				return v
			}
			vals = []goja.Value{v}
		}
		_, _ = cb(goja.Undefined(), append([]goja.Value{goja.Null()}, vals...)...)
		return goja.Undefined()
	})
	_ = o.Set("set", func(c goja.FunctionCall) goja.Value {
		store, cb := args(c, 2)
		ctx := scope()
		setOne := func(k string, v goja.Value) error {
			gv := f.fromJS(v)
			if gv == jsv.Undefined {
				gv = nil
			}
			return ctx.Set(key(store, k), gv)
		}
		var err error
		if ko, ok := c.Argument(0).(*goja.Object); ok && ko.ClassName() == "Array" {
			vo, _ := c.Argument(1).(*goja.Object)
			n := int(ko.Get("length").ToInteger())
			for i := 0; i < n && err == nil; i++ {
				var v goja.Value = goja.Undefined()
				if vo != nil {
					v = vo.Get(itoa(i))
				}
				err = setOne(ko.Get(itoa(i)).String(), v)
			}
		} else {
			err = setOne(c.Argument(0).String(), c.Argument(1))
		}
		if err != nil {
			return fail(cb, err)
		}
		if cb != nil {
			_, _ = cb(goja.Undefined(), goja.Null())
		}
		return goja.Undefined()
	})
	_ = o.Set("keys", func(c goja.FunctionCall) goja.Value {
		store, cb := args(c, 0)
		if store == "default" {
			store = ""
		}
		keys := scope().Keys(store)
		items := make([]any, len(keys))
		for i, k := range keys {
			items[i] = k
		}
		arr := vm.NewArray(items...)
		if cb != nil {
			_, _ = cb(goja.Undefined(), goja.Null(), arr)
			return goja.Undefined()
		}
		return arr
	})
	return o
}

// ctxGet reads a context key in store, refusing an unknown store.
func ctxGet(c *engine.Context, store, key string) (any, bool, error) {
	switch store {
	case "", "default", engine.ContextMemory, engine.ContextPersistent, "file":
	default:
		return nil, false, fmt.Errorf("unknown context store %q", store)
	}
	v, ok := c.Get(key)
	return v, ok, nil
}

// walk follows a Node-RED property path (with or without "msg.") in a
// JavaScript object, returning the value there (undefined when missing)
// and its parent and key.
func (f *fnVM) walk(root goja.Value, expr string, _ bool) (goja.Value, error) {
	segs, err := pathSegments(expr)
	if err != nil {
		panic(f.vm.NewGoError(err))
	}
	cur := root
	for i, s := range segs {
		o, ok := cur.(*goja.Object)
		if !ok {
			if i > 0 && (goja.IsUndefined(cur) || goja.IsNull(cur)) {
				// as Node-RED's getMessageProperty, which reads through
				// a missing object
				panic(f.vm.NewTypeError("Cannot read properties of %s (reading '%s')", cur.String(), s.Key))
			}
			return goja.Undefined(), nil
		}
		cur = o.Get(s.Key)
		if cur == nil {
			return goja.Undefined(), nil
		}
	}
	return cur, nil
}

func pathSegments(expr string) ([]engine.Segment, error) {
	if len(expr) > 4 && expr[:4] == "msg." {
		expr = expr[4:]
	}
	p, err := engine.ParsePath(expr)
	if err != nil {
		return nil, err
	}
	return p.Segments(), nil
}

// setProperty is RED.util.setMessageProperty: it sets (or, for
// undefined, deletes) the value at expr, creating missing objects and
// arrays when createMissing is set; it reports whether it did.
func (f *fnVM) setProperty(root goja.Value, expr string, v goja.Value, createMissing bool) bool {
	segs, err := pathSegments(expr)
	if err != nil {
		panic(f.vm.NewGoError(err))
	}
	cur, ok := root.(*goja.Object)
	if !ok {
		return false
	}
	for i, s := range segs[:len(segs)-1] {
		next := cur.Get(s.Key)
		no, isObj := next.(*goja.Object)
		if !isObj {
			if !createMissing {
				return false
			}
			if segs[i+1].IsIndex {
				no = f.vm.NewArray()
			} else {
				no = f.vm.NewObject()
			}
			_ = cur.Set(s.Key, no)
		}
		cur = no
	}
	last := segs[len(segs)-1].Key
	if v == nil || goja.IsUndefined(v) {
		_ = cur.Delete(last)
		return true
	}
	_ = cur.Set(last, v)
	return true
}

// evaluate is RED.util.evaluateNodeProperty for value of type typ.
func (f *fnVM) evaluate(value, typ string, msg goja.Value) (goja.Value, error) {
	t, err := engine.ParseTyped(typ, value)
	if err != nil {
		return nil, err
	}
	m := engine.NewMessage("", nil)
	if o, ok := msg.(*goja.Object); ok {
		m = f.msgFromJS(o, "")
	}
	v, err := t.Eval(f.n.h, m)
	if err != nil {
		return nil, err
	}
	return f.toJS(v), nil
}
