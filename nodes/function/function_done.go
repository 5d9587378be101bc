package function

import (
	"reflect"
	"regexp"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/runnel-io/runnel/engine"
)

// Completion (Node-RED's done) for complete nodes. A function node
// finishes a message when its code has run and what it returned has been
// sent (after the promise of async code settles), unless the code calls
// node.done() itself: then, as in Node-RED, the message is finished when
// it does, from wherever it does (a timer, a promise).

// callsDoneText is Node-RED's first test for code that calls node.done().
var callsDoneText = regexp.MustCompile(`node\.done\s*\(\s*\)`)

// callsDone reports whether code calls node.done(): its text says so and
// the call is in the code, not in a comment or a string (Node-RED checks
// the same way, with a parse).
func callsDone(code string) bool {
	if !callsDoneText.MatchString(code) {
		return false
	}
	prog, err := parser.ParseFile(nil, "", "(async function(msg){\n"+code+"\n})", 0)
	if err != nil {
		return true // it does not compile; the compile error is reported elsewhere
	}
	return findDoneCall(reflect.ValueOf(prog), 0)
}

// findDoneCall walks the syntax tree under v for a call of node.done.
func findDoneCall(v reflect.Value, depth int) bool {
	if depth > 2000 {
		return false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return false
		}
		if c, ok := v.Interface().(*ast.CallExpression); ok {
			if d, ok := c.Callee.(*ast.DotExpression); ok && d.Identifier.Name == "done" {
				if id, ok := d.Left.(*ast.Identifier); ok && id.Name == "node" {
					return true
				}
			}
		}
		return findDoneCall(v.Elem(), depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && findDoneCall(v.Field(i), depth+1) {
				return true
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if findDoneCall(v.Index(i), depth+1) {
				return true
			}
		}
	}
	return false
}

// doneFunc finishes a message for the complete nodes (engine.Output.Hold).
type doneFunc = func(fin *engine.Message, complete bool)

// heldMsg is a message whose code calls node.done(), until it does.
type heldMsg struct {
	msgid string
	view  *goja.Object
	done  doneFunc
}

// maxHeld bounds the messages held for node.done() per node: code that
// calls it on some paths only would otherwise keep every other message.
// The oldest goes first, without reaching the complete nodes.
const maxHeld = 10000

// finish queues the completion of the message seen as view, after the
// effects queued before it (its sends and errors).
func (f *fnVM) finish(done doneFunc, view *goja.Object, msgid string) {
	if done == nil {
		return
	}
	var fin *engine.Message
	if view != nil {
		fin = f.msgFromJS(view, msgid)
	}
	f.effect = append(f.effect, effect{m: fin, done: done})
}

// hold keeps done until the code calls node.done() for msgid.
func (f *fnVM) hold(done doneFunc, view *goja.Object, msgid string) {
	if done == nil {
		return
	}
	if len(f.held) >= maxHeld {
		f.effect = append(f.effect, effect{done: f.held[0].done, drop: true})
		f.held[0] = heldMsg{}
		f.held = f.held[1:]
	}
	f.held = append(f.held, heldMsg{msgid: msgid, view: view, done: done})
}

// nodeDone is node.done() for the message being handled (f.curID).
func (f *fnVM) nodeDone() {
	for i, h := range f.held {
		if h.msgid == f.curID() {
			f.held = append(f.held[:i], f.held[i+1:]...)
			f.finish(h.done, h.view, h.msgid)
			return
		}
	}
}

// dropHeld lets the message held for msgid go without completion (its
// code failed: Node-RED's done(err)).
func (f *fnVM) dropHeld(msgid string) {
	for i, h := range f.held {
		if h.msgid == msgid {
			f.held = append(f.held[:i], f.held[i+1:]...)
			f.effect = append(f.effect, effect{done: h.done, drop: true})
			return
		}
	}
}

// releaseHeld lets every held message go without completion (the node
// closes).
func (f *fnVM) releaseHeld() {
	for _, h := range f.held {
		f.effect = append(f.effect, effect{done: h.done, drop: true})
	}
	f.held = nil
	for _, q := range f.queue {
		if q.done != nil {
			f.effect = append(f.effect, effect{done: q.done, drop: true})
		}
	}
	f.queue = nil
}
