package function

import (
	"context"
	"strconv"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// mixedSwitchNode is the switch node of the mixed reference flow
// (engine/cli/bench/testdata/mixed-flow.json), deployed on its own.
const mixedSwitchNode = `{"type":"switch","property":"payload.temperature","propertyType":"msg",
	"rules":[{"t":"lt","v":"0","vt":"num"},{"t":"else"}],"checkall":"true","repair":false,"outputs":2}`

// BenchmarkSwitch measures switch nodes on the messages they see in the
// reference flows, calling the node directly (no wiring, no sink).
//
//	go test -run '^$' -bench 'Switch/' -benchmem -cpu 1 ./nodes/function/
func BenchmarkSwitch(b *testing.B) {
	b.Run("mixed", func(b *testing.B) {
		f := nodetest.New(b, nodetest.ChainJSON(b, mixedSwitchNode, 2), SwitchType)
		n := f.Runtime().Graph().Node("n1").(*switchNode)
		msgs := make([]*engine.Message, 1024)
		for i := range msgs {
			p := `{"temperature":` + strconv.Itoa(i+1) + `,"humidity":40}`
			msgs[i] = engine.NewMessage("sensors/dev"+strconv.Itoa(i%10)+"/data", engine.RawJSON(p))
		}
		if prop, _ := n.property(msgs[0]); prop != 1.0 {
			b.Fatalf("property %v, want 1", prop)
		}
		receiveAll(b, n, msgs)
	})
}

// receiveAll has r receive msgs in turn, b.N messages in all, its output
// leading nowhere; len(msgs) must be a power of two.
func receiveAll(b *testing.B, r engine.Receiver, msgs []*engine.Message) {
	ctx := context.Background()
	mask := len(msgs) - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Receive(ctx, msgs[i&mask], engine.Output{}); err != nil {
			b.Fatal(err)
		}
	}
}
