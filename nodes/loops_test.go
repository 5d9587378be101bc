package nodes_test

import (
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestFunctionStatusLoop: a function's node.status reaches a status node
// whose flow sends back into the same function. Status events run on a
// goroutine of their own, so the function, which sets its status while
// it holds its runtime, does not wait on itself (it deadlocked when status
// flows ran on the reporting node's goroutine).
func TestFunctionStatusLoop(t *testing.T) {
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},
{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},
{"id":"n1","type":"function","z":"t1","func":"if (msg.status) { return null; } node.status({text:'hi'}); return msg;","outputs":1,"wires":[["sink"]]},
{"id":"st","type":"status","z":"t1","scope":["n1"],"wires":[["n2","sink2"]]},
{"id":"n2","type":"function","z":"t1","func":"return msg;","outputs":1,"wires":[["n1"]]},
{"id":"sink2","type":"test-sink","z":"t1","wires":[]},
{"id":"sink","type":"test-sink","z":"t1","wires":[]}]`, engine.DefaultRegistry.Types()...)
	done := make(chan struct{})
	go func() {
		f.Inject("src", engine.NewMessage("t", 1.0))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the message did not get through")
	}
	f.Settle()
	if n, s := len(f.Received("sink")), len(f.Received("sink2")); n != 1 || s != 1 {
		t.Fatalf("sink got %d, the status flow %d; want 1 and 1", n, s)
	}
}
