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

// runExample deploys the example flow file on an embedded broker served
// in process at brokerAddr (what the flow's mqtt-broker, if any, names),
// publishes inputs (topic, payload) and returns, in order per topic, what
// is published on filters once n messages have come (or after 10 s),
// with a moment's grace for any further one.
func runExample(t *testing.T, file, brokerAddr string, filters []string, inputs [][2]string, n int) map[string][]string {
	t.Helper()
	text, err := os.ReadFile(file)
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
	t.Cleanup(func() { br.Close() })
	var mu sync.Mutex
	got := map[string][]string{}
	count := 0
	for _, filter := range filters {
		cancel, err := br.Subscribe(filter, 0, func(d engine.Delivery) {
			mu.Lock()
			got[d.Topic] = append(got[d.Topic], string(d.Payload))
			count++
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	if brokerAddr == "" {
		brokerAddr = br.Addr()
	}
	rt := engine.New(engine.Options{Broker: br, BrokerAddr: brokerAddr})
	t.Cleanup(func() { rt.Stop(context.Background()) })
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		if err := br.Publish(in[0], []byte(in[1]), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		c := count
		mu.Unlock()
		if c >= n {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // anything more would come right behind
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string][]string, len(got))
	for k, v := range got {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// TestRulesFlowExample runs examples/rules-flow.json, the change, switch
// and range flow the README shows, and checks that it publishes what the
// README says it does (Node-RED publishes the same: the flow is also an
// editor browser test, editor/e2e/rules-flow.test.mjs).
func TestRulesFlowExample(t *testing.T) {
	got := runExample(t, "../examples/rules-flow.json", "", []string{"out/#"},
		[][2]string{{"sensors/kitchen", `{"t":40,"junk":"x","h":55}`}, {"sensors/kitchen", `{"t":20.5,"junk":true}`}, {"sensors/kitchen", `{"t":33.3,"h":1}`}}, 3)
	want := map[string][]string{"out/hot": {`{"t":40,"h":55,"f":40}`, `{"t":33.3,"h":1,"f":33}`}, "out/ok": {`{"t":20.5,"f":68.9}`}}
	checkPublished(t, got, want)
}

// TestSequencesFlowExample runs examples/sequences-flow.json, a Node-RED
// 4 export using split and join, trigger, a rate-limiting delay, catch,
// status and a link to another tab, and checks what it publishes. Its
// mqtt-broker is 127.0.0.1:1883, as Node-RED users have it: the runtime
// serves that address from the embedded broker in process.
func TestSequencesFlowExample(t *testing.T) {
	got := runExample(t, "../examples/sequences-flow.json", "127.0.0.1:1883",
		[]string{"readings/doubled", "door/state", "jobs/ok", "jobs/errors", "jobs/status"},
		[][2]string{{"readings/batch", "[1,2.5,-3]"}, {"door/open", "x"}, {"jobs/in", "5"}, {"jobs/in", "five"}, {"jobs/in", "7"}}, 8)
	checkPublished(t, got, map[string][]string{
		"readings/doubled": {"[2,5,-6]"},
		"door/state":       {"open", "closed"}, // closed 300 ms after open
		"jobs/ok":          {"5", "7"},
		"jobs/errors":      {"not a number: five"},
		"jobs/status":      {"last 5", "last 7"},
	})
}

// checkPublished compares what was published per topic, in order.
func checkPublished(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for topic, w := range want {
		if strings.Join(got[topic], " | ") != strings.Join(w, " | ") {
			t.Errorf("%s: published %q, want %q", topic, got[topic], w)
		}
	}
	for topic, g := range got {
		if _, ok := want[topic]; !ok {
			t.Errorf("%s: published %q, want nothing", topic, g)
		}
	}
}
