package sequence

import (
	"context"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

func TestBatchCount(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"batch","mode":"count","count":"2","overlap":"1"}`, BatchType)
	a, b, c := engine.NewMessage("", "a"), engine.NewMessage("", "b"), engine.NewMessage("", "c")
	for _, m := range []*engine.Message{a, b, c} {
		f.Inject("src", m)
	}
	got := f.Received("sink")
	if len(got) != 4 {
		t.Fatalf("got %d messages", len(got))
	}
	want := []string{`"a"` + a.ID() + `0`, `"b"` + a.ID() + `1`, `"b"` + b.ID() + `0`, `"c"` + b.ID() + `1`}
	for i, m := range got {
		p, _ := partsOf(m)
		s := string(engine.MarshalJSON(m.Payload)) + jsvString(p["id"]) + jsvString(p["index"])
		if s != want[i] {
			t.Errorf("message %d: %s, want %s", i, s, want[i])
		}
	}
}

func jsvString(v any) string { return strings.Trim(string(engine.MarshalJSON(v)), `"`) }

// Interval mode sends what it holds when the flows stop.
func TestBatchIntervalDrainsOnClose(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"batch","mode":"interval","interval":"1000"}`, BatchType)
	f.Inject("src", engine.NewMessage("", "a"))
	sink := f.Runtime().Graph().Node("sink").(*nodetest.Sink)
	if err := f.Runtime().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.Messages(); len(got) != 1 || got[0].Payload != "a" {
		t.Errorf("got %d messages", len(got))
	}
}

func TestBatchDeployErrors(t *testing.T) {
	for _, node := range []string{
		`{"type":"batch","mode":"count","count":"0"}`,
		`{"type":"batch","mode":"count","count":"2","overlap":"2"}`,
		`{"type":"batch","mode":"count","count":"NaN"}`,
		`{"type":"batch","mode":"count","count":"1e9"}`,
		`{"type":"batch","mode":"interval","interval":"x"}`,
		`{"type":"batch","mode":"window"}`,
	} {
		if _, err := nodetest.Deploy(t, nodetest.ChainJSON(t, node), nodetest.Options{}, BatchType); err == nil {
			t.Errorf("%s deployed", node)
		}
	}
}

func TestBatchConformance(t *testing.T) {
	nodetest.Conformance(t, BatchType, nodetest.ConformanceOptions{})
	nodetest.Conformance(t, BatchType, nodetest.ConformanceOptions{Props: `{"mode":"interval","interval":"0.01","allowEmptySequence":true}`})
	nodetest.Conformance(t, BatchType, nodetest.ConformanceOptions{Props: `{"mode":"concat","topics":[{"topic":"conformance/topic"}]}`})
}
