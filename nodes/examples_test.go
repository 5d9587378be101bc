package nodes_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// TestRulesFlowExample runs examples/rules-flow.json, the change, switch
// and range flow the README shows, and checks that it publishes what the
// README says it does (Node-RED publishes the same: the flow is also an
// editor browser test, editor/e2e/rules-flow.test.mjs).
func TestRulesFlowExample(t *testing.T) {
	text, err := os.ReadFile("../examples/rules-flow.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := flows.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	var mu sync.Mutex
	var got []string
	cancel, err := br.Subscribe("out/#", 0, func(d engine.Delivery) {
		mu.Lock()
		got = append(got, d.Topic+" "+string(d.Payload))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	rt := engine.New(engine.Options{Broker: br, BrokerAddr: br.Addr()})
	defer rt.Stop(context.Background())
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{"t":40,"junk":"x","h":55}`, `{"t":20.5,"junk":true}`, `{"t":33.3,"h":1}`} {
		if err := br.Publish("sensors/kitchen", []byte(p), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{`out/hot {"t":40,"h":55,"f":40}`, `out/ok {"t":20.5,"f":68.9}`, `out/hot {"t":33.3,"h":1,"f":33}`}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("published\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
