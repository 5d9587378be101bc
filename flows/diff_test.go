package flows

import (
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	prev := mustParse(t, `[
{"id":"t1","type":"tab","label":"A"},
{"id":"t2","type":"tab","label":"B"},
{"id":"b1","type":"mqtt-broker","broker":"localhost"},
{"id":"in","type":"mqtt in","z":"t1","topic":"a","broker":"b1","x":1,"y":2,"wires":[["j"]]},
{"id":"j","type":"json","z":"t1","x":1,"y":2,"wires":[["tp"]]},
{"id":"tp","type":"template","z":"t1","template":"x","x":1,"y":2,"wires":[[]]},
{"id":"gone","type":"debug","z":"t1","wires":[]},
{"id":"mv","type":"debug","z":"t2","x":1,"y":2,"wires":[]},
{"id":"same","type":"debug","z":"t2","x":1,"y":2,"wires":[]}
]`)
	next := mustParse(t, `[
{"id":"t1","type":"tab","label":"A"},
{"id":"t2","type":"tab","label":"B"},
{"id":"b1","type":"mqtt-broker","broker":"localhost"},
{"id":"in","type":"mqtt in","z":"t1","broker":"b1","topic":"a","x":1,"y":2,"wires":[["j"]]},
{"id":"j","type":"json","z":"t1","x":1,"y":2,"wires":[["tp","new"]]},
{"id":"tp","type":"template","z":"t1","template":"y","x":1,"y":2,"wires":[[]]},
{"id":"new","type":"debug","z":"t1","wires":[]},
{"id":"mv","type":"debug","z":"t2","x":5,"y":2,"wires":[]},
{"id":"same","type":"debug","z":"t2","y":2,"x":1,"wires":[]}
]`)
	got := Compare(prev, next)
	want := Diff{Added: []string{"new"}, Removed: []string{"gone"}, Changed: []string{"tp"},
		Rewired: []string{"j"}, Moved: []string{"mv"}, Tabs: []string{"t1"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Compare:\n got %+v\nwant %+v", got, want)
	}
	if s := got.Summary(); s != "1 added, 1 changed, 1 rewired, 1 removed, 1 moved" {
		t.Errorf("Summary = %q", s)
	}

	// A changed config node changes the nodes that use it; a changed tab
	// changes its nodes.
	next2 := next.Clone()
	next2.Node("b1").Set("broker", []byte(`"other"`))
	next2.Node("t2").Set("disabled", []byte(`true`))
	got = Compare(next, next2)
	want = Diff{Changed: []string{"b1", "in", "mv", "same", "t2"}, Tabs: []string{"t1", "t2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Compare with config and tab changes:\n got %+v\nwant %+v", got, want)
	}
	if d := Compare(next, next.Clone()); !d.Empty() || d.Summary() != "no changes" {
		t.Errorf("Compare of equal documents = %+v", d)
	}
}

func mustParse(t *testing.T, s string) *Document {
	t.Helper()
	d, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
