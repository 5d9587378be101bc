package function

import (
	"context"
	"fmt"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
)

// TestFilterStateAcrossDeploys: a nodes deploy that does not touch the
// filter keeps its state whatever the store; a full deploy (which replaces
// it) keeps it only when the state is in the node's context.
func TestFilterStateAcrossDeploys(t *testing.T) {
	for _, tc := range []struct {
		store     string
		afterFull int // messages through after a full deploy and a repeat
	}{
		{"node", 1},
		{"memory", 0},
		{"persistent", 0},
	} {
		t.Run(tc.store, func(t *testing.T) {
			js := fmt.Sprintf(`{"type":"filter-on-change","func":"rbe","property":"payload.t","store":%q}`, tc.store)
			f := nodetest.Chain(t, js, FilterType)
			in := func() {
				f.Inject("src", &engine.Message{Topic: "a", Payload: engine.RawJSON(`{"t":1}`)})
			}
			in()
			sink := f.Runtime().Graph().Node("sink").(*nodetest.Sink)
			doc := f.Runtime().Graph().Document().Clone()
			// Move the sink: a nodes deploy keeps everything.
			doc.Node("sink").Set("x", []byte("5"))
			p, err := f.Runtime().Plan(doc, engine.DeployNodes)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Runtime().Apply(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			in()
			if got := len(sink.Messages()); got != 1 {
				t.Fatalf("after a nodes deploy: %d messages through, want 1", got)
			}
			full, err := flows.Parse([]byte(nodetest.ChainJSON(t, js)))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Runtime().Deploy(context.Background(), full); err != nil {
				t.Fatal(err)
			}
			in()
			if got := len(f.Received("sink")); got != tc.afterFull {
				t.Fatalf("after a full deploy: %d messages through, want %d", got, tc.afterFull)
			}
		})
	}
}

func TestTemplateReadsContext(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"template","template":"{{flow.site}}/{{global.unit.name}}/{{global[persistent].n}}/{{flow.none}}|"}`, TemplateType)
	g := f.Runtime().GlobalContext()
	host := f.SourceHost("src")
	if err := host.FlowContext().Set("site", "lab"); err != nil {
		t.Fatal(err)
	}
	if err := g.Set("unit.name", "°C"); err != nil {
		t.Fatal(err)
	}
	if err := g.Set("#:(persistent)::n", 2.5); err != nil {
		t.Fatal(err)
	}
	f.Inject("src", &engine.Message{})
	if got := f.Received("sink")[0].Payload; got != "lab/°C/2.5/|" {
		t.Fatalf("rendered %q", got)
	}
}
