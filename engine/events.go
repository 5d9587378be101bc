package engine

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/runnel-io/runnel/flows"
)

// WatchKind says which events of other nodes a watching node receives.
type WatchKind uint8

// The kinds of watch: Node-RED's catch, status and complete nodes.
const (
	// WatchErrors receives the errors other nodes report against a
	// message (Node-RED's catch).
	WatchErrors WatchKind = iota + 1
	// WatchStatus receives other nodes' status changes (Node-RED's status).
	WatchStatus
	// WatchComplete receives the messages other nodes have finished
	// (Node-RED's complete).
	WatchComplete
)

// Watch is what a watching node receives. For errors and status, Scope
// nil means every node of the watcher's tab, Group every node of its
// group (and the groups inside it); for complete, Scope lists the nodes
// watched and nothing else is.
type Watch struct {
	Kind     WatchKind
	Scope    []string
	Group    bool
	Uncaught bool // errors only: only those no other catch node handled
}

// Watcher is implemented by nodes that receive other nodes' errors,
// status or finished messages (catch, status and complete). The runtime
// calls Watch once, when it compiles the graph, and from then on hands
// the node, through its Receive, a message for every event in scope:
//
//   - errors: a copy of the message the error was reported against, with
//     msg.error = {message, source: {id, type, name, count}} as Node-RED
//     builds it (a msg.error already there moves to msg._error). Only
//     errors reported with a message reach catch nodes, as in Node-RED.
//   - status: a new message with msg.status = {fill, shape, text,
//     source: {id, type, name}}.
//   - complete: a copy of the finished message with
//     msg.complete = {source: {id, type, name}}.
//
// The event is handed over on the goroutine of the node that reported it,
// before Host.Error or Host.Status returns.
type Watcher interface {
	Watch() Watch
}

// A node is done with a message (for complete nodes) when its Receive
// returns nil for it (or, for a node that called Output.Hold, when it
// calls the function Hold returned), unless the node reported an error against that very
// message (Host.Error with the *Message it received) while handling it:
// that is Node-RED's done(err), which fires catch nodes and not complete
// ones. The message complete nodes get is the received message as the
// node left it: as it was when the node first sent it on (Output.Send of
// the same *Message), else as it is when Receive returns.

// CatchTexter is implemented by errors whose text in a catch node's
// msg.error.message is not the text logged: the function node logs where
// in the code an error was thrown, while Node-RED's catch nodes see the
// thrown error alone.
type CatchTexter interface {
	CatchText() string
}

// maxCatchCount is Node-RED's limit on how many times one message may be
// caught for an error of the same node (msg.error.source.count).
const maxCatchCount = 10

// watchers are a graph's routing tables for errors, status and complete.
type watchers struct {
	catch    map[string][]int // by tab id, in Node-RED's order (see orderCatch)
	status   map[string][]int // by tab id
	complete map[int][]int    // by watched slot
	group    []string         // each slot's group id ("" when none)
	parent   map[string]string
	scope    map[int]Watch // each watching slot's watch
}

// buildWatchers fills g's routing tables from the nodes that implement
// Watcher. Node-RED drops from a complete or status node's list the nodes
// that node is itself wired to; so does Runnel.
func (c *compiler) buildWatchers(g *Graph) {
	w := &watchers{parent: make(map[string]string), group: make([]string, len(g.slots)), scope: make(map[int]Watch)}
	for _, n := range c.doc.Nodes {
		if n.Type == "group" {
			w.parent[n.ID] = groupOf(n)
		}
	}
	for i, s := range g.slots {
		if n := c.byID[s.host.id]; n != nil {
			w.group[i] = groupOf(n)
		}
		wn, ok := s.node.(Watcher)
		if !ok {
			continue
		}
		watch := wn.Watch()
		w.scope[i] = watch
		wired := func(id string) bool {
			for _, port := range c.byID[s.host.id].Wires {
				if slices.Contains(port, id) {
					return true
				}
			}
			return false
		}
		switch watch.Kind {
		case WatchErrors:
			if w.catch == nil {
				w.catch = make(map[string][]int)
			}
			w.catch[s.host.z] = append(w.catch[s.host.z], i)
		case WatchStatus:
			if w.status == nil {
				w.status = make(map[string][]int)
			}
			if watch.Scope != nil {
				watch.Scope = slices.DeleteFunc(slices.Clone(watch.Scope), wired)
				w.scope[i] = watch
			}
			w.status[s.host.z] = append(w.status[s.host.z], i)
		case WatchComplete:
			for _, id := range watch.Scope {
				j, ok := g.index[id]
				if !ok || wired(id) || slices.Contains(w.complete[j], i) {
					continue
				}
				if w.complete == nil {
					w.complete = make(map[int][]int)
				}
				w.complete[j] = append(w.complete[j], i)
				g.slots[j].watched = true
			}
		}
	}
	// Node-RED tries catch nodes with a list of nodes or "group" first,
	// then those for the whole tab, then those for uncaught errors.
	for _, list := range w.catch {
		sort.SliceStable(list, func(a, b int) bool { return w.catchRank(list[a]) < w.catchRank(list[b]) })
	}
	if w.catch != nil || w.status != nil || w.complete != nil {
		g.watch = w
	}
}

func (w *watchers) catchRank(i int) int {
	s := w.scope[i]
	switch {
	case s.Scope != nil || s.Group:
		return 0
	case s.Uncaught:
		return 2
	}
	return 1
}

// groupOf returns the "g" of a node, or "".
func groupOf(n *flows.Node) string {
	raw, ok := n.Get("g")
	if !ok {
		return ""
	}
	var g string
	_ = json.Unmarshal(raw, &g)
	return g
}

// candidates returns the watching nodes of list that see an event of node
// src, nearest group first, as Node-RED's handleError and handleStatus
// pick them.
func (w *watchers) candidates(list []int, src int, srcID string) []int {
	type cand struct{ d, i int }
	var cs []cand
	for _, i := range list {
		s := w.scope[i]
		tg := w.group[i]
		if tg != "" && s.Group && w.group[src] == "" {
			continue
		}
		if s.Scope != nil && !slices.Contains(s.Scope, srcID) {
			continue
		}
		d := 0
		if g := w.group[src]; g != "" {
			for steps := 0; g != "" && g != tg && steps < 64; steps++ {
				d++
				g = w.parent[g]
			}
			if g == "" && tg != "" && s.Group {
				continue
			}
		}
		cs = append(cs, cand{d, i})
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].d < cs[b].d })
	out := make([]int, len(cs))
	for k, c := range cs {
		out[k] = c.i
	}
	return out
}

var (
	pathErrSourceID    = MustParsePath("error.source.id")
	pathErrSourceCount = MustParsePath("error.source.count")
)

// routeError hands the error err of node h, reported against m, to the
// catch nodes that see it, and reports whether any did.
func (rt *Runtime) routeError(h *Host, err error, m *Message) bool {
	if m == nil || h.z == "" {
		return false
	}
	b := h.acquire()
	if b == nil {
		return false
	}
	defer b.g.active.Add(-1)
	g, w := b.g, b.g.watch
	if w != nil && w.complete != nil && g.slots[b.idx].watched {
		g.slots[b.idx].markFailed(m)
	}
	if w == nil || len(w.catch) == 0 {
		return false
	}
	count := 1
	if id, ok := m.Get(pathErrSourceID); ok && id == h.id {
		c, _ := m.Get(pathErrSourceCount)
		n, _ := Number(c)
		count = int(n) + 1
		if count >= maxCatchCount {
			h.log.Warn("Message exceeded maximum number of catches", slog.String("msgid", m.ID()))
			return false
		}
	}
	text := ""
	var ct CatchTexter
	if errors.As(err, &ct) {
		text = ct.CatchText()
	} else if err != nil {
		text = err.Error()
	}
	handled := false
	// An error no catch node of a subflow instance handles goes on to the
	// flow around the instance, reported by the instance (see subflowUp).
	for z, src, srcID := h.z, b.idx, h.id; !handled; {
		byUncaught := false
		for _, i := range w.candidates(w.catch[z], src, srcID) {
			if w.scope[i].Uncaught && !byUncaught {
				if handled {
					continue
				}
				byUncaught = true
			}
			if m.events >= maxEventChain {
				h.log.Warn("error not caught: the message has been through catch and complete nodes too often (does a catch flow feed the nodes it catches?)", slog.String("msgid", m.ID()))
				return true
			}
			em := m.Copy()
			em.events = m.events + 1
			if prev, ok := em.Prop("error"); ok {
				em.SetProp("_error", prev)
			}
			em.SetProp("error", errorValue(text, h, count))
			g.deliverEvent(i, em)
			handled = true
		}
		var ok bool
		if z, src, srcID, ok = g.subflowUp(z, false); !ok {
			break
		}
	}
	return handled
}

// errorValue builds msg.error as Node-RED does, keys in its order.
func errorValue(text string, h *Host, count int) RawJSON {
	b := make([]byte, 0, 64+len(text))
	b = append(b, `{"message":`...)
	b = appendJSONString(b, text)
	b = append(b, `,"source":`...)
	b = appendSource(b, h)
	b = b[:len(b)-1]
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	return RawJSON(append(b, "}}"...))
}

// appendSource appends {"id","type","name"} of h; the name is left out
// when the node has none in the document (Node-RED's nodes copy their
// "name" property, "" included).
func appendSource(b []byte, h *Host) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, h.id)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, flows.NodeREDType(h.typ))
	if h.name != "" || h.hasName {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, h.name)
	}
	return append(b, '}')
}

// routeStatus hands a status change of node h to the status nodes that
// see it.
func (rt *Runtime) routeStatus(h *Host, st Status) {
	if h.z == "" {
		return
	}
	b := h.acquire()
	if b == nil {
		return
	}
	defer b.g.active.Add(-1)
	g, w := b.g, b.g.watch
	if w == nil || len(w.status) == 0 {
		return
	}
	// A status no status node of a subflow instance handles goes on to
	// the flow around the instance, reported by the instance, unless the
	// subflow has a status output (see subflowUp).
	z, src, srcID := h.z, b.idx, h.id
	cands := w.candidates(w.status[z], src, srcID)
	for len(cands) == 0 {
		var ok bool
		if z, src, srcID, ok = g.subflowUp(z, true); !ok {
			return
		}
		cands = w.candidates(w.status[z], src, srcID)
	}
	for _, i := range cands {
		v := make([]byte, 0, 96)
		v = append(v, '{')
		for _, f := range [...]struct{ k, v string }{{"fill", st.Fill}, {"shape", st.Shape}, {"text", st.Text}} {
			if f.v != "" {
				v = append(v, '"')
				v = append(v, f.k...)
				v = append(v, `":`...)
				v = appendJSONString(v, f.v)
				v = append(v, ',')
			}
		}
		v = append(v, `"source":`...)
		v = appendSource(v, h)
		v = append(v, '}')
		sm := NewMessage("", nil)
		sm.SetProp("status", RawJSON(v))
		g.deliverEvent(i, sm)
	}
}

// complete hands m, finished by node idx, to the complete nodes watching
// it.
func (g *Graph) complete(idx int, m *Message) {
	h := g.slots[idx].host
	for _, i := range g.watch.complete[idx] {
		if m.events >= maxEventChain {
			return
		}
		cm := m.Copy()
		cm.events = m.events + 1
		b := append([]byte(`{"source":`), appendSource(nil, h)...)
		cm.SetProp("complete", RawJSON(append(b, '}')))
		g.deliverEvent(i, cm)
	}
}

// maxQueuedEvents bounds a graph's queue of event deliveries (see
// deliverEvent); beyond it events are dropped with a warning.
const maxQueuedEvents = 10000

// maxEventChain bounds how many catch and complete deliveries a message
// may descend from: a catch flow that fails again on what it caught, with
// msg.error removed so that Node-RED's count cannot stop it, stops there.
const maxEventChain = 64

// eventQueue holds a graph's event deliveries (catch, status, complete)
// in order, for the one goroutine that runs them.
type eventQueue struct {
	mu      sync.Mutex
	q       []queuedEvent
	running bool
	dropped bool // a drop was logged since the queue last emptied
}

type queuedEvent struct {
	i int
	m *Message
}

// deliverEvent queues an event's message for watching node i. Events run
// in order on a goroutine of the graph's own, as Node-RED delivers them
// asynchronously: never on the goroutine of the node that reported the
// error or status (which may hold its own lock, and whose flow the event
// may lead back to), so a catch flow that fails again, or fans out into
// more errors, neither recurses nor blocks the source; a flow that keeps
// feeding its own catch node loops in the background, as in Node-RED,
// with the queue bounded. The graph counts queued events as active, so a
// deploy closes nothing they are going to.
func (g *Graph) deliverEvent(i int, m *Message) {
	if g.closing.Load() {
		return // replaced or stopping: its catch and status nodes are closing
	}
	e := &g.events
	e.mu.Lock()
	if len(e.q) >= maxQueuedEvents {
		first := !e.dropped
		e.dropped = true
		e.mu.Unlock()
		if first {
			g.slots[i].host.log.Warn("event dropped: too many catch, status and complete events queued (does a flow feed its own catch or status node?)", slog.String("msgid", m.ID()))
		}
		return
	}
	e.q = append(e.q, queuedEvent{i, m})
	if e.running {
		e.mu.Unlock()
		return
	}
	e.running = true
	g.active.Add(1)
	e.mu.Unlock()
	go g.runEvents()
}

// runEvents delivers the queued events until the queue is empty.
func (g *Graph) runEvents() {
	e := &g.events
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			e.running, e.dropped, e.q = false, false, nil
			e.mu.Unlock()
			g.active.Add(-1)
			return
		}
		if g.closing.Load() {
			// The graph is being replaced or stopped: what is queued
			// would go to nodes about to close, and a flow looping
			// through its status nodes would hold the deploy forever.
			e.q = nil
			e.mu.Unlock()
			continue
		}
		ev := e.q[0]
		e.q[0] = queuedEvent{}
		e.q = e.q[1:]
		e.mu.Unlock()
		g.deliver(ev.i, ev.m)
	}
}

// doneState follows one message through the Receive of a node watched by
// complete nodes: the copy taken when the node first sent it on, and
// whether the node reported an error against it.
type doneState struct {
	in     *Message
	pre    *Message // a copy of in taken before Receive
	mu     sync.Mutex
	snap   *Message
	over   bool
	held   bool // the node finishes in later, through the function Hold returned
	failed atomic.Bool
}

// sent records m as the node sends it; called from Output.Send.
func (d *doneState) sent(m *Message) {
	if m != d.in {
		return
	}
	d.mu.Lock()
	if !d.over && d.snap == nil {
		d.snap = m.Copy()
	}
	d.mu.Unlock()
}

// finish ends the Receive and returns the message as the node sent it,
// or, if it has not sent it, as it came in: a node that goes on working
// on the message on a goroutine of its own (http request) may be
// changing it now, so it is not read here.
func (d *doneState) finish() *Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.held {
		d.over = true
	}
	if d.snap != nil {
		return d.snap
	}
	return d.pre
}

// markFailed records an error reported against m by the slot's node
// while it handles m.
func (s *slot) markFailed(m *Message) {
	if v, ok := s.inflight.Load(m); ok {
		v.(*doneState).failed.Store(true)
	}
}

// Hold tells the runtime that the node finishes the message it is
// handling later, not when its Receive returns: complete nodes watching
// the node see the message when the node calls done (Node-RED's done()
// called from a callback). done hands them fin, the message as the node
// finished it, or when fin is nil the message as it came in (or as the
// node first sent it on). Only the first call counts; an error the node
// reports against the message before it calls done (Host.Error with the
// received message) means the complete nodes never see it, as a
// Receive that returns an error does.
//
// Called with complete false, done lets the message go without the
// complete nodes seeing it (a node that closes with messages it never
// finished). Hold must be called during Receive. For a node that no
// complete node watches it returns nil, so that a node can skip the work
// of building fin.
func (o Output) Hold() (done func(fin *Message, complete bool)) {
	d := o.done
	if d == nil {
		return nil
	}
	d.mu.Lock()
	d.held = true
	d.mu.Unlock()
	g, idx := o.g, o.idx
	var once atomic.Bool
	return func(fin *Message, complete bool) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		g.slots[idx].inflight.Delete(d.in)
		if !complete || d.failed.Load() {
			return
		}
		if fin == nil {
			fin = d.result()
		}
		g.complete(idx, fin)
	}
}

// result is the message as the node sent it on, else as it came in.
func (d *doneState) result() *Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.snap != nil {
		return d.snap
	}
	return d.pre
}

// deliverWatched is deliver for a node that complete nodes watch.
func (g *Graph) deliverWatched(idx int, m *Message) {
	s := g.slots[idx]
	d := &doneState{in: m, pre: m.Copy()}
	s.inflight.Store(m, d)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				s.host.errs.Add(1)
				err = errPanicked
				s.host.rt.reportPanic(s.host, r, m)
			}
		}()
		err = s.recv.Receive(s.host.ctx, m, Output{g: g, idx: idx, done: d})
	}()
	out := d.finish()
	if err != nil {
		d.failed.Store(true) // a done from Hold must not complete it now
		s.inflight.Delete(m)
		if err != errPanicked {
			s.host.errs.Add(1)
			s.host.rt.reportError(s.host, err, m)
		}
		return
	}
	if d.held {
		return // the node calls the function Hold gave it
	}
	s.inflight.Delete(m)
	if !d.failed.Load() {
		g.complete(idx, out)
	}
}

// Quiet reports whether nothing is on its way through g: no message a
// source sent, and no queued catch, status or complete event.
func (g *Graph) Quiet() bool { return g.active.Load() == 0 }
