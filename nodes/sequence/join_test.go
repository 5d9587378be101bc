package sequence

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
)

func TestJoin(t *testing.T) {
	custom := func(extra string) string {
		return `{"type":"join","mode":"custom","build":"string","property":"payload","propertyType":"msg","key":"topic","joiner":",","joinerType":"str","useparts":false,"accumulate":false,"timeout":"","count":"2"` + extra + `}`
	}
	part := func(p, parts string) string { return `{"payload":` + p + `,"parts":` + parts + `}` }
	for _, c := range []seqCase{
		{name: "auto string", node: `{"type":"join","mode":"auto"}`,
			in:   []string{part(`"b"`, `{"id":"s","index":1,"count":2,"type":"string","ch":"-"}`), part(`"a"`, `{"id":"s","index":0,"count":2,"type":"string","ch":"-"}`)},
			want: `{"payload":"a-b"}`},
		{name: "auto array flattens pieces", node: `{"type":"join","mode":"auto"}`,
			in:   []string{part(`[1,2]`, `{"id":"s","index":0,"count":2,"type":"array","len":2}`), part(`[3]`, `{"id":"s","index":1,"count":2,"type":"array","len":2}`)},
			want: `{"payload":[1,2,3]}`},
		{name: "auto object in arrival order", node: `{"type":"join","mode":"auto"}`,
			in:   []string{part(`1`, `{"id":"s","index":0,"count":2,"type":"object","key":"z"}`), part(`2`, `{"id":"s","index":1,"count":2,"type":"object","key":"a"}`)},
			want: `{"payload":{"z":1,"a":2}}`},
		{name: "auto buffer with a byte separator", node: `{"type":"join","mode":"auto"}`,
			in:   []string{part(`"a"`, `{"id":"s","index":0,"count":2,"type":"buffer","ch":[44]}`), part(`"b"`, `{"id":"s","index":1,"count":2,"type":"buffer","ch":[44]}`)},
			want: `{"payload":{"type":"Buffer","data":[97,44,98]}}`},
		{name: "auto restores the outer parts", node: `{"type":"join","mode":"auto"}`,
			in:   []string{part(`"a"`, `{"id":"s","index":0,"count":1,"type":"string","ch":"","parts":{"id":"o","index":4}}`)},
			want: `{"payload":"a","parts":{"id":"o","index":4}}`},
		{name: "auto without parts is dropped", node: `{"type":"join","mode":"auto"}`, in: []string{`{"payload":1}`}},
		{name: "auto index out of range", node: `{"type":"join","mode":"auto"}`,
			in:   []string{part(`"a"`, `{"id":"s","index":1e9,"count":2,"type":"string"}`)},
			errs: "join: msg.parts.index 1e+09 is out of range (0 to 9999)"},
		{name: "custom string by count", node: custom(""), in: []string{`{"payload":"a"}`, `{"payload":1}`, `{"payload":"c"}`}, want: `{"payload":"a,1"}`},
		{name: "custom keeps the last message's properties", node: custom(""), in: []string{`{"payload":"a","x":1,"y":1}`, `{"payload":"b","x":2}`}, want: `{"payload":"a,b","x":2,"y":1}`},
		{name: "custom complete", node: custom(`,"count":"5"`), in: []string{`{"payload":"a"}`, `{"payload":"b","complete":true}`}, want: `{"payload":"a,b"}`},
		{name: "custom reset", node: custom(""), in: []string{`{"payload":"a"}`, `{"reset":true}`, `{"payload":"b"}`, `{"payload":"c"}`}, want: `{"payload":"b,c"}`},
		{name: "custom array", node: custom(`,"build":"array"`), in: []string{`{"payload":{"a":1}}`, `{"payload":[2]}`}, want: `{"payload":[{"a":1},[2]]}`},
		{name: "custom object by topic", node: custom(`,"build":"object"`), in: []string{`{"topic":"b","payload":1}`, `{"topic":"b","payload":2}`, `{"topic":"a","payload":3}`}, want: `{"topic":"a","payload":{"b":2,"a":3}}`},
		{name: "custom object without a key warns", node: custom(`,"build":"object"`), in: []string{`{"payload":1}`}},
		{name: "custom merged", node: custom(`,"build":"merged"`), in: []string{`{"payload":{"a":1,"_msgid":"x"}}`, `{"payload":{"b":2}}`}, want: `{"payload":{"a":1,"b":2}}`},
		{name: "custom buffer of a number is an error", node: custom(`,"build":"buffer"`), in: []string{`{"payload":5}`}, errs: "Cannot join number to buffer"},
		{name: "custom buffer with a bin joiner", node: custom(`,"build":"buffer","joiner":"[0]","joinerType":"bin"`), in: []string{`{"payload":"a"}`, `{"payload":[98]}`}, want: `{"payload":{"type":"Buffer","data":[97,0,98]}}`},
		{name: "custom accumulate", node: custom(`,"build":"object","accumulate":true`), in: []string{`{"topic":"a","payload":1}`, `{"topic":"b","payload":2}`, `{"topic":"c","payload":3}`},
			want: `{"topic":"b","payload":{"a":1,"b":2}}` + "\n" + `{"topic":"c","payload":{"a":1,"b":2,"c":3}}`},
		{name: "custom count from parts", node: custom(`,"build":"array","count":"","useparts":true`),
			in: []string{part(`1`, `{"id":"s","index":0,"count":2}`), part(`2`, `{"id":"s","index":1,"count":2}`)}, want: `{"payload":[1,2]}`},
		{name: "custom NaN count never completes", node: custom(`,"count":"many"`), in: []string{`{"payload":"a"}`, `{"payload":"b"}`}},
		{name: "reduce", node: `{"type":"join","mode":"reduce","reduceExp":"$A + payload * $I","reduceInit":"0","reduceInitType":"num","reduceFixup":"$A / $N"}`,
			in:   []string{part(`3`, `{"id":"s","index":1,"count":2}`), part(`5`, `{"id":"s","index":0,"count":2}`)},
			want: `{"payload":1.5,"parts":{"count":2,"id":"s","index":1}}`},
		{name: "reduce passes messages without parts", node: `{"type":"join","mode":"reduce","reduceExp":"$A"}`, in: []string{`{"payload":1}`}, want: `{"payload":1}`},
	} {
		t.Run(c.name, func(t *testing.T) { runSeq(t, c, JoinType) })
	}
}

// propertyType full joins whole messages.
func TestJoinWholeMessages(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"join","mode":"custom","build":"array","propertyType":"full","count":"2"}`, JoinType)
	a, b := engine.NewMessage("t", 1.0), engine.NewMessage("u", 2.0)
	f.Inject("src", a)
	f.Inject("src", b)
	want := `{"topic":"u","payload":[{"_msgid":"` + a.ID() + `","topic":"t","payload":1},{"_msgid":"` + b.ID() + `","topic":"u","payload":2}]}`
	if got := received(f); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestJoinDeployErrors(t *testing.T) {
	for _, c := range []struct{ node, want string }{
		{`{"type":"join","mode":"merge"}`, `field "mode"`},
		{`{"type":"join","mode":"reduce","reduceExp":"$A +"}`, `field "reduceExp": Invalid JSONata expression`},
		{`{"type":"join","mode":"reduce","reduceExp":"$A","reduceFixup":"("}`, `field "reduceFixup": Invalid JSONata expression`},
		{`{"type":"join","mode":"reduce","reduceExp":"$A","reduceInit":"x","reduceInitType":"num"}`, `field "reduceInit"`},
		{`{"type":"join","mode":"custom","joiner":"{","joinerType":"bin"}`, `field "joiner"`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, c.node), nodetest.Options{}, JoinType)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: deploy error %v, want %s", c.node, err, c.want)
		}
	}
}

func TestJoinTimeout(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"join","mode":"custom","build":"string","joiner":"+","timeout":"0.05","count":""}`, JoinType)
	f.Inject("src", engine.NewMessage("", "a"))
	f.Inject("src", engine.NewMessage("", "b"))
	got := f.WaitReceived("sink", 1)
	if s := msgJSON(got[0]); s != `{"payload":"a+b"}` {
		t.Errorf("got %s", s)
	}
}

// A message that takes the node over its bound sends the oldest group.
func TestJoinBound(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"join","mode":"custom","build":"array","count":"","useparts":true}`, JoinType)
	for i := 0; i <= joinMaxMsgs; i++ {
		m := engine.NewMessage("", float64(i))
		if i == joinMaxMsgs {
			m.SetProp("parts", map[string]any{"id": "second"})
		}
		f.Inject("src", m)
	}
	got := f.Received("sink")
	if len(got) != 1 {
		t.Fatalf("got %d messages, want the oldest group", len(got))
	}
	arr := elems(got[0].Payload)
	if len(arr) != joinMaxMsgs || arr[0] != 0.0 {
		t.Errorf("sent %d values starting %v", len(arr), arr[:1])
	}
	if !strings.Contains(nodetest.LogMessages(f.Logged(0)), "the oldest group is sent") {
		t.Error("no warning")
	}
}

// A nodes deploy that replaces a join sends its partial groups as they
// stand; one that keeps it keeps them; the timers stop on close.
func TestJoinHotDeploy(t *testing.T) {
	doc := func(count, sinkName string) *flows.Document {
		d, err := flows.Parse([]byte(`[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["j"]]},
			{"id":"j","type":"join","z":"t1","mode":"custom","build":"string","joiner":",","count":"` + count + `","timeout":"0.2","wires":[["sink"]]},
			{"id":"sink","type":"test-sink","z":"t1","name":"` + sinkName + `"},
			{"id":"other","type":"test-sink","z":"t1","name":"` + sinkName + `"}]`))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	f := nodetest.New(t, `[]`, JoinType)
	rt := f.Runtime()
	ctx := context.Background()
	apply := func(d *flows.Document) {
		p, err := rt.Plan(d, engine.DeployNodes)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	apply(doc("3", "s"))
	f.Inject("src", engine.NewMessage("", "a"))
	j := rt.Graph().Node("j")

	// Kept: the group and its timer stay (only "other"... both sinks
	// keep their names; the document is the same).
	apply(doc("3", "s"))
	if rt.Graph().Node("j") != j {
		t.Fatal("the join was not kept")
	}
	f.Inject("src", engine.NewMessage("", "b"))
	f.Inject("src", engine.NewMessage("", "c"))
	if got := received(f); got != `{"payload":"a,b,c"}` {
		t.Fatalf("kept join sent %q", got)
	}

	// Replaced: the partial group is sent before the old node goes.
	f.Inject("src", engine.NewMessage("", "d"))
	apply(doc("4", "s"))
	if rt.Graph().Node("j") == j {
		t.Fatal("the join was kept")
	}
	if got := received(f); got != `{"payload":"a,b,c"}`+"\n"+`{"payload":"d"}` {
		t.Fatalf("replaced join sent %q", got)
	}
	// Its timer stopped: nothing more comes from it.
	time.Sleep(300 * time.Millisecond)
	if n := len(f.Received("sink")); n != 2 {
		t.Errorf("%d messages after the timeout, want 2", n)
	}
	// The new node works.
	for _, p := range []string{"e", "f", "g", "h"} {
		f.Inject("src", engine.NewMessage("", p))
	}
	if got := f.Received("sink"); len(got) != 3 || got[2].Payload != "e,f,g,h" {
		t.Errorf("new join: %s", received(f))
	}
}

// Close sends a reduce group's messages reduced as they stand.
func TestJoinCloseReduces(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"join","mode":"reduce","reduceExp":"$A + payload","reduceInit":"0","reduceInitType":"num"}`, JoinType)
	m := engine.NewMessage("", 4.0)
	m.SetProp("parts", map[string]any{"id": "s", "index": 0.0, "count": 3.0})
	f.Inject("src", m)
	sink := f.Runtime().Graph().Node("sink").(*nodetest.Sink)
	if err := f.Runtime().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The join closes before the sink, which gets the reduced group.
	got := sink.Messages()
	if len(got) != 1 || got[0].Payload != 4.0 {
		t.Fatalf("got %d messages", len(got))
	}
}

func TestJoinConformance(t *testing.T) {
	nodetest.Conformance(t, JoinType, nodetest.ConformanceOptions{})
	nodetest.Conformance(t, JoinType, nodetest.ConformanceOptions{Props: `{"mode":"custom","timeout":"1e300","count":"-1"}`})
	nodetest.Conformance(t, JoinType, nodetest.ConformanceOptions{Props: `{"mode":"reduce","reduceExp":"$A"}`})
}
