package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/runnel-io/runnel/flows"
)

// DeployType says which nodes a deploy replaces, as Node-RED's
// Node-RED-Deployment-Type header does.
type DeployType string

// The deploy types. Nodes that a deploy does not replace keep running
// through it, with their state.
const (
	// DeployFull replaces every node.
	DeployFull DeployType = "full"
	// DeployFlows replaces every node of a tab that has any change.
	DeployFlows DeployType = "flows"
	// DeployNodes replaces only the nodes whose configuration or wiring
	// changed (a move on the canvas is not a change), and the nodes that
	// use a changed config node.
	DeployNodes DeployType = "nodes"
	// DeployReload restarts the running flows as they are.
	DeployReload DeployType = "reload"
)

// ParseDeployType reads a Node-RED-Deployment-Type value; empty means full.
func ParseDeployType(s string) (DeployType, error) {
	switch t := DeployType(s); t {
	case "":
		return DeployFull, nil
	case DeployFull, DeployFlows, DeployNodes, DeployReload:
		return t, nil
	}
	return "", fmt.Errorf("unknown deployment type %q (want full, flows, nodes or reload)", s)
}

// ErrStale is returned by Apply when another deploy happened after the
// plan was made.
var ErrStale = errors.New("the running flows changed since the deploy was planned")

// Plan is a checked deploy, ready to apply: the new graph, compiled and
// validated in full, with the nodes it takes over from the running graph.
type Plan struct {
	// Type is the deploy type.
	Type DeployType
	// Diff is how the new document differs from the running one.
	Diff flows.Diff
	// Kept counts the running nodes the deploy keeps, with their state.
	Kept int
	// Replaced lists the ids of the running nodes the deploy closes
	// (replaced or removed); sorted as in the running document.
	Replaced []string

	g    *Graph
	base *running
}

// Graph returns the graph the plan deploys.
func (p *Plan) Graph() *Graph { return p.g }

// Plan checks doc and compiles it into a deploy of the given type against
// the running flows, without changing anything. It returns a
// flows.Problems listing every problem when doc is not valid.
func (rt *Runtime) Plan(doc *flows.Document, typ DeployType) (*Plan, error) {
	base := rt.current.Load()
	if typ == DeployReload && base != nil && doc == nil {
		doc = base.g.doc
	}
	p := &Plan{Type: typ, base: base, Diff: flows.Compare(base.doc(), doc)}
	// What is kept is decided on the documents with their subflow
	// instances expanded, so that the nodes of an unchanged instance are
	// kept like any other unchanged node (see subflow.go).
	exp, err := flows.Expand(doc)
	if err != nil {
		return nil, err
	}
	var keep map[string]bool
	if base != nil && (typ == DeployNodes || typ == DeployFlows) {
		d := p.Diff
		if base.g.exp != exp && (len(exp.Instances) > 0 || (base.g.exp != nil && len(base.g.exp.Instances) > 0)) {
			d = flows.Compare(base.g.expanded(), exp.Doc)
			if typ == DeployFlows {
				d.Tabs = rootTabs(exp.Doc, d.Tabs)
			}
		}
		keep = keepSet(base.g, exp.Doc, d, typ)
	}
	var prev *Graph
	if base != nil {
		prev = base.g
	}
	g, err := rt.compileExpanded(doc, exp, prev, keep)
	if err != nil {
		return nil, err
	}
	p.g = g
	if base != nil {
		for _, s := range base.g.slots {
			if i, ok := g.index[s.host.id]; ok && g.slots[i].kept {
				p.Kept++
			} else {
				p.Replaced = append(p.Replaced, s.host.id)
			}
		}
	}
	return p, nil
}

// keepSet returns the ids of the running nodes that a deploy of type typ
// leaves running.
func keepSet(prev *Graph, doc *flows.Document, d flows.Diff, typ DeployType) map[string]bool {
	replace := make(map[string]bool)
	for _, list := range [][]string{d.Added, d.Changed, d.Rewired} {
		for _, id := range list {
			replace[id] = true
		}
	}
	if typ == DeployFlows {
		tabs := make(map[string]bool, len(d.Tabs))
		for _, id := range d.Tabs {
			tabs[id] = true
		}
		for _, n := range doc.Nodes {
			if n.Z != "" && tabs[n.Z] {
				replace[n.ID] = true
			}
		}
	}
	keep := make(map[string]bool)
	for _, n := range doc.Nodes {
		if replace[n.ID] {
			continue
		}
		if i, ok := prev.index[n.ID]; ok && prev.slots[i].host.typ == n.Type {
			keep[n.ID] = true
		}
	}
	return keep
}

// Apply carries out a plan: it starts the new nodes, switches routing to
// the new graph in one step, lets the messages already inside the old graph
// finish there, and then closes the nodes the deploy replaced or removed.
// Kept nodes run throughout. The graph's warnings are logged, one line
// each. It returns ErrStale, changing nothing, when another deploy happened
// since the plan was made.
func (rt *Runtime) Apply(ctx context.Context, p *Plan) error {
	rt.deploy.Lock()
	defer rt.deploy.Unlock()
	if rt.current.Load() != p.base {
		return ErrStale
	}
	err := rt.apply(ctx, p, true)
	if err == nil {
		rt.logWarnings(p.g)
		rt.stopped.Store(nil) // flows run: safe mode is over
	}
	return err
}

// StartError is the error of a deploy whose nodes failed to start (their
// Start returned an error or panicked). The deploy was rolled back: the
// flows that ran before it run again, or none when there were none.
type StartError struct {
	// Problems name each node that failed and why.
	Problems flows.Problems
}

// Error lists the nodes that failed to start, one per line.
func (e *StartError) Error() string {
	return "nodes failed to start; the deploy was rolled back:\n" + e.Problems.Error()
}

// Unwrap returns the Problems, so that errors.As finds a flows.Problems.
func (e *StartError) Unwrap() error { return e.Problems }

// apply runs a plan; rt.deploy is held.
//
// The order keeps every message: new nodes that have inputs start before
// anything routes to them; then kept nodes are moved to the new graph, so
// that what they send from now on takes the new wires; then the replaced
// sources stop and the new ones start (a new source that takes over its
// predecessor's work, see Successor, starts before the old one stops);
// then the deploy waits until no message is left in the old graph, and
// only then closes the replaced nodes, which may still have been handling
// those messages.
//
// When a new node fails to start the deploy is rolled back (with rollback
// set) and apply returns a *StartError. Before the switch to the new graph
// (config nodes and nodes with inputs) that only closes what the deploy
// started and hands connections back to the running config nodes: the
// running flows never stop. A source that fails after the switch rolls
// back by deploying the previous document again (its unchanged nodes keep
// running).
func (rt *Runtime) apply(ctx context.Context, p *Plan, rollback bool) error {
	start := time.Now()
	g, old := p.g, p.base
	r := &running{g: g}
	if old != nil {
		r.ctx, r.cancel = old.ctx, old.cancel
	} else {
		r.ctx, r.cancel = context.WithCancel(context.Background())
	}
	isNew := func(s *slot) bool { return !s.kept }
	var (
		probs    flows.Problems
		started  []*slot    // new nodes started (or that failed to) before the switch
		tookOver [][2]*slot // new config node, the running one it took over from
	)
	startOne := func(s *slot) {
		if err := rt.startSlot(s); err != nil {
			s.host.errs.Add(1)
			rt.reportError(s.host, fmt.Errorf("start: %w", err), nil)
			line := 0
			if n := g.expanded().Node(s.host.id); n != nil {
				line = n.Line
			}
			probs = append(probs, flows.Problem{NodeID: s.host.id, Type: s.host.typ, Line: line, Msg: "failed to start: " + err.Error()})
		}
		started = append(started, s) // closed on undo even if it failed (see Closer)
	}
	// undo closes what this deploy started and hands the connections the
	// new config nodes took over back to the running ones.
	undo := func() {
		for i := len(tookOver) - 1; i >= 0; i-- {
			if succ, ok := tookOver[i][1].node.(Successor); ok {
				succ.TakeOver(tookOver[i][0].node)
			}
		}
		for i := len(started) - 1; i >= 0; i-- {
			rt.closeSlot(ctx, started[i])
		}
		if old == nil {
			r.cancel()
		}
	}
	for _, s := range g.slots {
		if s.typ.Config && isNew(s) {
			// A replaced config node may hand its work (a broker
			// connection) to its successor (see Successor).
			if old != nil {
				if j, ok := old.g.index[s.host.id]; ok && old.g.slots[j].typ == s.typ {
					if succ, ok := s.node.(Successor); ok && succ.TakeOver(old.g.slots[j].node) {
						tookOver = append(tookOver, [2]*slot{s, old.g.slots[j]})
					}
				}
			}
			startOne(s)
		}
	}
	if len(probs) == 0 {
		for k := len(g.order) - 1; k >= 0; k-- {
			if s := g.slots[g.order[k]]; !s.typ.Config && s.typ.Inputs > 0 && isNew(s) {
				startOne(s)
			}
		}
	}
	if len(probs) > 0 && rollback {
		undo()
		sortProblems(probs)
		rt.log.Warn("deploy rolled back: nodes failed to start", slog.String("problems", probs.Error()))
		return &StartError{Problems: probs}
	}
	for i, s := range g.slots {
		if s.kept {
			s.host.bind(g, i)
		}
	}
	rt.current.Store(r)

	var gone func(*slot) bool
	handedOff := make(map[*slot]bool) // old sources whose successor took over their work
	if old != nil {
		gone = func(s *slot) bool {
			if !s.typ.Config && s.typ.Inputs == 0 {
				return false // sources are closed (or handed off) below
			}
			i, ok := g.index[s.host.id]
			return !ok || !g.slots[i].kept
		}
		goneSource := func(s *slot) bool {
			i, ok := g.index[s.host.id]
			return !ok || !g.slots[i].kept
		}
		for _, i := range old.g.order {
			s := old.g.slots[i]
			if s.typ.Config || s.typ.Inputs > 0 || !goneSource(s) {
				continue
			}
			if j, ok := g.index[s.host.id]; ok {
				if succ, ok := g.slots[j].node.(Successor); ok && g.slots[j].typ == s.typ && succ.TakeOver(s.node) {
					handedOff[s] = true
					continue
				}
			}
			rt.closeSlot(ctx, s)
		}
	}
	for k := len(g.order) - 1; k >= 0; k-- {
		if s := g.slots[g.order[k]]; !s.typ.Config && s.typ.Inputs == 0 && isNew(s) {
			startOne(s)
		}
	}
	for s := range handedOff {
		rt.closeSlot(ctx, s)
	}
	if old != nil {
		if err := drain(ctx, old.g); err != nil {
			rt.log.Warn("deploy: messages still in the old flows", slog.Int64("messages", old.g.active.Load()), slog.String("error", err.Error()))
		}
		inherit(old.g, g)
		rt.closeNodes(ctx, old.g, gone)
		if len(probs) == 0 || !rollback {
			// Only a deploy that stands drops the context of the nodes
			// and tabs it removed: one rolled back below brings them
			// back, context and all.
			rt.dropContexts(old.g.expanded(), g.expanded())
		}
	}
	rt.log.Debug("deployed flows", slog.String("type", string(p.Type)), slog.Int("nodes", len(g.slots)),
		slog.Int("kept", p.Kept), slog.Int("replaced", len(p.Replaced)), slog.Duration("took", time.Since(start)))
	if len(probs) == 0 || !rollback {
		return nil
	}
	// A new source failed after the switch: deploy the previous flows
	// again, or stop the new ones when there were none.
	sortProblems(probs)
	rt.log.Warn("deploy rolled back: nodes failed to start", slog.String("problems", probs.Error()))
	if old == nil {
		rt.current.Store(nil)
		rt.closeNodes(ctx, g, nil)
		r.cancel()
		return &StartError{Problems: probs}
	}
	back, err := rt.Plan(old.g.doc, DeployNodes)
	if err == nil {
		err = rt.apply(ctx, back, false)
	}
	if err != nil {
		rt.log.Error("roll back: the previous flows did not deploy again", slog.String("error", err.Error()))
	}
	return &StartError{Problems: probs}
}

// inherit offers each replaced node with inputs of old to its successor
// in g, when that is an Inheritor of the same type (see Inheritor).
func inherit(old, g *Graph) {
	for _, s := range old.slots {
		if s.typ.Config || s.typ.Inputs == 0 {
			continue
		}
		j, ok := g.index[s.host.id]
		if !ok || g.slots[j].kept || g.slots[j].typ != s.typ {
			continue
		}
		if in, ok := g.slots[j].node.(Inheritor); ok {
			func() {
				defer func() {
					if r := recover(); r != nil {
						g.slots[j].host.ReportPanic(r)
					}
				}()
				in.Inherit(s.node)
			}()
		}
	}
}

func sortProblems(ps flows.Problems) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}

// drain waits until no message sent by a source is inside g.
func drain(ctx context.Context, g *Graph) error {
	g.closing.Store(true)
	wait := time.Microsecond
	for g.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if wait < time.Millisecond {
			wait *= 2
		}
	}
	return nil
}

// closeNodes closes the nodes of g for which which returns true (all when
// which is nil): sources first (each finishes its in-flight messages), then
// the other nodes in flow order, then config nodes.
func (rt *Runtime) closeNodes(ctx context.Context, g *Graph, which func(*slot) bool) {
	pick := func(s *slot) bool { return which == nil || which(s) }
	for _, i := range g.order {
		if s := g.slots[i]; !s.typ.Config && pick(s) {
			rt.closeSlot(ctx, s)
		}
	}
	for _, s := range g.slots {
		if s.typ.Config && pick(s) {
			rt.closeSlot(ctx, s)
		}
	}
}

// dropContexts deletes the node and flow context of the nodes and tabs
// that were in prev and are not in next, as Node-RED does on deploy.
func (rt *Runtime) dropContexts(prev, next *flows.Document) {
	var scopes []string
	ids := make(map[string]bool, len(next.Nodes))
	for _, n := range next.Nodes {
		ids[n.ID] = true
	}
	for _, n := range prev.Nodes {
		if ids[n.ID] {
			continue
		}
		if n.Type == "tab" {
			scopes = append(scopes, "flow:"+n.ID)
		} else {
			if strings.HasPrefix(n.Type, flows.SubflowPrefix) {
				scopes = append(scopes, "flow:"+n.ID) // the instance's flow context
			}
			scopes = append(scopes, "node:"+n.ID)
		}
	}
	if len(scopes) > 0 {
		rt.ctx.drop(scopes)
	}
}
