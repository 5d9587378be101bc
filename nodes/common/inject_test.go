package common

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// TestInjectCrontabRefused: a crontab Node-RED's cronosjs refuses, or one
// that matches no time (on which cronosjs loops for ever), is a deploy
// problem naming the node and the field crontab; hostile ones included.
func TestInjectCrontabRefused(t *testing.T) {
	rt := engine.New(engine.Options{})
	for _, c := range []string{
		" ", "* * * *", "* * * * * * * *", strings.Repeat("* ", 100), "99999999999999999999 * * * *",
		"0 0 * * * 99999999999999999999", "0 99999999999999999999/2 * * *",
		"0 12 * * mon–fri", "0 ١٢ * * *", "0 12 * * 8", "60 * * * *", "0 24 * * *", "0 0 0 * *", "0 0 32 * *",
		"0 0 * 13 *", "0 0 31-2 * *", "0 0 L-3 * *", "0 0 * * FRI#L", "0 0 * * 5#6", "0 ? * * *", "H * * * *",
		"0 1/0 * * *", "0 -5 * * *", "0 0 * january *", "TZ=UTC 0 0 * * *", "@every 5s", "0 0 30 2 *",
		"0 0 0 1 1 * 2020", "0 0 0 1 1 * 2030-2020",
	} {
		cj, _ := json.Marshal(c)
		doc, err := flows.Parse([]byte(`[{"id":"i","type":"inject","crontab":` + string(cj) + `,"wires":[[]]}]`))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rt.Compile(doc)
		var probs flows.Problems
		if !errors.As(err, &probs) || len(probs) != 1 || probs[0].NodeID != "i" || probs[0].Field != "crontab" ||
			!strings.HasPrefix(probs[0].Msg, string(cj)+": ") {
			t.Errorf("crontab %q: %v", c, err)
		}
	}
	// What Node-RED runs deploys: every form its editor writes, 6 and 7
	// fields, names; an empty crontab is none, and a repeat wins over it.
	for c, wantCron := range map[string]bool{
		"": false, "00 12 * * *": true, "05 09 * * 1,2,3,4,5": true, "*/5 9-16 * * 6,0": true,
		"*/10 22-23,0-5 * * *": true, "0 23,0 * * 1": true, "*/1 * * * * *": true, "* * * * * * *": true,
		"0 30 8 ? JAN-mar Mon-FRI": true, "0 0 L * *": true, "0 0 * * 5L": true, "0 0 * * fri#3": true, "@daily": true,
		"0 */99999999999999999999 * * *": true, // as in cronosjs: a step past the range keeps its start
	} {
		cj, _ := json.Marshal(c)
		doc, _ := flows.Parse([]byte(`[{"id":"i","type":"inject","crontab":` + string(cj) + `,"wires":[[]]},
			{"id":"r","type":"inject","repeat":"5","crontab":"not a crontab","wires":[[]]}]`))
		g, err := rt.Compile(doc)
		if err != nil {
			t.Errorf("crontab %q: %v", c, err)
			continue
		}
		if got := g.Node("i").(*inject).cron != nil; got != wantCron {
			t.Errorf("crontab %q: scheduled %v", c, got)
		}
		if r := g.Node("r").(*inject); r.cron != nil || r.repeat != 5*time.Second {
			t.Errorf("repeat with a crontab: cron %v repeat %v", r.cron, r.repeat)
		}
	}
}

// fakeClock is a clock that moves only when the test says.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waits   []time.Time // deadlines asked for, in order
	pending map[time.Time]chan time.Time
	asked   chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, pending: map[time.Time]chan time.Time{}, asked: make(chan time.Time, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.now.Add(d)
	ch := make(chan time.Time, 1)
	c.pending[at] = ch
	c.waits = append(c.waits, at)
	c.asked <- at
	return ch
}

// advance sets the time to at and fires the timer due then.
func (c *fakeClock) advance(at time.Time) {
	c.mu.Lock()
	c.now = at
	ch := c.pending[at]
	delete(c.pending, at)
	c.mu.Unlock()
	if ch != nil {
		ch <- at
	}
}

// TestInjectCronTimesWithAFakeClock: the node's crontab loop waits for
// each next time computed from the clock (an editor "at a time" schedule
// on weekdays skips the weekend; an "interval between times" one keeps
// to its hours), fires once per time, and ends when its context does.
func TestInjectCronTimesWithAFakeClock(t *testing.T) {
	for _, c := range []struct {
		crontab, start string
		want           []string
	}{
		{"00 12 * * 1,2,3,4,5", "2025-03-13T12:00:00Z", // a Thursday at noon: the next is Friday's
			[]string{"2025-03-14T12:00:00Z", "2025-03-17T12:00:00Z", "2025-03-18T12:00:00Z"}},
		{"*/20 22-23,0 * * 6", "2025-03-15T23:30:00Z",
			[]string{"2025-03-15T23:40:00Z", "2025-03-22T00:00:00Z", "2025-03-22T00:20:00Z", "2025-03-22T00:40:00Z", "2025-03-22T22:00:00Z"}},
		{"*/1 * * * * *", "2025-03-15T23:59:58.5Z",
			[]string{"2025-03-15T23:59:59Z", "2025-03-16T00:00:00Z", "2025-03-16T00:00:01Z"}},
	} {
		ct, err := parseCrontab(c.crontab, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		start, _ := time.Parse(time.RFC3339Nano, c.start)
		clk := newFakeClock(start)
		ctx, cancel := context.WithCancel(context.Background())
		fired := make(chan time.Time, 10)
		done := make(chan struct{})
		go func() {
			runCron(ctx, ct, clk, func() { fired <- clk.Now() })
			close(done)
		}()
		var got []string
		for range c.want {
			at := <-clk.asked
			got = append(got, at.UTC().Format(time.RFC3339))
			clk.advance(at)
			if f := <-fired; !f.Equal(at) {
				t.Errorf("%s: fired at %v, want %v", c.crontab, f, at)
			}
		}
		<-clk.asked // it waits for the next one
		cancel()
		<-done
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: waited for\n%v\nwant\n%v", c.crontab, got, c.want)
		}
		if len(fired) != 0 {
			t.Errorf("%s: fired %d more times", c.crontab, len(fired))
		}
	}
}

// TestInjectCronRunsAndStops: a per-second crontab sends messages; a
// deploy that keeps the node keeps the same node and its schedule; Close
// (stopping the runtime) ends the timer's goroutine, so nothing comes
// after.
func TestInjectCronRunsAndStops(t *testing.T) {
	injectType, _ := engine.DefaultRegistry.Lookup("inject")
	const flow = `[{"id":"t1","type":"tab","label":"T"},
	{"id":"i","type":"inject","z":"t1","crontab":"*/1 * * * * *","props":[{"p":"payload","v":"tick","vt":"str"}],"wires":[["sink"]]},
	{"id":"sink","type":"test-sink","z":"t1"}%s]`
	f := nodetest.New(t, fmt.Sprintf(flow, ""), injectType)
	before := f.Runtime().Graph().Node("i")
	f.WaitReceived("sink", 1)
	doc, err := flows.Parse([]byte(fmt.Sprintf(flow, `,{"id":"other","type":"test-sink","z":"t1"}`)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Runtime().Plan(doc, engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Runtime().Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if f.Runtime().Graph().Node("i") != before {
		t.Fatal("the deploy replaced the inject node")
	}
	n := len(f.Received("sink"))
	ms := f.WaitReceived("sink", n+1)
	if got := ms[n].AppendJSON(nil); !strings.Contains(string(got), `"payload":"tick"`) {
		t.Fatalf("message %s", got)
	}
	sink := f.Runtime().Graph().Node("sink").(*nodetest.Sink)
	if err := f.Runtime().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	n = len(sink.Messages())
	time.Sleep(1500 * time.Millisecond)
	if got := len(sink.Messages()); got != n {
		t.Fatalf("%d messages after stop", got-n)
	}
}
