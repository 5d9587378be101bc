package function

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/token"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// The straight-line path runs the commonest function bodies without
// goja: code that reads and sets message properties, computes with
// numbers and strings, and returns msg, such as
//
//	const t = msg.payload.temperature;
//	msg.payload.fahrenheit = t * 1.8 + 32;
//	msg.payload.device = msg.topic.split('/')[1];
//	return msg;
//
// compileFast accepts a body only when every statement and expression in
// it is one it knows: variable declarations at the top level, assignments
// (=, +=, -=, *=, /=, %=, ++, --), delete, if/else, return of msg, null
// or an array of those; literals, object literals, template literals,
// arithmetic, comparison, logical and conditional operators, typeof,
// property reads, and a few methods (String's split, toUpperCase,
// toLowerCase, trim, includes, startsWith, endsWith, indexOf; Math's
// round, floor, ceil, trunc, abs, sqrt, min, max). Such code has no loop,
// no call out of the node and no side effect but on msg, so it can run
// on a view of the message and decide at any point to give up: anything
// it does not handle at run time (reading a property of undefined, which
// throws; an array; a string that is not valid UTF-8; a string with other
// than ASCII converted to a number, or compared) makes it give up before
// anything left the node, and goja runs the message from the start, with
// its exact semantics and errors. Every result it does give is what goja
// would give: TestFastMatchesGoja runs both on the same messages.
//
// The path is only taken when goja would run the body as a plain
// function with nothing around it: no await, no node.done, no On Start
// code (which could change the globals the body uses).

// fexpr evaluates an expression; false: give up.
type fexpr func(r *frun) (fv, bool)

// fctl is what a statement tells the statements after it.
type fctl uint8

const (
	fNext fctl = iota
	fReturn
	fGiveUp
)

// fstmt runs a statement.
type fstmt func(r *frun) fctl

// fastProg is a compiled straight-line body.
type fastProg struct {
	body    []fstmt
	nlocals int
}

// frun is the state of one straight-line run; the node keeps one and
// reuses it (under its lock).
type frun struct {
	msg      mview
	locals   []fv
	objs     []*fobj // the objects of this run, reused
	nobj     int
	arena    []fv      // the arrays of this run (split)
	args     []fv      // the arguments of the calls in progress, a stack
	nums     []float64 // Math's arguments as numbers, a stack
	ports    []int
	out      []outProp
	topicOut bool
	scratch  []byte
}

// reset readies r for a message.
func (r *frun) reset(nlocals int) {
	for _, o := range r.objs[:r.nobj] {
		o.ents = emptied(o.ents)
		o.indexKeys = false
	}
	r.nobj = 0
	r.arena = emptied(r.arena)
	r.args, r.nums = r.args[:0], r.nums[:0]
	if cap(r.locals) < nlocals {
		r.locals = make([]fv, nlocals)
	}
	r.locals = r.locals[:nlocals]
	for i := range r.locals {
		r.locals[i] = undefV
	}
	r.ports = r.ports[:0]
}

// release drops what the run read, so that the message's values do not
// stay reachable from the node (but for the scratch's bytes).
func (r *frun) release() {
	for _, o := range r.objs[:r.nobj] {
		o.ents = emptied(o.ents)
	}
	r.nobj = 0
	r.msg.ents = emptied(r.msg.ents)
	r.arena = emptied(r.arena)
	r.args = emptied(r.args)
	clear(r.locals)
	clear(r.out)
	r.out = r.out[:0]
	// the scratch keeps the last object written, as the goja path's
	// does; a large one is let go
	if cap(r.scratch) > 4<<10 {
		r.scratch = nil
	}
}

// run runs the body for m's view; false: give up.
func (p *fastProg) run(r *frun, m *engine.Message) bool {
	r.reset(p.nlocals)
	r.msg.fill(m)
	for _, s := range p.body {
		switch s(r) {
		case fReturn:
			return true
		case fGiveUp:
			return false
		}
	}
	return true
}

// fcomp compiles a body.
type fcomp struct {
	locals map[string]flocal
	n      int
	// declared holds every name the body declares at its top level:
	// declarations are hoisted, so such a name means the local even
	// before its declaration (undefined for var, an error for let and
	// const), never a global of that name.
	declared map[string]bool
}

type flocal struct {
	slot  int
	konst bool
}

// compileFast compiles code for the straight-line path, or returns nil
// when it has anything the path does not handle.
func compileFast(code string) *fastProg {
	fn := parseBody(code)
	if fn == nil {
		return nil
	}
	c := &fcomp{locals: map[string]flocal{}, declared: map[string]bool{}}
	for _, s := range fn.Body.List {
		var list []*ast.Binding
		switch s := s.(type) {
		case *ast.VariableStatement:
			list = s.List
		case *ast.LexicalDeclaration:
			list = s.List
		}
		for _, b := range list {
			if id, ok := b.Target.(*ast.Identifier); ok {
				c.declared[id.Name.String()] = true
			}
		}
	}
	var body []fstmt
	for _, s := range fn.Body.List {
		var f fstmt
		switch s := s.(type) {
		case *ast.VariableStatement:
			f = c.declare(s.List, false)
		case *ast.LexicalDeclaration:
			f = c.declare(s.List, s.Token == token.CONST)
		default:
			f = c.stmt(s)
		}
		if f == nil {
			return nil
		}
		body = append(body, f)
	}
	return &fastProg{body: body, nlocals: c.n}
}

// declare compiles a top-level declaration; each name is declared once,
// after its initializer (so that the initializer cannot see it).
func (c *fcomp) declare(list []*ast.Binding, konst bool) fstmt {
	type init struct {
		slot int
		e    fexpr
	}
	var inits []init
	for _, b := range list {
		id, ok := b.Target.(*ast.Identifier)
		if !ok {
			return nil
		}
		name := id.Name.String()
		if _, dup := c.locals[name]; dup || name == "msg" || name == "arguments" {
			return nil
		}
		e := fexpr(func(*frun) (fv, bool) { return undefV, true })
		if b.Initializer != nil {
			if e = c.expr(b.Initializer); e == nil {
				return nil
			}
		}
		c.locals[name] = flocal{slot: c.n, konst: konst}
		inits = append(inits, init{c.n, e})
		c.n++
	}
	return func(r *frun) fctl {
		for _, in := range inits {
			v, ok := in.e(r)
			if !ok {
				return fGiveUp
			}
			r.locals[in.slot] = v
		}
		return fNext
	}
}

// stmt compiles a statement below the top level or one that declares
// nothing.
func (c *fcomp) stmt(s ast.Statement) fstmt {
	switch s := s.(type) {
	case *ast.EmptyStatement:
		return func(*frun) fctl { return fNext }
	case *ast.ExpressionStatement:
		if _, directive := s.Expression.(*ast.StringLiteral); directive {
			return nil // "use strict" and friends
		}
		e := c.expr(s.Expression)
		if e == nil {
			return nil
		}
		return func(r *frun) fctl {
			if _, ok := e(r); !ok {
				return fGiveUp
			}
			return fNext
		}
	case *ast.BlockStatement:
		var list []fstmt
		for _, x := range s.List {
			f := c.stmt(x)
			if f == nil {
				return nil
			}
			list = append(list, f)
		}
		return func(r *frun) fctl {
			for _, f := range list {
				if ctl := f(r); ctl != fNext {
					return ctl
				}
			}
			return fNext
		}
	case *ast.IfStatement:
		test := c.expr(s.Test)
		then := c.stmt(s.Consequent)
		if test == nil || then == nil {
			return nil
		}
		var alt fstmt
		if s.Alternate != nil {
			if alt = c.stmt(s.Alternate); alt == nil {
				return nil
			}
		}
		return func(r *frun) fctl {
			v, ok := test(r)
			if !ok {
				return fGiveUp
			}
			if v.truthy() {
				return then(r)
			}
			if alt != nil {
				return alt(r)
			}
			return fNext
		}
	case *ast.ReturnStatement:
		return c.ret(s.Argument)
	}
	return nil
}

// ret compiles return: of msg, null, undefined, or an array of those (one
// per output), as fnVM.sendResults sends them.
func (c *fcomp) ret(arg ast.Expression) fstmt {
	if arg == nil {
		return func(*frun) fctl { return fReturn }
	}
	if a, ok := arg.(*ast.ArrayLiteral); ok {
		for _, x := range a.Value {
			if x == nil || !c.mayBeMsg(x) {
				return nil // a hole, or what is sent otherwise
			}
		}
		elems, ok := c.exprs(a.Value)
		if !ok {
			return nil
		}
		return func(r *frun) fctl {
			for port, e := range elems {
				v, ok := e(r)
				if !ok {
					return fGiveUp
				}
				switch {
				case v.k == fMsg:
					r.ports = append(r.ports, port)
				case v.isPrimitive() && !v.truthy():
				default:
					return fGiveUp
				}
			}
			return fReturn
		}
	}
	if !c.mayBeMsg(arg) {
		return nil
	}
	e := c.expr(arg)
	if e == nil {
		return nil
	}
	return func(r *frun) fctl {
		v, ok := e(r)
		if !ok {
			return fGiveUp
		}
		switch v.k {
		case fMsg:
			r.ports = append(r.ports, 0)
		case fUndef, fNull:
		default:
			return fGiveUp
		}
		return fReturn
	}
}

// mayBeMsg reports whether a returned expression may be what the path
// sends: msg, null, undefined, a local (which may hold msg), or a
// conditional choosing between those. The rest (an object literal, a
// number) is sent, or refused, as goja does.
func (c *fcomp) mayBeMsg(e ast.Expression) bool {
	switch e := e.(type) {
	case *ast.NullLiteral:
		return true
	case *ast.Identifier:
		name := e.Name.String()
		_, local := c.locals[name]
		return local || name == "msg" || name == "undefined"
	case *ast.ConditionalExpression:
		return c.mayBeMsg(e.Consequent) && c.mayBeMsg(e.Alternate)
	}
	return false
}

// constant returns an expression of a fixed value.
func constant(v fv) fexpr { return func(*frun) (fv, bool) { return v, true } }

// literalString returns a string literal's text, unless it holds what a
// Go string cannot (a lone surrogate).
func literalString(s string) (string, bool) {
	return s, !strings.ContainsRune(s, utf8.RuneError)
}

// expr compiles an expression, or returns nil.
func (c *fcomp) expr(e ast.Expression) fexpr {
	switch e := e.(type) {
	case *ast.NumberLiteral:
		switch x := e.Value.(type) {
		case int64:
			return constant(numV(float64(x)))
		case float64:
			return constant(numV(x))
		}
		return nil
	case *ast.StringLiteral:
		s, ok := literalString(e.Value.String())
		if !ok {
			return nil
		}
		return constant(strV(s))
	case *ast.BooleanLiteral:
		return constant(boolV(e.Value))
	case *ast.NullLiteral:
		return constant(nullV)
	case *ast.Identifier:
		return c.ident(e.Name.String())
	case *ast.TemplateLiteral:
		return c.template(e)
	case *ast.ObjectLiteral:
		return c.object(e)
	case *ast.DotExpression:
		key := e.Identifier.Name.String()
		if !c.safeBase(e.Left) || prototypeName[key] {
			return nil
		}
		base := c.expr(e.Left)
		if base == nil {
			return nil
		}
		return func(r *frun) (fv, bool) {
			b, ok := base(r)
			if !ok {
				return fv{}, false
			}
			return r.member(b, key)
		}
	case *ast.BracketExpression:
		if !c.safeBase(e.Left) {
			return nil
		}
		if k, ok := e.Member.(*ast.StringLiteral); ok && prototypeName[k.Value.String()] {
			return nil
		}
		base, key := c.expr(e.Left), c.expr(e.Member)
		if base == nil || key == nil {
			return nil
		}
		return func(r *frun) (fv, bool) {
			b, ok := base(r)
			if !ok {
				return fv{}, false
			}
			k, ok := key(r)
			if !ok || !k.isPrimitive() {
				return fv{}, false
			}
			return r.member(b, jsv.ToString(k.primitive()))
		}
	case *ast.AssignExpression:
		return c.assign(e)
	case *ast.BinaryExpression:
		return c.binary(e)
	case *ast.UnaryExpression:
		return c.unary(e)
	case *ast.ConditionalExpression:
		test, a, b := c.expr(e.Test), c.expr(e.Consequent), c.expr(e.Alternate)
		if test == nil || a == nil || b == nil {
			return nil
		}
		return func(r *frun) (fv, bool) {
			v, ok := test(r)
			if !ok {
				return fv{}, false
			}
			if v.truthy() {
				return a(r)
			}
			return b(r)
		}
	case *ast.SequenceExpression:
		list, ok := c.exprs(e.Sequence)
		if !ok {
			return nil
		}
		return func(r *frun) (v fv, ok bool) {
			for _, f := range list {
				if v, ok = f(r); !ok {
					return v, false
				}
			}
			return v, true
		}
	case *ast.CallExpression:
		return c.call(e)
	}
	return nil
}

// prototypeName are the property names that lead to a prototype: code
// that names one is left to goja, because goja's run of a message the
// path gave up on could then change a prototype (msg.payload.__proto__.z
// = 1), which later runs of the path would not see.
var prototypeName = map[string]bool{"__proto__": true, "constructor": true, "prototype": true}

// safeKey reports whether a computed key is a literal that names no
// prototype.
func safeKey(e ast.Expression) bool {
	switch k := e.(type) {
	case *ast.StringLiteral:
		return !prototypeName[k.Value.String()]
	case *ast.NumberLiteral:
		return true
	}
	return false
}

// safeBase reports whether e may be the object of a property access: a
// computed key there (msg.payload[k].z) could name a prototype, so it
// must be a literal; a computed read at the end of a chain (msg.payload[k])
// may be anything, as reading a prototype makes the path give up.
func (c *fcomp) safeBase(e ast.Expression) bool {
	switch e := e.(type) {
	case *ast.BracketExpression:
		return safeKey(e.Member)
	}
	return true
}

// exprs compiles a list of expressions; false when one does not compile.
func (c *fcomp) exprs(list []ast.Expression) ([]fexpr, bool) {
	out := make([]fexpr, 0, len(list))
	for _, x := range list {
		f := c.expr(x)
		if f == nil {
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

// ident compiles a variable: a local, msg, or undefined, NaN, Infinity.
func (c *fcomp) ident(name string) fexpr {
	if l, ok := c.locals[name]; ok {
		slot := l.slot
		return func(r *frun) (fv, bool) { return r.locals[slot], true }
	}
	if c.declared[name] {
		return nil // used before its declaration: hoisting, goja
	}
	switch name {
	case "msg":
		return constant(fv{k: fMsg})
	case "undefined":
		return constant(undefV)
	case "NaN":
		return constant(numV(math.NaN()))
	case "Infinity":
		return constant(numV(math.Inf(1)))
	}
	return nil
}

// template compiles an untagged template literal.
func (c *fcomp) template(e *ast.TemplateLiteral) fexpr {
	if e.Tag != nil || len(e.Elements) != len(e.Expressions)+1 {
		return nil
	}
	var texts []string
	for _, el := range e.Elements {
		if !el.Valid {
			return nil
		}
		s, ok := literalString(el.Parsed.String())
		if !ok {
			return nil
		}
		texts = append(texts, s)
	}
	parts, ok := c.exprs(e.Expressions)
	if !ok {
		return nil
	}
	return func(r *frun) (fv, bool) {
		var b strings.Builder
		b.WriteString(texts[0])
		for i, f := range parts {
			v, ok := f(r)
			if !ok || !v.isPrimitive() {
				return fv{}, false
			}
			s := jsv.ToString(v.primitive())
			if b.Len()+len(s)+len(texts[i+1]) > maxFastString {
				return fv{}, false
			}
			b.WriteString(s)
			b.WriteString(texts[i+1])
		}
		return strV(b.String()), true
	}
}

// object compiles an object literal of plain properties.
func (c *fcomp) object(e *ast.ObjectLiteral) fexpr {
	type prop struct {
		key string
		val fexpr
	}
	var props []prop
	for _, p := range e.Value {
		switch p := p.(type) {
		case *ast.PropertyKeyed:
			if p.Kind != ast.PropertyKindValue || p.Computed {
				return nil
			}
			var key string
			switch k := p.Key.(type) {
			case *ast.Identifier:
				key = k.Name.String()
			case *ast.StringLiteral:
				s, ok := literalString(k.Value.String())
				if !ok {
					return nil
				}
				key = s
			case *ast.NumberLiteral:
				switch x := k.Value.(type) {
				case int64:
					key = jsv.FormatNumber(float64(x))
				case float64:
					key = jsv.FormatNumber(x)
				default:
					return nil
				}
			default:
				return nil
			}
			if key == "__proto__" {
				return nil // sets the prototype
			}
			v := c.expr(p.Value)
			if v == nil {
				return nil
			}
			props = append(props, prop{key, v})
		case *ast.PropertyShort:
			if p.Initializer != nil {
				return nil
			}
			v := c.ident(p.Name.Name.String())
			if v == nil {
				return nil
			}
			props = append(props, prop{p.Name.Name.String(), v})
		default:
			return nil
		}
	}
	return func(r *frun) (fv, bool) {
		o := r.newObj()
		for _, p := range props {
			v, ok := p.val(r)
			if !ok || !r.set(o, p.key, v) {
				return fv{}, false
			}
		}
		return fv{k: fObj, o: o}, true
	}
}

// member reads b[key].
func (r *frun) member(b fv, key string) (fv, bool) {
	switch b.k {
	case fMsg:
		return r.getMsg(key)
	case fObj:
		return r.get(b.o, key)
	case fStr:
		if key == "length" {
			return numV(float64(jsv.UTF16Len(b.s))), true
		}
	case fArr:
		if key == "length" {
			return numV(float64(b.alen)), true
		}
		if i, ok := engine.ArrayIndex(key); ok {
			if a := r.arr(b); int(i) < len(a) {
				return a[i], true
			}
			return undefV, true
		}
	}
	return fv{}, false
}

// ref compiles the target of an assignment or delete: a local, or a
// property of an expression.
type fref struct {
	slot int // a local's, or -1
	base fexpr
	key  fexpr
}

func (c *fcomp) ref(e ast.Expression) (fref, bool) {
	switch e := e.(type) {
	case *ast.Identifier:
		l, ok := c.locals[e.Name.String()]
		if !ok || l.konst {
			return fref{}, false
		}
		return fref{slot: l.slot}, true
	case *ast.DotExpression:
		name := e.Identifier.Name.String()
		if prototypeName[name] || !c.safeBase(e.Left) {
			return fref{}, false
		}
		base := c.expr(e.Left)
		return fref{slot: -1, base: base, key: constant(strV(name))}, base != nil
	case *ast.BracketExpression:
		// msg[k] = v with k "__proto__" sets that object's prototype,
		// not a shared one: it may be computed
		if !c.safeBase(e.Left) {
			return fref{}, false
		}
		if k, ok := e.Member.(*ast.StringLiteral); ok && prototypeName[k.Value.String()] {
			return fref{}, false
		}
		base, key := c.expr(e.Left), c.expr(e.Member)
		return fref{slot: -1, base: base, key: key}, base != nil && key != nil
	}
	return fref{}, false
}

// target evaluates a property reference's object and key.
func (f fref) target(r *frun) (fv, string, bool) {
	b, ok := f.base(r)
	if !ok || (b.k != fMsg && b.k != fObj) {
		return fv{}, "", false // a primitive (ignored or a TypeError): goja
	}
	k, ok := f.key(r)
	if !ok || !k.isPrimitive() {
		return fv{}, "", false
	}
	return b, jsv.ToString(k.primitive()), true
}

func (r *frun) put(b fv, key string, v fv) bool {
	if b.k == fMsg {
		return r.setMsg(key, v)
	}
	return r.set(b.o, key, v)
}

// assign compiles =, +=, -=, *=, /= and %=.
func (c *fcomp) assign(e *ast.AssignExpression) fexpr {
	var op token.Token
	switch e.Operator {
	case token.ASSIGN:
	case token.PLUS, token.MINUS, token.MULTIPLY, token.SLASH, token.REMAINDER:
		op = e.Operator // goja's parser gives x += y as operator +
	default:
		return nil
	}
	ref, ok := c.ref(e.Left)
	right := c.expr(e.Right)
	if !ok || right == nil {
		return nil
	}
	if ref.slot >= 0 {
		slot := ref.slot
		return func(r *frun) (fv, bool) {
			old := r.locals[slot] // read before the right side, which may assign it
			v, ok := right(r)
			if !ok {
				return fv{}, false
			}
			if op != 0 {
				if v, ok = arith(op, old, v); !ok {
					return fv{}, false
				}
			}
			r.locals[slot] = v
			return v, true
		}
	}
	return func(r *frun) (fv, bool) {
		b, key, ok := ref.target(r)
		if !ok {
			return fv{}, false
		}
		var old fv
		if op != 0 {
			if old, ok = r.member(b, key); !ok {
				return fv{}, false
			}
		}
		v, ok := right(r)
		if !ok {
			return fv{}, false
		}
		if op != 0 {
			if v, ok = arith(op, old, v); !ok {
				return fv{}, false
			}
		}
		if !r.put(b, key, v) {
			return fv{}, false
		}
		return v, true
	}
}

// maxFastString bounds the strings the path makes: code without a loop
// can still double a string in every statement (s += s), and only goja's
// run has the memory guard that stops that.
const maxFastString = 1 << 20

// toNumber is Number(v) for a primitive.
func toNumber(v fv) (float64, bool) {
	if v.k == fNum {
		return v.n, true
	}
	if !v.isPrimitive() || (v.k == fStr && !isASCII(v.s)) {
		// goja trims other white space than JavaScript in some of its
		// conversions and none in others: goja decides
		return 0, false
	}
	return jsv.ToNumber(v.primitive()), true
}

// arith applies a binary arithmetic operator.
func arith(op token.Token, a, b fv) (fv, bool) {
	if op == token.PLUS {
		if a.k == fNum && b.k == fNum {
			return numV(a.n + b.n), true
		}
		if !a.isPrimitive() || !b.isPrimitive() {
			return fv{}, false
		}
		if a.k == fStr || b.k == fStr {
			x, y := jsv.ToString(a.primitive()), jsv.ToString(b.primitive())
			if len(x)+len(y) > maxFastString {
				return fv{}, false
			}
			return strV(x + y), true
		}
	}
	x, ok1 := toNumber(a)
	y, ok2 := toNumber(b)
	if !ok1 || !ok2 {
		return fv{}, false
	}
	switch op {
	case token.PLUS:
		return numV(x + y), true
	case token.MINUS:
		return numV(x - y), true
	case token.MULTIPLY:
		return numV(x * y), true
	case token.SLASH:
		return numV(x / y), true
	case token.REMAINDER:
		return numV(math.Mod(x, y)), true
	}
	return fv{}, false
}

// binary compiles the binary operators it knows.
func (c *fcomp) binary(e *ast.BinaryExpression) fexpr {
	a, b := c.expr(e.Left), c.expr(e.Right)
	if a == nil || b == nil {
		return nil
	}
	op := e.Operator
	switch op {
	case token.LOGICAL_AND, token.LOGICAL_OR, token.COALESCE:
		return func(r *frun) (fv, bool) {
			x, ok := a(r)
			if !ok {
				return fv{}, false
			}
			switch op {
			case token.LOGICAL_AND:
				if !x.truthy() {
					return x, true
				}
			case token.LOGICAL_OR:
				if x.truthy() {
					return x, true
				}
			default:
				if x.k != fUndef && x.k != fNull {
					return x, true
				}
			}
			return b(r)
		}
	case token.PLUS, token.MINUS, token.MULTIPLY, token.SLASH, token.REMAINDER:
		return func(r *frun) (fv, bool) {
			x, ok := a(r)
			if !ok {
				return fv{}, false
			}
			y, ok := b(r)
			if !ok {
				return fv{}, false
			}
			return arith(op, x, y)
		}
	case token.LESS, token.GREATER, token.LESS_OR_EQUAL, token.GREATER_OR_EQUAL,
		token.STRICT_EQUAL, token.STRICT_NOT_EQUAL, token.EQUAL, token.NOT_EQUAL:
		return func(r *frun) (fv, bool) {
			x, ok := a(r)
			if !ok {
				return fv{}, false
			}
			y, ok := b(r)
			if !ok {
				return fv{}, false
			}
			res, ok := compare(op, x, y)
			return boolV(res), ok
		}
	}
	return nil
}

// compare applies a relational or equality operator.
func compare(op token.Token, x, y fv) (bool, bool) {
	if x.k == fNum && y.k == fNum {
		switch op {
		case token.LESS:
			return x.n < y.n, true
		case token.GREATER:
			return x.n > y.n, true
		case token.LESS_OR_EQUAL:
			return x.n <= y.n, true
		case token.GREATER_OR_EQUAL:
			return x.n >= y.n, true
		case token.STRICT_EQUAL, token.EQUAL:
			return x.n == y.n, true
		default:
			return x.n != y.n, true
		}
	}
	if !x.isPrimitive() || !y.isPrimitive() {
		switch op {
		case token.STRICT_EQUAL, token.STRICT_NOT_EQUAL, token.EQUAL, token.NOT_EQUAL:
		default:
			return false, false // objects to primitives: goja
		}
		if x.k == fArr || y.k == fArr {
			return false, false
		}
		loose := op == token.EQUAL || op == token.NOT_EQUAL
		var same bool
		switch {
		case !x.isPrimitive() && !y.isPrimitive():
			same = x.k == y.k && x.o == y.o
		case loose && (x.k == fUndef || x.k == fNull || y.k == fUndef || y.k == fNull):
			same = false
		case loose:
			return false, false // an object against a primitive: ToPrimitive, goja
		}
		if op == token.STRICT_NOT_EQUAL || op == token.NOT_EQUAL {
			return !same, true
		}
		return same, true
	}
	switch op {
	case token.EQUAL, token.NOT_EQUAL:
		if (x.k == fStr) != (y.k == fStr) && (x.k == fNum || x.k == fBool || y.k == fNum || y.k == fBool) {
			return false, false // goja compares a string and a number its own way ("5.0" == 5)
		}
	case token.LESS, token.GREATER, token.LESS_OR_EQUAL, token.GREATER_OR_EQUAL:
		if (x.k == fStr && !isASCII(x.s)) || (y.k == fStr && !isASCII(y.s)) {
			return false, false // goja orders by code point, JavaScript by UTF-16 unit
		}
	}
	px, py := x.primitive(), y.primitive()
	switch op {
	case token.LESS:
		return jsv.Less(px, py), true
	case token.GREATER:
		return jsv.Greater(px, py), true
	case token.LESS_OR_EQUAL:
		return jsv.LessOrEqual(px, py), true
	case token.GREATER_OR_EQUAL:
		return jsv.GreaterOrEqual(px, py), true
	case token.STRICT_EQUAL:
		return jsv.StrictEqual(px, py), true
	case token.STRICT_NOT_EQUAL:
		return !jsv.StrictEqual(px, py), true
	case token.EQUAL:
		return jsv.LooseEqual(px, py), true
	}
	return !jsv.LooseEqual(px, py), true
}

// unary compiles -, +, !, typeof, void, delete, ++ and --.
func (c *fcomp) unary(e *ast.UnaryExpression) fexpr {
	switch e.Operator {
	case token.DELETE:
		ref, ok := c.ref(e.Operand)
		if !ok || ref.slot >= 0 {
			return nil
		}
		return func(r *frun) (fv, bool) {
			b, key, ok := ref.target(r)
			if !ok {
				return fv{}, false
			}
			r.remove(b, key)
			return boolV(true), true
		}
	case token.INCREMENT, token.DECREMENT:
		ref, ok := c.ref(e.Operand)
		if !ok {
			return nil
		}
		delta := 1.0
		if e.Operator == token.DECREMENT {
			delta = -1
		}
		postfix := e.Postfix
		return func(r *frun) (fv, bool) {
			var b fv
			var key string
			var cur fv
			if ref.slot >= 0 {
				cur = r.locals[ref.slot]
			} else {
				var ok bool
				if b, key, ok = ref.target(r); !ok {
					return fv{}, false
				}
				if cur, ok = r.member(b, key); !ok {
					return fv{}, false
				}
			}
			old, ok := toNumber(cur)
			if !ok {
				return fv{}, false
			}
			nv := numV(old + delta)
			if ref.slot >= 0 {
				r.locals[ref.slot] = nv
			} else if !r.put(b, key, nv) {
				return fv{}, false
			}
			if postfix {
				return numV(old), true
			}
			return nv, true
		}
	}
	x := c.expr(e.Operand)
	if x == nil {
		return nil
	}
	switch e.Operator {
	case token.MINUS, token.PLUS:
		neg := e.Operator == token.MINUS
		return func(r *frun) (fv, bool) {
			v, ok := x(r)
			if !ok {
				return fv{}, false
			}
			n, ok := toNumber(v)
			if neg {
				n = -n
			}
			return numV(n), ok
		}
	case token.NOT:
		return func(r *frun) (fv, bool) {
			v, ok := x(r)
			return boolV(!v.truthy()), ok
		}
	case token.VOID:
		return func(r *frun) (fv, bool) {
			_, ok := x(r)
			return undefV, ok
		}
	case token.TYPEOF:
		if id, isID := e.Operand.(*ast.Identifier); isID && c.ident(id.Name.String()) == nil {
			return nil // typeof of an undeclared variable: goja
		}
		return func(r *frun) (fv, bool) {
			v, ok := x(r)
			if !ok {
				return fv{}, false
			}
			switch v.k {
			case fUndef:
				return strV("undefined"), true
			case fBool:
				return strV("boolean"), true
			case fNum:
				return strV("number"), true
			case fStr:
				return strV("string"), true
			}
			return strV("object"), true
		}
	}
	return nil
}

// remove deletes b[key] (delete always succeeds on views).
func (r *frun) remove(b fv, key string) {
	if b.k == fMsg {
		if i := r.msg.find(key); i >= 0 {
			r.msg.ents = append(r.msg.ents[:i], r.msg.ents[i+1:]...)
		}
		return
	}
	o := b.o
	if i := o.find(key); i >= 0 {
		o.ents = append(o.ents[:i], o.ents[i+1:]...)
	}
}

// runFast runs m through the straight-line path, queueing what it sends
// as runMessage would; false: it gave up, and nothing was queued or
// changed (goja runs m). n.mu is held.
func (n *fnNode) runFast(f *fnVM, m *engine.Message, done doneFunc) bool {
	r := &n.fr
	defer r.release()
	if !n.evalFast(m) {
		return false
	}
	// From here on m changes and effects are queued: nothing gives up.
	reuse := done == nil // the first message sent may be m itself, as in runMessage
	for _, port := range r.ports {
		if port >= n.outputs {
			continue
		}
		out := m
		if reuse {
			m.Clear()
			reuse = false
		} else {
			out = engine.NewMessage("", nil)
		}
		f.effect = append(f.effect, effect{port: port, m: r.writeMsg(out)})
	}
	if done != nil {
		f.effect = append(f.effect, effect{m: r.writeMsg(engine.NewMessage("", nil)), done: done})
	}
	return true
}

// evalFast runs the body for m and works out what it sends, changing
// nothing; false: it gave up (or met a defect of its own, recovered).
func (n *fnNode) evalFast(m *engine.Message) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false // a defect of the path: goja runs the message
		}
	}()
	return n.progs.fast.run(&n.fr, m) && n.fr.encodeMsg()
}
