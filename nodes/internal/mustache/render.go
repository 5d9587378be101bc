package mustache

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// Context supplies the data a template renders: the root view, which is an
// object whose properties are the top-level names ({{topic}},
// {{payload.t}}), and what names that nothing resolves turn into. Sections
// push further views on top of the root, as in mustache.js.
type Context interface {
	// Lookup returns the root view's property name and whether the root
	// view has it (JavaScript's `name in view`). name is one part of a
	// tag: "payload" for {{payload.t}}. The root view must not change
	// during a render: a run of tags reading the same name asks once.
	Lookup(name string) (Value, bool)
	// Fallback returns the value of a tag name that no view on the context
	// stack resolves, given as written in the tag ("env.HOME"). Return the
	// zero Value (undefined) to render nothing.
	Fallback(name string) Value
}

// Options change how a template renders.
type Options struct {
	// EscapeRootStrings makes string values found on the root view while
	// no section has pushed a view of its own escape backslash, newline,
	// tab, carriage return, form feed and backspace as \\ \n \t \r \f \b,
	// as Node-RED's template node does when it outputs JSON. Double quotes
	// are left alone, and values inside sections that push a view are not
	// escaped, as in Node-RED.
	EscapeRootStrings bool
}

// renderer is the state of one render: the context and the stack of views
// that sections pushed above the root.
type renderer struct {
	ctx   Context
	stack []Value
	opts  Options
	objs  objIndex
	root  rootCache
}

// rootCache is the last property read from the root view. A template
// often reads several properties of one top-level value
// ({{payload.a}} {{payload.b}}), and the root view does not change during
// a render, so it is asked once.
type rootCache struct {
	key string
	v   Value
	ok  bool
	set bool
}

// Render appends the template rendered against ctx to buf and returns the
// extended buffer. It never fails: names that do not resolve render as
// nothing, as in mustache.js.
func (t *Template) Render(buf []byte, ctx Context) []byte {
	return t.RenderWith(buf, ctx, Options{})
}

// RenderWith is Render with options.
func (t *Template) RenderWith(buf []byte, ctx Context, opts Options) []byte {
	r := renderers.Get().(*renderer)
	r.ctx, r.opts = ctx, opts
	buf = r.render(buf, t.nodes)
	r.ctx = nil
	r.objs.release() // nothing of the message stays reachable
	r.root = rootCache{}
	if cap(r.stack) <= 64 {
		renderers.Put(r)
	}
	return buf
}

// renderers recycles render states, so that rendering does not allocate.
var renderers = sync.Pool{New: func() any { return &renderer{stack: make([]Value, 0, 8)} }}

func (r *renderer) render(buf []byte, nodes []node) []byte {
	var v Value
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case nodeText:
			buf = append(buf, n.text...)
		case nodeEscaped:
			r.lookup(n.name, &v)
			buf = appendValue(buf, &v, true)
		case nodeRaw:
			r.lookup(n.name, &v)
			buf = appendValue(buf, &v, false)
		case nodeSection:
			buf = r.section(buf, n)
		case nodeInverted:
			r.lookup(n.name, &v)
			if !v.truthy() {
				buf = r.render(buf, n.children)
			} else if array, empty := v.isArray(); array && empty {
				buf = r.render(buf, n.children)
			}
		}
	}
	return buf
}

// section renders {{#name}}: nothing for a falsy value, the contents once
// per element of an array, once with the value pushed for an object,
// string or number, and once without a push for true.
func (r *renderer) section(buf []byte, n *node) []byte {
	var v Value
	r.lookup(n.name, &v)
	if !v.truthy() {
		return buf
	}
	switch v.k {
	case kBool:
		return r.render(buf, n.children)
	case kArrayJSON:
		gjson.Result{Type: gjson.JSON, Raw: v.s}.ForEach(func(_, e gjson.Result) bool {
			buf = r.with(buf, fromGJSON(e), n.children)
			return true
		})
		return buf
	case kGo:
		if a, ok := v.v.([]any); ok {
			for _, e := range a {
				buf = r.with(buf, ValueOf(e), n.children)
			}
			return buf
		}
	}
	return r.with(buf, v, n.children)
}

// with renders nodes with v pushed on the context stack.
func (r *renderer) with(buf []byte, v Value, nodes []node) []byte {
	r.stack = append(r.stack, v)
	buf = r.render(buf, nodes)
	r.stack[len(r.stack)-1] = Value{}
	r.stack = r.stack[:len(r.stack)-1]
	return buf
}

// lookup resolves a tag name into *out as mustache.js's Context.lookup
// does, from the innermost view out to the root, then through
// ctx.Fallback. Values are passed by pointer along the lookup chain: they
// are large enough that copying them was a good part of its cost.
func (r *renderer) lookup(n *name, out *Value) {
	if n.dot {
		if len(r.stack) > 0 {
			*out = r.stack[len(r.stack)-1]
		} else {
			*out = Value{k: kRoot}
		}
		return
	}
	for i := len(r.stack) - 1; i >= 0; i-- {
		if r.resolve(&r.stack[i], n, out) {
			return
		}
	}
	if r.resolveRoot(n, out) {
		if r.opts.EscapeRootStrings && len(r.stack) == 0 && out.k == kString {
			out.s = escapeStringNR(out.s)
		}
		return
	}
	*out = r.ctx.Fallback(n.full)
}

// resolve looks n up in one view. A dotted name resolves only if its last
// part exists: otherwise the lookup goes on to the next view out, even when
// the first parts exist (mustache.js differs from the spec here). A null
// view (a null element of an array section) has no properties; mustache.js
// throws there instead ("Cannot read properties of null").
//
// The value found goes to *out, which may be left changed when the name
// does not resolve.
func (r *renderer) resolve(view *Value, n *name, out *Value) bool {
	if n.parts == nil {
		return r.prop(view, &n.one, false, out)
	}
	if view.nullish() {
		return false
	}
	ok := r.prop(view, &n.parts[0], true, out)
	for i := 1; i < len(n.parts); i++ {
		if !ok || out.nullish() {
			return false
		}
		ok = r.prop(out, &n.parts[i], true, out)
	}
	return ok
}

// resolveRoot is resolve on the root view, with the steps that most
// templates take (a root property, then keys of JSON objects) called
// directly.
func (r *renderer) resolveRoot(n *name, out *Value) bool {
	if n.parts == nil {
		return r.rootPropTo(n.one.key, out)
	}
	// The root property is read where the cache holds it, not copied.
	cur, ok := r.rootProp(n.parts[0].key)
	for i := 1; i < len(n.parts); i++ {
		if !ok || cur.nullish() {
			return false
		}
		p := &n.parts[i]
		if cur.k == kObjectJSON && p.key != "" {
			ok = r.objs.lookupIn(cur.s, p.key, p.esc, out)
		} else {
			ok = r.prop(cur, p, true, out)
		}
		cur = out
	}
	return ok
}

// appendValue writes v as mustache.js writes a value: nothing for null
// and undefined, String(v) otherwise, HTML-escaped when escape is set.
func appendValue(buf []byte, v *Value, escape bool) []byte {
	if v.nullish() {
		return buf
	}
	return appendString(buf, v, escape)
}

// appendString writes JavaScript's String(v): numbers as JavaScript writes
// them, "[object Object]" for objects, and an array's elements joined by
// commas (null and undefined elements as nothing).
func appendString(buf []byte, v *Value, escape bool) []byte {
	switch v.k {
	case kUndefined:
		return append(buf, "undefined"...)
	case kNull:
		return append(buf, "null"...)
	case kBool:
		if v.b {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case kNumber:
		if v.s != "" {
			return append(buf, v.s...) // JSON text that JavaScript writes the same
		}
		return engine.AppendNumber(buf, v.n)
	case kString:
		if escape {
			return appendEscaped(buf, v.s)
		}
		return append(buf, v.s...)
	case kObjectJSON, kRoot:
		return append(buf, "[object Object]"...)
	case kArrayJSON:
		first := true
		gjson.Result{Type: gjson.JSON, Raw: v.s}.ForEach(func(_, e gjson.Result) bool {
			if !first {
				buf = append(buf, ',')
			}
			first = false
			ev := fromGJSON(e)
			buf = appendValue(buf, &ev, escape)
			return true
		})
		return buf
	}
	switch x := v.v.(type) {
	case map[string]any:
		return append(buf, "[object Object]"...)
	case []any:
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			ev := ValueOf(e)
			buf = appendValue(buf, &ev, escape)
		}
		return buf
	case []byte:
		// A Buffer's String() is Buffer.toString('utf8').
		if utf8.Valid(x) {
			return appendMaybeEscaped(buf, x, escape)
		}
		return appendMaybeEscaped(buf, jsutf8.AppendDecode(nil, x), escape)
	}
	return appendMaybeEscaped(buf, engine.MarshalJSON(v.v), escape)
}

func appendMaybeEscaped(buf, s []byte, escape bool) []byte {
	if escape {
		return appendEscaped(buf, unsafeString(s))
	}
	return append(buf, s...)
}

// appendEscaped writes s with mustache.js's escapeHtml: & < > " ' / ` =
// become entities.
func appendEscaped(buf []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] > '`' {
			continue // lower-case letters and above: none is escaped
		}
		var ent string
		switch s[i] {
		case '&':
			ent = "&amp;"
		case '<':
			ent = "&lt;"
		case '>':
			ent = "&gt;"
		case '"':
			ent = "&quot;"
		case '\'':
			ent = "&#39;"
		case '/':
			ent = "&#x2F;"
		case '`':
			ent = "&#x60;"
		case '=':
			ent = "&#x3D;"
		default:
			continue
		}
		buf = append(buf, s[start:i]...)
		buf = append(buf, ent...)
		start = i + 1
	}
	return append(buf, s[start:]...)
}

// escapeStringNR escapes a string the way Node-RED's template node does
// for JSON output: \ newline tab CR form-feed backspace, and nothing else.
func escapeStringNR(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool {
		return r == '\\' || r == '\n' || r == '\t' || r == '\r' || r == '\f' || r == '\b'
	})
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for j := i; j < len(s); j++ {
		switch c := s[j]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '\b':
			b.WriteString(`\b`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
