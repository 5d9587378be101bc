package function

import (
	"math"
	"reflect"
	"time"

	"github.com/dop251/goja"
	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// Values cross between Runnel's message model and JavaScript by copy: a
// message (or context value) becomes fresh JavaScript objects when the code
// gets it, and what the code returns or sends becomes fresh Go values. So
// every message a function sends is a clone, as Node-RED's sends are, and no
// JavaScript object is ever shared with the rest of the flow.
//
// Objects come back as engine.RawJSON (their JSON text, key order kept, as
// Node-RED keeps insertion order): that is what downstream nodes read and
// publish fastest, and what Node-RED publishes for them. What JSON cannot
// hold is written as JSON.stringify writes it: a Buffer inside an object
// as {"type":"Buffer","data":[...]}, NaN and Infinity as null, a Date as
// its ISO text; functions and undefined properties are dropped. (So a
// Buffer inside an object reaches the next node as that object, not as
// bytes; a Buffer payload stays bytes.) Objects nested deeper than
// maxDepth, or cyclic, come back as map[string]any and []any, cut off.

var (
	typeBytes  = reflect.TypeOf([]byte(nil))
	typeFloat  = reflect.TypeOf(float64(0))
	typeInt    = reflect.TypeOf(int64(0))
	typeString = reflect.TypeOf("")
	typeBool   = reflect.TypeOf(false)
)

// toJS converts a message value to JavaScript.
func (f *fnVM) toJS(v any) goja.Value {
	switch x := v.(type) {
	case nil:
		return goja.Null()
	case jsv.UndefinedType:
		return goja.Undefined()
	case bool:
		return f.vm.ToValue(x)
	case float64:
		return f.vm.ToValue(x)
	case string:
		return f.vm.ToValue(x)
	case []byte:
		return f.bytesToJS(x)
	case engine.RawJSON:
		return f.gjsonToJS(gjson.Parse(rawString(x)))
	case map[string]any:
		o := f.vm.NewObject()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		engine.SortKeys(keys)
		for _, k := range keys {
			_ = o.Set(k, f.toJS(x[k]))
		}
		return o
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			items[i] = f.toJS(e)
		}
		return f.vm.NewArray(items...)
	}
	if n, ok := jsv.AsNumber(v); ok {
		return f.vm.ToValue(n)
	}
	return f.vm.ToValue(v)
}

// bytesToJS makes a Buffer holding a copy of b: the code may write into
// it, and b may be shared with other messages.
func (f *fnVM) bytesToJS(b []byte) goja.Value {
	if v := bufferToJS(f.vm, append([]byte(nil), b...)); v != nil {
		return v
	}
	ab := f.vm.NewArrayBuffer(append([]byte(nil), b...))
	if f.bufferFrom != nil {
		if v, err := f.bufferFrom(f.bufferCtor, f.vm.ToValue(ab)); err == nil {
			return v
		}
	}
	o, err := f.vm.New(f.uint8Ctor, f.vm.ToValue(ab))
	if err != nil {
		return goja.Undefined()
	}
	return o
}

func (f *fnVM) gjsonToJS(r gjson.Result) goja.Value {
	switch r.Type {
	case gjson.Null:
		return goja.Null()
	case gjson.False:
		return f.vm.ToValue(false)
	case gjson.True:
		return f.vm.ToValue(true)
	case gjson.Number:
		return f.vm.ToValue(r.Num)
	case gjson.String:
		return f.vm.ToValue(r.Str)
	}
	if r.IsArray() {
		var items []any
		r.ForEach(func(_, e gjson.Result) bool {
			items = append(items, f.gjsonToJS(e))
			return true
		})
		return f.vm.NewArray(items...)
	}
	return f.newJSONObject(r)
}

// fromJS converts a JavaScript value to a message value; undefined is
// jsv.Undefined.
func (f *fnVM) fromJS(v goja.Value) any {
	if v == nil || goja.IsUndefined(v) {
		return jsv.Undefined
	}
	if goja.IsNull(v) {
		return nil
	}
	o, ok := v.(*goja.Object)
	if !ok {
		return primitive(v)
	}
	if j, ok := f.recent.find(o).(*jsonObject); ok {
		// A view made for this message, as most returned payloads are:
		// not a buffer, handle or date.
		return f.viewJSON(o, j)
	}
	if b, ok := bufferBytes(o); ok {
		return b
	}
	if h, ok := asHandle(o); ok {
		return h
	}
	switch o.ClassName() {
	case "Date":
		return dateText(o)
	case "Function":
		return jsv.Undefined
	}
	if buf, ok := f.appendJSON(f.scratch[:0], o, 0); ok {
		f.scratch = buf[:0]
		return engine.RawJSON(append([]byte(nil), buf...))
	}
	return f.fromJSDeep(o, 0)
}

// viewJSON converts o, whose view is j, back to a message value.
func (f *fnVM) viewJSON(o *goja.Object, j *jsonObject) any {
	if buf, ok := j.appendJSON(f.scratch[:0], 0); ok {
		f.scratch = buf[:0]
		return engine.RawJSON(append([]byte(nil), buf...))
	}
	return f.fromJSDeep(o, 0)
}

// primitive converts a JavaScript primitive.
func primitive(v goja.Value) any {
	switch x := v.Export().(type) {
	case int64:
		return float64(x)
	case float64, string, bool:
		return x
	}
	return v.String() // symbols, big integers
}

// bufferBytes returns a copy of a Buffer's or Uint8Array's bytes.
func bufferBytes(o *goja.Object) ([]byte, bool) {
	// goja gives typed arrays the class name "Object": ask for the type.
	if o.ExportType() != typeBytes {
		return nil, false
	}
	b, _ := o.Export().([]byte)
	return append([]byte{}, b...), true
}

func dateText(o *goja.Object) any {
	if d, ok := o.Export().(time.Time); ok {
		return d.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return nil
}

// maxDepth bounds how deep a value is converted: deeper (or cyclic)
// structures are cut off there, as undefined.
const maxDepth = 200

// appendJSON appends o as JSON and reports whether it is wholly JSON.
func (f *fnVM) appendJSON(b []byte, o *goja.Object, depth int) ([]byte, bool) {
	if depth > maxDepth {
		return b, false
	}
	if v := f.asJSONObject(o); v != nil {
		return v.appendJSON(b, depth)
	}
	if o.ClassName() == "Array" {
		n := int(o.Get("length").ToInteger())
		b = append(b, '[')
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = f.appendValue(b, o.Get(itoa(i)), depth, true); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	b = append(b, '{')
	first := true
	for _, k := range o.Keys() {
		e := o.Get(k)
		if e == nil || goja.IsUndefined(e) {
			continue
		}
		if eo, ok := e.(*goja.Object); ok && eo.ClassName() == "Function" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = engine.AppendJSON(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = f.appendValue(b, e, depth, false); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

func (f *fnVM) appendValue(b []byte, e goja.Value, depth int, inArray bool) ([]byte, bool) {
	if e == nil || goja.IsUndefined(e) || goja.IsNull(e) {
		return append(b, "null"...), true
	}
	eo, ok := e.(*goja.Object)
	if !ok {
		switch e.ExportType() {
		case typeFloat, typeInt:
			n := e.ToFloat()
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return append(b, "null"...), true // as JSON.stringify writes them
			}
			return jsv.AppendNumber(b, n), true
		case typeString:
			return engine.AppendJSONString(b, e.String()), true
		case typeBool:
			if e.ToBoolean() {
				return append(b, "true"...), true
			}
			return append(b, "false"...), true
		}
		return engine.AppendJSON(b, primitive(e)), true
	}
	if _, isHandle := asHandle(eo); isHandle {
		return b, false // fromJSDeep keeps the live handle
	}
	if eo.ExportType() == typeBytes {
		// A Buffer inside an object: what its toJSON gives.
		bs, _ := eo.Export().([]byte)
		return engine.AppendJSON(b, bs), true
	}
	switch eo.ClassName() {
	case "Date":
		return engine.AppendJSON(b, dateText(eo)), true
	case "Function":
		return append(b, "null"...), inArray
	}
	return f.appendJSON(b, eo, depth+1)
}

// handleType is engine.Handle's type: a live resource in a message (an
// http-in request's msg.res) reaches the code as a Go object and must come
// back as itself, not as a copy of its fields.
var handleType = reflect.TypeOf((*engine.Handle)(nil)).Elem()

// asHandle returns the engine.Handle o wraps, if it wraps one.
func asHandle(o *goja.Object) (engine.Handle, bool) {
	t := o.ExportType()
	if t == nil || !t.Implements(handleType) {
		return nil, false
	}
	h, ok := o.Export().(engine.Handle)
	return h, ok
}

// fromJSDeep converts an object to map[string]any or []any.
func (f *fnVM) fromJSDeep(o *goja.Object, depth int) any {
	if depth > maxDepth {
		return jsv.Undefined
	}
	conv := func(e goja.Value) any {
		if eo, ok := e.(*goja.Object); ok {
			if b, ok := bufferBytes(eo); ok {
				return b
			}
			if h, ok := asHandle(eo); ok {
				return h
			}
			switch eo.ClassName() {
			case "Date":
				return dateText(eo)
			case "Function":
				return jsv.Undefined
			}
			return f.fromJSDeep(eo, depth+1)
		}
		return f.fromJS(e)
	}
	if o.ClassName() == "Array" {
		n := int(o.Get("length").ToInteger())
		out := make([]any, n)
		for i := range out {
			v := conv(o.Get(itoa(i)))
			if v == jsv.Undefined {
				v = nil
			}
			out[i] = v
		}
		return out
	}
	keys := o.Keys()
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v := conv(o.Get(k)); v != jsv.Undefined {
			out[k] = v
		}
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}
