package sequence

import (
	"runtime"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// Messages that each open a group at a high parts.index cost the group's
// empty slots, which count against join's 64 MiB bound: 5,000 of them
// must not hold gigabytes (they held about 1.8 GB when only messages
// were counted).
func TestJoinSlotsCounted(t *testing.T) {
	// Its output leads nowhere: what is measured is what join holds.
	f := nodetest.New(t, `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},
{"id":"n1","type":"join","z":"t1","mode":"auto","wires":[[]]}]`, JoinType)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 5000; i++ {
		m := engine.NewMessage("", "x")
		m.SetProp("parts", map[string]any{"id": "g" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)), "index": 9999.0, "count": 10000.0, "type": "array"})
		f.Inject("src", m)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 256<<20 {
		t.Fatalf("the live heap grew %d MiB", grew>>20)
	}
}
