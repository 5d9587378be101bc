package network

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// testPanicsConfig is the (empty) configuration of a test-panics node.
type testPanicsConfig struct{}

// testPanics panics on a message whose payload is "boom".
type testPanics struct{}

func (testPanics) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	if m.Payload == "boom" {
		panic("boom")
	}
	return nil
}

var testPanicsType = engine.NewType(engine.Meta{
	Type: "test-panics", Category: "common", Inputs: 1,
}, func(_ *testPanicsConfig, _ *engine.Host) (engine.Node, error) {
	return testPanics{}, nil
})

// TestMQTTInSurvivesAPanicInItsDelivery: a panic that gets out of the
// flow behind an mqtt-in (here the runtime's OnError hook panics on the
// first error, the one reporting a node's panic) is reported against the
// mqtt-in node and leaves nothing locked: the next message still flows,
// both for a network publisher (whose goroutine is the embedded
// broker's) and for a message the flows publish themselves (the node's
// worker goroutine), and the flow still stops.
func TestMQTTInSurvivesAPanicInItsDelivery(t *testing.T) {
	for _, internal := range []bool{false, true} {
		t.Run(fmt.Sprintf("internal=%v", internal), func(t *testing.T) {
			br := startTestBroker(t)
			var mu sync.Mutex
			var errs []string
			f, err := nodetest.Deploy(t, `[{"id":"t","type":"tab"},
				{"id":"src","type":"test-source","z":"t","wires":[["out"]]},
				{"id":"out","type":"mqtt-out","z":"t","topic":"","qos":"1","retain":"","wires":[]},
				{"id":"in","type":"mqtt-in","z":"t","topic":"p/#","qos":"1","datatype":"utf8","wires":[["bad","s"]]},
				{"id":"bad","type":"test-panics","z":"t","wires":[]},
				{"id":"s","type":"test-sink","z":"t","wires":[]}
			]`, nodetest.Options{
				Runtime: func(o *engine.Options) { o.Broker, o.BrokerAddr = br, br.Addr() },
				OnError: func(ev engine.ErrorEvent) {
					mu.Lock()
					errs = append(errs, ev.NodeID+": "+ev.Err.Error())
					first := len(errs) == 1
					mu.Unlock()
					if first {
						panic("OnError failed")
					}
				},
			}, append(engine.DefaultRegistry.Types(), testPanicsType)...)
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			pub := v3Client(t, br.Addr(), "panic-pub", nil)
			for _, p := range []string{"boom", "after"} {
				if internal {
					m := engine.NewMessage("p/x", p)
					f.Inject("src", m)
				} else {
					v3Publish(t, pub, "p/x", []byte(p), 1, false)
				}
			}
			got := f.WaitReceived("s", 1)
			if got[0].Payload != "after" {
				t.Fatalf("the sink got %q, want \"after\"", got[0].Payload)
			}
			mu.Lock()
			gotErrs := strings.Join(errs, "\n")
			mu.Unlock()
			want := "bad: panic: boom\nin: panic: OnError failed"
			if gotErrs != want {
				t.Fatalf("errors:\n%s\nwant:\n%s", gotErrs, want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := f.Runtime().Stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
		})
	}
}
