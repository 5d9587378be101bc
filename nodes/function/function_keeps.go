package function

import (
	"reflect"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
	"github.com/dop251/goja/token"
)

// keepsMsg reports whether code (a function node's On Message body, run
// as a plain function of msg) may keep the msg object past its return,
// and whether it may keep the object msg.payload is when the message
// came with one: unless it may, the runtime hands every message's code
// the same object, refilled (see fnVM.newMsgObject and newJSONObject),
// which spares three allocations per message each.
//
// Code cannot keep msg when msg appears only as the object of a property
// access (msg.payload, msg[k], msg.payload.t = ...; the values read may be
// kept, msg is not), as the target of an assignment (msg = {...}), or as
// what the code returns (return msg, return [msg, null], return c ? msg :
// null), and never inside a nested function, which could capture it.
// Anything else (msg passed to a call, stored, spread, thrown, captured;
// arguments, eval or with anywhere) may keep it. The test is on the text,
// so it errs on the side of keeping: a property named msg, or another
// variable called msg in a nested scope, counts as a use.
//
// The same holds for msg.payload, with msg.payload in the place of msg,
// except that returning it counts as keeping; and code that may keep msg,
// or reads msg[k] for a k that is not a text, may keep the payload.
func keepsMsg(code string) (msg, payload bool) {
	fn := parseBody(code)
	if fn == nil {
		return true, true // it does not compile; the error is reported elsewhere
	}
	w := msgUses{}
	w.walk(reflect.ValueOf(fn.Body), 0)
	return w.kept, w.kept || w.payloadKept
}

// parseBody returns the syntax tree of an On Message body, wrapped as
// the node runs it, or nil when it does not compile.
func parseBody(code string) *ast.FunctionLiteral {
	prog, err := parser.ParseFile(nil, "", "(function(msg){\n"+code+"\n})", 0)
	if err != nil || len(prog.Body) != 1 {
		return nil
	}
	st, ok := prog.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	fn, ok := st.Expression.(*ast.FunctionLiteral)
	if !ok || fn.Body == nil {
		return nil
	}
	return fn
}

// msgUses walks a syntax tree for uses of msg that may keep it.
type msgUses struct {
	fnDepth     int  // nested functions around the node being walked
	kept        bool // a use that may keep msg was found
	payloadKept bool // a use that may keep msg.payload was found
}

// isMsg reports whether e is the variable msg.
func isMsg(e ast.Expression) bool {
	id, ok := e.(*ast.Identifier)
	return ok && id.Name == "msg"
}

// isPayload reports whether e is msg.payload or msg["payload"].
func isPayload(e ast.Expression) bool {
	switch e := e.(type) {
	case *ast.DotExpression:
		return isMsg(e.Left) && e.Identifier.Name == "payload"
	case *ast.BracketExpression:
		s, ok := e.Member.(*ast.StringLiteral)
		return isMsg(e.Left) && ok && s.Value == "payload"
	}
	return false
}

// deref walks the object of a property access, left, which is only
// dereferenced: msg or msg.payload there are not kept.
func (w *msgUses) deref(left ast.Expression, depth int) {
	if w.fnDepth == 0 && isMsg(left) {
		return
	}
	if w.fnDepth == 0 && isPayload(left) {
		if b, ok := left.(*ast.BracketExpression); ok {
			w.walk(reflect.ValueOf(b.Member), depth+1)
		}
		return
	}
	w.walk(reflect.ValueOf(left), depth+1)
}

// maxSyntaxDepth bounds the walk: deeper code counts as keeping msg.
const maxSyntaxDepth = 2000

func (w *msgUses) walk(v reflect.Value, depth int) {
	if w.kept {
		return
	}
	if depth > maxSyntaxDepth {
		w.kept = true
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if w.node(v.Interface(), depth) {
			return
		}
		w.walk(v.Elem(), depth+1)
	case reflect.Struct:
		if id, ok := v.Interface().(ast.Identifier); ok {
			w.identifier(id.Name.String())
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				w.walk(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), depth+1)
		}
	}
}

// identifier notes a name used where nothing makes it safe.
func (w *msgUses) identifier(name string) {
	switch name {
	case "msg", "arguments", "eval":
		w.kept = true
	}
}

// node handles the syntax that decides how msg is used, and reports
// whether it walked n's children itself.
func (w *msgUses) node(n any, depth int) bool {
	switch n := n.(type) {
	case *ast.Identifier:
		w.identifier(n.Name.String())
		return true
	case *ast.DotExpression:
		// n.Identifier is a property name, not a variable.
		if isPayload(n) {
			// Reached only where its value is used: see deref and the
			// assignment below.
			w.payloadKept = true
		}
		w.deref(n.Left, depth)
		return true
	case *ast.BracketExpression:
		if isPayload(n) {
			w.payloadKept = true
		} else if isMsg(n.Left) {
			if _, ok := n.Member.(*ast.StringLiteral); !ok {
				w.payloadKept = true // msg[k] may be msg.payload
			}
		}
		w.deref(n.Left, depth)
		w.walk(reflect.ValueOf(n.Member), depth+1)
		return true
	case *ast.AssignExpression:
		if isMsg(n.Left) && n.Operator == token.ASSIGN && w.fnDepth == 0 {
			w.walk(reflect.ValueOf(n.Right), depth+1)
			return true
		}
		if isPayload(n.Left) && n.Operator == token.ASSIGN && w.fnDepth == 0 {
			if b, ok := n.Left.(*ast.BracketExpression); ok {
				w.walk(reflect.ValueOf(b.Member), depth+1)
			}
			w.walk(reflect.ValueOf(n.Right), depth+1)
			return true
		}
	case *ast.Binding:
		if isMsg(n.Target) && w.fnDepth == 0 {
			w.walk(reflect.ValueOf(n.Initializer), depth+1)
			return true
		}
	case *ast.ReturnStatement:
		if w.fnDepth == 0 {
			w.returned(n.Argument, depth+1)
			return true
		}
	case *ast.WithStatement:
		w.kept = true
		return true
	case *ast.FunctionLiteral, *ast.ArrowFunctionLiteral, *ast.ClassLiteral, *ast.MethodDefinition:
		w.fnDepth++
		w.walk(reflect.ValueOf(n).Elem(), depth+1)
		w.fnDepth--
		return true
	}
	return false
}

// returned walks what the code returns: msg there, or in an array or a
// conditional returned, goes to the runtime, which keeps nothing of it.
func (w *msgUses) returned(e ast.Expression, depth int) {
	if depth > maxSyntaxDepth {
		w.kept = true
		return
	}
	switch e := e.(type) {
	case nil:
	case *ast.Identifier:
		if e.Name != "msg" {
			w.identifier(e.Name.String())
		}
	case *ast.ArrayLiteral:
		for _, x := range e.Value {
			w.returned(x, depth+1)
		}
	case *ast.ConditionalExpression:
		w.walk(reflect.ValueOf(e.Test), depth+1)
		w.returned(e.Consequent, depth+1)
		w.returned(e.Alternate, depth+1)
	default:
		w.walk(reflect.ValueOf(e), depth+1)
	}
}
