package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// Test node types: a source the test drives, a pass-through that can fail
// or mutate, and a sink that records what arrives.

type srcConfig struct{}

type src struct{ h *engine.Host }

type passConfig struct {
	Fail    string  `json:"fail" help:"fail when the payload equals this"`
	SetTo   string  `json:"setTo"`
	Outputs int     `json:"outputs" default:"1"`
	Factor  float64 `json:"factor" default:"1"`
	Mode    string  `json:"mode" default:"a" options:"a,b"`
	Need    string  `json:"need" required:"true"`
}

type pass struct{ cfg passConfig }

func (p *pass) Outputs() int { return p.cfg.Outputs }

func (p *pass) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	if s, _ := m.Payload.(string); s == p.cfg.Fail {
		return errors.New("failing on purpose")
	}
	if p.cfg.SetTo == "panic" {
		panic("boom")
	}
	if p.cfg.SetTo != "" {
		m.Payload = p.cfg.SetTo
	}
	for port := 0; port < p.cfg.Outputs; port++ {
		out.Send(port, m)
		if port+1 < p.cfg.Outputs {
			m = m.Copy()
		}
	}
	return nil
}

type sinkConfig struct{}

type sink struct {
	mu  sync.Mutex
	got []string
}

func (s *sink) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	s.mu.Lock()
	s.got = append(s.got, engine.ToString(m.Payload))
	s.mu.Unlock()
	return nil
}

func testRegistry() *engine.Registry {
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "src", Outputs: 1}, func(_ *srcConfig, h *engine.Host) (engine.Node, error) {
		return &src{h: h}, nil
	}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "pass", Inputs: 1, Outputs: 1}, func(c *passConfig, h *engine.Host) (engine.Node, error) {
		if c.Factor < 0 {
			return nil, engine.ErrFieldf("factor", "must not be negative")
		}
		return &pass{cfg: *c}, nil
	}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "sink", Inputs: 1}, func(_ *sinkConfig, h *engine.Host) (engine.Node, error) {
		return &sink{}, nil
	}))
	return reg
}

func parse(t *testing.T, js string) *flows.Document {
	t.Helper()
	doc, err := flows.Parse([]byte(js))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func TestCompileReportsEveryProblem(t *testing.T) {
	doc := parse(t, `[
{"id":"s","type":"src","wires":[["p"]]},
{"id":"p","type":"pass","need":"x","mode":"c","factor":"abc","wires":[["k"],["k"]]},
{"id":"u","type":"nosuch","wires":[]},
{"id":"q","type":"pass","wires":[["s"]]},
{"id":"r","type":"pass","need":"x","factor":-1},
{"id":"k","type":"sink"}
]`)
	rt := engine.New(engine.Options{Registry: testRegistry()})
	_, err := rt.Compile(doc)
	var probs flows.Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want flows.Problems, got %v", err)
	}
	got := probs.Error()
	for _, want := range []string{
		`line 3: node "p" (pass) field "factor": "abc" is not a number`,
		`line 3: node "p" (pass) field "mode": "c" is not one of "a", "b"`,
		`line 4: node "u" (nosuch) field "type": unknown node type "nosuch"`,
		`line 5: node "q" (pass) field "need": required`,
		`line 6: node "r" (pass) field "factor": must not be negative`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

func TestCompileRejectsWiringErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"cycle", `[{"id":"s","type":"src","wires":[["a"]]},{"id":"a","type":"pass","need":"x","wires":[["b"]]},{"id":"b","type":"pass","need":"x","wires":[["c"]]},{"id":"c","type":"pass","need":"x","wires":[["a"]]}]`,
			`cycle: "a" -> "b" -> "c" -> "a"`},
		{"self loop", `[{"id":"a","type":"pass","need":"x","wires":[["a"]]}]`, `cycle: "a" -> "a"`},
		{"duplicate id", `[{"id":"a","type":"sink"},{"id":"a","type":"sink"}]`, `duplicate`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := flows.Parse([]byte(c.doc))
			if err == nil {
				_, err = engine.New(engine.Options{Registry: testRegistry()}).Compile(doc)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestDisabledNodesAndTabsDoNotRun(t *testing.T) {
	doc := parse(t, `[
{"id":"t1","type":"tab","label":"on"},{"id":"t2","type":"tab","label":"off","disabled":true},
{"id":"s","type":"src","z":"t1","wires":[["k","off"]]},
{"id":"off","type":"sink","z":"t1","d":true},
{"id":"k","type":"sink","z":"t1"},
{"id":"x","type":"nosuch-but-disabled","z":"t2"}
]`)
	rt := engine.New(engine.Options{Registry: testRegistry()})
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	g := rt.Graph()
	if g.Node("off") != nil || g.Node("x") != nil {
		t.Error("disabled nodes were built")
	}
	s := g.Node("s").(*src)
	s.h.Send(0, engine.NewMessage("", "hello"))
	if got := g.Node("k").(*sink).got; len(got) != 1 || got[0] != "hello" {
		t.Errorf("sink got %v", got)
	}
}

func TestDispatchIsolatesErrorsAndFanOut(t *testing.T) {
	doc := parse(t, `[
{"id":"s","type":"src","wires":[["a","b","c"]]},
{"id":"a","type":"pass","need":"x","setTo":"changed by a","wires":[["ka"]]},
{"id":"b","type":"pass","need":"x","fail":"bad","wires":[["kb"]]},
{"id":"c","type":"pass","need":"x","setTo":"panic","wires":[["kb"]]},
{"id":"ka","type":"sink"},{"id":"kb","type":"sink"}
]`)
	var mu sync.Mutex
	var errs []string
	rt := engine.New(engine.Options{Registry: testRegistry(), OnError: func(ev engine.ErrorEvent) {
		mu.Lock()
		errs = append(errs, ev.NodeID+": "+ev.Err.Error()+" msg="+ev.MsgID)
		mu.Unlock()
	}})
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	g := rt.Graph()
	h := g.Node("s").(*src).h
	m1 := engine.NewMessage("", "good")
	h.Send(0, m1)
	m2 := engine.NewMessage("", "bad")
	h.Send(0, m2)
	if got := strings.Join(g.Node("ka").(*sink).got, ","); got != "changed by a,changed by a" {
		t.Errorf("ka got %s", got)
	}
	// b saw the original payload although a changed its copy first.
	if got := strings.Join(g.Node("kb").(*sink).got, ","); got != "good" {
		t.Errorf("kb got %s", got)
	}
	want := []string{
		"c: panic: boom msg=" + m1.ID(),
		"b: failing on purpose msg=" + m2.ID(),
		"c: panic: boom msg=" + m2.ID(),
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
	if st, _ := g.Stats("b"); st.In != 2 || st.Out != 1 || st.Errors != 1 {
		t.Errorf("stats of b: %+v", st)
	}
}

func TestVariableOutputs(t *testing.T) {
	doc := parse(t, `[
{"id":"s","type":"src","wires":[["p"]]},
{"id":"p","type":"pass","need":"x","outputs":2,"wires":[["k1"],["k2"]]},
{"id":"k1","type":"sink"},{"id":"k2","type":"sink"}]`)
	rt := engine.New(engine.Options{Registry: testRegistry()})
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	g := rt.Graph()
	g.Node("s").(*src).h.Send(0, engine.NewMessage("", "v"))
	if len(g.Node("k1").(*sink).got) != 1 || len(g.Node("k2").(*sink).got) != 1 {
		t.Error("a two-output node did not reach both sinks")
	}
}
