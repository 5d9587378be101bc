package engine

import (
	"testing"
)

// FuzzPath checks that any path either fails to parse or can be used to
// set and then read a value on a message without panicking.
//
//	go test -run '^$' -fuzz FuzzPath -fuzztime 30s ./engine/
func FuzzPath(f *testing.F) {
	for _, s := range []string{"payload", "payload.a.b[0]", `payload["x y"]['z']`, "a.0.b", "payload[", "..", `p["\"]`, "x[99999999999999999999]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		raw, _ := ParseJSON([]byte(`{"a":{"b":[1,2]},"payload":{"x y":{"z":1}}}`))
		for _, payload := range []any{nil, raw, "text", 1.0, map[string]any{"a": []any{1.0}}} {
			m := NewMessage("t", payload)
			m.Get(p)
			if err := m.Set(p, "v"); err != nil {
				continue
			}
			v, ok := m.Get(p)
			if !ok || v != "v" {
				t.Fatalf("path %q on %T: set then get = %#v, %v", s, payload, v, ok)
			}
		}
	})
}
