package exprlang

import (
	"testing"

	"github.com/runnel-io/runnel/engine/jsv"
)

// benchExprs are the three expressions the issue compares with JSONata.
var benchExprs = []struct{ name, src string }{
	{"arith", `msg.payload.temperature * 9 / 5 + 32`},
	{"bool", `msg.payload.temperature > 20 && msg.payload.unit == "C"`},
	{"object", `{"t": msg.payload.temperature, "topic": msg.topic}`},
}

func benchPayloads() []struct {
	name    string
	payload any
} {
	return []struct {
		name    string
		payload any
	}{
		{"map", map[string]any{"temperature": 21.5, "humidity": 40.0, "unit": "C"}},
		{"raw", jsv.RawJSON(`{"temperature":21.5,"humidity":40,"unit":"C"}`)},
	}
}

// BenchmarkExpr evaluates each expression on
// {topic:"sensors/a", payload:{temperature:21.5, humidity:40, unit:"C"}},
// with the payload decoded (map) and kept as JSON bytes (raw).
func BenchmarkExpr(b *testing.B) {
	for _, ex := range benchExprs {
		p := MustCompile(ex.src)
		for _, pl := range benchPayloads() {
			env := &testEnv{msg: map[string]any{"topic": "sensors/a", "payload": pl.payload}}
			b.Run(ex.name+"/"+pl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Eval(env); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCompile is the deploy-time cost of one expression.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchExprs[1].src); err != nil {
			b.Fatal(err)
		}
	}
}
