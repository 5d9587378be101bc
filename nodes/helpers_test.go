package nodes

// Shared helpers for node tests: a source node to inject messages, a sink
// node that records what reaches it, and newTestFlow, which deploys a flow
// document on a private registry and records errors and log lines.

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// testSourceConfig is the (empty) configuration of a test-source node.
type testSourceConfig struct{}

// testSource is a node with one output and no input. Tests inject messages
// through its Host (see testFlow.inject).
type testSource struct {
	h *engine.Host
}

var testSourceType = engine.NewType(engine.Meta{
	Type: "test-source", Category: "common", Outputs: 1,
}, func(_ *testSourceConfig, h *engine.Host) (engine.Node, error) {
	return &testSource{h: h}, nil
})

// testSinkConfig is the (empty) configuration of a test-sink node.
type testSinkConfig struct{}

// testSink records every message it receives.
type testSink struct {
	mu  sync.Mutex
	got []*engine.Message
}

func (s *testSink) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	s.mu.Lock()
	s.got = append(s.got, m)
	s.mu.Unlock()
	return nil
}

func (s *testSink) messages() []*engine.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*engine.Message(nil), s.got...)
}

var testSinkType = engine.NewType(engine.Meta{
	Type: "test-sink", Category: "common", Inputs: 1,
}, func(_ *testSinkConfig, _ *engine.Host) (engine.Node, error) {
	return &testSink{}, nil
})

// testLogRecord is one log line a node wrote.
type testLogRecord struct {
	Level slog.Level
	Msg   string
	Node  string // the node id attribute
}

// testLogHandler records log records (shared by the handlers WithAttrs
// derives, which add the node's id).
type testLogHandler struct {
	mu    *sync.Mutex
	recs  *[]testLogRecord
	node  string
	attrs []slog.Attr
}

func newTestLogHandler() *testLogHandler {
	return &testLogHandler{mu: new(sync.Mutex), recs: new([]testLogRecord)}
}

func (h *testLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *testLogHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.recs = append(*h.recs, testLogRecord{Level: r.Level, Msg: r.Message, Node: h.node})
	h.mu.Unlock()
	return nil
}

func (h *testLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == "node" {
			c.node = a.Value.String()
		}
	}
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *testLogHandler) WithGroup(string) slog.Handler { return h }

// testFlow is a deployed flow document for a test.
type testFlow struct {
	t    testing.TB
	rt   *engine.Runtime
	logs *testLogHandler

	mu   sync.Mutex
	errs []engine.ErrorEvent
}

// newTestFlow deploys the flow document flowJSON on a registry holding
// test-source, test-sink and types, and stops it when the test ends.
func newTestFlow(t testing.TB, flowJSON string, types ...*engine.Type) *testFlow {
	t.Helper()
	f, err := deployTestFlow(t, flowJSON, types...)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return f
}

// deployTestFlow is newTestFlow returning the deploy error, for tests of
// configuration checks.
func deployTestFlow(t testing.TB, flowJSON string, types ...*engine.Type) (*testFlow, error) {
	t.Helper()
	reg := engine.NewRegistry()
	reg.MustRegister(testSourceType)
	reg.MustRegister(testSinkType)
	for _, typ := range types {
		reg.MustRegister(typ)
	}
	doc, err := flows.Parse([]byte(flowJSON))
	if err != nil {
		return nil, err
	}
	f := &testFlow{t: t, logs: newTestLogHandler()}
	f.rt = engine.New(engine.Options{
		Registry: reg,
		Logger:   slog.New(f.logs),
		OnError: func(ev engine.ErrorEvent) {
			f.mu.Lock()
			f.errs = append(f.errs, ev)
			f.mu.Unlock()
		},
	})
	if err := f.rt.Deploy(context.Background(), doc); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = f.rt.Stop(context.Background()) })
	return f, nil
}

// testChainJSON returns a flow document in which test-source "src" is
// wired to the node described by nodeJSON (given id "n1") and that node's
// first output to test-sink "sink".
func testChainJSON(t testing.TB, nodeJSON string) string {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal([]byte(nodeJSON), &n); err != nil {
		t.Fatalf("node JSON: %v", err)
	}
	n["id"] = "n1"
	n["wires"] = [][]string{{"sink"}}
	nb, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return `[{"id":"src","type":"test-source","wires":[["n1"]]},` + string(nb) +
		`,{"id":"sink","type":"test-sink","wires":[]}]`
}

// newTestChain deploys testChainJSON(nodeJSON) with the given types.
func newTestChain(t testing.TB, nodeJSON string, types ...*engine.Type) *testFlow {
	t.Helper()
	return newTestFlow(t, testChainJSON(t, nodeJSON), types...)
}

// inject sends m from the test-source node srcID, synchronously.
func (f *testFlow) inject(srcID string, m *engine.Message) {
	f.t.Helper()
	src, ok := f.rt.Graph().Node(srcID).(*testSource)
	if !ok {
		f.t.Fatalf("no test-source %q", srcID)
	}
	src.h.Send(0, m)
}

// received returns the messages test-sink sinkID has received.
func (f *testFlow) received(sinkID string) []*engine.Message {
	f.t.Helper()
	sink, ok := f.rt.Graph().Node(sinkID).(*testSink)
	if !ok {
		f.t.Fatalf("no test-sink %q", sinkID)
	}
	return sink.messages()
}

// errors returns the errors nodes have reported.
func (f *testFlow) errors() []engine.ErrorEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.ErrorEvent(nil), f.errs...)
}

// logged returns the log lines of level lvl (or above) nodes have written.
func (f *testFlow) logged(lvl slog.Level) []testLogRecord {
	f.logs.mu.Lock()
	defer f.logs.mu.Unlock()
	var out []testLogRecord
	for _, r := range *f.logs.recs {
		if r.Level >= lvl && r.Node != "" {
			out = append(out, r)
		}
	}
	return out
}

// testLogMessages returns the texts of recs.
func testLogMessages(recs []testLogRecord) string {
	var msgs []string
	for _, r := range recs {
		msgs = append(msgs, r.Msg)
	}
	return strings.Join(msgs, "; ")
}
