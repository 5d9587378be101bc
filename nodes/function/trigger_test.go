package function

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// trig is a trigger node's JSON with the given properties over defaults
// of a 5 s wait that the tests end with msg.delay or a reset.
func trig(props string) string {
	s := `{"type":"trigger","op1":"1","op2":"0","op1type":"val","op2type":"val","duration":"5","units":"s","extend":false,"overrideDelay":false,"reset":"","bytopic":"all","topic":"topic","outputs":1`
	if props != "" {
		s += "," + props
	}
	return s + "}"
}

// jsonPayloads lists the payloads of msgs as JSON.
func jsonPayloads(msgs []*engine.Message) string {
	var s []string
	for _, m := range msgs {
		v, _ := m.Lookup(payloadPath)
		s = append(s, string(engine.MarshalJSON(v)))
	}
	return strings.Join(s, ",")
}

func TestTriggerDefaults(t *testing.T) {
	f := nodetest.Chain(t, trig(`"duration":"30","units":"ms"`), TriggerType)
	f.Inject("src", engine.NewMessage("t", "x"))
	if got := jsonPayloads(f.Received("sink")); got != `"1"` {
		t.Fatalf("op1 is sent at once: %s", got)
	}
	got := f.WaitReceived("sink", 2)
	if p := jsonPayloads(got); p != `"1","0"` || got[1].Topic != "t" {
		t.Errorf("got %s (topic %q)", p, got[1].Topic)
	}
	if s := statusTexts(f); s != "blue/dot/ //" {
		t.Errorf("status %s", s)
	}
}

func TestTriggerValues(t *testing.T) {
	for _, c := range []struct{ name, props, want string }{
		{"val true is a boolean", `"op1":"true","op1type":"val"`, `true`},
		{"val null is null", `"op1":"null","op1type":"val"`, `null`},
		{"str", `"op1":"on","op1type":"str"`, `"on"`},
		{"empty str is 1, as Node-RED's op1 || \"1\"", `"op1":"","op1type":"str"`, `"1"`},
		{"num", `"op1":"2.5","op1type":"num"`, `2.5`},
		{"json", `"op1":"{\"a\":[1]}","op1type":"json"`, `{"a":[1]}`},
		{"bin", `"op1":"[104,105]","op1type":"bin"`, `{"type":"Buffer","data":[104,105]}`},
		{"env", `"op1":"NRDIFF_TRIGGER_TEST","op1type":"env"`, `"from env"`},
		{"pay keeps the payload", `"op1type":"pay"`, `"x"`},
		{"a str template", `"op1":"{{payload}} on {{topic}}","op1type":"str"`, `"x on t"`},
		{"a template sees no flow or env", `"op1":"[{{flow.a}}{{env.HOME}}]","op1type":"str"`, `"[]"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("NRDIFF_TRIGGER_TEST", "from env")
			f := nodetest.Chain(t, trig(c.props), TriggerType)
			f.Inject("src", engine.NewMessage("t", "x"))
			if got := jsonPayloads(f.Received("sink")); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
	f := nodetest.Chain(t, trig(`"op1":"","op1type":"date"`), TriggerType)
	f.Inject("src", engine.NewMessage("t", "x"))
	if got := f.Received("sink"); len(got) != 1 || engine.ToString(got[0].Payload) < "1700000000000" {
		t.Errorf("date: %s", jsonPayloads(got))
	}
	f = nodetest.Chain(t, trig(`"op1type":"nul"`), TriggerType)
	f.Inject("src", engine.NewMessage("t", "x"))
	stillEmpty(t, f, "sink")
}

// While triggered, messages are ignored; msg.delay (with overrideDelay)
// sets the wait.
func TestTriggerIgnoresWhileTriggered(t *testing.T) {
	f := nodetest.Chain(t, trig(`"overrideDelay":true`), TriggerType)
	f.Inject("src", ctl("a", "delay", 100.0))
	f.Inject("src", ctl("b", "delay", 1.0))
	f.Inject("src", ctl("c"))
	got := f.WaitReceived("sink", 2)
	if p := jsonPayloads(got); p != `"1","0"` {
		t.Errorf("got %s", p)
	}
	// After the second message it triggers again.
	f.Inject("src", ctl("d", "delay", 1.0))
	if p := jsonPayloads(f.WaitReceived("sink", 4)[2:]); p != `"1","0"` {
		t.Errorf("again: %s", p)
	}
}

func TestTriggerReset(t *testing.T) {
	for _, c := range []struct {
		name, props string
		reset       *engine.Message
	}{
		{"msg.reset", "", bare("reset", true)},
		{"msg.reset with a payload", "", ctl("x", "reset", false)},
		{"the reset payload", `"reset":"stop"`, ctl("stop")},
		{"the reset payload as text", `"reset":"12"`, ctl(12.0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.Chain(t, trig(c.props), TriggerType)
			f.Inject("src", ctl("a"))
			f.Inject("src", c.reset)
			f.Inject("src", ctl("b"))
			if got := jsonPayloads(f.Received("sink")); got != `"1","1"` {
				t.Errorf("got %s, want a trigger again after the reset", got)
			}
			if s := statusTexts(f); s != "blue/dot/ // blue/dot/" {
				t.Errorf("status %s", s)
			}
		})
	}
	// A payload that is not the reset value is not a reset.
	f := nodetest.Chain(t, trig(`"reset":"stop"`), TriggerType)
	f.Inject("src", ctl("a"))
	f.Inject("src", ctl("stopped"))
	f.Inject("src", ctl(nil))
	if got := jsonPayloads(f.Received("sink")); got != `"1"` {
		t.Errorf("got %s", got)
	}
}

// With extend each message restarts the wait, and the second message is
// the latest one with op2 as its payload.
func TestTriggerExtend(t *testing.T) {
	f := nodetest.Chain(t, trig(`"extend":true,"overrideDelay":true`), TriggerType)
	first := ctl("a", "delay", 60000.0)
	first.Topic = "first"
	f.Inject("src", first)
	latest := ctl("b", "delay", 20.0)
	latest.Topic = "latest"
	f.Inject("src", latest)
	got := f.WaitReceived("sink", 2)
	if p := jsonPayloads(got); p != `"1","0"` || got[0].Topic != "first" || got[1].Topic != "latest" {
		t.Errorf("got %s, topics %s %s", p, got[0].Topic, got[1].Topic)
	}
}

func TestTriggerSecondValues(t *testing.T) {
	for _, c := range []struct{ name, props, want string }{
		{"pay: the first payload", `"op2type":"pay"`, `"1","a"`},
		{"payl: the latest message", `"op1type":"nul","op2type":"payl"`, `"c"`},
		{"nul: nothing", `"op2type":"nul"`, `"1"`},
		{"flow is read when sent", `"op2":"x","op2type":"flow"`, `"1","later"`},
		{"a template", `"op2":"was {{payload}}","op2type":"str"`, `"1","was a"`},
		{"the latest on the second output", `"op2type":"payl","outputs":2`, `"1"|"c"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := nodetest.New(t, nodetest.ChainJSON(t, trig(c.props+`,"overrideDelay":true`), 2), TriggerType)
			f.Inject("src", ctl("a", "delay", 150.0))
			f.Inject("src", ctl("b"))
			m := ctl("c")
			m.Topic = "c"
			f.Inject("src", m)
			if err := f.SourceHost("src").FlowContext().Set("x", "later"); err != nil {
				t.Fatal(err)
			}
			n := strings.Count(c.want, ",") + strings.Count(c.want, "|") + 1
			deadline := time.Now().Add(5 * time.Second)
			for len(f.Received("sink"))+len(f.Received("sink1")) < n && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // nothing more comes
			got := jsonPayloads(f.Received("sink"))
			if s := jsonPayloads(f.Received("sink1")); s != "" {
				got += "|" + s
			}
			if got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestTriggerByTopic(t *testing.T) {
	f := nodetest.Chain(t, trig(`"bytopic":"topic","topic":"topic"`), TriggerType)
	f.Inject("src", engine.NewMessage("a", "x"))
	f.Inject("src", engine.NewMessage("b", "x"))
	f.Inject("src", engine.NewMessage("a", "x")) // a is triggered
	f.Inject("src", engine.NewMessage("", "x"))  // "_none"
	r := bare("reset", true)
	r.Topic = "a"
	f.Inject("src", r)
	f.Inject("src", engine.NewMessage("a", "x"))
	var topics []string
	for _, m := range f.Received("sink") {
		topics = append(topics, m.Topic)
	}
	if strings.Join(topics, ",") != "a,b,,a" {
		t.Errorf("topics %q", topics)
	}
	if s := statusTexts(f); s != "blue/dot/ blue/dot/2 blue/dot/3 blue/dot/2 blue/dot/3" {
		t.Errorf("status %s", s)
	}
}

func TestTriggerWaitForReset(t *testing.T) {
	f := nodetest.Chain(t, trig(`"duration":"0"`), TriggerType)
	f.Inject("src", ctl("a"))
	f.Inject("src", ctl("b"))
	stillEmpty(t, nodetest.Chain(t, trig(`"op1type":"nul","duration":"0"`), TriggerType), "sink")
	if got := jsonPayloads(f.Received("sink")); got != `"1"` {
		t.Errorf("got %s", got)
	}
	f.Inject("src", bare("reset", true))
	f.Inject("src", ctl("c"))
	if got := jsonPayloads(f.Received("sink")); got != `"1","1"` {
		t.Errorf("after reset: %s", got)
	}
}

func TestTriggerLoop(t *testing.T) {
	f := nodetest.Chain(t, trig(`"duration":"-20","units":"ms","op1":"tick"`), TriggerType)
	f.Inject("src", ctl("a"))
	got := f.WaitReceived("sink", 3)
	if p := jsonPayloads(got); p != `"tick","tick","tick"` {
		t.Errorf("got %s", p)
	}
	f.Inject("src", bare("reset", true))
	n := len(f.Received("sink"))
	time.Sleep(150 * time.Millisecond)
	if m := len(f.Received("sink")); m != n {
		t.Errorf("%d more after the reset", m-n)
	}
}

// Close (a replacing deploy, a stop) stops the timers: no second message.
func TestTriggerCloseStopsTimers(t *testing.T) {
	for _, props := range []string{`"duration":"100","units":"ms"`, `"duration":"-20","units":"ms"`} {
		f := nodetest.Chain(t, trig(props), TriggerType)
		f.Inject("src", ctl("a"))
		sink := sinkOf(t, f, "sink")
		if err := f.Runtime().Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := len(sink.Messages())
		time.Sleep(250 * time.Millisecond)
		if got := sink.Messages(); len(got) != n || n < 1 || jsonPayloads(got[:1]) != `"1"` {
			t.Errorf("%s: got %s", props, jsonPayloads(got))
		}
	}
}

// A nodes deploy that keeps the trigger keeps its wait: the second
// message goes to the new wiring.
func TestTriggerKeptByDeploy(t *testing.T) {
	doc := func(sinkName string) string {
		return `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},` +
			`{"id":"n1","type":"trigger","z":"t1","op1":"1","op2":"0","op1type":"val","op2type":"val","duration":"300","units":"ms","wires":[["sink"]]},` +
			`{"id":"sink","type":"test-sink","z":"t1","name":"` + sinkName + `","wires":[]}]`
	}
	f := nodetest.New(t, doc("a"), TriggerType)
	f.Inject("src", ctl("a"))
	old := sinkOf(t, f, "sink")
	deployFlow(t, f.Runtime(), doc("b"))
	got := f.WaitReceived("sink", 1)
	if p := jsonPayloads(got); p != `"0"` || len(old.Messages()) != 1 {
		t.Errorf("new sink %s, old %s", p, jsonPayloads(old.Messages()))
	}
}

func TestTriggerDeployErrors(t *testing.T) {
	for _, c := range []struct{ props, want string }{
		{`"op1":"abc","op1type":"num"`, `field "op1"`},
		{`"op2":"{","op2type":"json"`, `field "op2"`},
		{`"op1type":"payl"`, `field "op1type"`},
		{`"op2type":"jsonata"`, `field "op2type"`},
		{`"op1":"YYYY","op1type":"date"`, `field "op1"`},
		{`"units":"days"`, `field "units"`},
		{`"duration":"soon"`, `field "duration"`},
		{`"op1":"{{#a}}","op1type":"str"`, `field "op1"`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, trig(c.props)), nodetest.Options{}, TriggerType)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: deploy error %v, want one about %s", c.props, err, c.want)
		}
	}
}

func TestTriggerTopicLimit(t *testing.T) {
	f := nodetest.Chain(t, trig(`"bytopic":"topic","op1type":"nul"`), TriggerType)
	for i := 0; i <= TriggerTopicLimit; i++ {
		f.Inject("src", engine.NewMessage("t"+engine.ToString(float64(i)), "x"))
	}
	if errs := f.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "too many streams") {
		t.Errorf("errors %v", errs)
	}
}

// Streams waiting the same time end in the order they started.
func TestTriggerStreamsEndInOrder(t *testing.T) {
	f := nodetest.Chain(t, trig(`"bytopic":"topic","duration":"30","units":"ms","op1type":"nul","op2":"{{topic}}","op2type":"str"`), TriggerType)
	var want []string
	for i := 0; i < 20; i++ {
		tp := "t" + engine.ToString(float64(i))
		want = append(want, tp)
		f.Inject("src", engine.NewMessage(tp, "x"))
	}
	if got := payloads(f.WaitReceived("sink", 20)); got != strings.Join(want, ",") {
		t.Errorf("got %s", got)
	}
}

// A nodes deploy that replaces a trigger hands its streams to the new
// one: each pending second message still comes (as the old node computed
// it), and a stream still triggered still blocks a new first message.
// Before, the replaced node's pending messages were lost. A trigger
// whose mode changes (per topic or not) starts afresh.
func TestTriggerReplacedHandsOver(t *testing.T) {
	doc := func(name, op2, bytopic string) string {
		return `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},` +
			`{"id":"n1","type":"trigger","z":"t1","name":"` + name + `","op1":"1","op2":"` + op2 + `","op1type":"val","op2type":"val","duration":"300","units":"ms","bytopic":"` + bytopic + `","topic":"topic","wires":[["sink"]]},` +
			`{"id":"sink","type":"test-sink","z":"t1","wires":[]}]`
	}
	f := nodetest.New(t, doc("a", "0", "topic"), TriggerType)
	f.Inject("src", engine.NewMessage("x", "go"))
	f.Inject("src", engine.NewMessage("y", "go"))
	deployFlow(t, f.Runtime(), doc("b", "changed", "topic")) // a new name: replaced
	f.Inject("src", engine.NewMessage("x", "again"))         // x is still triggered: nothing
	got := f.WaitReceived("sink", 4)
	if p := jsonPayloads(got); p != `"1","1","0","0"` {
		t.Fatalf("got %s, want the two first messages, then the two second ones the old node computed", p)
	}
	for i, want := range []string{"x", "y", "x", "y"} {
		if got[i].Topic != want {
			t.Errorf("message %d has topic %q, want %q", i, got[i].Topic, want)
		}
	}
	// Afterwards the new node's settings apply.
	f.Inject("src", engine.NewMessage("x", "go"))
	if p := jsonPayloads(f.WaitReceived("sink", 6)); p != `"1","1","0","0","1","changed"` {
		t.Fatalf("after the hand-over: %s", p)
	}

	// A change of mode: the pending message is not handed over.
	f.Inject("src", engine.NewMessage("z", "go"))
	f.WaitReceived("sink", 7)
	deployFlow(t, f.Runtime(), doc("c", "0", "all"))
	time.Sleep(500 * time.Millisecond) // past when z's second message was due
	if p := jsonPayloads(f.Received("sink")); p != `"1","1","0","0","1","changed","1"` {
		t.Fatalf("after a change of mode: %s", p)
	}
}

// Under load: messages on 2,000 topics stream in while six deploys replace
// the trigger; every topic gets its first message and, 200 ms later, its
// second one, exactly once each, whichever trigger node the second was
// pending in.
func TestTriggerReplacedUnderLoad(t *testing.T) {
	doc := func(name string) string {
		return `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},` +
			`{"id":"n1","type":"trigger","z":"t1","name":"` + name + `","op1":"1","op2":"2","op1type":"num","op2type":"num","duration":"200","units":"ms","bytopic":"topic","topic":"topic","wires":[["sink"]]},` +
			`{"id":"sink","type":"test-sink","z":"t1","wires":[]}]`
	}
	f := nodetest.New(t, doc("v0"), TriggerType)
	const topics = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < topics; i++ {
			f.Inject("src", engine.NewMessage(fmt.Sprint("t", i), "go"))
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
		deployFlow(t, f.Runtime(), doc(fmt.Sprint("v", deploys+1)))
		time.Sleep(2 * time.Millisecond)
	}
	got := f.WaitReceived("sink", 2*topics)
	seen := map[string][]any{}
	for _, m := range got {
		seen[m.Topic] = append(seen[m.Topic], m.Payload)
	}
	for i := 0; i < topics; i++ {
		if s := fmt.Sprint(seen[fmt.Sprint("t", i)]); s != "[1 2]" {
			t.Fatalf("topic t%d got %s, want [1 2] (%d deploys)", i, s, deploys)
		}
	}
}
