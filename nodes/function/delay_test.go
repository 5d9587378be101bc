package function

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
)

// payloads lists the payloads of msgs as text, for order checks.
func payloads(msgs []*engine.Message) string {
	var s []string
	for _, m := range msgs {
		s = append(s, engine.ToString(m.Payload))
	}
	return strings.Join(s, ",")
}

// statusTexts lists the statuses node n1 reported, as fill/shape/text.
func statusTexts(f *nodetest.Flow) string {
	var s []string
	for _, ev := range f.Statuses() {
		if ev.NodeID == "n1" {
			s = append(s, ev.Status.Fill+"/"+ev.Status.Shape+"/"+ev.Status.Text)
		}
	}
	return strings.Join(s, " ")
}

// ctl is a message with a payload and control properties.
func ctl(payload any, props ...any) *engine.Message {
	m := engine.NewMessage("", payload)
	for i := 0; i+1 < len(props); i += 2 {
		m.SetProp(props[i].(string), props[i+1])
	}
	return m
}

// bare is a message with only control properties (and _msgid).
func bare(props ...any) *engine.Message { return ctl(nil, props...) }

// stillEmpty checks that sink got nothing within a while: the messages it
// would get are held for far longer.
func stillEmpty(t *testing.T, f *nodetest.Flow, sink string) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	if got := f.Received(sink); len(got) != 0 {
		t.Fatalf("%s got %s, want nothing yet", sink, payloads(got))
	}
}

const delay5s = `{"type":"delay","pauseType":"delay","timeout":"5","timeoutUnits":"seconds"}`

func TestDelayFixed(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"delay","timeout":"30","timeoutUnits":"milliseconds"}`, DelayType)
	for _, p := range []string{"a", "b", "c"} {
		f.Inject("src", ctl(p))
	}
	if got := payloads(f.WaitReceived("sink", 3)); got != "a,b,c" {
		t.Errorf("got %s", got)
	}
	if s := statusTexts(f); s != "" {
		t.Errorf("a delay under a second shows no status; got %s", s)
	}
}

func TestDelayFlushAndReset(t *testing.T) {
	for _, c := range []struct {
		name   string
		ctl    *engine.Message
		want   string
		status string
	}{
		{"bare flush sends all", bare("flush", true), "a,b", "blue/dot/1 blue/dot/2 blue/dot/1 blue/dot/0"},
		{"flush count", bare("flush", 1.0), "a", "blue/dot/1 blue/dot/2 blue/dot/1"},
		{"flush count rounds down", bare("flush", 1.9), "a", "blue/dot/1 blue/dot/2 blue/dot/1"},
		{"flush 0 sends nothing", bare("flush", 0.0), "", "blue/dot/1 blue/dot/2"},
		{"a flush with a payload is held and flushed too", ctl("c", "flush", true), "a,b,c", "blue/dot/1 blue/dot/2 blue/dot/1 blue/dot/0"},
		{"reset drops everything", bare("reset", true), "", "blue/dot/1 blue/dot/2 blue/ring/0"},
		{"reset with a payload drops it too", ctl("c", "reset", 1.0), "", "blue/dot/1 blue/dot/2 blue/ring/0"},
		{"reset wins over flush", bare("reset", true, "flush", true), "", "blue/dot/1 blue/dot/2 blue/ring/0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.Chain(t, delay5s, DelayType)
			f.Inject("src", ctl("a"))
			f.Inject("src", ctl("b"))
			f.Inject("src", c.ctl)
			if got := payloads(f.Received("sink")); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if s := statusTexts(f); s != c.status {
				t.Errorf("status %s, want %s", s, c.status)
			}
		})
	}
}

func TestDelayVariable(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"delayv","timeout":"10","timeoutUnits":"seconds"}`, DelayType)
	f.Inject("src", ctl("slow", "delay", 600.0))
	f.Inject("src", ctl("fast", "delay", "0 ms")) // parseFloat("0 ms") is 0
	f.Inject("src", ctl("negative", "delay", -5.0))
	f.Inject("src", ctl("default", "delay", "soon")) // not a number: 10 s
	got := f.WaitReceived("sink", 3)
	if p := payloads(got); p != "fast,negative,slow" && p != "negative,fast,slow" {
		t.Errorf("got %s", p)
	}
	f.Inject("src", bare("flush", true))
	if p := payloads(f.WaitReceived("sink", 4)[3:]); p != "default" {
		t.Errorf("flushed %s", p)
	}
	// delayv shows its count whatever the delay; {} when the last goes,
	// then 0.
	if s := statusTexts(f); !strings.HasPrefix(s, "blue/dot/1 blue/dot/2 ") || !strings.HasSuffix(s, "// blue/dot/0") {
		t.Errorf("status %s", s)
	}
}

func TestDelayRandom(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"random","randomFirst":"5","randomLast":"20","randomUnits":"milliseconds"}`, DelayType)
	for i := 0; i < 5; i++ {
		f.Inject("src", ctl(float64(i)))
	}
	got := f.WaitReceived("sink", 5)
	seen := map[string]bool{}
	for _, m := range got {
		seen[engine.ToString(m.Payload)] = true
	}
	if len(seen) != 5 {
		t.Errorf("got %s", payloads(got))
	}
}

func TestDelayRateQueues(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"rate","rate":"20","nbRateUnits":"1","rateUnits":"second"}`, DelayType)
	for _, p := range []string{"a", "b", "c", "d"} {
		f.Inject("src", ctl(p))
	}
	if got := payloads(f.Received("sink")); got != "a" {
		t.Fatalf("the first message passes at once; got %q", got)
	}
	if got := payloads(f.WaitReceived("sink", 4)); got != "a,b,c,d" {
		t.Errorf("got %s", got)
	}
	// After the queue empties (and the interval stops) the next message
	// passes at once again.
	time.Sleep(300 * time.Millisecond)
	f.Inject("src", ctl("e"))
	if got := payloads(f.Received("sink")); got != "a,b,c,d,e" {
		t.Errorf("got %s", got)
	}
	// The depth is shown half a second after it changes.
	time.Sleep(700 * time.Millisecond)
	if s := statusTexts(f); !strings.HasSuffix(s, "blue/dot/0") {
		t.Errorf("status %s", s)
	}
}

const rateSlow = `{"type":"delay","pauseType":"rate","rate":"1","nbRateUnits":"1","rateUnits":"minute"%s}`

func TestDelayRateControl(t *testing.T) {
	for _, c := range []struct {
		name, extra string
		msgs        []*engine.Message
		want        string
	}{
		{"flush all", "", []*engine.Message{ctl("b"), ctl("c"), bare("flush", true)}, "a,b,c"},
		{"flush one", "", []*engine.Message{ctl("b"), ctl("c"), bare("flush", 1.0)}, "a,b"},
		{"a flush with a payload is queued first", "", []*engine.Message{ctl("b"), ctl("c", "flush", 2.0)}, "a,b,c"},
		{"toFront then flush one", "", []*engine.Message{ctl("b"), ctl("c", "toFront", true), bare("flush", 1.0)}, "a,c"},
		{"toFront must be true", "", []*engine.Message{ctl("b"), ctl("c", "toFront", "yes"), bare("flush", 1.0)}, "a,b"},
		{"reset drops the queue", "", []*engine.Message{ctl("b"), bare("reset", true), bare("flush", true)}, "a"},
		{"after a reset the next passes at once", "", []*engine.Message{ctl("b"), bare("reset", true), ctl("c")}, "a,c"},
		{"drop", `,"drop":true`, []*engine.Message{ctl("b"), ctl("c")}, "a"},
		{"drop: a reset lets the next pass", `,"drop":true`, []*engine.Message{ctl("b"), bare("reset", true), ctl("c")}, "a,c"},
		{"allowrate: msg.rate changes the interval", `,"drop":true,"allowrate":true`, []*engine.Message{ctl("b", "rate", 0.0), ctl("c")}, "a,b,c"},
		{"without allowrate msg.rate is ignored", `,"drop":true`, []*engine.Message{ctl("b", "rate", 0.0), ctl("c")}, "a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.Chain(t, fmt.Sprintf(rateSlow, c.extra), DelayType)
			f.Inject("src", ctl("a"))
			for _, m := range c.msgs {
				f.Inject("src", m)
			}
			if got := payloads(f.Received("sink")); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestDelayRateDropToSecondOutput(t *testing.T) {
	f := nodetest.New(t, nodetest.ChainJSON(t, fmt.Sprintf(rateSlow, `,"drop":true,"outputs":2`), 2), DelayType)
	for _, p := range []string{"a", "b", "c"} {
		f.Inject("src", ctl(p))
	}
	if got := payloads(f.Received("sink")) + "|" + payloads(f.Received("sink1")); got != "a|b,c" {
		t.Errorf("got %s", got)
	}
}

func TestDelayQueueByTopic(t *testing.T) {
	f := nodetest.New(t, nodetest.ChainJSON(t, `{"type":"delay","pauseType":"queue","rate":"1","nbRateUnits":"1","rateUnits":"minute","outputs":2}`, 2), DelayType)
	in := func(topic, p string) *engine.Message { return engine.NewMessage(topic, p) }
	f.Inject("src", in("x", "x1"))
	f.Inject("src", in("y", "y1"))
	f.Inject("src", in("x", "x2")) // replaces x1 in its place
	f.Inject("src", in("", "none"))
	stillEmpty(t, f, "sink")
	if got := payloads(f.Received("sink1")); got != "x1" {
		t.Errorf("second output: %s", got)
	}
	flush2 := ctl("z", "flush", 2.0)
	flush2.Topic = "z"
	f.Inject("src", flush2)
	got := f.Received("sink")
	if p := payloads(got); p != "x2,y1" {
		t.Errorf("flush 2: %s", p)
	}
	// A control message without a topic would take the place of the
	// queued "_none_" one, as in Node-RED: give it a topic of its own
	// (with nothing but a topic it is not sent itself).
	flushAll := bare("flush", true)
	flushAll.Topic = "ctl"
	f.Inject("src", flushAll)
	got = f.Received("sink")
	if p := payloads(got); p != "x2,y1,none,z" {
		t.Errorf("flush all: %s", p)
	}
	if got[2].Topic != "_none_" {
		t.Errorf("a message without a topic gets _none_, got %q", got[2].Topic)
	}
	f.Inject("src", in("x", "x3"))
	f.Inject("src", bare("reset", true))
	f.Inject("src", flushAll)
	if p := payloads(f.Received("sink")); p != "x2,y1,none,z" {
		t.Errorf("after reset: %s", p)
	}
	if s := statusTexts(f); !strings.Contains(s, "// //reset") {
		t.Errorf("status %s", s)
	}
}

func TestDelayQueueTicks(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"queue","rate":"10","nbRateUnits":"1","rateUnits":"second"}`, DelayType)
	for _, tp := range []string{"a", "b", "a", "c"} {
		f.Inject("src", engine.NewMessage(tp, tp+"-"+fmt.Sprint(len(f.Received("sink")))))
	}
	got := f.WaitReceived("sink", 3)
	var topics []string
	for _, m := range got {
		topics = append(topics, m.Topic)
	}
	if strings.Join(topics, ",") != "a,b,c" {
		t.Errorf("topics %v (%s)", topics, payloads(got))
	}
	// It resumes after going idle.
	time.Sleep(250 * time.Millisecond)
	f.Inject("src", engine.NewMessage("d", "d"))
	if p := payloads(f.WaitReceived("sink", 4)[3:]); p != "d" {
		t.Errorf("after idle: %s", p)
	}
}

func TestDelayTimedSendsAllTopics(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"timed","rate":"5","nbRateUnits":"1","rateUnits":"second"}`, DelayType)
	f.Inject("src", engine.NewMessage("a", "a1"))
	f.Inject("src", engine.NewMessage("b", "b1"))
	f.Inject("src", engine.NewMessage("a", "a2"))
	if p := payloads(f.WaitReceived("sink", 2)); p != "a2,b1" {
		t.Errorf("got %s", p)
	}
}

func TestDelayLimit(t *testing.T) {
	f := nodetest.Chain(t, delay5s, DelayType)
	for i := 0; i < DelayQueueLimit+2; i++ {
		f.Inject("src", ctl(float64(i)))
	}
	errs := f.Errors()
	if len(errs) != 2 || !strings.Contains(errs[0].Err.Error(), "too many pending messages") || errs[0].MsgID == "" {
		t.Fatalf("errors: %d %v", len(errs), errs)
	}
	n := f.Runtime().Graph().Node("n1").(engine.Measurer)
	if ms := n.Metrics(); ms[0].Value != DelayQueueLimit || ms[1].Value != 2 {
		t.Errorf("metrics %+v", ms)
	}
	f.Inject("src", bare("reset", true)) // at the limit, a reset still works
	if ms := n.Metrics(); ms[0].Value != 0 {
		t.Errorf("after reset %+v", ms)
	}
}

func TestDelayDeployErrors(t *testing.T) {
	for _, c := range []struct{ node, want string }{
		{`{"type":"delay","pauseType":"later"}`, `field "pauseType"`},
		{`{"type":"delay","pauseType":"delay","timeout":"-1"}`, `field "timeout"`},
		{`{"type":"delay","pauseType":"delay","timeout":"NaN"}`, `field "timeout"`},
		{`{"type":"delay","pauseType":"rate","rate":"-2"}`, `field "rate"`},
		{`{"type":"delay","pauseType":"delay","timeoutUnits":"weeks"}`, `field "timeoutUnits"`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, c.node), nodetest.Options{}, DelayType)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: deploy error %v, want one about %s", c.node, err, c.want)
		}
	}
}

// Hostile but accepted values: a rate of 0 (Node-RED's editor allows it)
// limits nothing; a huge delay holds the message until a flush.
func TestDelayEdgeValues(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"delay","pauseType":"rate","rate":"0"}`, DelayType)
	for _, p := range []string{"a", "b", "c"} {
		f.Inject("src", ctl(p))
	}
	if p := payloads(f.WaitReceived("sink", 3)); p != "a,b,c" {
		t.Errorf("rate 0: %s", p)
	}
	g := nodetest.Chain(t, `{"type":"delay","pauseType":"delay","timeout":"1e300","timeoutUnits":"days"}`, DelayType)
	g.Inject("src", ctl("a"))
	stillEmpty(t, g, "sink")
	g.Inject("src", bare("flush", true))
	if p := payloads(g.Received("sink")); p != "a" {
		t.Errorf("huge delay: %s", p)
	}
}

// deployFlow deploys doc as a nodes deploy on rt.
func deployFlow(t *testing.T, rt *engine.Runtime, doc string) {
	t.Helper()
	d, err := flows.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Plan(d, engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func sinkOf(t *testing.T, f *nodetest.Flow, id string) *nodetest.Sink {
	t.Helper()
	s, ok := f.Runtime().Graph().Node(id).(*nodetest.Sink)
	if !ok {
		t.Fatalf("no sink %s", id)
	}
	return s
}

// A nodes deploy that replaces a delay sends what it holds at once, in
// order, into the wires it had; one that keeps it keeps its queue, which
// then goes to the new wiring.
func TestDelayHotDeploy(t *testing.T) {
	for _, mode := range []string{
		`"pauseType":"delay","timeout":"5"`,
		`"pauseType":"delayv","timeout":"5"`,
		`"pauseType":"random","randomFirst":"5","randomLast":"6"`,
		`"pauseType":"rate","rate":"1","rateUnits":"minute"`,
		`"pauseType":"queue","rate":"1","rateUnits":"minute"`,
		`"pauseType":"timed","rate":"1","rateUnits":"minute"`,
	} {
		t.Run(mode, func(t *testing.T) {
			doc := func(name, sinkName string) string {
				return `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},` +
					`{"id":"n1","type":"delay","z":"t1","name":"` + name + `",` + mode + `,"wires":[["sink"]]},` +
					`{"id":"sink","type":"test-sink","z":"t1","name":"` + sinkName + `","wires":[]}]`
			}
			f := nodetest.New(t, doc("a", "s"), DelayType)
			for _, tp := range []string{"a", "b", "c"} {
				f.Inject("src", engine.NewMessage(tp, tp))
			}
			held := len(f.Received("sink"))
			// Kept: the sink changes, the delay does not.
			oldSink := sinkOf(t, f, "sink")
			deployFlow(t, f.Runtime(), doc("a", "s2"))
			if got := len(oldSink.Messages()); got != held {
				t.Fatalf("a kept delay sent %d more at the deploy", got-held)
			}
			f.Inject("src", bare("flush", true))
			newSink := sinkOf(t, f, "sink")
			want := "a,b,c"
			if strings.Contains(mode, `"pauseType":"rate"`) {
				want = "b,c" // a passed at once
			}
			if got := payloads(newSink.Messages()); got != want {
				t.Errorf("kept: the new sink got %q, want %q", got, want)
			}
			// Replaced: what it holds is sent before it closes.
			for _, tp := range []string{"d", "e"} {
				f.Inject("src", engine.NewMessage(tp, tp))
			}
			before := len(newSink.Messages())
			deployFlow(t, f.Runtime(), doc("b", "s2"))
			got := newSink.Messages()[before:]
			// In due order: random delays may swap them.
			if p := payloads(got); p != "d,e" && !(p == "e,d" && strings.Contains(mode, "random")) {
				t.Errorf("replaced: drained %q, want d,e", p)
			}
		})
	}
}

// Stopping the runtime (SIGTERM) delivers what a delay holds.
func TestDelayStopDrains(t *testing.T) {
	f := nodetest.Chain(t, delay5s, DelayType)
	f.Inject("src", ctl("a"))
	f.Inject("src", ctl("b"))
	sink := sinkOf(t, f, "sink")
	if err := f.Runtime().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := payloads(sink.Messages()); p != "a,b" {
		t.Errorf("got %q", p)
	}
	if s := statusTexts(f); !strings.HasSuffix(s, "//") {
		t.Errorf("status %s", s)
	}
}

// Under load, nodes deploys that replace a delay again and again lose
// nothing and send nothing twice: each replaced delay sends what it holds
// as it closes, and the stop at the end sends the rest, in order.
func TestDelayReplacedUnderLoad(t *testing.T) {
	doc := func(name string) string {
		return `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},` +
			`{"id":"n1","type":"delay","z":"t1","name":"` + name + `","pauseType":"delay","timeout":"5","timeoutUnits":"seconds","wires":[["sink"]]},` +
			`{"id":"sink","type":"test-sink","z":"t1","wires":[]}]`
	}
	f := nodetest.New(t, doc("v0"), DelayType)
	sink := sinkOf(t, f, "sink")
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			f.Inject("src", ctl(float64(i)))
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	deploys := 0
	for running := true; running || deploys < 6; deploys++ {
		select {
		case <-done:
			running = false
		default:
		}
		deployFlow(t, f.Runtime(), doc(fmt.Sprint("v", deploys)))
		time.Sleep(2 * time.Millisecond)
	}
	if err := f.Runtime().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.Messages()
	if len(got) != total {
		t.Fatalf("got %d messages, want %d", len(got), total)
	}
	for i, m := range got {
		if m.Payload != float64(i) {
			t.Fatalf("message %d is %v: out of order or lost", i, m.Payload)
		}
	}
}
