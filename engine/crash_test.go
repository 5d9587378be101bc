package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// crashy is a test node that fails in the way its config says: "start"
// (Start returns an error), "start-panic", "close-panic", "timer-panic" (a
// goroutine started with Host.Go panics), "receive-panic". With inputs it also has an
// input; it records its starts and closes.
type crashyConfig struct {
	Fail string `json:"fail"`
}

type crashy struct {
	h      *engine.Host
	fail   string
	events *eventLog
}

func (c *crashy) Start(context.Context) error {
	c.events.add("start " + c.h.ID())
	switch c.fail {
	case "start":
		return errors.New("cannot open the thing")
	case "start-panic":
		panic("start went wrong")
	case "timer-panic":
		c.h.Go(func() {
			var m map[string]int
			m["x"] = 1 // a nil map write: a runtime panic
		})
	}
	return nil
}

func (c *crashy) Close(context.Context) error {
	c.events.add("close " + c.h.ID())
	if c.fail == "close-panic" {
		panic("close went wrong")
	}
	return nil
}

func (c *crashy) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	if c.fail == "receive-panic" {
		panic("receive went wrong")
	}
	out.Send(0, m)
	return nil
}

// res is a connection a "conn" config node owns and can hand over.
type res struct{ closed atomic.Bool }

type connNode struct {
	h      *engine.Host
	fail   string
	r      atomic.Pointer[res]
	handed atomic.Bool
}

func (c *connNode) TakeOver(prev engine.Node) bool {
	p := prev.(*connNode)
	r := p.r.Load()
	if r == nil || p.handed.Load() {
		return false
	}
	p.handed.Store(true)
	c.r.Store(r)
	c.handed.Store(false)
	return true
}

func (c *connNode) Start(context.Context) error {
	if c.fail == "start" {
		return errors.New("cannot connect")
	}
	if c.r.Load() == nil {
		c.r.Store(&res{})
	}
	return nil
}

func (c *connNode) Close(context.Context) error {
	if !c.handed.Load() {
		if r := c.r.Load(); r != nil {
			r.closed.Store(true)
		}
	}
	return nil
}

type connUserConfig struct {
	Conn string `json:"conn" node:"conn"`
	Fail string `json:"fail"`
}

func crashRegistry(log *eventLog) *engine.Registry {
	reg := deployRegistry(log)
	build := func(c *crashyConfig, h *engine.Host) (engine.Node, error) {
		return &crashy{h: h, fail: c.Fail, events: log}, nil
	}
	reg.MustRegister(engine.NewType(engine.Meta{Type: "crashy-src", Outputs: 1}, build))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "crashy", Inputs: 1, Outputs: 1}, build))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "conn", Config: true}, func(c *crashyConfig, h *engine.Host) (engine.Node, error) {
		return &connNode{h: h, fail: c.Fail}, nil
	}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "conn-user", Inputs: 1}, func(c *connUserConfig, h *engine.Host) (engine.Node, error) {
		if _, err := h.ConfigNode(c.Conn, "conn"); err != nil {
			return nil, engine.ErrField("conn", err)
		}
		return &crashy{h: h, fail: c.Fail, events: log}, nil
	}))
	return reg
}

// errorSink collects the error events of a runtime.
type errorSink struct {
	mu   sync.Mutex
	evs  []engine.ErrorEvent
	more chan struct{}
}

func newErrorSink() *errorSink { return &errorSink{more: make(chan struct{}, 100)} }

func (s *errorSink) add(ev engine.ErrorEvent) {
	s.mu.Lock()
	s.evs = append(s.evs, ev)
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
}

// waitFor waits (up to 5 s) for an error of node id whose text contains
// want.
func (s *errorSink) waitFor(t *testing.T, id, want string) engine.ErrorEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		for _, ev := range s.evs {
			if ev.NodeID == id && strings.Contains(ev.Err.Error(), want) {
				s.mu.Unlock()
				return ev
			}
		}
		s.mu.Unlock()
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("no error of node %q containing %q", id, want)
		}
	}
}

const crashFlow = `[
{"id":"t1","type":"tab"},
{"id":"s","type":"src","z":"t1","wires":[["c"]]},
{"id":"c","type":"counter","z":"t1","label":"a","wires":[["k"]]},
{"id":"k","type":"sink","z":"t1"}%s
]`

// TestNodeGoroutinePanicIsReported: a panic in a goroutine a node started
// with Host.Go is reported against the node, and the process and the
// other nodes keep running.
func TestNodeGoroutinePanicIsReported(t *testing.T) {
	log := &eventLog{}
	errs := newErrorSink()
	var status atomic.Value
	rt := engine.New(engine.Options{Registry: crashRegistry(log), OnError: errs.add,
		OnStatus: func(ev engine.StatusEvent) {
			if ev.NodeID == "x" {
				status.Store(ev.Status)
			}
		}})
	ctx := context.Background()
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(crashFlow, `,{"id":"x","type":"crashy-src","z":"t1","fail":"timer-panic","wires":[[]]}`))); err != nil {
		t.Fatal(err)
	}
	ev := errs.waitFor(t, "x", "panic: assignment to entry in nil map")
	if ev.Type != "crashy-src" {
		t.Fatalf("error event: %+v", ev)
	}
	if st, _ := status.Load().(engine.Status); st != (engine.Status{Fill: "red", Shape: "ring", Text: "internal error"}) {
		t.Fatalf("status of the node: %+v", st)
	}
	if st, _ := rt.Graph().Stats("x"); st.Errors != 1 {
		t.Fatalf("errors counted: %d", st.Errors)
	}
	g := rt.Graph()
	send(t, g, "s", "still running")
	if got := sinkOf(t, g, "k").got; !slices.Equal(got, []string{"a1:still running"}) {
		t.Fatalf("after the panic the flows got %q", got)
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestClosePanicIsReported: a node whose Close panics is reported and the
// deploy that replaces it goes on.
func TestClosePanicIsReported(t *testing.T) {
	log := &eventLog{}
	errs := newErrorSink()
	rt := engine.New(engine.Options{Registry: crashRegistry(log), OnError: errs.add})
	ctx := context.Background()
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(crashFlow, `,{"id":"x","type":"crashy","z":"t1","fail":"close-panic"}`))); err != nil {
		t.Fatal(err)
	}
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(crashFlow, ""))); err != nil {
		t.Fatal(err)
	}
	errs.waitFor(t, "x", "panic: close went wrong")
	if rt.Graph().Node("x") != nil {
		t.Fatal("the node is still deployed")
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDeployThatFailsToStartIsRolledBack: a deploy whose new node fails
// to start (an error or a panic; a node with an input, which starts before
// the switch, or a source, which starts after it) answers a StartError
// naming the node, and the previous flows run on.
func TestDeployThatFailsToStartIsRolledBack(t *testing.T) {
	for _, tc := range []struct{ typ, fail, want string }{
		{"crashy", "start", "failed to start: cannot open the thing"},
		{"crashy", "start-panic", "failed to start: panic: start went wrong"},
		{"crashy-src", "start", "failed to start: cannot open the thing"},
		{"crashy-src", "start-panic", "failed to start: panic: start went wrong"},
	} {
		t.Run(tc.typ+"/"+tc.fail, func(t *testing.T) {
			log := &eventLog{}
			errs := newErrorSink()
			rt := engine.New(engine.Options{Registry: crashRegistry(log), OnError: errs.add})
			ctx := context.Background()
			good := parse(t, fmt.Sprintf(crashFlow, ""))
			if err := rt.Deploy(ctx, good); err != nil {
				t.Fatal(err)
			}
			g := rt.Graph()
			send(t, g, "s", "1")
			log.take()
			extra := fmt.Sprintf(`,{"id":"x","type":%q,"z":"t1","fail":%q,"wires":[[]]}`, tc.typ, tc.fail)
			bad := parse(t, fmt.Sprintf(crashFlow, extra))
			p, err := rt.Plan(bad, engine.DeployNodes)
			if err != nil {
				t.Fatal(err)
			}
			err = rt.Apply(ctx, p)
			var se *engine.StartError
			if !errors.As(err, &se) {
				t.Fatalf("Apply: %v", err)
			}
			want := flows.Problems{{NodeID: "x", Type: tc.typ, Line: 5, Msg: tc.want}}
			if !slices.Equal(se.Problems, want) {
				t.Fatalf("problems:\n%v\nwant\n%v", se.Problems, want)
			}
			var probs flows.Problems
			if !errors.As(err, &probs) {
				t.Fatal("a StartError does not unwrap to flows.Problems")
			}
			errs.waitFor(t, "x", "start: ")
			if got := rt.Graph().Document().Rev(); got != good.Rev() {
				t.Fatal("the running document is not the previous one")
			}
			if rt.Graph().Node("x") != nil {
				t.Fatal("the node that failed is running")
			}
			// The failed node was closed; the others ran on (the counter
			// kept its count).
			if got := log.take(); !slices.Equal(got, []string{"close x", "start x"}) {
				t.Fatalf("events: %q", got)
			}
			send(t, rt.Graph(), "s", "2")
			if got := sinkOf(t, rt.Graph(), "k").got; !slices.Equal(got, []string{"a1:1", "a2:2"}) {
				t.Fatalf("the previous flows got %q", got)
			}
		})
	}
}

// TestFirstDeployThatFailsToStartRunsNothing: with no flows before, a
// failed deploy leaves none running.
func TestFirstDeployThatFailsToStartRunsNothing(t *testing.T) {
	for _, typ := range []string{"crashy", "crashy-src"} {
		log := &eventLog{}
		rt := engine.New(engine.Options{Registry: crashRegistry(log)})
		err := rt.Deploy(context.Background(), parse(t, fmt.Sprintf(crashFlow, `,{"id":"x","type":"`+typ+`","z":"t1","fail":"start","wires":[[]]}`)))
		var se *engine.StartError
		if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].NodeID != "x" {
			t.Fatalf("%s: Deploy: %v", typ, err)
		}
		if rt.Graph() != nil {
			t.Fatalf("%s: flows are running after a failed first deploy", typ)
		}
		ev := log.take()
		if !slices.Contains(ev, "close x") {
			t.Fatalf("%s: the failed node was not closed: %q", typ, ev)
		}
	}
}

// TestConfigNodeThatFailsToStartFailsTheDeploy: a config node that fails
// to start fails the deploy (rather than leaving its users without it),
// and a config node that took over the running one's connection hands it
// back when the deploy is rolled back.
func TestConfigNodeThatFailsToStartFailsTheDeploy(t *testing.T) {
	log := &eventLog{}
	rt := engine.New(engine.Options{Registry: crashRegistry(log)})
	ctx := context.Background()
	const flow = `[
{"id":"t1","type":"tab"},
{"id":"cn","type":"conn","fail":%q},
{"id":"u","type":"conn-user","z":"t1","conn":"cn","fail":%q}
]`
	err := rt.Deploy(ctx, parse(t, fmt.Sprintf(flow, "start", "")))
	var se *engine.StartError
	if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].NodeID != "cn" || se.Problems[0].Msg != "failed to start: cannot connect" {
		t.Fatalf("Deploy: %v", err)
	}
	if rt.Graph() != nil {
		t.Fatal("flows run without their config node")
	}
	if ev := log.take(); len(ev) != 0 {
		t.Fatalf("the config node's users were started: %q", ev)
	}

	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(flow, "", ""))); err != nil {
		t.Fatal(err)
	}
	running := rt.Graph().Node("cn").(*connNode)
	r := running.r.Load()
	// A full deploy replaces the config node, which takes the connection
	// over; its user fails to start; the deploy is rolled back.
	err = rt.Deploy(ctx, parse(t, fmt.Sprintf(flow, "", "start")))
	if !errors.As(err, &se) || se.Problems[0].NodeID != "u" {
		t.Fatalf("Deploy: %v", err)
	}
	if rt.Graph().Node("cn") != running || running.r.Load() != r || running.handed.Load() || r.closed.Load() {
		t.Fatal("the running config node did not get its connection back")
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.closed.Load() {
		t.Fatal("the connection was not closed on stop")
	}
}

// TestConstructorPanicIsAProblem: a node constructor that panics on its
// configuration makes a problem naming the node, not a crash of whoever
// compiles the flow (validate, a deploy, the file watcher).
func TestConstructorPanicIsAProblem(t *testing.T) {
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "bad-build"}, func(c *crashyConfig, h *engine.Host) (engine.Node, error) {
		var s []int
		_ = s[len(c.Fail)] // out of range
		return nil, nil
	}))
	rt := engine.New(engine.Options{Registry: reg})
	_, err := rt.Compile(parse(t, "[\n{\"id\":\"b\",\"type\":\"bad-build\"}]"))
	var probs flows.Problems
	want := flows.Problem{NodeID: "b", Type: "bad-build", Line: 2, Msg: "panic: runtime error: index out of range [0] with length 0"}
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0] != want {
		t.Fatalf("Compile: %v; want %v", err, want)
	}
}

// TestSafeMode: SetStopped holds a document without running it, stopping
// what ran; a successful deploy leaves safe mode, a failed one does not.
func TestSafeMode(t *testing.T) {
	log := &eventLog{}
	rt := engine.New(engine.Options{Registry: crashRegistry(log)})
	ctx := context.Background()
	good := parse(t, fmt.Sprintf(crashFlow, ""))
	if err := rt.Deploy(ctx, good); err != nil {
		t.Fatal(err)
	}
	log.take()
	why := errors.New("on purpose")
	rt.SetStopped(ctx, good, why)
	if d, err := rt.Stopped(); d != good || err != why || rt.Graph() != nil {
		t.Fatalf("Stopped() = %v, %v; graph %v", d, err, rt.Graph())
	}
	if ev := log.take(); !slices.Equal(ev, []string{"close c"}) {
		t.Fatalf("the running flows were not stopped: %q", ev)
	}
	bad := parse(t, fmt.Sprintf(crashFlow, `,{"id":"x","type":"crashy","z":"t1","fail":"start"}`))
	if err := rt.Deploy(ctx, bad); err == nil {
		t.Fatal("deploy of a node that fails to start succeeded")
	}
	if d, _ := rt.Stopped(); d != good {
		t.Fatal("a failed deploy left safe mode")
	}
	if err := rt.Deploy(ctx, good); err != nil {
		t.Fatal(err)
	}
	if d, err := rt.Stopped(); d != nil || err != nil || rt.Graph() == nil {
		t.Fatal("a deploy did not leave safe mode")
	}
	rt.Stop(ctx)
}

// TestRolledBackDeployKeepsContext: a deploy that removes a node and a
// tab, and whose new source fails after the switch, is rolled back with
// the removed node's context (memory and persistent) and the removed
// tab's flow context as they were. A deploy that succeeds drops them.
func TestRolledBackDeployKeepsContext(t *testing.T) {
	log := &eventLog{}
	b := &memBackend{rows: map[[2]string]string{}}
	rt := engine.New(engine.Options{Registry: crashRegistry(log), ContextBackend: b})
	ctx := context.Background()
	t.Cleanup(func() { _ = rt.Stop(ctx) })
	const withGone = `,{"id":"t2","type":"tab"},{"id":"gone","type":"crashy","z":"t2","wires":[[]]}`
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(crashFlow, withGone))); err != nil {
		t.Fatal(err)
	}
	h := rt.Graph().Node("gone").(*crashy).h
	for _, kv := range []struct {
		c   *engine.Context
		key string
		v   any
	}{{h.Context(), "n", 1.0}, {h.Context(), "#:(persistent)::p", "kept"}, {h.FlowContext(), "f", 2.0}} {
		if err := kv.c.Set(kv.key, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		n := rt.Graph().Node("gone")
		if n == nil {
			return "no node"
		}
		h := n.(*crashy).h
		nv, _ := h.Context().Get("n")
		pv, _ := h.Context().Get("#:(persistent)::p")
		fv, _ := h.FlowContext().Get("f")
		return fmt.Sprintf("n=%v p=%v f=%v", nv, pv, fv)
	}

	bad := parse(t, fmt.Sprintf(crashFlow, `,{"id":"x","type":"crashy-src","z":"t1","fail":"start","wires":[[]]}`))
	p, err := rt.Plan(bad, engine.DeployFull)
	if err != nil {
		t.Fatal(err)
	}
	var se *engine.StartError
	if err := rt.Apply(ctx, p); !errors.As(err, &se) {
		t.Fatalf("Apply: %v", err)
	}
	if got, want := state(), "n=1 p=kept f=2"; got != want {
		t.Fatalf("after the roll back: %s, want %s", got, want)
	}

	// A deploy that succeeds in removing them drops them; bringing the
	// node back shows it empty.
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(crashFlow, ""))); err != nil {
		t.Fatal(err)
	}
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(crashFlow, withGone))); err != nil {
		t.Fatal(err)
	}
	if got, want := state(), "n=<nil> p=<nil> f=<nil>"; got != want {
		t.Fatalf("after a removal: %s, want %s", got, want)
	}
}

// TestReceivePanicIsLoggedWithItsStack: a panic in Receive is reported
// against the node with the message's id, and logged at error level with
// the stack, as the other panics of a node are.
func TestReceivePanicIsLoggedWithItsStack(t *testing.T) {
	var buf syncBuffer
	errs := newErrorSink()
	rt := engine.New(engine.Options{Registry: crashRegistry(&eventLog{}), OnError: errs.add,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	ctx := context.Background()
	t.Cleanup(func() { _ = rt.Stop(ctx) })
	flow := `[{"id":"t1","type":"tab"},
{"id":"s","type":"src","z":"t1","wires":[["x"]]},
{"id":"x","type":"crashy","z":"t1","fail":"receive-panic","wires":[[]]}]`
	if err := rt.Deploy(ctx, parse(t, flow)); err != nil {
		t.Fatal(err)
	}
	send(t, rt.Graph(), "s", "1")
	ev := errs.waitFor(t, "x", "panic: receive went wrong")
	if ev.MsgID == "" || ev.Err.Error() != "panic: receive went wrong" {
		t.Fatalf("error event: %+v", ev)
	}
	var rec struct {
		Level, Msg, Node, Type, Panic, Stack string
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"node panicked"`) {
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rec.Level != "ERROR" || rec.Node != "x" || rec.Type != "crashy" || rec.Panic != "receive went wrong" ||
		!strings.Contains(rec.Stack, "(*crashy).Receive") {
		t.Fatalf("log record: %+v\nlog:\n%s", rec, buf.String())
	}
	if st, _ := rt.Graph().Stats("x"); st.Errors != 1 {
		t.Fatalf("errors counted: %d", st.Errors)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
