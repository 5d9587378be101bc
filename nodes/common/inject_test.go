package common

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
)

// TestInjectRepeatRefusesWhatNodeREDsEditorRefuses: a repeat that is not
// a number of seconds from 0 to 2147483 (NaN once crashed the process in
// time.NewTicker) is a problem naming node, field and line; what Node-RED
// runs is read as it reads it.
func TestInjectRepeatRefusesWhatNodeREDsEditorRefuses(t *testing.T) {
	rt := engine.New(engine.Options{})
	compile := func(repeat string) (*engine.Graph, error) {
		t.Helper()
		doc, err := flows.Parse([]byte(fmt.Sprintf("[{\"id\":\"t\",\"type\":\"tab\"},\n{\"id\":\"i\",\"type\":\"inject\",\"z\":\"t\",\"repeat\":%s,\"wires\":[[]]}]", repeat)))
		if err != nil {
			t.Fatal(err)
		}
		return rt.Compile(doc)
	}
	for _, r := range []string{`"NaN"`, `"nan"`, `"Inf"`, `"-Inf"`, `"Infinity"`, `"-1"`, `-0.5`, `"1e400"`, `"2147483.5"`,
		`"99999999999999999999999"`, `"5s"`, `"0x"`} {
		_, err := compile(r)
		var probs flows.Problems
		var raw string
		if r[0] == '"' {
			raw = r[1 : len(r)-1]
		} else {
			raw = r
		}
		want := flows.Problem{NodeID: "i", Type: "inject", Field: "repeat", Line: 2,
			Msg: fmt.Sprintf("%q is not a number of seconds from 0 to 2147483", raw)}
		if !errors.As(err, &probs) || len(probs) != 1 || probs[0] != want {
			t.Errorf("repeat %s: got %v, want %v", r, err, want)
		}
	}
	for r, want := range map[string]time.Duration{
		`""`: 0, `"0"`: 0, `0`: 0, `"  5 "`: 5 * time.Second, `5`: 5 * time.Second, `"0.25"`: 250 * time.Millisecond,
		`"2147483"`: 2147483 * time.Second,
		// Node.js runs shorter timers every millisecond: a 1 ns repeat must not flood a core.
		`"1e-9"`: time.Millisecond, `"0.0001"`: time.Millisecond, `"1e-300"`: time.Millisecond,
	} {
		g, err := compile(r)
		if err != nil {
			t.Errorf("repeat %s: %v", r, err)
			continue
		}
		if got := g.Node("i").(*inject).repeat; got != want {
			t.Errorf("repeat %s: %v, want %v", r, got, want)
		}
	}
}

// TestInjectOnceDelayBounds: onceDelay is a number of seconds from 0 to
// 2147483 (NaN, Inf and negative ones are refused); 0 means 0.1 s, as in
// Node-RED.
func TestInjectOnceDelayBounds(t *testing.T) {
	rt := engine.New(engine.Options{})
	for v, want := range map[string]string{
		`"NaN"`: `"NaN" is not a number`, `"Infinity"`: `"Infinity" is not a number`,
		`-1`: `-1 is out of range: want 0 to 2147483`, `3e9`: `3000000000 is out of range: want 0 to 2147483`,
	} {
		doc, err := flows.Parse([]byte(`[{"id":"i","type":"inject","once":true,"onceDelay":` + v + `,"wires":[[]]}]`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rt.Compile(doc)
		var probs flows.Problems
		if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Field != "onceDelay" || probs[0].Msg != want {
			t.Errorf("onceDelay %s: %v, want %q", v, err, want)
		}
	}
	doc, _ := flows.Parse([]byte(`[{"id":"i","type":"inject","once":true,"onceDelay":0,"wires":[[]]}]`))
	g, err := rt.Compile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if d := g.Node("i").(*inject).cfg.OnceDelay; d != 0.1 {
		t.Fatalf("onceDelay 0 runs after %v s", d)
	}
}

// TestInjectNaNRepeatDoesNotCrash: the document of the report deploys
// no more (before the fix it deployed and time.NewTicker panicked on the
// node's goroutine, ending the process).
func TestInjectNaNRepeatDoesNotCrash(t *testing.T) {
	doc, err := flows.Parse([]byte(`[{"id":"t","type":"tab"},{"id":"i","type":"inject","z":"t","repeat":"NaN","wires":[[]]}]`))
	if err != nil {
		t.Fatal(err)
	}
	rt := engine.New(engine.Options{})
	err = rt.Deploy(context.Background(), doc)
	var probs flows.Problems
	if !errors.As(err, &probs) || probs[0].NodeID != "i" || probs[0].Field != "repeat" {
		t.Fatalf("Deploy: %v", err)
	}
	if rt.Graph() != nil {
		t.Fatal("the flow runs")
	}
}

// TestInjectTypedProps: inject's props are typed values, evaluated in
// order (a msg value sees the properties set before it); payload and topic
// entries without a value of their own take the node's payload,
// payloadType and topic, as Node-RED 4.1.15 reads them, and a node
// without props (Node-RED's older form) does the same.
func TestInjectTypedProps(t *testing.T) {
	injectType, _ := engine.DefaultRegistry.Lookup("inject")
	t.Setenv("RUNNEL_INJECT_TEST", "from-env")
	f := nodetest.New(t, `[{"id":"t1","type":"tab","label":"T"},
	{"id":"src","type":"test-source","z":"t1","wires":[]},
	{"id":"i","type":"inject","z":"t1","payload":"{\"a\":[1,2]}","payloadType":"json","topic":"top",
	 "props":[{"p":"payload"},{"p":"topic","vt":"str"},
		{"p":"n","v":"0x10","vt":"num"},{"p":"b","v":"TRUE","vt":"bool"},{"p":"buf","v":"[104,105]","vt":"bin"},
		{"p":"copy.x","v":"payload.a[1]","vt":"msg"},{"p":"fc","v":"k","vt":"flow"},{"p":"gc","v":"g","vt":"global"},
		{"p":"e","v":"${RUNNEL_INJECT_TEST}/${NR_FLOW_NAME}","vt":"env"},{"p":"s","v":"x"},{"p":""},
		{"p":"j","v":"$sum(payload.a) + n","vt":"jsonata"},{"p":"x","v":"msg.n * 2 + len(msg.topic)","vt":"expr"}],
	 "wires":[["sink"]]},
	{"id":"old","type":"inject","z":"t1","payload":"12","payloadType":"num","topic":"legacy","wires":[["sink"]]},
	{"id":"sink","type":"test-sink","z":"t1"}]`, injectType)
	h := f.SourceHost("src")
	if err := h.FlowContext().Set("k", 5.0); err != nil {
		t.Fatal(err)
	}
	if err := h.GlobalContext().Set("g", "G"); err != nil {
		t.Fatal(err)
	}
	f.Runtime().Graph().Node("i").(*inject).Trigger()
	f.Runtime().Graph().Node("old").(*inject).Trigger()
	ms := f.WaitReceived("sink", 2)
	var got []string
	for _, m := range ms {
		b := m.AppendJSON(nil)
		// _msgid differs per run.
		got = append(got, string(b[strings.Index(string(b), `"topic"`):]))
	}
	want := []string{
		`"topic":"top","payload":{"a":[1,2]},"b":true,"buf":{"type":"Buffer","data":[104,105]},"copy":{"x":2},"e":"from-env/T","fc":5,"gc":"G","j":19,"n":16,"s":"x","x":35}`,
		`"topic":"legacy","payload":12}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("messages\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInjectPropsProblems: a bad typed value is a deploy problem naming
// its entry, a bad JSONata expression included.
func TestInjectPropsProblems(t *testing.T) {
	rt := engine.New(engine.Options{})
	doc, err := flows.Parse([]byte(`[{"id":"i","type":"inject","props":[{"p":"payload","v":"$now(","vt":"jsonata"},
		{"p":"a","v":"abc","vt":"num"},{"p":"b","v":"{","vt":"json"},{"p":"c","v":"1","vt":"re"}],"wires":[[]]}]`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Compile(doc)
	var probs flows.Problems
	if !errors.As(err, &probs) {
		t.Fatalf("compile: %v", err)
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.Field+": "+p.Msg)
	}
	want := []string{
		`props[0].v: JSONata syntax error at position 5: unexpected end of expression`,
		`props[1].v: "abc" is not a number`,
		`props[2].v: invalid JSON: unexpected end of JSON input`,
		`props[3].v: type "re" is not one of "str", "num", "bool", "json", "bin", "date", "env", "msg", "flow", "global", "jsonata", "expr"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
