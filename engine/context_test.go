package engine_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

// memBackend is a ContextBackend in memory, standing in for the SQLite
// store (which has its own tests) to show what the runtime writes.
type memBackend struct {
	mu     sync.Mutex
	rows   map[[2]string]string
	writes int
}

func (b *memBackend) LoadContext(context.Context) ([]engine.ContextEntry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []engine.ContextEntry
	for k, v := range b.rows {
		out = append(out, engine.ContextEntry{Scope: k[0], Key: k[1], Value: json.RawMessage(v)})
	}
	return out, nil
}

func (b *memBackend) WriteContext(_ context.Context, es []engine.ContextEntry) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	for _, e := range es {
		if e.Value == nil {
			delete(b.rows, [2]string{e.Scope, e.Key})
		} else {
			b.rows[[2]string{e.Scope, e.Key}] = string(e.Value)
		}
	}
	return nil
}

func TestContextStores(t *testing.T) {
	ctx := context.Background()
	b := &memBackend{rows: map[[2]string]string{{"global", "boot"}: `{"n":1}`}}
	rt := engine.New(engine.Options{Registry: testRegistry(), ContextBackend: b})
	if err := rt.LoadContext(ctx); err != nil {
		t.Fatal(err)
	}
	g := rt.GlobalContext()
	if v, ok := g.Get("#:(persistent)::boot.n"); !ok || v != 1.0 {
		t.Fatalf("loaded value: %v %v", v, ok)
	}
	if _, ok := g.Get("boot"); ok {
		t.Fatal("a persistent key is visible in the memory store")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.Set("a.b[1]", "x"))
	if v, _ := g.Get("a"); string(engine.MarshalJSON(v)) != `{"b":[null,"x"]}` {
		t.Fatalf("nested set: %s", engine.MarshalJSON(v))
	}
	must(g.Set("#:(file)::count", 3.0))
	must(g.Set("#:(persistent)::boot.n", 2.0))
	must(g.Set("#:(persistent)::gone", "x"))
	must(g.Set("#:(persistent)::gone", nil))
	if err := g.Set("#:(redis)::x", 1.0); err == nil {
		t.Fatal("an unknown store was accepted")
	}
	if got := g.Keys(engine.ContextPersistent); !slices.Equal(got, []string{"boot", "count"}) {
		t.Fatalf("persistent keys %q", got)
	}
	if b.writes != 0 {
		t.Fatal("context was written through, not behind")
	}
	must(rt.Stop(ctx))
	want := map[[2]string]string{{"global", "boot"}: `{"n":2}`, {"global", "count"}: `3`}
	if len(b.rows) != 2 || b.rows[[2]string{"global", "boot"}] != want[[2]string{"global", "boot"}] || b.rows[[2]string{"global", "count"}] != "3" {
		t.Fatalf("after Stop the backend holds %v", b.rows)
	}
	// A new runtime on the same backend sees the persistent values only.
	rt2 := engine.New(engine.Options{Registry: testRegistry(), ContextBackend: b})
	must(rt2.LoadContext(ctx))
	if v, ok := rt2.GlobalContext().Get("#:(persistent)::count"); !ok || v != 3.0 {
		t.Fatalf("after restart: %v %v", v, ok)
	}
	if _, ok := rt2.GlobalContext().Get("a"); ok {
		t.Fatal("the memory store survived a restart")
	}
	must(rt2.Stop(ctx))
}
