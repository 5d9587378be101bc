package function

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/nodes/internal/mustache"
)

// TriggerTopicLimit is the most streams (topics, with bytopic "topic") a
// trigger node holds at once. Beyond it a message that would start a new
// stream is dropped and reported as an error with the message; Node-RED
// holds any number.
const TriggerTopicLimit = 10000

// TriggerConfig is the configuration of a trigger node, with Node-RED's
// property names.
type TriggerConfig struct {
	Op1           string  `json:"op1" label:"Send" default:"1" typeprop:"op1type" types:"str,num,bool,json,bin,date,env,flow,global,pay,nul" typelabels:"pay=the existing msg object,nul=nothing" novalue:"pay,nul" help:"the existing msg object: the message as it came; nothing: send nothing now"`
	Op1type       string  `json:"op1type" label:"Send type" kind:"hidden" default:"str"`
	Duration      float64 `json:"duration" label:"Then wait for" default:"250" help:"0: until reset; negative: resend the first message every so long until reset"`
	Units         string  `json:"units" label:"Units" default:"ms" options:"ms=Milliseconds,s=Seconds,min=Minutes,hr=Hours"`
	Extend        bool    `json:"extend" label:"Extend delay if new message arrives"`
	OverrideDelay bool    `json:"overrideDelay" label:"Override delay with msg.delay (ms)"`
	Op2           string  `json:"op2" label:"Then send" default:"0" typeprop:"op2type" types:"str,num,bool,json,bin,date,env,flow,global,pay,payl,nul" typelabels:"pay=the original msg object,payl=the latest msg object,nul=nothing" novalue:"pay,payl,nul" help:"the original msg object: the first message again; the latest msg object: the last one received meanwhile; nothing: send nothing"`
	Op2type       string  `json:"op2type" label:"Then send type" kind:"hidden" default:"str"`
	Reset         string  `json:"reset" label:"Reset if msg.payload is" keepempty:"true" help:"besides any message with msg.reset"`
	Bytopic       string  `json:"bytopic" label:"Handling" default:"all" options:"all=all messages,topic=each msg. property value"`
	Topic         string  `json:"topic" label:"Property" default:"topic" showif:"bytopic=topic" help:"the message property that tells the streams apart"`
	Outputs       int     `json:"outputs" label:"Outputs" default:"1" min:"1" max:"2" help:"2: the second message goes to the second output"`
}

// TriggerType is Node-RED's trigger node.
var TriggerType = engine.NewType(engine.Meta{
	Type:        "trigger",
	Category:    "function",
	Inputs:      1,
	Outputs:     1,
	OutputsFrom: "outputs",
	Color:       "#E6E0F8",
	Icon:        "trigger.svg",
	Labels:      []engine.LabelRule{{Text: "trigger"}},
	Help: `Sends a message when triggered, then optionally a second one after a while, unless extended or reset: Node-RED's **trigger** node.

When a message arrives and the node is not already triggered, it sends the message with its payload set to **op1** (of type **op1type**: str, num, bool, json, bin, date, env, flow, global; **pay** keeps the message's own payload; **nul** sends nothing). A str value with {{ }} in it is a mustache template rendered against the message. It then waits **duration** **units** (msg.delay milliseconds with **overrideDelay**) and sends the same message with its payload set to **op2** (**pay**: the first message's payload; **payl**: the latest message received meanwhile, whole; **nul**: nothing). flow, global and date values of op2 are read when it is sent.

While triggered, new messages are ignored, unless **extend** is set: each one then restarts the wait, and the second message is the latest one with op2 as its payload. A **duration** of 0 waits until a reset. A negative **duration** resends the first message every so long until a reset (a date op1 gets the time of each send).

A message with msg.reset, or whose payload (as text) equals **reset**, stops the wait without sending anything.

With **bytopic** "topic" each value of the message property **topic** is a stream of its own, triggered and reset on its own (a message without it belongs to the stream "_none"). With **outputs** 2 the second message goes to the second output.

The status is a blue dot while triggered, with the number of streams when there are more than one.

Differences from Node-RED:
- At most 10000 streams are held; a message that would start another is dropped and reported as an error with the message.
- A deploy that keeps the node keeps its streams and timers (Node-RED loses them on every deploy that touches the flow). One that replaces it hands them to the new node: a pending second message comes when it was due, as the old node computed it; a stream still triggered still blocks. If the new node's mode differs (per topic or not, resending or not), or on a shutdown, they stop as in Node-RED: a pending second message is not sent, since it would report a timeout that did not happen.
- Values are checked when the flow is deployed (a num that is not a number, JSON that does not parse, a date format other than milliseconds, iso or object): Node-RED finds them per message.`,
}, newTrigger)

func init() { engine.Register(TriggerType) }

// trigOp is op1 or op2, compiled.
type trigOp struct {
	typ  string // as Node-RED resolves it: val becomes bool, null or str
	val  engine.Typed
	tmpl *mustache.Template // a str value with {{ in it
}

// trigStream is the state of one stream (all messages, or one topic).
type trigStream struct {
	active bool        // triggered: a timer, an interval or a wait for reset
	timer  *time.Timer // the second message's timer, or the interval
	gen    uint64      // stale timers of a stream check it
	m2     any         // op2's value, as computed so far

	// The second message's wait: when it ends and what it does then:
	// fire with pendMsg, or fireExtended with it when pendExt.
	due     time.Time
	seq     uint64
	pendMsg *engine.Message
	pendExt bool
	// A negative duration's interval resends first.
	first *engine.Message
}

type triggerNode struct {
	h        *engine.Host
	op1, op2 trigOp
	duration float64 // ms
	loop     bool
	extend   bool
	override bool
	reset    string
	bytopic  bool
	topic    engine.Path
	second   bool

	mu      sync.Mutex
	ob      *outbox
	closed  bool
	seq     uint64
	streams map[string]*trigStream
	latest  map[string]*engine.Message // payl: the latest message of each stream
}

func compileTrigOp(which, value, typ string) (trigOp, error) {
	field := which + "type"
	if typ == "" {
		typ = "str"
	}
	if typ == "val" {
		switch value {
		case "true", "false":
			typ = "bool"
		case "null":
			typ = "null"
		default:
			typ = "str"
		}
	}
	op := trigOp{typ: typ}
	switch typ {
	case "pay", "nul", "null":
		return op, nil
	case "payl":
		if which == "op2" {
			return op, nil
		}
	case "date":
		if (which == "op1" && value == "1") || (which == "op2" && value == "0") {
			value = ""
		}
	case "str":
		if strings.Contains(value, "{{") {
			t, err := mustache.Parse(value)
			if err != nil {
				return op, engine.ErrField(which, fmt.Errorf("template: %w", err))
			}
			op.tmpl = t
			return op, nil
		}
	}
	switch typ {
	case engine.TypeStr, engine.TypeNum, engine.TypeBool, engine.TypeJSON, engine.TypeBin, engine.TypeDate, engine.TypeEnv, engine.TypeFlow, engine.TypeGlobal:
	default:
		return op, engine.ErrField(field, fmt.Errorf("%q is not a type the trigger node sends", typ))
	}
	t, err := engine.ParseTyped(typ, value)
	if err != nil {
		return op, engine.ErrField(which, err)
	}
	op.val = t
	return op, nil
}

func newTrigger(cfg *TriggerConfig, h *engine.Host) (engine.Node, error) {
	n := &triggerNode{h: h, extend: cfg.Extend, override: cfg.OverrideDelay, reset: cfg.Reset,
		bytopic: cfg.Bytopic == "topic", second: cfg.Outputs == 2,
		streams: make(map[string]*trigStream), latest: make(map[string]*engine.Message)}
	n.ob = newOutbox(h, &n.mu)
	var err error
	if n.op1, err = compileTrigOp("op1", cfg.Op1, cfg.Op1type); err != nil {
		return nil, err
	}
	if n.op2, err = compileTrigOp("op2", cfg.Op2, cfg.Op2type); err != nil {
		return nil, err
	}
	n.duration = cfg.Duration
	if n.duration < 0 {
		n.loop, n.extend, n.duration = true, false, -n.duration
	}
	switch cfg.Units {
	case "s":
		n.duration *= 1000
	case "min":
		n.duration *= 60 * 1000
	case "hr":
		n.duration *= 60 * 60 * 1000
	}
	topic := cfg.Topic
	if topic == "" {
		topic = "topic"
	}
	if n.topic, err = engine.ParsePath(topic); err != nil {
		return nil, engine.ErrField("topic", err)
	}
	return n, nil
}

// Outputs is the number of output ports: 1, or 2 with the second message
// on the second.
func (n *triggerNode) Outputs() int {
	if n.second {
		return 2
	}
	return 1
}

// Metrics reports how many streams are triggered.
func (n *triggerNode) Metrics() []engine.Metric {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []engine.Metric{{Name: "runnel_node_queued_messages", Value: float64(len(n.streams))}}
}

// plainView is the mustache view of a message as mustache.js sees a
// msg: its properties only (no flow, global or env as the template node
// has).
type plainView struct{ messageView }

func (plainView) Fallback(string) mustache.Value { return mustache.Value{} }

// value computes op for message m.
func (n *triggerNode) value(op trigOp, m *engine.Message) (any, error) {
	switch {
	case op.tmpl != nil:
		return string(op.tmpl.Render(nil, &plainView{messageView{m: m}})), nil
	case op.typ == "null":
		return nil, nil
	}
	return op.val.Eval(n.h, m)
}

// status is Node-RED's: nothing when idle, a blue dot while triggered,
// with the number of streams when there are several.
func (n *triggerNode) status() {
	switch l := len(n.streams); l {
	case 0:
		n.ob.status(engine.Status{})
	case 1:
		n.ob.status(engine.Status{Fill: "blue", Shape: "dot"})
	default:
		n.ob.status(engine.Status{Fill: "blue", Shape: "dot", Text: fmt.Sprint(l)})
	}
}

func (n *triggerNode) port2() int {
	if n.second {
		return 1
	}
	return 0
}

// Receive triggers, extends or resets the message's stream.
func (n *triggerNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	n.mu.Lock()
	n.ob.use(out)
	err := n.receive(m)
	n.mu.Unlock()
	n.ob.deliver()
	return err
}

func (n *triggerNode) receive(m *engine.Message) error {
	if n.closed {
		return nil
	}
	key := "_none"
	if n.bytopic {
		if v, ok := m.Lookup(n.topic); ok && jsv.Truthy(v) {
			key = jsv.ToString(v)
		}
	}
	wait := n.duration
	if n.override {
		if d, ok := m.Prop("delay"); ok {
			if f, ok := jsv.ParseFloat(d); ok {
				wait = f
			}
		}
	}
	if n.isReset(m) {
		if st := n.streams[key]; st != nil {
			n.stop(st)
			delete(n.streams, key)
		}
		delete(n.latest, key)
		n.status()
		return nil
	}
	st := n.streams[key]
	if st == nil {
		if len(n.streams) >= TriggerTopicLimit {
			return fmt.Errorf("trigger: too many streams held (the limit is %d): message dropped", TriggerTopicLimit)
		}
		st = &trigStream{}
		n.streams[key] = st
	}
	if n.op2.typ == "payl" {
		n.latest[key] = m.Copy()
	}
	switch {
	case !st.active || n.loop:
		return n.start(key, st, m, wait)
	case n.extend && wait > 0:
		if n.op2.typ == "payl" {
			st.m2 = m.Payload
		}
		n.stop(st)
		n.wait(key, st, wait, m, true)
	}
	return nil
}

// isReset reports whether m resets its stream: msg.reset, or a payload
// whose text is the node's reset value.
func (n *triggerNode) isReset(m *engine.Message) bool {
	if _, ok := m.Prop("reset"); ok {
		return true
	}
	if n.reset == "" {
		return false
	}
	p, ok := m.Lookup(payloadPath)
	return ok && p != nil && jsv.ToString(p) == n.reset
}

// stop stops a stream's timer; timers already running see a new gen.
func (n *triggerNode) stop(st *trigStream) {
	st.gen++
	st.pendMsg, st.first = nil, nil
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
}

// wait arms the second message of stream st: fire (fireExtended when ext)
// with m runs, with the lock held, wait ms from now.
func (n *triggerNode) wait(key string, st *trigStream, wait float64, m *engine.Message, ext bool) {
	d := msDuration(wait)
	n.seq++
	st.active, st.due, st.seq, st.pendMsg, st.pendExt = true, time.Now().Add(d), n.seq, m, ext
	gen := st.gen
	st.timer = afterFunc(n.h, d, func() { n.expire(key, st, gen) })
}

// expire ends the wait of stream st. Timers run on goroutines of their
// own, so two streams due together may expire in either order: expire
// ends, with st's, every wait due no later than st's, in due order (then
// the order they started), as Node-RED's timer list does.
func (n *triggerNode) expire(key string, st *trigStream, gen uint64) {
	n.mu.Lock()
	defer n.ob.deliver()
	defer n.mu.Unlock()
	if !n.live(key, st, gen) || st.pendMsg == nil {
		return
	}
	var due []*trigStream
	keys := map[*trigStream]string{}
	for k, s := range n.streams {
		if s.pendMsg != nil && !s.due.After(st.due) {
			due = append(due, s)
			keys[s] = k
		}
	}
	slices.SortFunc(due, func(a, b *trigStream) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, s := range due {
		m, ext := s.pendMsg, s.pendExt
		s.pendMsg = nil
		if s.timer != nil {
			s.timer.Stop()
			s.timer = nil
		}
		if ext {
			n.fireExtended(keys[s], s, m)
		} else {
			n.fire(keys[s], s, m)
		}
	}
}

// start triggers a stream: computes op2 and op1, arms the wait (or the
// resend interval) and sends the first message.
func (n *triggerNode) start(key string, st *trigStream, m *engine.Message, wait float64) error {
	switch {
	case n.op2.typ == "pay":
		st.m2 = m.Payload
	case n.op2.typ == "nul" || n.op2.typ == "payl":
	default:
		v, err := n.value(n.op2, m)
		if err != nil {
			return err
		}
		st.m2 = v
	}
	switch n.op1.typ {
	case "pay", "nul":
	default:
		v, err := n.value(n.op1, m)
		if err != nil {
			return err
		}
		m.SetProp("payload", v)
	}
	switch {
	case wait == 0:
		st.active = true // until reset
	case n.loop:
		n.stop(st)
		if n.op1.typ != "nul" {
			st.active = true
			st.first = m.Copy()
			n.loopEvery(st, interval(wait))
		}
	default:
		n.wait(key, st, wait, m, false)
	}
	n.status()
	if n.op1.typ != "nul" {
		n.ob.send(0, m.Copy())
	}
	return nil
}

// live reports, with the lock held, whether a timer of stream st armed at
// gen still counts.
func (n *triggerNode) live(key string, st *trigStream, gen uint64) bool {
	return !n.closed && n.streams[key] == st && st.gen == gen
}

// loopEvery arms the interval of a negative duration, which resends
// st.first; the lock is held.
func (n *triggerNode) loopEvery(st *trigStream, every time.Duration) {
	gen := st.gen
	st.timer = afterFunc(n.h, every, func() { n.resend(st, gen, every) })
}

// resend is the interval of a negative duration: the first message again.
func (n *triggerNode) resend(st *trigStream, gen uint64, every time.Duration) {
	n.mu.Lock()
	defer n.ob.deliver()
	defer n.mu.Unlock()
	if n.closed || st.gen != gen || st.first == nil {
		return
	}
	if n.op1.typ == engine.TypeDate {
		st.first.SetProp("payload", float64(time.Now().UnixMilli()))
	}
	n.ob.send(0, st.first.Copy())
	n.loopEvery(st, every)
}

// fire sends the second message at the end of the wait; the lock is
// held.
func (n *triggerNode) fire(key string, st *trigStream, first *engine.Message) {
	if n.op2.typ != "nul" {
		switch n.op2.typ {
		case engine.TypeFlow, engine.TypeGlobal, engine.TypeDate:
			v, err := n.value(n.op2, first)
			if err != nil {
				n.h.Error(err, nil)
				return
			}
			st.m2 = v
		}
		if n.op2.typ == "payl" {
			if l := n.latest[key]; l != nil {
				n.ob.send(n.port2(), l)
			}
			delete(n.latest, key)
		} else {
			m2 := first.Copy()
			m2.SetProp("payload", st.m2)
			n.ob.send(n.port2(), m2)
		}
	}
	delete(n.streams, key)
	n.status()
}

// fireExtended sends the second message at the end of an extended wait:
// the latest message, with op2 as its payload; the lock is held.
func (n *triggerNode) fireExtended(key string, st *trigStream, latest *engine.Message) {
	var m2 *engine.Message
	if n.op2.typ != "nul" {
		if n.op2.typ == engine.TypeFlow || n.op2.typ == engine.TypeGlobal {
			v, err := n.value(n.op2, latest)
			if err != nil {
				n.h.Error(err, nil)
				return
			}
			st.m2 = v
		}
		m2 = latest.Copy()
		m2.SetProp("payload", st.m2)
	}
	delete(n.streams, key)
	n.status()
	if m2 != nil {
		n.ob.send(n.port2(), m2)
	}
}

// Inherit takes over the streams of the trigger this node replaces in a
// deploy, when both work the same way (per topic or not, resending or
// not): a pending second message comes when it was due, a resend interval
// goes on at this node's interval, a stream waiting for a reset still
// waits. The second message is as the old node computed it when it was
// triggered (flow, global and date values are read when it is sent, from
// this node's settings). A stream this node already started (a message
// came after the deploy) wins over the old one.
func (n *triggerNode) Inherit(prev engine.Node) {
	p, ok := prev.(*triggerNode)
	if !ok || p == n {
		return
	}
	p.mu.Lock()
	if p.closed || p.bytopic != n.bytopic || p.loop != n.loop {
		p.mu.Unlock()
		return
	}
	streams, latest := p.streams, p.latest
	for _, st := range streams {
		st.gen++ // the old node's timers no longer count
		if st.timer != nil {
			st.timer.Stop()
			st.timer = nil
		}
	}
	p.streams, p.latest = make(map[string]*trigStream), make(map[string]*engine.Message)
	p.mu.Unlock()

	n.mu.Lock()
	defer n.ob.deliver()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	now := time.Now()
	keys := make([]string, 0, len(streams))
	for k := range streams {
		keys = append(keys, k)
	}
	// In the order the old node armed them, so that waits due together
	// still end in that order.
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(streams[a].seq, streams[b].seq) })
	for _, key := range keys {
		old := streams[key]
		if _, busy := n.streams[key]; busy || !old.active || len(n.streams) >= TriggerTopicLimit {
			continue
		}
		st := &trigStream{active: true, m2: old.m2}
		switch {
		case old.pendMsg != nil:
			n.wait(key, st, float64(max(old.due.Sub(now), 0))/float64(time.Millisecond), old.pendMsg, old.pendExt)
		case old.first != nil:
			st.first = old.first
			n.loopEvery(st, interval(n.duration))
		}
		n.streams[key] = st
		if l := latest[key]; l != nil && n.latest[key] == nil {
			n.latest[key] = l
		}
	}
	n.status()
}

// Close stops every stream's timer (a pending second message is not
// sent) and clears the status.
func (n *triggerNode) Close(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	for _, st := range n.streams {
		n.stop(st)
	}
	clear(n.streams)
	clear(n.latest)
	n.status()
	n.ob.wait()
	return nil
}
