package function

import (
	"context"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// mixedChangeNode is the change node of the mixed reference flow
// (engine/cli/bench/testdata/mixed-flow.json), deployed on its own.
const mixedChangeNode = `{"type":"change","rules":[
	{"t":"delete","p":"payload.humidity","pt":"msg"},
	{"t":"set","p":"kind","pt":"msg","to":"alert","tot":"str"}]}`

// BenchmarkChange measures change nodes on the messages they see in the
// reference flows, calling the node directly (no wiring, no sink).
//
//	go test -run '^$' -bench 'Change/' -benchmem -cpu 1 ./nodes/function/
func BenchmarkChange(b *testing.B) {
	b.Run("mixed", func(b *testing.B) {
		f := nodetest.Chain(b, mixedChangeNode, ChangeType)
		n := f.Runtime().Graph().Node("n1").(*changeNode)
		payload := engine.RawJSON(`{"temperature":1234,"humidity":40,"fahrenheit":2253.2,"device":"dev3"}`)
		m := engine.NewMessage("sensors/dev3/data", payload)
		if err := n.Receive(context.Background(), m, engine.Output{}); err != nil {
			b.Fatal(err)
		}
		if got := msgJSON(m); got != `{"topic":"sensors/dev3/data","payload":{"temperature":1234,"fahrenheit":2253.2,"device":"dev3"},"kind":"alert"}` {
			b.Fatalf("got %s", got)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m := engine.NewMessage("sensors/dev3/data", payload)
			if err := n.Receive(ctx, m, engine.Output{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
