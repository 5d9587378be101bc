package nodes

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/nodes/function"
	"github.com/runnel-io/runnel/nodes/parser"
)

// bigFlow returns a document of chains of the seed pipeline's processing
// nodes (test-source -> json -> filter-on-change -> template -> test-sink),
// 5 nodes each, spread over tabs of 100 nodes; template0's text is text.
func bigFlow(tb testing.TB, nodes int, text string) *flows.Document {
	tb.Helper()
	var b strings.Builder
	b.WriteString("[")
	chains := nodes / 5
	for c := 0; c < chains; c++ {
		tab := fmt.Sprintf("tab%d", c/20)
		if c%20 == 0 {
			fmt.Fprintf(&b, `{"id":%q,"type":"tab","label":"Tab %d"},`, tab, c/20)
		}
		tpl := "{{topic}}: {{payload.temperature}}"
		if c == 0 {
			tpl = text
		}
		fmt.Fprintf(&b, `{"id":"src%d","type":"test-source","z":%q,"x":100,"y":%d,"wires":[["json%d"]]},`, c, tab, c*40, c)
		fmt.Fprintf(&b, `{"id":"json%d","type":"json","z":%q,"action":"obj","property":"payload","x":200,"y":%d,"wires":[["filter%d"]]},`, c, tab, c*40, c)
		fmt.Fprintf(&b, `{"id":"filter%d","type":"filter-on-change","z":%q,"func":"rbe","property":"payload.temperature","x":300,"y":%d,"wires":[["template%d"]]},`, c, tab, c*40, c)
		fmt.Fprintf(&b, `{"id":"template%d","type":"template","z":%q,"field":"payload","template":%q,"output":"str","x":400,"y":%d,"wires":[["sink%d"]]},`, c, tab, tpl, c*40, c)
		fmt.Fprintf(&b, `{"id":"sink%d","type":"test-sink","z":%q,"x":500,"y":%d,"wires":[]}`, c, tab, c*40)
		if c < chains-1 {
			b.WriteString(",")
		}
	}
	b.WriteString("]")
	doc, err := flows.Parse([]byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// BenchmarkDeploy1000Nodes measures a deploy of a 1,000-node flow in which
// one template changed, for each deploy type: parsing the posted JSON (one
// line, as the editor sends it), planning (diff, compile, validation) and
// applying (start, switch, drain, close) together.
func BenchmarkDeploy1000Nodes(b *testing.B) {
	for _, typ := range []engine.DeployType{engine.DeployNodes, engine.DeployFlows, engine.DeployFull} {
		b.Run(string(typ), func(b *testing.B) {
			reg := engine.NewRegistry()
			for _, t := range []*engine.Type{nodetest.SourceType, nodetest.SinkType, parser.JSONType, function.FilterType, function.TemplateType} {
				reg.MustRegister(t)
			}
			rt := engine.New(engine.Options{Registry: reg})
			var posted [2][]byte
			for i, text := range []string{"A {{payload}}", "B {{payload}}"} {
				var err error
				if posted[i], err = bigFlow(b, 1000, text).Marshal(flows.FormatRunnel, false); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			if err := rt.Deploy(ctx, bigFlow(b, 1000, "A {{payload}}")); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				doc, err := flows.Parse(posted[(i+1)%2])
				if err != nil {
					b.Fatal(err)
				}
				p, err := rt.Plan(doc, typ)
				if err != nil {
					b.Fatal(err)
				}
				if err := rt.Apply(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			rt.Stop(ctx)
		})
	}
}
