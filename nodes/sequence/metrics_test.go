package sequence

import (
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestQueuedMetrics: join, batch and sort report what they hold as
// runnel_node_queued_messages, so that back-pressure shows in /metrics.
func TestQueuedMetrics(t *testing.T) {
	cases := []struct {
		name, node string
		typ        *engine.Type
		in         []*engine.Message
		want       float64
	}{
		{"join", `{"type":"join","mode":"custom","build":"array","count":"10","property":"payload","propertyType":"msg"}`, JoinType,
			[]*engine.Message{engine.NewMessage("", 1.0), engine.NewMessage("", 2.0), engine.NewMessage("", 3.0)}, 3},
		{"batch", `{"type":"batch","mode":"count","count":10,"overlap":0}`, BatchType,
			[]*engine.Message{engine.NewMessage("", 1.0), engine.NewMessage("", 2.0)}, 2},
		{"sort", `{"type":"sort","target":"","targetType":"seq","seqKey":"payload","seqKeyType":"msg","order":"ascending"}`, SortType,
			[]*engine.Message{partOf(1.0, 0, 3), partOf(2.0, 1, 3)}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.Chain(t, c.node, c.typ)
			for _, m := range c.in {
				f.Inject("src", m)
			}
			n, ok := f.Runtime().Graph().Node("n1").(engine.Measurer)
			if !ok {
				t.Fatal("not a Measurer")
			}
			ms := n.Metrics()
			if len(ms) != 1 || ms[0].Name != "runnel_node_queued_messages" || ms[0].Value != c.want || ms[0].Counter {
				t.Fatalf("metrics %+v, want %v queued", ms, c.want)
			}
		})
	}
}

// partOf is a message of a sequence "s" of count messages.
func partOf(payload float64, index, count int) *engine.Message {
	m := engine.NewMessage("", payload)
	m.SetProp("parts", map[string]any{"id": "s", "index": float64(index), "count": float64(count)})
	return m
}
