package engine_test

import (
	"context"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// BenchmarkDispatch measures the hot path: a source sends a message
// through three pass-through nodes and a fan-out of two into sinks, so
// that changes to routing (error, status and link wiring) show their cost.
func BenchmarkDispatch(b *testing.B) {
	doc, err := flows.Parse([]byte(`[
{"id":"t","type":"tab"},
{"id":"s","type":"src","z":"t","wires":[["p1"]]},
{"id":"p1","type":"pass","z":"t","need":"x","wires":[["p2"]]},
{"id":"p2","type":"pass","z":"t","need":"x","wires":[["p3"]]},
{"id":"p3","type":"pass","z":"t","need":"x","wires":[["k1","k2"]]},
{"id":"k1","type":"sink","z":"t"},
{"id":"k2","type":"nullsink","z":"t"}

]`))
	if err != nil {
		b.Fatal(err)
	}
	reg := testRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "nullsink", Inputs: 1}, func(_ *sinkConfig, _ *engine.Host) (engine.Node, error) {
		return nullSink{}, nil
	}))
	rt := engine.New(engine.Options{Registry: reg})
	if err := rt.Deploy(context.Background(), doc); err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(context.Background())
	// k1 records what it gets: replace it by a null sink for the run.
	s := rt.Graph().Node("s").(*src)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.h.Send(0, engine.NewMessage("a", "x"))
		if i%1024 == 0 {
			k := rt.Graph().Node("k1").(*sink)
			k.mu.Lock()
			k.got = k.got[:0]
			k.mu.Unlock()
		}
	}
}

type nullSink struct{}

func (nullSink) Receive(context.Context, *engine.Message, engine.Output) error { return nil }
