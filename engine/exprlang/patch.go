package exprlang

import (
	"fmt"
	"math"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"

	"github.com/runnel-io/runnel/engine/jsv"
)

// rootKind says where a path starts.
type rootKind uint8

const (
	rootValue  rootKind = iota // a value computed by the expression
	rootMsg                    // msg: keys[0] is the message property
	rootFlow                   // flow: keys[0] is the context key
	rootGlobal                 // global
	rootEnv                    // env: keys[0] is the variable's name
)

// path is a chain of constant property names (msg.payload.temperature),
// resolved at compile time so that evaluation reads it in one call.
type path struct {
	root  rootKind
	keys  []string
	gpath string // keys (after the first for a root) as a gjson path; "" if not usable
}

// marker is what the patcher knows about a call node it created.
type marker struct {
	root  rootKind // for a bare identifier (msg, flow, global, env, Math, JSON): its kind
	name  string   // the identifier's name
	path  *path    // for a path call: its path
	bare  bool     // a bare identifier, not yet a path
	value bool     // a path read from a computed value (its Node is args[0])
}

// patcher rewrites expr's syntax tree so that expressions follow
// JavaScript's rules: member access reads message values (including JSON
// kept as bytes) and never panics, operators use jsv, and msg, flow, global
// and env read the Env. ast.Walk visits children before their parent, so a
// member chain is built from its root outwards.
type patcher struct {
	prog    *Program
	markers map[ast.Node]*marker
	bare    map[*marker]ast.Node // roots not yet used by a member or a call
	err     error
}

// check reports a root such as flow used on its own, which has no value.
func (pt *patcher) check() {
	for m, n := range pt.bare {
		if m.name != "msg" {
			pt.fail(n, "%s cannot be used on its own; use %s.key or %s.get(key)", m.name, m.name, m.name)
		}
	}
}

func (pt *patcher) fail(n ast.Node, format string, args ...any) {
	if pt.err == nil {
		e := &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
		pt.err = e.Bind(file.NewSource(pt.prog.src))
	}
}

func envNode() ast.Node { return &ast.IdentifierNode{Value: "$env"} }

func call(name string, args ...ast.Node) *ast.CallNode {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: args}
}

func (pt *patcher) mark(n ast.Node, m *marker) ast.Node {
	if pt.markers == nil {
		pt.markers = make(map[ast.Node]*marker)
	}
	pt.markers[n] = m
	return n
}

// addPath registers p and returns a call that reads it.
func (pt *patcher) pathCall(p *path, value ast.Node) ast.Node {
	p.gpath = gjsonPath(p.keys, p.root != rootValue)
	idx := len(pt.prog.paths)
	pt.prog.paths = append(pt.prog.paths, p)
	var c *ast.CallNode
	switch p.root {
	case rootMsg:
		c = call("__msg", envNode(), &ast.IntegerNode{Value: idx})
	case rootValue:
		c = call("__path", value, &ast.IntegerNode{Value: idx})
	default:
		c = call("__ctx", envNode(), &ast.IntegerNode{Value: idx})
	}
	return pt.mark(c, &marker{path: p, value: p.root == rootValue})
}

var roots = map[string]rootKind{"msg": rootMsg, "flow": rootFlow, "global": rootGlobal, "env": rootEnv, "Math": rootValue, "JSON": rootValue}

// Visit implements ast.Visitor.
func (pt *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "null":
			ast.Patch(node, &ast.NilNode{})
			return
		case "undefined":
			ast.Patch(node, &ast.ConstantNode{Value: jsv.Undefined})
			return
		case "NaN":
			ast.Patch(node, &ast.FloatNode{Value: math.NaN()})
			return
		case "Infinity":
			ast.Patch(node, &ast.FloatNode{Value: math.Inf(1)})
			return
		}
		if k, ok := roots[n.Value]; ok {
			c := call("__root", envNode(), &ast.StringNode{Value: n.Value})
			c.SetLocation(n.Location())
			m := &marker{root: k, name: n.Value, bare: true}
			if pt.bare == nil {
				pt.bare = make(map[*marker]ast.Node)
			}
			pt.bare[m] = c
			ast.Patch(node, pt.mark(c, m))
		}
	case *ast.MemberNode:
		pt.member(node, n)
	case *ast.CallNode:
		pt.call(node, n)
	case *ast.BinaryNode:
		pt.binary(node, n)
	case *ast.UnaryNode:
		switch n.Operator {
		case "-":
			ast.Patch(node, call("__neg", n.Node))
		case "+":
			ast.Patch(node, call("Number", n.Node))
		case "!", "not":
			ast.Patch(node, call("__not", n.Node))
		}
	case *ast.ConditionalNode:
		if !isBool(n.Cond) {
			n.Cond = call("__truthy", n.Cond)
		}
	case *ast.ChainNode:
		// Member access never fails here, so ?. is plain access.
		ast.Patch(node, n.Node)
	}
}

func isBool(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.BoolNode:
		return true
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok {
			return boolFuncs[id.Value]
		}
	case *ast.BinaryNode:
		switch x.Operator {
		case "matches", "contains", "startsWith", "endsWith":
			return true
		}
	}
	return false
}

// member rewrites a.b, a[b] and a.b(...)'s callee.
func (pt *patcher) member(node *ast.Node, n *ast.MemberNode) {
	if n.Method {
		return // handled with its call
	}
	key, constant := constKey(n.Property)
	m := pt.markers[n.Node]
	if m != nil {
		delete(pt.bare, m)
	}
	switch {
	case m != nil && m.bare:
		switch m.name {
		case "Math":
			if !constant {
				pt.fail(n, "Math[...] is not supported")
				return
			}
			f, ok := mathConsts[key]
			if !ok {
				pt.fail(n, "unknown Math.%s", key)
				return
			}
			ast.Patch(node, &ast.FloatNode{Value: f})
			return
		case "JSON":
			pt.fail(n, "JSON.%s is not a value; call JSON.stringify(x) or JSON.parse(s)", key)
			return
		}
		if !constant {
			// msg[expr]: read the whole message, then the member.
			if m.root != rootMsg {
				pt.fail(n, "%s[...] needs a constant key; use %s.get(key)", m.name, m.name)
				return
			}
			ast.Patch(node, call("__get", n.Node, n.Property))
			return
		}
		ast.Patch(node, pt.pathCall(&path{root: m.root, keys: []string{key}}, nil))
	case m != nil && m.path != nil && constant:
		keys := append(append([]string(nil), m.path.keys...), key)
		var value ast.Node
		if m.value {
			value = (*pt.callArgs(n.Node))[0]
		}
		ast.Patch(node, pt.pathCall(&path{root: m.path.root, keys: keys}, value))
	case constant:
		ast.Patch(node, pt.pathCall(&path{root: rootValue, keys: []string{key}}, n.Node))
	default:
		ast.Patch(node, call("__get", n.Node, n.Property))
	}
}

func (pt *patcher) callArgs(n ast.Node) *[]ast.Node {
	return &n.(*ast.CallNode).Arguments
}

// constKey returns the property name of a constant member: .name,
// ["name"] or [0].
func constKey(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.IntegerNode:
		if x.Value >= 0 {
			return fmt.Sprint(x.Value), true
		}
	}
	return "", false
}

var mathConsts = map[string]float64{
	"PI": math.Pi, "E": math.E, "LN2": math.Ln2, "LN10": math.Ln10, "LOG2E": math.Log2E,
	"LOG10E": math.Log10E, "SQRT2": math.Sqrt2, "SQRT1_2": math.Sqrt2 / 2,
}

// call rewrites f(...), flow("k"), flow.get("k"), x.method(...),
// Math.f(...) and JSON.f(...).
func (pt *patcher) call(node *ast.Node, n *ast.CallNode) {
	if mn, ok := n.Callee.(*ast.MemberNode); ok {
		if m := pt.markers[mn.Node]; m != nil {
			delete(pt.bare, m)
		}
	}
	if m := pt.markers[n.Callee]; m != nil && m.bare {
		delete(pt.bare, m)
		switch m.name {
		case "flow", "global", "env":
			ast.Patch(node, pt.ctxCall(n, m.name, n.Arguments))
		default:
			pt.fail(n, "%s is not a function", m.name)
		}
		return
	}
	mn, ok := n.Callee.(*ast.MemberNode)
	if !ok || !mn.Method {
		return
	}
	name, _ := constKey(mn.Property)
	if m := pt.markers[mn.Node]; m != nil && m.bare {
		switch m.name {
		case "flow", "global", "env":
			if name != "get" {
				pt.fail(n, "%s.%s is not a function; use %s.get(key)", m.name, name, m.name)
				return
			}
			ast.Patch(node, pt.ctxCall(n, m.name, n.Arguments))
		case "Math":
			if _, ok := mathFuncs[name]; !ok {
				pt.fail(n, "unknown function Math.%s", name)
				return
			}
			ast.Patch(node, call("__math", append([]ast.Node{&ast.StringNode{Value: name}}, n.Arguments...)...))
		case "JSON":
			switch name {
			case "stringify":
				ast.Patch(node, call("__stringify", n.Arguments...))
			case "parse":
				ast.Patch(node, call("__parse", n.Arguments...))
			default:
				pt.fail(n, "unknown function JSON.%s", name)
			}
		default:
			pt.fail(n, "%s.%s is not a function", m.name, name)
		}
		return
	}
	if _, ok := methods[name]; !ok {
		pt.fail(n, "unknown method %s", name)
		return
	}
	args := append([]ast.Node{mn.Node, &ast.StringNode{Value: name}}, n.Arguments...)
	ast.Patch(node, call("__method", args...))
}

func (pt *patcher) ctxCall(n *ast.CallNode, name string, args []ast.Node) ast.Node {
	if len(args) < 1 || len(args) > 2 || (name == "env" && len(args) != 1) {
		pt.fail(n, "%s takes a key%s", name, map[bool]string{true: "", false: " and an optional store name"}[name == "env"])
		return n
	}
	all := append([]ast.Node{envNode(), &ast.StringNode{Value: name}}, args...)
	return call("__ctxget", all...)
}

var binaryFuncs = map[string]string{
	"==": "__eq", "!=": "__ne", "<": "__lt", "<=": "__le", ">": "__gt", ">=": "__ge",
	"+": "__add", "-": "__sub", "*": "__mul", "/": "__div", "%": "__mod", "**": "__pow", "^": "__pow",
	"??": "__coalesce", "in": "__in",
}

// binary rewrites operators to their JavaScript versions.
func (pt *patcher) binary(node *ast.Node, n *ast.BinaryNode) {
	switch n.Operator {
	case "&&", "and":
		// a && b is b when a is truthy, else a.
		if isBool(n.Left) {
			ast.Patch(node, &ast.ConditionalNode{Cond: n.Left, Exp1: n.Right, Exp2: &ast.BoolNode{Value: false}})
		} else {
			ast.Patch(node, call("__and", n.Left, n.Right))
		}
		return
	case "||", "or":
		if isBool(n.Left) {
			ast.Patch(node, &ast.ConditionalNode{Cond: n.Left, Exp1: &ast.BoolNode{Value: true}, Exp2: n.Right})
		} else {
			ast.Patch(node, call("__or", n.Left, n.Right))
		}
		return
	case "contains", "startsWith", "endsWith":
		ast.Patch(node, call("__method", n.Left, &ast.StringNode{Value: map[string]string{
			"contains": "includes", "startsWith": "startsWith", "endsWith": "endsWith"}[n.Operator]}, n.Right))
		return
	}
	if f, ok := binaryFuncs[n.Operator]; ok {
		c := call(f, n.Left, n.Right)
		c.SetLocation(n.Location())
		ast.Patch(node, c)
	}
}
