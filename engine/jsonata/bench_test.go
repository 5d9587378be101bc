package jsonata

import "testing"

// BenchmarkJSONata evaluates the three expressions of the JSONata-against-expr
// comparison (issue 13) against a decoded message.
func BenchmarkJSONata(b *testing.B) {
	m := map[string]any{
		"topic":   "sensors/a",
		"payload": map[string]any{"temperature": 21.5, "humidity": 40.0, "unit": "C"},
	}
	for _, bc := range []struct{ name, src string }{
		{"arith", `payload.temperature * 9 / 5 + 32`},
		{"bool", `payload.temperature > 20 and payload.unit = "C"`},
		{"object", `{"t": payload.temperature, "topic": topic}`},
	} {
		e, err := Compile(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(m, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
