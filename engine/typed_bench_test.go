package engine_test

import (
	"context"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

// benchHost deploys a one-node flow and returns the node's Host, with a
// flow context key and a tab environment variable set.
func benchHost(b *testing.B) *engine.Host {
	b.Helper()
	rt := engine.New(engine.Options{Registry: testRegistry()})
	if err := rt.Deploy(context.Background(), parse(&testing.T{}, `[{"id":"t","type":"tab","env":[{"name":"SITE","value":"lab","type":"str"}]},{"id":"s","type":"src","z":"t"}]`)); err != nil {
		b.Fatal(err)
	}
	h := rt.Graph().Node("s").(*src).h
	if err := h.FlowContext().Set("count", 4.0); err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkTypedEval evaluates one typed value of each kind against a
// sensor message whose payload is kept as JSON bytes.
//
//	go test -run '^$' -bench BenchmarkTypedEval -benchmem ./engine/
func BenchmarkTypedEval(b *testing.B) {
	h := benchHost(b)
	m := engine.NewMessage("sensors/a", engine.RawJSON(`{"temperature":21.5,"humidity":40,"unit":"C"}`))
	for _, tc := range []struct{ typ, value string }{
		{"str", "hello"},
		{"num", "42.5"},
		{"bool", "true"},
		{"json", `{"a":[1,2]}`},
		{"bin", `[1,2,3]`},
		{"re", `^sensors/(\w+)$`},
		{"msg", "payload.temperature"},
		{"flow", "count"},
		{"global", "#:(memory)::missing"},
		{"date", ""},
		{"env", "SITE"},
		{"jsonata", "payload.temperature * 9 / 5 + 32"},
		{"expr", "msg.payload.temperature * 9 / 5 + 32"},
	} {
		typed, err := engine.ParseTyped(tc.typ, tc.value)
		if err != nil {
			b.Fatalf("%s: %v", tc.typ, err)
		}
		b.Run(tc.typ, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := typed.Eval(h, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJSONataVsExpr evaluates the same three expressions in JSONata
// and in expr, through the typed-value layer, on the same message (its
// payload decoded, as after a json node).
//
//	go test -run '^$' -bench BenchmarkJSONataVsExpr -benchmem ./engine/
func BenchmarkJSONataVsExpr(b *testing.B) {
	h := benchHost(b)
	m := engine.NewMessage("sensors/a", map[string]any{"temperature": 21.5, "humidity": 40.0, "unit": "C"})
	for _, tc := range []struct{ name, jsonata, expr string }{
		{"arith", `payload.temperature * 9 / 5 + 32`, `msg.payload.temperature * 9 / 5 + 32`},
		{"compare", `payload.temperature > 20 and payload.unit = "C"`, `msg.payload.temperature > 20 && msg.payload.unit == "C"`},
		{"object", `{"t": payload.temperature, "topic": topic}`, `{"t": msg.payload.temperature, "topic": msg.topic}`},
	} {
		for _, lang := range []string{"jsonata", "expr"} {
			src := tc.jsonata
			if lang == "expr" {
				src = tc.expr
			}
			typed, err := engine.ParseTyped(lang, src)
			if err != nil {
				b.Fatalf("%s %s: %v", lang, tc.name, err)
			}
			b.Run(tc.name+"/"+lang, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := typed.Eval(h, m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
