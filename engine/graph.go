package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/runnel-io/runnel/flows"
)

// structuralTypes are document objects that are not nodes and do not run.
var structuralTypes = map[string]bool{"tab": true, "group": true}

// Graph is a compiled flow document: built nodes and the wires between
// them. It is immutable once compiled; a deploy replaces it as a whole.
type Graph struct {
	doc *flows.Document
	// exp is doc with its subflow instances expanded: what the graph
	// runs (see flows.Expand).
	exp   *flows.Expansion
	slots []*slot
	index map[string]int
	order []int // topological order: sources first

	// warnings are what the document has that deploys but does not work
	// as written (see Warnings); nodeWarns holds the ones each node's
	// constructor gave (Host.Warn), so that a deploy that keeps the node
	// keeps reporting them.
	warnings  []flows.Warning
	nodeWarns map[string][]flows.Warning

	// watch routes errors, status and finished messages to the catch,
	// status and complete nodes; nil when the graph has none.
	watch *watchers
	// links are the link nodes and what they link to (see Linker).
	links *linkTable

	// active counts the messages that sources have sent into this graph
	// and that are still on their way through it; a deploy waits for it to
	// drop to zero before it closes the nodes it replaced.
	active atomic.Int64

	// events queues the deliveries to catch, status and complete nodes
	// (see deliverEvent); closing is set when the graph starts to drain
	// (replaced or stopped), and ends them.
	events  eventQueue
	closing atomic.Bool
}

// slot is one node of a graph.
type slot struct {
	host  *Host
	node  Node
	recv  Receiver
	typ   *Type
	wires [][]int
	// kept is set for a node taken over from the previous graph.
	kept bool
	// watched is set for a node that complete nodes watch; inflight then
	// maps each message it is handling to its *doneState.
	watched  bool
	inflight sync.Map
}

// NodeStats are a node's message counters since it was built. A node that
// a deploy keeps running keeps its counters.
type NodeStats struct {
	In, Out, Errors uint64
}

// Document returns the flow document the graph was compiled from, as it
// was given: subflow instances are not expanded in it.
func (g *Graph) Document() *flows.Document { return g.doc }

// expanded returns the document the graph runs: Document with its
// subflow instances expanded.
func (g *Graph) expanded() *flows.Document {
	if g.exp != nil {
		return g.exp.Doc
	}
	return g.doc
}

// Warnings returns what the document has that Runnel accepts, as Node-RED
// does, but that does not work as written: wires to nodes that are not in
// the document or cannot receive (they are dropped), and what node
// constructors reported with Host.Warn (a certificate file missing on this
// machine). Sorted by line; nil when there are none.
func (g *Graph) Warnings() []flows.Warning {
	return slices.Clone(g.warnings)
}

// Node returns the built node with the given id, or nil.
func (g *Graph) Node(id string) Node {
	if i, ok := g.index[id]; ok {
		return g.slots[i].node
	}
	return nil
}

// Stats returns the counters of the node with the given id.
func (g *Graph) Stats(id string) (NodeStats, bool) {
	i, ok := g.index[id]
	if !ok {
		return NodeStats{}, false
	}
	h := g.slots[i].host
	return NodeStats{In: h.in.Load(), Out: h.out.Load(), Errors: h.errs.Load()}, true
}

// send routes m from port of node idx to its wired targets.
func (g *Graph) send(idx, port int, m *Message) {
	s := g.slots[idx]
	if port < 0 || port >= len(s.wires) {
		return
	}
	targets := s.wires[port]
	if len(targets) == 0 {
		return
	}
	s.host.out.Add(1)
	last := len(targets) - 1
	for _, t := range targets[:last] {
		g.deliver(t, m.Copy())
	}
	g.deliver(targets[last], m)
}

// deliver hands m to node idx and reports what goes wrong.
func (g *Graph) deliver(idx int, m *Message) {
	s := g.slots[idx]
	s.host.in.Add(1)
	if s.watched {
		g.deliverWatched(idx, m)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.host.errs.Add(1)
			s.host.rt.reportPanic(s.host, r, m) // logged with its stack
		}
	}()
	if err := s.recv.Receive(s.host.ctx, m, Output{g: g, idx: idx}); err != nil {
		s.host.errs.Add(1)
		s.host.rt.reportError(s.host, err, m)
	}
}

// compiler builds a Graph from a document.
type compiler struct {
	rt      *Runtime
	doc     *flows.Document
	byID    map[string]*flows.Node
	off     map[string]bool // disabled nodes and nodes on disabled tabs
	built   map[string]*slot
	pending map[string]bool // config nodes being built, to catch reference cycles
	probs   flows.Problems
	warns   []flows.Warning            // about wiring
	nwarns  map[string][]flows.Warning // given by node constructors, by node id

	// prev and keep are set for a deploy that keeps some of the running
	// nodes: a node whose id is in keep is taken over from prev, not built.
	prev *Graph
	keep map[string]bool

	scopes map[string]*envScope // environments of tabs and groups, see scope

	exp     *flows.Expansion // the document's subflow expansion (see subflow.go)
	sfTypes [2]*Type         // the subflow node types (see builtinType)
}

func (c *compiler) problem(n *flows.Node, field, format string, args ...any) {
	c.probs = append(c.probs, flows.Problem{NodeID: n.ID, Type: n.Type, Field: field, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) warn(n *flows.Node, field, format string, args ...any) {
	c.warns = append(c.warns, flows.Warning{NodeID: n.ID, Type: n.Type, Field: field, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// Warn reports something about the node's configuration that Node-RED
// accepts and that the node works around rather than refusing the deploy:
// a certificate file that is not on this machine, say. Called from the
// node type's constructor it becomes one of the deploy's warnings (see
// Graph.Warnings), reported by runnel validate, logged when the flows are
// deployed and answered to POST /flows; called later it is logged.
func (h *Host) Warn(field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c := h.c
	if c == nil {
		h.log.Warn("flow warning", slog.String("field", field), slog.String("warning", msg))
		return
	}
	w := flows.Warning{NodeID: h.id, Type: h.typ, Field: field, Msg: msg}
	if n := c.byID[h.id]; n != nil {
		w.Line = n.Line
	}
	c.nwarns[h.id] = append(c.nwarns[h.id], w)
}

// logWarnings logs the graph's warnings, one line each.
func (rt *Runtime) logWarnings(g *Graph) {
	for _, w := range g.warnings {
		attrs := []any{slog.String("node", w.NodeID), slog.String("type", w.Type)}
		if w.Field != "" {
			attrs = append(attrs, slog.String("field", w.Field))
		}
		if w.Line > 0 {
			attrs = append(attrs, slog.Int("line", w.Line))
		}
		rt.log.Warn("flow warning", append(attrs, slog.String("warning", w.Msg))...)
	}
}

// compile checks and builds every node of doc. It returns every problem it
// finds, each naming the node, its type and the field.
func (rt *Runtime) compile(doc *flows.Document) (*Graph, error) {
	return rt.compileKeeping(doc, nil, nil)
}

// compileKeeping is compile for a deploy: nodes whose ids are in keep are
// taken over, running, from prev instead of being built anew.
func (rt *Runtime) compileKeeping(doc *flows.Document, prev *Graph, keep map[string]bool) (*Graph, error) {
	exp, err := flows.Expand(doc)
	if err != nil {
		return nil, err
	}
	return rt.compileExpanded(doc, exp, prev, keep)
}

// compileExpanded is compileKeeping for src expanded as exp: the graph
// runs exp.Doc and keeps src as its document.
func (rt *Runtime) compileExpanded(src *flows.Document, exp *flows.Expansion, prev *Graph, keep map[string]bool) (*Graph, error) {
	doc := exp.Doc
	c := &compiler{
		exp:     exp,
		rt:      rt,
		prev:    prev,
		keep:    keep,
		doc:     doc,
		byID:    make(map[string]*flows.Node, len(doc.Nodes)),
		off:     make(map[string]bool),
		built:   make(map[string]*slot),
		pending: make(map[string]bool),
		nwarns:  make(map[string][]flows.Warning),
	}
	disabledTabs := make(map[string]bool)
	for _, n := range doc.Nodes {
		if n.Type == "tab" && n.Disabled {
			disabledTabs[n.ID] = true
		}
	}
	for _, n := range doc.Nodes {
		if prev, dup := c.byID[n.ID]; dup && prev != nil {
			c.problem(n, "id", "duplicate id (also used on line %d)", prev.Line)
			continue
		}
		c.byID[n.ID] = n
		if n.Disabled || disabledTabs[n.Z] {
			c.off[n.ID] = true
		}
	}
	subflowOff(exp, c.off)
	g := &Graph{doc: src, exp: exp, index: make(map[string]int)}
	// Build every node; config nodes are built on first reference.
	for _, n := range doc.Nodes {
		if structuralTypes[n.Type] || c.off[n.ID] {
			continue
		}
		c.build(n)
	}
	// Lay out slots in document order so that results are deterministic.
	for _, n := range doc.Nodes {
		s, ok := c.built[n.ID]
		if !ok || s == nil || s.typ.Config {
			continue
		}
		if !s.kept {
			s.host.bind(g, len(g.slots))
		}
		g.index[n.ID] = len(g.slots)
		g.slots = append(g.slots, s)
	}
	// Config nodes are kept too, after the flow nodes, so they start first
	// and close last (see Runtime).
	for _, n := range doc.Nodes {
		s, ok := c.built[n.ID]
		if !ok || s == nil || !s.typ.Config {
			continue
		}
		if !s.kept {
			s.host.bind(g, len(g.slots))
		}
		g.index[n.ID] = len(g.slots)
		g.slots = append(g.slots, s)
	}
	c.wire(g)
	extra := c.linkWire(g)
	if len(c.probs) == 0 {
		c.checkCycles(g, extra)
	}
	if len(c.probs) == 0 {
		c.buildWatchers(g)
		g.flattenLinks()
	}
	if len(c.probs) > 0 {
		probs := subflowProblems(exp, c.probs)
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return nil, probs
	}
	for _, s := range c.built {
		if s != nil && !s.kept {
			s.host.c = nil
		}
	}
	g.nodeWarns = c.nwarns
	for _, n := range doc.Nodes {
		g.warnings = append(g.warnings, c.nwarns[n.ID]...)
	}
	g.warnings = append(g.warnings, c.warns...)
	g.warnings = append(g.warnings, exp.Warnings...)
	sort.SliceStable(g.warnings, func(i, j int) bool { return g.warnings[i].Line < g.warnings[j].Line })
	return g, nil
}

// build builds one node and remembers the result (nil on failure).
func (c *compiler) build(n *flows.Node) *slot {
	if s, done := c.built[n.ID]; done {
		return s
	}
	c.built[n.ID] = nil
	if c.keep[n.ID] && c.prev != nil {
		if i, ok := c.prev.index[n.ID]; ok {
			old := c.prev.slots[i]
			s := &slot{host: old.host, node: old.node, recv: old.recv, typ: old.typ, kept: true}
			c.built[n.ID] = s
			if ws := c.prev.nodeWarns[n.ID]; len(ws) > 0 {
				c.nwarns[n.ID] = ws
			}
			return s
		}
	}
	t, ok := c.rt.opts.Registry.Lookup(n.Type)
	if !ok {
		t, ok = c.builtinType(n.Type) // subflow instances, see subflow.go
	}
	if !ok {
		c.problem(n, "type", "unknown node type %q", n.Type)
		return nil
	}
	// The node's configuration sees ${NAME} properties replaced, as
	// Node-RED's does; the document keeps them as written.
	sn := c.substituteEnv(n)
	cfg, probs := t.schema.decode(sn)
	if len(probs) > 0 {
		// Every problem of a document comes out at once: the constructor
		// runs on what decoded (a refused field keeps its default) and
		// its problems with the other fields are reported too, so fixing
		// one field does not reveal the next. What it builds is dropped,
		// as is every node of a document that does not compile.
		c.probs = append(c.probs, probs...)
		c.probeConstructor(n, sn, t, cfg, probs)
		return nil
	}
	h := c.newHost(n, sn)
	node, err := buildNode(t, cfg, h)
	if err != nil {
		for _, p := range constructorProblems(err) {
			c.problem(n, p.Field, "%v", p.Err)
		}
		return nil
	}
	s := &slot{host: h, node: node, typ: t}
	if r, ok := node.(Receiver); ok {
		s.recv = r
	}
	if t.Inputs > 0 && s.recv == nil {
		c.problem(n, "", "node type %q declares an input but its node does not implement engine.Receiver", n.Type)
		return nil
	}
	c.built[n.ID] = s
	return s
}

// newHost returns the host of node n (sn with its ${NAME} properties
// replaced) for its type's constructor.
func (c *compiler) newHost(n, sn *flows.Node) *Host {
	h := &Host{id: n.ID, typ: n.Type, name: sn.Name, z: n.Z, rt: c.rt, c: c, creds: c.doc.Credentials[n.ID]}
	_, h.hasName = n.Get("name")
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.env = c.scope(n)
	if _, inner := c.exp.Origin[n.ID]; inner {
		h.path = c.nodePath(n)
	}
	h.log = c.rt.log.With(slog.String("node", n.ID), slog.String("type", n.Type))
	return h
}

// probeConstructor runs t's constructor on cfg, the config of n decoded
// with the problems probs, and reports its problems with fields probs does
// not name. A problem that names no field is left out: it may come from a
// refused field's default rather than from the node.
func (c *compiler) probeConstructor(n, sn *flows.Node, t *Type, cfg any, probs flows.Problems) {
	h := c.newHost(n, sn)
	defer h.cancel()
	_, err := buildNode(t, cfg, h)
	if err == nil {
		return
	}
	reported := func(field string) bool {
		return slices.ContainsFunc(probs, func(p flows.Problem) bool {
			return p.Field == field || strings.HasPrefix(p.Field, field+"[") || strings.HasPrefix(p.Field, field+".")
		})
	}
	for _, p := range constructorProblems(err) {
		if p.Field != "" && !reported(p.Field) {
			c.problem(n, p.Field, "%v", p.Err)
		}
	}
}

// constructorProblems splits a constructor's error into its problems: one
// per *FieldError joined in it (errors.Join, or any error with an
// Unwrap() []error), and otherwise the error itself with no field.
func constructorProblems(err error) []*FieldError {
	var fe *FieldError
	if errors.As(err, &fe) && fe == err {
		return []*FieldError{fe}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			if e != nil {
				out = append(out, constructorProblems(e)...)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Err: err}}
}

// buildNode runs a type's constructor; a panic in it is an error, so that
// a hostile setting makes a problem with the flow, not a crash.
func buildNode(t *Type, cfg any, h *Host) (n Node, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = nil, fmt.Errorf("panic: %v", v)
		}
	}()
	return t.build(cfg, h)
}

func (c *compiler) configNode(id, wantType string) (Node, error) {
	n, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("no %s config node with id %q", wantType, id)
	}
	if n.Type != wantType {
		return nil, fmt.Errorf("node %q is a %s, not a %s", id, n.Type, wantType)
	}
	if c.off[id] {
		return nil, fmt.Errorf("%s config node %q is disabled", wantType, id)
	}
	if c.pending[id] {
		return nil, fmt.Errorf("config node %q refers to itself", id)
	}
	c.pending[id] = true
	s := c.build(n)
	delete(c.pending, id)
	if s == nil {
		return nil, fmt.Errorf("%s config node %q is invalid", wantType, id)
	}
	if !s.typ.Config {
		return nil, fmt.Errorf("node %q is not a config node", id)
	}
	return s.node, nil
}

// wire resolves every node's wires to slot indexes.
func (c *compiler) wire(g *Graph) {
	for _, s := range g.slots {
		n := c.byID[s.host.id]
		outputs := s.typ.Outputs
		if o, ok := s.node.(interface{ Outputs() int }); ok {
			outputs = o.Outputs()
		}
		if s.typ.Config {
			if len(n.Wires) > 0 && slices.ContainsFunc(n.Wires, func(port []string) bool { return len(port) > 0 }) {
				c.warn(n, "wires", "config nodes have no wires: the wires are dropped")
			}
			continue
		}
		// Node-RED loads every wire and drops, when a message is sent,
		// those that lead nowhere: to an id not in the flows (an export of
		// part of a flow has them), to a tab, to a config node, or from an
		// output the node does not have. So does Runnel, with a warning.
		for p := outputs; p < len(n.Wires); p++ {
			if len(n.Wires[p]) > 0 {
				c.warn(n, "wires", "wired from output %d but %s has %d output(s): the wire is dropped", p+1, n.Type, outputs)
			}
		}
		s.wires = make([][]int, outputs)
		for p := 0; p < outputs && p < len(n.Wires); p++ {
			for _, target := range n.Wires[p] {
				tn, ok := c.byID[target]
				if !ok {
					c.warn(n, "wires", "output %d is wired to missing node %q: the wire is dropped", p+1, target)
					continue
				}
				if c.off[target] {
					continue // Node-RED drops messages to disabled nodes
				}
				ti, ok := g.index[target]
				if !ok {
					if structuralTypes[tn.Type] {
						c.warn(n, "wires", "output %d is wired to %q, which is a %s: the wire is dropped", p+1, target, tn.Type)
					}
					continue // otherwise the target failed to build, which is reported
				}
				if g.slots[ti].typ.Inputs == 0 {
					c.warn(n, "wires", "output %d is wired to node %q (%s), which has no input: the wire is dropped", p+1, target, tn.Type)
					continue
				}
				s.wires[p] = append(s.wires[p], ti)
			}
		}
	}
}

// checkCycles rejects cycles, naming the nodes on each, and records a
// topological order (sources first) for starting and stopping. It follows
// the wires and the extra edges (a static link call to the link in it
// calls).
func (c *compiler) checkCycles(g *Graph, extra map[int][]int) {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.slots))
	var stack []int
	var post []int
	reported := make(map[int]bool)
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		ports := g.slots[i].wires
		if e := extra[i]; len(e) > 0 {
			ports = append(slices.Clip(ports), e)
		}
		for _, port := range ports {
			for _, t := range port {
				switch color[t] {
				case white:
					visit(t)
				case grey:
					// the cycle is the stack from t to i
					start := len(stack) - 1
					for stack[start] != t {
						start--
					}
					if reported[t] {
						continue
					}
					ids := make([]string, 0, len(stack)-start+1)
					for _, k := range stack[start:] {
						ids = append(ids, fmt.Sprintf("%q", g.slots[k].host.id))
						reported[k] = true
					}
					ids = append(ids, fmt.Sprintf("%q", g.slots[t].host.id))
					n := c.byID[g.slots[t].host.id]
					c.problem(n, "wires", "cycle: %s (flows must not loop back on themselves)", strings.Join(ids, " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		post = append(post, i)
	}
	for i := range g.slots {
		if color[i] == white && g.slots[i].typ.Inputs == 0 {
			visit(i)
		}
	}
	for i := range g.slots {
		if color[i] == white {
			visit(i)
		}
	}
	// Reverse post-order is a topological order.
	g.order = make([]int, len(post))
	for k, i := range post {
		g.order[len(post)-1-k] = i
	}
}
