package flows

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestExpandBounded: a small document whose subflows copy one large
// property into many instances (three levels of ten) is refused, not
// expanded into gigabytes.
func TestExpandBounded(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	var b strings.Builder
	b.WriteString(`[{"id":"t1","type":"tab"},`)
	b.WriteString(`{"id":"s0","type":"subflow","name":"leaf","in":[],"out":[]},`)
	fmt.Fprintf(&b, `{"id":"big","type":"comment","z":"s0","info":%q,"x":1,"y":1},`, big)
	for lvl := 1; lvl <= 2; lvl++ {
		fmt.Fprintf(&b, `{"id":"s%d","type":"subflow","name":"l%d","in":[],"out":[]},`, lvl, lvl)
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&b, `{"id":"i%d-%d","type":"subflow:s%d","z":"s%d","x":1,"y":1},`, lvl, i, lvl-1, lvl)
		}
	}
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, `{"id":"top%d","type":"subflow:s2","z":"t1","x":1,"y":1},`, i)
	}
	text := strings.TrimSuffix(b.String(), ",") + "]"
	doc, err := Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = Expand(doc)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "MiB of properties") {
		t.Fatalf("a %d KiB document expanding to 1,000 copies of 100 KiB: err %v", len(text)>>10, err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("expanding allocated %d MiB", grew>>20)
	}
}
