package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// counter numbers the messages it passes on: its state is what a deploy
// that keeps it must not lose. It records when it starts and closes.
type counterConfig struct {
	Label string `json:"label"`
}

type counter struct {
	label  string
	n      atomic.Int64
	events *eventLog
	id     string
}

func (c *counter) Start(context.Context) error { c.events.add("start " + c.id); return nil }
func (c *counter) Close(context.Context) error { c.events.add("close " + c.id); return nil }

func (c *counter) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	m.Payload = fmt.Sprintf("%s%d:%s", c.label, c.n.Add(1), engine.ToString(m.Payload))
	out.Send(0, m)
	return nil
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) { l.mu.Lock(); l.events = append(l.events, e); l.mu.Unlock() }
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	slices.Sort(e)
	return e
}

func deployRegistry(log *eventLog) *engine.Registry {
	reg := testRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "counter", Inputs: 1, Outputs: 1}, func(c *counterConfig, h *engine.Host) (engine.Node, error) {
		return &counter{label: c.Label, events: log, id: h.ID()}, nil
	}))
	return reg
}

const twoTabs = `[
{"id":"t1","type":"tab","label":"one"},
{"id":"t2","type":"tab","label":"two"},
{"id":"s","type":"src","z":"t1","wires":[["c"]]},
{"id":"c","type":"counter","z":"t1","label":"%s","wires":[["p"]]},
{"id":"p","type":"pass","z":"t1","need":"x","setTo":"","wires":[["k"]]},
{"id":"k","type":"sink","z":"t1"},
{"id":"s2","type":"src","z":"t2","wires":[["c2"]]},
{"id":"c2","type":"counter","z":"t2","label":"%s","x":%d,"wires":[["k2"]]},
{"id":"k2","type":"sink","z":"t2"}
]`

func send(t *testing.T, g *engine.Graph, id string, payload string) {
	t.Helper()
	s, ok := g.Node(id).(*src)
	if !ok {
		t.Fatalf("no src %q", id)
	}
	s.h.Send(0, &engine.Message{Payload: payload})
}

func sinkOf(t *testing.T, g *engine.Graph, id string) *sink {
	t.Helper()
	k, ok := g.Node(id).(*sink)
	if !ok {
		t.Fatalf("no sink %q", id)
	}
	return k
}

func TestDeployTypesKeepUnchangedNodes(t *testing.T) {
	log := &eventLog{}
	rt := engine.New(engine.Options{Registry: deployRegistry(log)})
	ctx := context.Background()
	deploy := func(typ engine.DeployType, a, b string, x int) *engine.Plan {
		t.Helper()
		p, err := rt.Plan(parse(t, fmt.Sprintf(twoTabs, a, b, x)), typ)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deploy(engine.DeployFull, "a", "b", 10)
	if got := log.take(); !slices.Equal(got, []string{"start c", "start c2"}) {
		t.Fatalf("first deploy events = %q", got)
	}
	g := rt.Graph()
	send(t, g, "s", "x")
	send(t, g, "s2", "y")
	k, k2 := sinkOf(t, g, "k"), sinkOf(t, g, "k2")

	// A move on the canvas is no change: a nodes deploy keeps everything.
	p := deploy(engine.DeployNodes, "a", "b", 99)
	if p.Kept != 7 || len(p.Replaced) != 0 || !slices.Equal(p.Diff.Moved, []string{"c2"}) {
		t.Fatalf("nodes deploy of a move: kept %d, replaced %q, diff %+v", p.Kept, p.Replaced, p.Diff)
	}
	if got := log.take(); len(got) != 0 {
		t.Fatalf("nodes deploy of a move started or closed %q", got)
	}
	send(t, rt.Graph(), "s", "x")
	if !slices.Equal(k.got, []string{"a1:x", "a2:x"}) {
		t.Fatalf("sink k got %q; want the counter's state kept", k.got)
	}

	// Changing c2 with a nodes deploy replaces c2 only.
	p = deploy(engine.DeployNodes, "a", "B", 99)
	if !slices.Equal(p.Replaced, []string{"c2"}) || p.Kept != 6 {
		t.Fatalf("nodes deploy: replaced %q, kept %d", p.Replaced, p.Kept)
	}
	if got := log.take(); !slices.Equal(got, []string{"close c2", "start c2"}) {
		t.Fatalf("nodes deploy events = %q", got)
	}
	g = rt.Graph()
	send(t, g, "s", "x")
	send(t, g, "s2", "y")
	if !slices.Equal(k.got, []string{"a1:x", "a2:x", "a3:x"}) || !slices.Equal(k2.got, []string{"b1:y", "B1:y"}) {
		t.Fatalf("after nodes deploy: k %q, k2 %q", k.got, k2.got)
	}
	if sinkOf(t, g, "k2") != k2 {
		t.Fatal("the unchanged sink k2 was replaced")
	}
	if st, _ := g.Stats("k"); st.In != 3 {
		t.Fatalf("kept sink's counters: %+v, want In 3", st)
	}

	// A flows deploy replaces every node of the changed tab, no other.
	p = deploy(engine.DeployFlows, "a", "C", 99)
	if !slices.Equal(p.Replaced, []string{"s2", "c2", "k2"}) {
		t.Fatalf("flows deploy replaced %q", p.Replaced)
	}
	if got := log.take(); !slices.Equal(got, []string{"close c2", "start c2"}) {
		t.Fatalf("flows deploy events = %q", got)
	}
	if sinkOf(t, rt.Graph(), "k") != k || sinkOf(t, rt.Graph(), "k2") == k2 {
		t.Fatal("flows deploy: wrong sinks replaced")
	}

	// A full deploy replaces everything, and the counter starts again.
	deploy(engine.DeployFull, "a", "C", 99)
	if got := log.take(); !slices.Equal(got, []string{"close c", "close c2", "start c", "start c2"}) {
		t.Fatalf("full deploy events = %q", got)
	}
	send(t, rt.Graph(), "s", "x")
	if got := sinkOf(t, rt.Graph(), "k").got; !slices.Equal(got, []string{"a1:x"}) {
		t.Fatalf("after full deploy: %q", got)
	}
}

func TestDeployInvalidOrStaleChangesNothing(t *testing.T) {
	log := &eventLog{}
	rt := engine.New(engine.Options{Registry: deployRegistry(log)})
	ctx := context.Background()
	if err := rt.Deploy(ctx, parse(t, fmt.Sprintf(twoTabs, "a", "b", 1))); err != nil {
		t.Fatal(err)
	}
	g := rt.Graph()
	log.take()
	bad := parse(t, fmt.Sprintf(twoTabs, "a", "b", 1))
	bad.Node("p").Set("need", []byte(`""`))
	_, err := rt.Plan(bad, engine.DeployNodes)
	var probs flows.Problems
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].NodeID != "p" || probs[0].Field != "need" {
		t.Fatalf("invalid deploy: %v", err)
	}
	if rt.Graph() != g || len(log.take()) != 0 {
		t.Fatal("an invalid deploy changed the running flows")
	}
	p1, err := rt.Plan(parse(t, fmt.Sprintf(twoTabs, "x", "b", 1)), engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := rt.Plan(parse(t, fmt.Sprintf(twoTabs, "y", "b", 1)), engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Apply(ctx, p1); err != nil {
		t.Fatal(err)
	}
	if err := rt.Apply(ctx, p2); !errors.Is(err, engine.ErrStale) {
		t.Fatalf("applying a stale plan: %v", err)
	}
}

// TestDeployUnderLoad deploys over and over while a source sends without
// pause: every message arrives exactly once, in order, and goes wholly
// through one version of the flows.
func TestDeployUnderLoad(t *testing.T) {
	log := &eventLog{}
	rt := engine.New(engine.Options{Registry: deployRegistry(log)})
	ctx := context.Background()
	doc := func(setTo string) *flows.Document {
		d := parse(t, fmt.Sprintf(twoTabs, "a", "b", 1))
		d.Node("p").Set("setTo", []byte(fmt.Sprintf("%q", setTo)))
		return d
	}
	if err := rt.Deploy(ctx, doc("v0")); err != nil {
		t.Fatal(err)
	}
	var sinks []*sink
	sinks = append(sinks, sinkOf(t, rt.Graph(), "k"))
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			send(t, rt.Graph(), "s", "x")
			n++
		}
	}()
	const deploys = 50
	for i := 1; i <= deploys; i++ {
		p, err := rt.Plan(doc(fmt.Sprintf("v%d", i)), engine.DeployNodes)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Replaced, []string{"p"}) {
			t.Fatalf("deploy %d replaced %q", i, p.Replaced)
		}
		if err := rt.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	n := <-sent
	k := sinkOf(t, rt.Graph(), "k")
	if k != sinks[0] {
		t.Fatal("the sink was replaced")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.got) != n {
		t.Fatalf("sent %d messages, the sink got %d", n, len(k.got))
	}
	// The pass node replaced the payload with its version: versions only
	// go up, in the order the messages were sent.
	last := -1
	for i, s := range k.got {
		var v int
		if _, err := fmt.Sscanf(s, "v%d", &v); err != nil {
			t.Fatalf("message %d: %q", i, s)
		}
		if v < last {
			t.Fatalf("message %d went through version %d after version %d", i, v, last)
		}
		last = v
	}
	if last != deploys && n > 0 {
		t.Logf("last message saw version %d of %d", last, deploys)
	}
}
