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

// TestSequencesFlowExample runs examples/sequences-flow.json, a Node-RED
// 4 export using split and join, trigger, a rate-limiting delay, catch,
// status and a link to another tab, and checks what it publishes.
func TestSequencesFlowExample(t *testing.T) {
	text, err := os.ReadFile("../examples/sequences-flow.json")
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
	got := map[string][]string{}
	for _, filter := range []string{"readings/doubled", "door/state", "jobs/ok", "jobs/errors", "jobs/status"} {
		cancel, err := br.Subscribe(filter, 0, func(d engine.Delivery) {
			mu.Lock()
			got[d.Topic] = append(got[d.Topic], string(d.Payload))
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
	}
	// The flow's mqtt-broker is 127.0.0.1:1883, as Node-RED users have it:
	// the runtime serves that address from the embedded broker in process.
	rt := engine.New(engine.Options{Broker: br, BrokerAddr: "127.0.0.1:1883"})
	defer rt.Stop(context.Background())
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	for _, in := range [][2]string{{"readings/batch", "[1,2.5,-3]"}, {"door/open", "x"}, {"jobs/in", "5"}, {"jobs/in", "five"}, {"jobs/in", "7"}} {
		if err := br.Publish(in[0], []byte(in[1]), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{
		"readings/doubled": {"[2,5,-6]"},
		"door/state":       {"open", "closed"}, // closed 300 ms after open
		"jobs/ok":          {"5", "7"},
		"jobs/errors":      {"not a number: five"},
		"jobs/status":      {"last 5", "last 7"},
	}
	count := func() (n int) {
		for _, v := range got {
			n += len(v)
		}
		return n
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := count()
		mu.Unlock()
		if n >= 8 {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // anything more would come right behind
	mu.Lock()
	defer mu.Unlock()
	for topic, w := range want {
		if strings.Join(got[topic], " | ") != strings.Join(w, " | ") {
			t.Errorf("%s: published %q, want %q", topic, got[topic], w)
		}
	}
	if n := count(); n != 8 {
		t.Errorf("%d messages published, want 8: %v", n, got)
	}
}
