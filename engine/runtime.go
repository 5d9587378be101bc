package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
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
	// ContextBackend keeps the persistent context store; without it the
	// persistent store lasts only as long as the process.
	ContextBackend ContextBackend
	// ContextFlushInterval is how often persistent context changes are
	// written behind; 1 s when zero.
	ContextFlushInterval time.Duration
	// Outbox configures the store-and-forward queues of mqtt-out nodes
	// that publish to remote brokers.
	Outbox OutboxOptions
	// HTTPRoutes serves http-in nodes' routes on the HTTP server; nil
	// when the runtime has none (see HTTPRoutes).
	HTTPRoutes HTTPRoutes
	// FilesDir is the directory the file, file in and watch nodes may
	// read and write (see Host.FilesDir); empty: they may use none.
	FilesDir string
	// Nodes holds the settings of the nodes that open listeners or run
	// commands (see NodeOptions).
	Nodes NodeOptions
}

// OutboxOptions configure the store-and-forward queues in which mqtt-out
// keeps QoS 1 and 2 messages while a remote broker is unreachable.
type OutboxOptions struct {
	// Path is the SQLite file the queues live in (DATA/runnel.db); empty
	// keeps them in memory, lost on restart.
	Path string
	// MaxMessages, MaxBytes and MaxAge bound each queue; when one is hit
	// the oldest messages are dropped. Zero means the default (100,000
	// messages, 64 MiB, 24 h); negative means no bound.
	MaxMessages int
	MaxBytes    int64
	MaxAge      time.Duration
}

// Runtime runs one compiled graph at a time and replaces it on deploy.
// Its methods are safe for concurrent use.
type Runtime struct {
	opts Options
	log  *slog.Logger

	deploy  sync.Mutex // serialises Deploy and Stop
	current atomic.Pointer[running]
	ctx     *contexts

	writeBehind context.CancelFunc // stops the context write-behind; nil when not running

	stopped atomic.Pointer[stoppedFlows] // safe mode: the flows that do not run, and why
}

// stoppedFlows are flows the runtime holds without running them.
type stoppedFlows struct {
	doc    *flows.Document
	reason error
}

// SetStopped puts the runtime in safe mode, as Node-RED's --safe does: doc
// is the flow document that is not running, because of reason (a
// flows.Problems or *StartError when it failed to start; any error when
// it was stopped on purpose). The admin API shows doc, so that it can be
// fixed and deployed; the next successful deploy leaves safe mode. It
// stops the running flows first, if any.
func (rt *Runtime) SetStopped(ctx context.Context, doc *flows.Document, reason error) {
	rt.deploy.Lock()
	if old := rt.current.Swap(nil); old != nil {
		old.g.closing.Store(true) // queued catch and status events end
		rt.closeNodes(ctx, old.g, nil)
		old.cancel()
	}
	rt.stopped.Store(&stoppedFlows{doc: doc, reason: reason})
	rt.deploy.Unlock()
}

// Stopped returns the flow document held in safe mode and the reason it
// does not run; nil and nil when not in safe mode.
func (rt *Runtime) Stopped() (*flows.Document, error) {
	if s := rt.stopped.Load(); s != nil {
		return s.doc, s.reason
	}
	return nil, nil
}

// running is a started graph with the means to stop it.
type running struct {
	g      *Graph
	ctx    context.Context // the nodes' run context: cancelled when the runtime stops
	cancel context.CancelFunc
}

func (r *running) doc() *flows.Document {
	if r == nil {
		return nil
	}
	return r.g.doc
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
	if opts.ContextFlushInterval <= 0 {
		opts.ContextFlushInterval = time.Second
	}
	return &Runtime{opts: opts, log: log, ctx: newContexts(opts.ContextBackend, log)}
}

// LoadContext reads the persistent context store from the ContextBackend
// and starts writing its changes behind. Call it before the first deploy.
func (rt *Runtime) LoadContext(ctx context.Context) error {
	if rt.opts.ContextBackend == nil {
		return nil
	}
	if err := rt.ctx.load(ctx); err != nil {
		return err
	}
	rt.deploy.Lock()
	defer rt.deploy.Unlock()
	if rt.writeBehind == nil {
		wctx, cancel := context.WithCancel(context.Background())
		rt.writeBehind = cancel
		go rt.ctx.writeBehind(wctx, rt.opts.ContextFlushInterval)
	}
	return nil
}

// Compile checks doc and builds its nodes without starting them. It returns
// a flows.Problems listing every problem when doc is not valid; what is
// accepted with a warning is in the graph's Warnings.
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
// with it as a full deploy: every node is replaced. An invalid doc changes
// nothing and the error lists every problem (a flows.Problems).
func (rt *Runtime) Deploy(ctx context.Context, doc *flows.Document) error {
	p, err := rt.Plan(doc, DeployFull)
	if err != nil {
		return err
	}
	return rt.Apply(ctx, p)
}

// Stop stops the running flows: sources stop first, in-flight messages
// finish, then every node closes, and the persistent context is written.
// The runtime can be deployed again.
func (rt *Runtime) Stop(ctx context.Context) error {
	rt.deploy.Lock()
	defer rt.deploy.Unlock()
	if old := rt.current.Swap(nil); old != nil {
		old.g.closing.Store(true) // queued catch and status events end
		rt.closeNodes(ctx, old.g, nil)
		old.cancel()
	}
	if rt.writeBehind != nil {
		rt.writeBehind()
		rt.writeBehind = nil
	}
	return rt.ctx.flush(ctx)
}

// startSlot starts a node; an error or a panic in Start is returned (and
// not reported: the deploy decides what to do with it).
func (rt *Runtime) startSlot(s *slot) (err error) {
	st, ok := s.node.(Starter)
	if !ok {
		return nil
	}
	defer func() {
		if v := recover(); v != nil {
			rt.logPanic(s.host, v)
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return st.Start(s.host.ctx)
}

// closeSlot closes a node and reports what goes wrong, a panic included.
func (rt *Runtime) closeSlot(ctx context.Context, s *slot) {
	defer s.host.cancel()
	cl, ok := s.node.(Closer)
	if !ok {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			s.host.errs.Add(1)
			rt.reportPanic(s.host, v, nil)
		}
	}()
	if err := cl.Close(ctx); err != nil {
		rt.reportError(s.host, fmt.Errorf("close: %w", err), nil)
	}
}

// reportPanic reports v, recovered from a panic in h's node, as an error
// of the node, and logs the stack.
func (rt *Runtime) reportPanic(h *Host, v any, m *Message) {
	rt.logPanic(h, v)
	rt.reportError(h, fmt.Errorf("panic: %v", v), m)
}

func (rt *Runtime) logPanic(h *Host, v any) {
	rt.log.Error("node panicked", slog.String("node", h.id), slog.String("type", h.typ),
		slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
}

func (rt *Runtime) reportError(h *Host, err error, m *Message) {
	ev := ErrorEvent{NodeID: h.id, Type: h.typ, Name: h.name, Err: err}
	if m != nil {
		ev.MsgID = m.ID()
	}
	if rt.opts.OnError != nil {
		rt.opts.OnError(ev)
	}
	if rt.routeError(h, err, m) {
		rt.log.Debug("node error caught", slog.String("node", h.id), slog.String("type", h.typ),
			slog.String("msgid", ev.MsgID), slog.String("error", errText(err)))
		return
	}
	rt.log.Warn("node error", slog.String("node", h.id), slog.String("type", h.typ),
		slog.String("msgid", ev.MsgID), slog.String("error", errText(err)))
}

// errPanicked marks a Receive that panicked, which is reported already.
var errPanicked = errors.New("panicked")

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
