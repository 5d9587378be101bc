package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/flows"
)

// Options configure a Runtime.
type Options struct {
	// Registry holds the node types; DefaultRegistry when nil.
	Registry *Registry
	// Broker is the broker mqtt nodes use; nil for a runtime that only
	// validates flows.
	Broker Broker
	// BrokerAddr is the embedded broker's TCP address (host:port).
	BrokerAddr string
	// Logger receives the runtime's log lines; nothing is logged when nil.
	Logger *slog.Logger
	// OnStatus, OnError and OnDebug receive node status changes, node
	// errors and debug output. They are called synchronously from the
	// node's goroutine and must not block.
	OnStatus func(StatusEvent)
	OnError  func(ErrorEvent)
	OnDebug  func(DebugEvent)
}

// Runtime runs one compiled graph at a time and replaces it on deploy.
// Its methods are safe for concurrent use.
type Runtime struct {
	opts Options
	log  *slog.Logger

	deploy  sync.Mutex // serialises Deploy and Stop
	current atomic.Pointer[running]
}

// running is a started graph with the means to stop it.
type running struct {
	g      *Graph
	cancel context.CancelFunc
}

// New returns a runtime with no flows.
func New(opts Options) *Runtime {
	if opts.Registry == nil {
		opts.Registry = DefaultRegistry
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Runtime{opts: opts, log: log}
}

// Compile checks doc and builds its nodes without starting them. It returns
// a flows.Problems listing every problem when doc is not valid.
func (rt *Runtime) Compile(doc *flows.Document) (*Graph, error) {
	return rt.compile(doc)
}

// Graph returns the running graph, or nil before the first deploy.
func (rt *Runtime) Graph() *Graph {
	if r := rt.current.Load(); r != nil {
		return r.g
	}
	return nil
}

// Deploy compiles doc and, when it is valid, replaces the running flows
// with it: the old graph's sources stop, its in-flight messages finish, its
// nodes close, and the new graph starts. An invalid doc changes nothing and
// the error lists every problem (a flows.Problems).
func (rt *Runtime) Deploy(ctx context.Context, doc *flows.Document) error {
	g, err := rt.compile(doc)
	if err != nil {
		return err
	}
	rt.Swap(ctx, g)
	return nil
}

// Swap replaces the running flows with g, a graph this runtime compiled:
// the old graph's sources stop, its in-flight messages finish, its nodes
// close, and g starts.
func (rt *Runtime) Swap(ctx context.Context, g *Graph) {
	start := time.Now()
	rt.deploy.Lock()
	defer rt.deploy.Unlock()
	if old := rt.current.Load(); old != nil {
		rt.stopGraph(ctx, old)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r := &running{g: g, cancel: cancel}
	rt.current.Store(r)
	rt.startGraph(runCtx, g)
	rt.log.Debug("deployed flows", slog.Int("nodes", len(g.slots)), slog.Duration("took", time.Since(start)))
}

// Stop stops the running flows: sources stop first, in-flight messages
// finish, then every node closes. The runtime can be deployed again.
func (rt *Runtime) Stop(ctx context.Context) error {
	rt.deploy.Lock()
	defer rt.deploy.Unlock()
	if old := rt.current.Swap(nil); old != nil {
		rt.stopGraph(ctx, old)
	}
	return nil
}

// startGraph starts config nodes, then flow nodes from the sinks back to
// the sources, so that a source's first message finds its targets ready.
func (rt *Runtime) startGraph(ctx context.Context, g *Graph) {
	for _, s := range g.slots {
		if s.typ.Config {
			rt.startSlot(ctx, s)
		}
	}
	for k := len(g.order) - 1; k >= 0; k-- {
		if s := g.slots[g.order[k]]; !s.typ.Config {
			rt.startSlot(ctx, s)
		}
	}
}

func (rt *Runtime) startSlot(ctx context.Context, s *slot) {
	st, ok := s.node.(Starter)
	if !ok {
		return
	}
	if err := st.Start(ctx); err != nil {
		rt.reportError(s.host, fmt.Errorf("start: %w", err), nil)
	}
}

// stopGraph closes sources first (each finishes its in-flight messages),
// then the other nodes in flow order, then config nodes.
func (rt *Runtime) stopGraph(ctx context.Context, r *running) {
	g := r.g
	for _, i := range g.order {
		if s := g.slots[i]; !s.typ.Config {
			rt.closeSlot(ctx, s)
		}
	}
	for _, s := range g.slots {
		if s.typ.Config {
			rt.closeSlot(ctx, s)
		}
	}
	r.cancel()
}

func (rt *Runtime) closeSlot(ctx context.Context, s *slot) {
	cl, ok := s.node.(Closer)
	if !ok {
		return
	}
	if err := cl.Close(ctx); err != nil {
		rt.reportError(s.host, fmt.Errorf("close: %w", err), nil)
	}
}

func (rt *Runtime) reportError(h *Host, err error, m *Message) {
	ev := ErrorEvent{NodeID: h.id, Type: h.typ, Name: h.name, Err: err}
	if m != nil {
		ev.MsgID = m.ID()
	}
	if rt.opts.OnError != nil {
		rt.opts.OnError(ev)
	}
	rt.log.Warn("node error", slog.String("node", h.id), slog.String("type", h.typ),
		slog.String("msgid", ev.MsgID), slog.String("error", err.Error()))
}
