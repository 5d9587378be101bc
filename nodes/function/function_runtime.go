package function

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// fnVM is one function node's JavaScript runtime and its event loop: its
// timers, and the state of its On Start. Every method runs with the node's
// mu held.
type fnVM struct {
	n  *fnNode
	vm *goja.Runtime

	body, fin goja.Callable
	node      *goja.Object // the node object the code sees

	uint8Ctor  *goja.Object
	bufferCtor goja.Value
	bufferFrom goja.Callable

	// msgid is the _msgid of the message being handled ("" outside one),
	// read through curID: runMessage sets msgidNum and msgidLazy instead,
	// so that the text is made only when something asks for it.
	msgid     string
	msgidNum  uint64
	msgidLazy bool
	effect    []effect

	iniPending, iniFailed bool
	queue                 []queuedMsg // messages waiting for On Start
	held                  []heldMsg   // messages waiting for node.done()

	timers   map[int64]*jsTimer
	due      timerHeap
	wake     *time.Timer
	nextID   int64
	timerSeq uint64

	closeFns   []goja.Callable
	closing    bool
	closed     bool
	oom        bool // stopped for the memory it held: discard (see fnNode.discardIfOOM)
	statusUsed bool
	scratch    []byte
	recent     recentViews // the last views made (see asMsgObject)

	// reuse is the message being handled while its code's return value
	// is sent, and reuseView its view: the first message made of that
	// view is reuse itself, filled again (the node owns the message it
	// receives), which spares a message per function call.
	reuse     *engine.Message
	reuseView *msgObject
	msgArg    [1]goja.Value // the arguments of the call runMessage makes

	// msgObj and msgView: the msg object every message gets when the
	// code cannot keep it (fnPrograms.sharedMsg).
	msgObj   *goja.Object
	msgView  *msgObject
	msgProto *goja.Object // msgObj's prototype, which code may change (msg.__proto__ = x)

	// payloadObj and payloadView: the msg.payload object every message
	// whose payload is a JSON object gets when the code cannot keep it
	// (fnPrograms.sharedPayload); sharePayload tells newJSONObject that
	// the object it makes is that one.
	payloadObj   *goja.Object
	payloadView  *jsonObject
	payloadProto *goja.Object
	sharePayload bool

	// parsed and parsedEnts: where newJSONObject reads an object's
	// entries before it allocates the view.
	parsed     jsonObject
	parsedEnts []viewEnt
}

func newFnVM(n *fnNode) (*fnVM, error) {
	f := &fnVM{n: n, vm: goja.New(), timers: make(map[int64]*jsTimer)}
	vm := f.vm
	vm.SetMaxCallStackSize(MaxCallStack)
	for _, install := range []func() error{
		func() error { return installBuffer(vm) },
		func() error {
			return installConsole(vm, func(level slog.Level, msg string) { n.h.Logger().Log(context.Background(), level, msg) })
		},
		func() error { return installUtil(vm) },
	} {
		if err := install(); err != nil {
			return nil, fmt.Errorf("function: JavaScript built-ins: %w", err)
		}
	}
	f.uint8Ctor = vm.Get("Uint8Array").ToObject(vm)
	if b := vm.Get("Buffer"); b != nil && !goja.IsUndefined(b) {
		f.bufferCtor = b
		if from, ok := goja.AssertFunction(b.ToObject(vm).Get("from")); ok {
			f.bufferFrom = from
		}
	}
	f.installAPI()
	run := func(p *goja.Program) (goja.Callable, error) {
		v, err := vm.RunProgram(p)
		if err != nil {
			return nil, err
		}
		fn, ok := goja.AssertFunction(v)
		if !ok {
			return nil, errors.New("code did not compile to a function")
		}
		return fn, nil
	}
	var err error
	if f.body, err = run(n.progs.body); err != nil {
		return nil, fmt.Errorf("func: %w", err)
	}
	if n.progs.fin != nil {
		if f.fin, err = run(n.progs.fin); err != nil {
			return nil, fmt.Errorf("finalize: %w", err)
		}
	}
	return f, nil
}

// takeEffects returns the effects made since the last call. The slice is
// valid until the runtime runs again (post copies it into the outbox).
func (f *fnVM) takeEffects() []effect {
	e := f.effect
	if cap(e) > 64 {
		f.effect = nil
	} else {
		f.effect = e[:0]
	}
	return e
}

// reportErr records an error against m (which may be nil).
func (f *fnVM) reportErr(err error, m *engine.Message) {
	f.effect = append(f.effect, effect{err: err, m: m})
}

// jsError turns an error from goja into the error reported: a timeout, or
// what the code threw, with the line in the user's code.
func (f *fnVM) jsError(err error) error {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		if ie.Value() == errOutOfMemory {
			return fmt.Errorf("function stopped: the process's heap went over %d MiB while it ran; its JavaScript state is discarded", heapLimit()>>20)
		}
		return fmt.Errorf("script execution timed out after %v", f.n.limit)
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return fmt.Errorf("RangeError: Maximum call stack size exceeded (more than %d calls)", MaxCallStack)
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		text := f.errorText(ex.Value())
		for _, fr := range ex.Stack() {
			pos := fr.Position()
			if pos.Line > 0 && (fr.SrcName() == "func" || fr.SrcName() == "initialize" || fr.SrcName() == "finalize") {
				return &thrownError{text: text, at: fmt.Sprintf("%s line %d, col %d", fr.SrcName(), pos.Line-1, pos.Column), line: pos.Line - 1, col: pos.Column}
			}
		}
		return errors.New(text)
	}
	return err
}

// thrownError is what the code threw, with where: the log says where, a
// catch node's msg.error.message does not, as in Node-RED (which adds the
// line to a ReferenceError's message only, after naming the error twice).
type thrownError struct {
	text, at  string
	line, col int
}

func (e *thrownError) Error() string { return e.text + " (" + e.at + ")" }

// CatchText is the text a catch node sees (engine.CatchTexter).
func (e *thrownError) CatchText() string {
	if strings.HasPrefix(e.text, "ReferenceError") {
		// Node-RED sets the message to the stack's first line, which
		// names the error again.
		return fmt.Sprintf("ReferenceError: %s (line %d, col %d)", e.text, e.line, e.col)
	}
	return e.text
}

// errorText is what node.error and a thrown value report: a string as it
// is, an Error as "Name: message", anything else as JSON.
func (f *fnVM) errorText(v goja.Value) string {
	if v == nil || goja.IsUndefined(v) {
		return "undefined"
	}
	if o, ok := v.(*goja.Object); ok {
		if o.ClassName() == "Error" {
			return o.String()
		}
		return string(engine.MarshalJSON(f.fromJS(v)))
	}
	return v.String()
}

// runMessage runs the body for m.
// queuedMsg is a message waiting for On Start, and its completion.
type queuedMsg struct {
	m    *engine.Message
	done doneFunc
}

// curID returns the _msgid of the message being handled, "" outside one.
func (f *fnVM) curID() string {
	if f.msgidLazy {
		f.msgid, f.msgidLazy = engine.FormatID(f.msgidNum), false
	}
	return f.msgid
}

// setID makes id the _msgid of the message being handled.
func (f *fnVM) setID(id string) { f.msgid, f.msgidLazy = id, false }

// runMessage runs the code for m; done, when set, finishes m for the
// complete nodes (see function_done.go).
func (f *fnVM) runMessage(m *engine.Message, done doneFunc) {
	f.msgid, f.msgidNum, f.msgidLazy = "", m.IDNumber(), true
	defer f.setID("")
	view := f.newMsgObject(m)
	if f.n.progs.callsDone {
		f.hold(done, view, f.curID())
		done = nil // node.done() finishes it
	}
	f.msgArg[0] = view // not a new slice per call: the call does not keep it
	res, err := f.n.run(f.body, goja.Undefined(), f.msgArg[:]...)
	f.msgArg[0] = nil
	if err != nil {
		f.reportErr(f.jsError(err), m)
		f.finish(done, nil, "")
		f.dropHeld(f.curID()) // Node-RED's done(err)
		return
	}
	if !f.n.progs.async {
		if done == nil {
			// Nothing reads m once the results are sent: the first
			// message made of its view may be m itself.
			f.reuse, f.reuseView = m, f.asMsgObject(view)
		}
		f.sendResults(res, sameID, false)
		f.reuse, f.reuseView = nil, nil
		f.finish(done, view, sameID)
		return
	}
	id := f.curID()
	f.settle(res, id, func(v goja.Value) {
		f.sendResults(v, id, false)
		f.finish(done, view, id)
	}, func(err error) {
		f.reportErr(err, m)
		f.finish(done, nil, "")
		f.dropHeld(id)
	})
}

// settle calls ok with a promise's value, or fail with its error: at once
// when it has settled, else when it does (from a later timer or promise
// job, under the lock).
func (f *fnVM) settle(v goja.Value, msgid string, ok func(goja.Value), fail func(error)) {
	o, isObj := v.(*goja.Object)
	if !isObj {
		ok(v)
		return
	}
	p, isPromise := o.Export().(*goja.Promise)
	if !isPromise {
		ok(v)
		return
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		ok(p.Result())
		return
	case goja.PromiseStateRejected:
		fail(f.thrownError(p.Result()))
		return
	}
	then, _ := goja.AssertFunction(o.Get("then"))
	_, _ = then(o, f.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		prev := f.curID()
		f.setID(msgid)
		ok(c.Argument(0))
		f.setID(prev)
		return goja.Undefined()
	}), f.vm.ToValue(func(c goja.FunctionCall) goja.Value {
		fail(f.thrownError(c.Argument(0)))
		return goja.Undefined()
	}))
}

// thrownError is the error reported for a rejected promise's reason.
func (f *fnVM) thrownError(v goja.Value) error {
	return errors.New(f.errorText(v))
}

// runInit runs On Start; messages wait while its promise is pending.
func (f *fnVM) runInit() {
	v, err := f.vm.RunProgram(f.n.progs.ini)
	var ini goja.Callable
	if err == nil {
		var ok bool
		if ini, ok = goja.AssertFunction(v); !ok {
			err = errors.New("initialize did not compile to a function")
		}
	}
	if err == nil {
		v, err = f.n.run(ini, goja.Undefined())
	}
	if err != nil {
		f.iniFailed = true
		f.reportErr(fmt.Errorf("initialize: %w", f.jsError(err)), nil)
		return
	}
	f.iniPending = true
	done := func(goja.Value) {
		f.iniPending = false
		q := f.queue
		f.queue = nil
		for i, e := range q {
			if f.closed {
				f.queue = q[i:]
				f.releaseHeld()
				return
			}
			f.runMessage(e.m, e.done)
		}
	}
	f.settle(v, "", done, func(err error) {
		f.iniPending, f.iniFailed = false, true
		f.reportErr(fmt.Errorf("initialize: %w", err), nil)
		f.releaseHeld()
	})
}

// close runs the close handlers and On Stop, and stops the timers.
func (f *fnVM) close() {
	f.closing = true
	for _, fn := range f.closeFns {
		done := f.vm.ToValue(func(goja.FunctionCall) goja.Value { return goja.Undefined() })
		if _, err := f.n.run(fn, f.node, done); err != nil {
			f.reportErr(fmt.Errorf("close handler: %w", f.jsError(err)), nil)
		}
	}
	if f.fin != nil {
		if _, err := f.n.run(f.fin, goja.Undefined()); err != nil {
			f.reportErr(fmt.Errorf("finalize: %w", f.jsError(err)), nil)
		}
	}
	f.closed = true
	if f.wake != nil {
		f.wake.Stop()
	}
	f.timers = map[int64]*jsTimer{}
	f.due = nil
	f.releaseHeld()
	if f.statusUsed {
		f.n.h.Status(engine.Status{})
	}
}

// sendResults sends what the code returned or passed to node.send: a
// message, or an array with an entry (a message or an array of them) per
// output. Messages are converted, so each is a copy.
func (f *fnVM) sendResults(v goja.Value, msgid string, _ bool) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return
	}
	o, ok := v.(*goja.Object)
	if !ok || o.ClassName() != "Array" {
		f.sendOne(0, v, msgid)
		return
	}
	n := int(o.Get("length").ToInteger())
	for port := 0; port < n; port++ {
		e := o.Get(itoa(port))
		if e == nil || !e.ToBoolean() {
			continue
		}
		if eo, ok := e.(*goja.Object); ok && eo.ClassName() == "Array" {
			k := int(eo.Get("length").ToInteger())
			for i := 0; i < k; i++ {
				f.sendOne(port, eo.Get(itoa(i)), msgid)
			}
			continue
		}
		f.sendOne(port, e, msgid)
	}
}

func (f *fnVM) sendOne(port int, v goja.Value, msgid string) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return
	}
	o, ok := v.(*goja.Object)
	if ok {
		if _, isBuf := bufferBytes(o); isBuf {
			f.reportErr(errors.New("Function tried to send a message of type Buffer"), nil)
			return
		}
		switch o.ClassName() {
		case "Array":
			f.reportErr(errors.New("Function tried to send a message of type Array"), nil)
			return
		case "Date":
			f.reportErr(errors.New("Function tried to send a message of type Date"), nil)
			return
		}
	} else {
		f.reportErr(fmt.Errorf("Function tried to send a message of type %s", jsv.TypeOf(primitive(v))), nil)
		return
	}
	if f.closing {
		f.reportErr(errors.New("Cannot send from close function"), nil)
		return
	}
	if port >= f.n.outputs {
		return
	}
	f.effect = append(f.effect, effect{port: port, m: f.msgFromJS(o, msgid)})
}

var payloadPath, _ = engine.ParsePath("payload")

// msgFromJS makes a message of a msg object; msgid, when set, is its
// _msgid (as Node-RED gives every message a function sends the _msgid of
// the message it is handling).
func (f *fnVM) msgFromJS(o *goja.Object, msgid string) *engine.Message {
	if v := f.asMsgObject(o); v != nil {
		if v == f.reuseView {
			m := f.reuse
			f.reuse, f.reuseView = nil, nil
			m.Clear()
			return v.fill(m, msgid)
		}
		return v.fill(engine.NewMessage("", nil), msgid)
	}
	if msgid == sameID {
		msgid = f.curID()
	}
	m := engine.NewMessage("", nil)
	for _, k := range o.Keys() {
		if k == "_msgid" && msgid != "" {
			continue
		}
		v := f.fromJS(o.Get(k))
		if v == jsv.Undefined {
			continue
		}
		m.SetProp(k, v)
	}
	if msgid != "" {
		m.SetProp("_msgid", msgid)
	}
	return m
}

// jsTimer is a setTimeout or setInterval.
type jsTimer struct {
	id       int64
	when     time.Time
	seq      uint64
	every    time.Duration // 0 for a timeout
	fn       goja.Callable
	args     []goja.Value
	msgid    string
	index    int
	canceled bool
}

type timerHeap []*jsTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int)  { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *timerHeap) Push(x any)    { t := x.(*jsTimer); t.index = len(*h); *h = append(*h, t) }
func (h *timerHeap) Pop() (x any)  { old := *h; x = old[len(old)-1]; *h = old[:len(old)-1]; return x }
func (h timerHeap) peek() *jsTimer { return h[0] }

// maxTimers bounds the timers one node may have pending.
const maxTimers = 100000

// addTimer schedules fn after delay (every delay when repeat is set), as
// Node.js does: a delay below 1 ms, or not a number, is 1 ms.
func (f *fnVM) addTimer(c goja.FunctionCall, repeat bool) goja.Value {
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		panic(f.vm.NewTypeError("The \"callback\" argument must be of type function"))
	}
	if f.closed || f.closing {
		return goja.Undefined()
	}
	if len(f.timers) >= maxTimers {
		panic(f.vm.NewGoError(fmt.Errorf("too many timers (%d)", maxTimers)))
	}
	ms := c.Argument(1).ToFloat()
	if math.IsNaN(ms) || ms < 1 || ms > math.MaxInt32 {
		ms = 1
	}
	d := time.Duration(ms * float64(time.Millisecond))
	f.nextID++
	f.timerSeq++
	t := &jsTimer{id: f.nextID, when: time.Now().Add(d), seq: f.timerSeq, fn: fn, msgid: f.curID()}
	if repeat {
		t.every = d
	}
	if len(c.Arguments) > 2 {
		t.args = append([]goja.Value(nil), c.Arguments[2:]...)
	}
	f.timers[t.id] = t
	heap.Push(&f.due, t)
	f.arm()
	return f.vm.ToValue(t.id)
}

func (f *fnVM) clearTimer(c goja.FunctionCall) goja.Value {
	id := c.Argument(0).ToInteger()
	if t := f.timers[id]; t != nil {
		t.canceled = true
		delete(f.timers, id)
	}
	return goja.Undefined()
}

// arm sets the Go timer for the earliest JavaScript timer.
func (f *fnVM) arm() {
	for len(f.due) > 0 && f.due.peek().canceled {
		heap.Pop(&f.due)
	}
	if len(f.due) == 0 || f.closed {
		if f.wake != nil {
			f.wake.Stop()
		}
		return
	}
	d := time.Until(f.due.peek().when)
	if f.wake == nil {
		f.wake = time.AfterFunc(d, f.fire)
		return
	}
	f.wake.Reset(d)
}

// fire runs the timers that are due, in order, on the Go timer's
// goroutine.
func (f *fnVM) fire() {
	n := f.n
	defer func() {
		if v := recover(); v != nil {
			n.h.ReportPanic(v)
		}
	}()
	n.mu.Lock()
	if f.closed {
		n.mu.Unlock()
		return
	}
	now := time.Now()
	var ready []*jsTimer
	for len(f.due) > 0 && !f.due.peek().when.After(now) {
		ready = append(ready, heap.Pop(&f.due).(*jsTimer))
	}
	for _, t := range ready {
		if t.canceled || f.closed {
			continue
		}
		if t.every > 0 {
			t.when = t.when.Add(t.every)
			if t.when.Before(now) {
				t.when = now.Add(t.every)
			}
			f.timerSeq++
			t.seq = f.timerSeq
			heap.Push(&f.due, t)
		} else {
			delete(f.timers, t.id)
		}
		f.setID(t.msgid)
		if _, err := n.run(t.fn, goja.Undefined(), t.args...); err != nil {
			// Node-RED reports a timer's error against an empty message.
			f.reportErr(f.jsError(err), engine.NewMessage("", nil))
		}
		f.setID("")
	}
	f.arm()
	n.post(f.takeEffects())
	n.discardIfOOM()
	n.mu.Unlock()
	n.deliver()
}
