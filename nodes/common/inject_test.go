package common

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
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
