// Package nodetest helps test node types: it deploys a flow document on a
// private registry holding the types under test plus a source node to
// inject messages and a sink node that records what reaches it, and it
// checks that a type keeps the node contract (see Conformance).
//
// It is for Runnel's own node types and for custom ones alike:
//
//	f := nodetest.Chain(t, `{"type":"change","rules":[...]}`, function.ChangeType)
//	f.Inject("src", engine.NewMessage("a/b", "hello"))
//	got := f.Received("sink")
package nodetest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// SourceType is "test-source": a node with one output and no input, from
// which Flow.Inject sends messages.
var SourceType = engine.NewType(engine.Meta{
	Type: "test-source", Category: "common", Outputs: 1,
}, func(_ *struct{}, h *engine.Host) (engine.Node, error) {
	return &Source{h: h}, nil
})

// Source is the node a test-source builds.
type Source struct{ h *engine.Host }

// Send sends m from the source's output, synchronously.
func (s *Source) Send(m *engine.Message) { s.h.Send(0, m) }

// SinkType is "test-sink": a node with one input that records every
// message it receives (see Flow.Received).
var SinkType = engine.NewType(engine.Meta{
	Type: "test-sink", Category: "common", Inputs: 1,
}, func(_ *struct{}, _ *engine.Host) (engine.Node, error) {
	return &Sink{}, nil
})

// Sink is the node a test-sink builds.
type Sink struct {
	mu  sync.Mutex
	got []*engine.Message
}

// Receive records m.
func (s *Sink) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	s.mu.Lock()
	s.got = append(s.got, m)
	s.mu.Unlock()
	return nil
}

// Messages returns what the sink has received, in order.
func (s *Sink) Messages() []*engine.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*engine.Message(nil), s.got...)
}

// LogRecord is one log line a node wrote.
type LogRecord struct {
	Level slog.Level
	Msg   string
	Node  string // the node's id
}

// logHandler records log records; the handlers WithAttrs derives share
// the record list and add the node's id.
type logHandler struct {
	mu   *sync.Mutex
	recs *[]LogRecord
	node string
}

func newLogHandler() *logHandler {
	return &logHandler{mu: new(sync.Mutex), recs: new([]LogRecord)}
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.recs = append(*h.recs, LogRecord{Level: r.Level, Msg: r.Message, Node: h.node})
	h.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == "node" {
			c.node = a.Value.String()
		}
	}
	return &c
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// Flow is a deployed flow document under test. It is stopped when the
// test ends.
type Flow struct {
	t    testing.TB
	rt   *engine.Runtime
	logs *logHandler

	mu       sync.Mutex
	errs     []engine.ErrorEvent
	statuses []engine.StatusEvent
	debug    []engine.DebugEvent
}

// Options change how New and Deploy build the runtime.
type Options struct {
	// Runtime is applied to the runtime's options before it is built
	// (Broker, ContextBackend...); Registry, Logger, OnError, OnStatus and
	// OnDebug are set by the helper.
	Runtime func(*engine.Options)
	// OnError, when set, is called with each error a node reports, after
	// the flow has recorded it.
	OnError func(engine.ErrorEvent)
}

// New deploys flowJSON on a registry holding test-source, test-sink and
// types; it fails the test when the deploy fails.
func New(t testing.TB, flowJSON string, types ...*engine.Type) *Flow {
	t.Helper()
	f, err := Deploy(t, flowJSON, Options{}, types...)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return f
}

// Deploy is New returning the deploy's error, for tests of configuration
// checks, with options.
func Deploy(t testing.TB, flowJSON string, o Options, types ...*engine.Type) (*Flow, error) {
	t.Helper()
	reg := engine.NewRegistry()
	reg.MustRegister(SourceType)
	reg.MustRegister(SinkType)
	for _, typ := range types {
		reg.MustRegister(typ)
	}
	doc, err := flows.Parse([]byte(flowJSON))
	if err != nil {
		return nil, err
	}
	f := &Flow{t: t, logs: newLogHandler()}
	opts := engine.Options{}
	if o.Runtime != nil {
		o.Runtime(&opts)
	}
	opts.Registry = reg
	opts.Logger = slog.New(f.logs)
	opts.OnError = func(ev engine.ErrorEvent) {
		f.mu.Lock()
		f.errs = append(f.errs, ev)
		f.mu.Unlock()
		if o.OnError != nil {
			o.OnError(ev)
		}
	}
	opts.OnStatus = func(ev engine.StatusEvent) {
		f.mu.Lock()
		f.statuses = append(f.statuses, ev)
		f.mu.Unlock()
	}
	opts.OnDebug = func(ev engine.DebugEvent) {
		f.mu.Lock()
		f.debug = append(f.debug, ev)
		f.mu.Unlock()
	}
	f.rt = engine.New(opts)
	if err := f.rt.Deploy(context.Background(), doc); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = f.rt.Stop(context.Background()) })
	return f, nil
}

// ChainJSON returns a flow document in which test-source "src" is wired to
// the node described by nodeJSON (given the id "n1", on tab "t1") and that
// node's first output to test-sink "sink". Further outputs of the node are
// wired to test-sinks "sink1", "sink2"... when outputs is more than 1.
func ChainJSON(t testing.TB, nodeJSON string, outputs ...int) string {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal([]byte(nodeJSON), &n); err != nil {
		t.Fatalf("node JSON: %v", err)
	}
	nOut := 1
	if len(outputs) > 0 {
		nOut = outputs[0]
	}
	n["id"] = "n1"
	n["z"] = "t1"
	wires := [][]string{{"sink"}}
	sinks := `{"id":"sink","type":"test-sink","z":"t1","wires":[]}`
	for i := 1; i < nOut; i++ {
		id := "sink" + string(rune('0'+i))
		wires = append(wires, []string{id})
		sinks += `,{"id":"` + id + `","type":"test-sink","z":"t1","wires":[]}`
	}
	n["wires"] = wires
	nb, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},` + string(nb) + `,` + sinks + `]`
}

// Chain deploys ChainJSON(nodeJSON) with the given types.
func Chain(t testing.TB, nodeJSON string, types ...*engine.Type) *Flow {
	t.Helper()
	return New(t, ChainJSON(t, nodeJSON), types...)
}

// Runtime returns the runtime running the flow.
func (f *Flow) Runtime() *engine.Runtime { return f.rt }

// Inject sends m from the test-source node srcID, synchronously: when it
// returns, every node that handles m on the way has done so.
func (f *Flow) Inject(srcID string, m *engine.Message) {
	f.t.Helper()
	src, ok := f.rt.Graph().Node(srcID).(*Source)
	if !ok {
		f.t.Fatalf("no test-source %q", srcID)
	}
	src.h.Send(0, m)
}

// SourceHost returns the Host of the test-source node srcID, through which
// a test reaches the flow's context.
func (f *Flow) SourceHost(srcID string) *engine.Host {
	f.t.Helper()
	src, ok := f.rt.Graph().Node(srcID).(*Source)
	if !ok {
		f.t.Fatalf("no test-source %q", srcID)
	}
	return src.h
}

// WaitReceived waits up to 15 seconds (a loaded machine under -race is slow) until test-sink sinkID has
// received n messages and returns them; it fails the test when fewer or
// more arrive.
func (f *Flow) WaitReceived(sinkID string, n int) []*engine.Message {
	f.t.Helper()
	for end := time.Now().Add(15 * time.Second); ; {
		got := f.Received(sinkID)
		if len(got) >= n || time.Now().After(end) {
			if len(got) != n {
				f.t.Fatalf("%s: got %d messages, want %d", sinkID, len(got), n)
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Received returns the messages test-sink sinkID has received.
func (f *Flow) Received(sinkID string) []*engine.Message {
	f.t.Helper()
	sink, ok := f.rt.Graph().Node(sinkID).(*Sink)
	if !ok {
		f.t.Fatalf("no test-sink %q", sinkID)
	}
	return sink.Messages()
}

// Errors returns the errors nodes have reported.
func (f *Flow) Errors() []engine.ErrorEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.ErrorEvent(nil), f.errs...)
}

// Statuses returns the status changes nodes have reported.
func (f *Flow) Statuses() []engine.StatusEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.StatusEvent(nil), f.statuses...)
}

// Debug returns what debug nodes have shown.
func (f *Flow) Debug() []engine.DebugEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.DebugEvent(nil), f.debug...)
}

// Logged returns the log lines of level lvl or above that nodes have
// written.
func (f *Flow) Logged(lvl slog.Level) []LogRecord {
	f.logs.mu.Lock()
	defer f.logs.mu.Unlock()
	var out []LogRecord
	for _, r := range *f.logs.recs {
		if r.Level >= lvl && r.Node != "" {
			out = append(out, r)
		}
	}
	return out
}

// LogMessages returns the texts of recs joined with "; ".
func LogMessages(recs []LogRecord) string {
	msgs := make([]string, 0, len(recs))
	for _, r := range recs {
		msgs = append(msgs, r.Msg)
	}
	return strings.Join(msgs, "; ")
}

// Settle waits (at most 5 s) until the flow has nothing on its way: no
// message a source sent is still inside it and its catch, status and
// complete events have been delivered (they run on a goroutine of their
// own). Tests call it before they look at what such nodes sent.
func (f *Flow) Settle() {
	f.t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if g := f.rt.Graph(); g == nil || g.Quiet() {
			return
		}
	}
	f.t.Fatalf("the flow did not settle in 5 s")
}
