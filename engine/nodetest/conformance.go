package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// ConformanceOptions adjust Conformance for a type that cannot be built
// from its defaults alone.
type ConformanceOptions struct {
	// Props are properties set on the node besides its defaults, such as
	// a required topic: a JSON object ({"topic":"a/b"}).
	Props string
	// Extra are further nodes of the flow document (config nodes the node
	// refers to), as JSON objects on the same tab "t1".
	Extra []string
	// Types are the types of the extra nodes, registered with the one
	// under test.
	Types []*engine.Type
	// Runtime adjusts the runtime's options (a Broker for MQTT nodes).
	Runtime func(*engine.Options)
}

// Conformance checks that typ keeps the node contract (a smoke test: it
// asserts no outputs, which each type's own table tests do): it has help and a
// category; a node built from its defaults (plus o.Props) deploys; Close
// is safe on a node that was built but never started; messages of every
// kind of payload (text, JSON, bytes, none) pass through it without a
// panic; and after the flow stops, closing the node twice more neither
// panics nor hangs. Custom node types get the same check:
//
//	func TestConformance(t *testing.T) { nodetest.Conformance(t, mytype.Type, nodetest.ConformanceOptions{}) }
func Conformance(t *testing.T, typ *engine.Type, o ConformanceOptions) {
	t.Helper()
	if strings.TrimSpace(typ.Help) == "" {
		t.Errorf("%s: no help", typ.Type)
	}
	switch typ.Category {
	case "common", "function", "sequence", "network", "parser", "storage", "config":
	default:
		t.Errorf("%s: category %q is not one of Node-RED's palette categories", typ.Type, typ.Category)
	}
	node := map[string]any{}
	if o.Props != "" {
		if err := json.Unmarshal([]byte(o.Props), &node); err != nil {
			t.Fatalf("%s: props: %v", typ.Type, err)
		}
	}
	node["id"], node["type"] = "n1", typ.Type
	if !typ.Config {
		node["z"] = "t1"
		if typ.Outputs > 0 {
			wires := make([][]string, typ.Outputs)
			for i := range wires {
				wires[i] = []string{"sink"}
			}
			node["wires"] = wires
		}
	}
	nb, err := json.Marshal(node)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{`{"id":"t1","type":"tab"}`, string(nb), `{"id":"sink","type":"test-sink","z":"t1"}`}
	if typ.Inputs > 0 {
		parts = append(parts, `{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]}`)
	}
	parts = append(parts, o.Extra...)
	docJSON := "[" + strings.Join(parts, ",\n") + "]"

	var (
		mu     sync.Mutex
		panics []string
	)
	f, err := Deploy(t, "[]", Options{Runtime: o.Runtime, OnError: func(ev engine.ErrorEvent) {
		if ev.Err != nil && strings.Contains(ev.Err.Error(), "panic") {
			mu.Lock()
			panics = append(panics, ev.NodeID+": "+ev.Err.Error())
			mu.Unlock()
		}
	}}, append([]*engine.Type{typ}, o.Types...)...)
	if err != nil {
		t.Fatalf("%s: empty deploy: %v", typ.Type, err)
	}
	doc, err := flows.Parse([]byte(docJSON))
	if err != nil {
		t.Fatalf("%s: %v\n%s", typ.Type, err, docJSON)
	}
	rt := f.Runtime()

	// Built, never started: Close must be safe, twice.
	g, err := rt.Compile(doc)
	if err != nil {
		t.Fatalf("%s: does not build from its defaults: %v\n%s", typ.Type, err, docJSON)
	}
	closeTwice(t, typ.Type+" (never started)", g.Node("n1"))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Deploy(ctx, doc); err != nil {
		t.Fatalf("%s: does not deploy from its defaults: %v", typ.Type, err)
	}
	running := rt.Graph().Node("n1")
	if typ.Inputs > 0 {
		for _, payload := range []any{"hello", engine.RawJSON(`{"a":[1,{"b":null}],"c":"d"}`), []byte{0xff, 0, 'x'}, nil, 21.5, true} {
			m := engine.NewMessage("conformance/topic", payload)
			f.Inject("src", m)
		}
	}
	if err := rt.Stop(ctx); err != nil {
		t.Errorf("%s: stop: %v", typ.Type, err)
	}
	closeTwice(t, typ.Type+" (after stop)", running)
	mu.Lock()
	defer mu.Unlock()
	if len(panics) > 0 {
		t.Errorf("%s: panicked:\n%s", typ.Type, strings.Join(panics, "\n"))
	}
}

// closeTwice closes n twice, each within a deadline, failing on a panic
// or a hang.
func closeTwice(t *testing.T, what string, n engine.Node) {
	t.Helper()
	cl, ok := n.(engine.Closer)
	if !ok {
		return
	}
	for i := 1; i <= 2; i++ {
		done := make(chan string, 1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					done <- fmt.Sprintf("panic: %v", v)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = cl.Close(ctx)
			done <- ""
		}()
		select {
		case p := <-done:
			if p != "" {
				t.Errorf("%s: close %d: %s", what, i, p)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: close %d did not return", what, i)
			return
		}
	}
}
