package function

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// msgJSON writes a message as a JSON object without its _msgid: topic,
// payload (left out when the message has none), then the other
// properties sorted.
func msgJSON(m *engine.Message) string {
	b := []byte{'{'}
	for _, k := range m.Keys() {
		v, _ := m.Prop(k)
		if k == "_msgid" || k == "payload" && v == nil {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, engine.MarshalJSON(k)...)
		b = append(b, ':')
		b = append(b, engine.MarshalJSON(v)...)
	}
	return string(append(b, '}'))
}

// inMsg builds a message from a JSON object: its topic, payload and other
// properties.
func inMsg(t testing.TB, js string) *engine.Message {
	t.Helper()
	v, err := engine.ParseJSON([]byte(js))
	if err != nil {
		t.Fatalf("message %s: %v", js, err)
	}
	obj, ok := v.(engine.RawJSON)
	if !ok || obj[0] != '{' {
		t.Fatalf("message %s is not an object", js)
	}
	props := obj.Decode().(map[string]any)
	m := engine.NewMessage("", nil)
	for k := range props {
		raw, _ := engine.ParseJSON(engine.MarshalJSON(props[k]))
		m.SetProp(k, raw)
	}
	return m
}

// nodeCase is one message through one node: the flow context before
// (key=JSON;...), the message in, and what comes out of each output
// (JSON of the messages, "|" between outputs, "" for nothing), the flow
// context after, and the errors reported.
type nodeCase struct {
	name     string
	node     string
	flowIn   map[string]string
	in       string
	want     string
	flowWant map[string]string
	errs     string
}

// runCase deploys c.node with n outputs, sends c.in and checks the outputs.
func runCase(t *testing.T, c nodeCase, outputs int, types ...*engine.Type) *nodetest.Flow {
	t.Helper()
	f := nodetest.New(t, nodetest.ChainJSON(t, c.node, outputs), types...)
	h := f.SourceHost("src")
	for k, v := range c.flowIn {
		if err := h.FlowContext().Set(k, mustJSON(t, v)); err != nil {
			t.Fatal(err)
		}
	}
	f.Inject("src", inMsg(t, c.in))
	var outs []string
	for i := 0; i < outputs; i++ {
		sink := "sink"
		if i > 0 {
			sink += fmt.Sprint(i)
		}
		var ms []string
		for _, m := range f.Received(sink) {
			ms = append(ms, msgJSON(m))
		}
		outs = append(outs, strings.Join(ms, " "))
	}
	if got := strings.Join(outs, "|"); got != c.want {
		t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
	}
	for k, want := range c.flowWant {
		v, ok := h.FlowContext().Get(k)
		got := "undefined"
		if ok {
			got = string(engine.MarshalJSON(v))
		}
		if got != want {
			t.Errorf("%s: flow.%s = %s, want %s", c.name, k, got, want)
		}
	}
	var errs []string
	for _, e := range f.Errors() {
		errs = append(errs, e.Err.Error())
	}
	if got := strings.Join(errs, "; "); got != c.errs {
		t.Errorf("%s: errors %q, want %q", c.name, got, c.errs)
	}
	return f
}

func TestChangeRules(t *testing.T) {
	t.Setenv("RUNNEL_CHANGE_TEST", "from-env")
	rules := func(rs ...string) string { return `{"type":"change","rules":[` + strings.Join(rs, ",") + `]}` }
	cases := []nodeCase{
		{name: "set str", node: rules(`{"t":"set","p":"payload","pt":"msg","to":"hi","tot":"str"}`),
			in: `{"topic":"t","payload":1}`, want: `{"topic":"t","payload":"hi"}`},
		{name: "set creates objects and arrays", node: rules(`{"t":"set","p":"payload.a.b","pt":"msg","to":"1","tot":"num"}`, `{"t":"set","p":"list[1]","pt":"msg","to":"true","tot":"bool"}`),
			in: `{"payload":{"x":1}}`, want: `{"topic":"","payload":{"x":1,"a":{"b":1}},"list":[null,true]}`},
		{name: "set typed values", node: rules(
			`{"t":"set","p":"n","to":" 0x1f ","tot":"num"}`,
			`{"t":"set","p":"b","to":"TRUE","tot":"bool"}`,
			`{"t":"set","p":"j","to":"{\"k\":[1,\"2\"]}","tot":"json"}`,
			`{"t":"set","p":"buf","to":"[104,105]","tot":"bin"}`,
			`{"t":"set","p":"e","to":"RUNNEL_CHANGE_TEST","tot":"env"}`,
			`{"t":"set","p":"copy","to":"payload.a","tot":"msg"}`,
			`{"t":"set","p":"fromflow","to":"f.x","tot":"flow"}`),
			flowIn: map[string]string{"f": `{"x":[1,2]}`},
			in:     `{"payload":{"a":"A"}}`,
			want:   `{"topic":"","payload":{"a":"A"},"b":true,"buf":{"type":"Buffer","data":[104,105]},"copy":"A","e":"from-env","fromflow":[1,2],"j":{"k":[1,"2"]},"n":31}`},
		{name: "set to a missing msg property deletes the target", node: rules(`{"t":"set","p":"payload","to":"nothing","tot":"msg"}`),
			in: `{"topic":"t","payload":"x"}`, want: `{"topic":"t"}`},
		{name: "set from an unreadable msg property does nothing", node: rules(`{"t":"set","p":"payload","to":"nothing.at.all","tot":"msg"}`),
			in: `{"payload":"x"}`, want: `{"topic":"","payload":"x"}`},
		{name: "set beneath a string is refused", node: rules(`{"t":"set","p":"payload.a","to":"v","tot":"str"}`),
			in: `{"payload":"text"}`, want: `{"topic":"","payload":"text"}`},
		{name: "set beneath a nested string or null is refused", node: rules(`{"t":"set","p":"payload.t.x","to":"v","tot":"str"}`, `{"t":"set","p":"payload.n.x","to":"v","tot":"str"}`),
			in: `{"payload":{"t":"text","n":null}}`, want: `{"topic":"","payload":{"n":null,"t":"text"}}`},
		{name: "set keeps the order keys are created in", node: rules(`{"t":"set","p":"out.z","to":"1","tot":"num"}`, `{"t":"set","p":"out.a","to":"2","tot":"num"}`),
			in: `{"payload":1}`, want: `{"topic":"","payload":1,"out":{"z":1,"a":2}}`},
		{name: "change every occurrence", node: rules(`{"t":"change","p":"payload","from":"o","fromt":"str","to":"0","tot":"str"}`),
			in: `{"payload":"hello world"}`, want: `{"topic":"","payload":"hell0 w0rld"}`},
		{name: "change searches str literally", node: rules(`{"t":"change","p":"payload","from":"a.b","fromt":"str","to":"$&!","tot":"str"}`),
			in: `{"payload":"a.b axb a.b"}`, want: `{"topic":"","payload":"a.b! axb a.b!"}`},
		{name: "change with a regular expression and groups", node: rules(`{"t":"change","p":"payload","from":"(\\w+)@(\\w+)","fromt":"re","to":"$2 at $1 ($$, $3, $&)","tot":"str"}`),
			in: `{"payload":"joe@example, ann@host"}`, want: `{"topic":"","payload":"example at joe ($, $3, joe@example), host at ann ($, $3, ann@host)"}`},
		{name: "change named groups", node: rules(`{"t":"change","p":"payload","from":"(?<k>\\w+)=(?<v>\\w+)","fromt":"re","to":"$<v>:$<k>","tot":"str"}`),
			in: `{"payload":"a=1;b=2"}`, want: `{"topic":"","payload":"1:a;2:b"}`},
		{name: "change whole string equal to num from keeps the type", node: rules(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`),
			in: `{"payload":"5"}`, want: `{"topic":"","payload":6}`},
		{name: "change num from inside a string", node: rules(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"6","tot":"num"}`),
			in: `{"payload":"15.5"}`, want: `{"topic":"","payload":"16.6"}`},
		{name: "change number property", node: rules(`{"t":"change","p":"payload","from":"5","fromt":"num","to":"five","tot":"str"}`, `{"t":"change","p":"other","from":"5","fromt":"num","to":"x","tot":"str"}`),
			in: `{"payload":5,"other":6}`, want: `{"topic":"","payload":"five","other":6}`},
		{name: "change boolean property", node: rules(`{"t":"change","p":"payload","from":"true","fromt":"bool","to":"1","tot":"num"}`, `{"t":"change","p":"other","from":"true","fromt":"str","to":"1","tot":"num"}`),
			in: `{"payload":true,"other":true}`, want: `{"topic":"","payload":1,"other":true}`},
		{name: "change to bool makes a boolean of true and false", node: rules(`{"t":"change","p":"payload","from":"^on$","fromt":"re","to":"true","tot":"bool"}`, `{"t":"change","p":"other","from":"o","fromt":"str","to":"false","tot":"bool"}`),
			in: `{"payload":"on","other":"box"}`, want: `{"topic":"","payload":true,"other":"bfalsex"}`},
		{name: "change with an object to", node: rules(`{"t":"change","p":"payload","from":"x","fromt":"str","to":"{\"a\":1}","tot":"json"}`, `{"t":"change","p":"other","from":"x","fromt":"str","to":"[1,[2,null]]","tot":"json"}`),
			in: `{"payload":"-x-","other":"x"}`, want: `{"topic":"","payload":"-[object Object]-","other":[1,[2,null]]}`},
		{name: "change env from is searched for as written", node: rules(`{"t":"change","p":"payload","from":"<${RUNNEL_CHANGE_TEST}>","fromt":"env","to":"E","tot":"str"}`),
			in: `{"payload":"<from-env> <${RUNNEL_CHANGE_TEST}>"}`, want: `{"topic":"","payload":"<from-env> E"}`},
		// A property that is exactly ${NAME} is the variable's value when
		// the flow loads (Node-RED's mapEnvVarProperties), so that value is
		// searched for.
		{name: "change env from that is exactly ${NAME} is its value", node: rules(`{"t":"change","p":"payload","from":"${RUNNEL_CHANGE_TEST}","fromt":"env","to":"E","tot":"str"}`),
			in: `{"payload":"from-env ${RUNNEL_CHANGE_TEST}"}`, want: `{"topic":"","payload":"E ${RUNNEL_CHANGE_TEST}"}`},
		{name: "change from a msg string", node: rules(`{"t":"change","p":"payload","from":"topic","fromt":"msg","to":"*","tot":"str"}`),
			in: `{"topic":"a","payload":"banana"}`, want: `{"topic":"a","payload":"b*n*n*"}`},
		{name: "change from a msg number", node: rules(`{"t":"change","p":"payload","from":"n","fromt":"msg","to":"ok","tot":"str"}`, `{"t":"change","p":"s","from":"n","fromt":"msg","to":"ok","tot":"str"}`),
			in: `{"payload":3,"n":3,"s":"undefined 3 undefined"}`, want: `{"topic":"","payload":"ok","n":3,"s":"ok 3 undefined"}`},
		{name: "change from a missing msg property reports and goes on", node: rules(`{"t":"change","p":"payload","from":"nope","fromt":"msg","to":"X","tot":"str"}`),
			in: `{"payload":"undefined"}`, want: `{"topic":"","payload":"X"}`, errs: "invalid 'from' property: unsupported type: undefined"},
		{name: "delete", node: rules(`{"t":"delete","p":"payload.a","pt":"msg"}`, `{"t":"delete","p":"payload.list[0]"}`, `{"t":"delete","p":"topic"}`),
			in: `{"topic":"t","payload":{"a":1,"b":2,"list":[1,2,3]}}`, want: `{"topic":"","payload":{"b":2,"list":[2,3]}}`},
		{name: "move", node: rules(`{"t":"move","p":"payload","pt":"msg","to":"data","tot":"msg"}`),
			in: `{"payload":{"a":1}}`, want: `{"topic":"","data":{"a":1}}`},
		{name: "move to a parent", node: rules(`{"t":"move","p":"payload.a","pt":"msg","to":"payload","tot":"msg"}`),
			in: `{"payload":{"a":{"a":1,"b":2}}}`, want: `{"topic":"","payload":{"b":2}}`},
		{name: "move into a child", node: rules(`{"t":"move","p":"payload","pt":"msg","to":"payload.data","tot":"msg"}`),
			in: `{"payload":{"a":1}}`, want: `{"topic":"","payload":{"data":{"a":1}}}`},
		{name: "move a missing property deletes the target", node: rules(`{"t":"move","p":"nope","pt":"msg","to":"payload","tot":"msg"}`),
			in: `{"payload":1}`, want: `{"topic":""}`},
		{name: "move to flow", node: rules(`{"t":"move","p":"payload","pt":"msg","to":"saved","tot":"flow"}`),
			in: `{"payload":[1]}`, want: `{"topic":""}`, flowWant: map[string]string{"saved": `[1]`}},
		{name: "flow set, change and delete", node: rules(
			`{"t":"set","p":"a.b","pt":"flow","to":"payload","tot":"msg"}`,
			`{"t":"change","p":"s","pt":"flow","from":"x","fromt":"str","to":"y","tot":"str"}`,
			`{"t":"change","p":"n","pt":"flow","from":"1","fromt":"num","to":"2","tot":"num"}`,
			`{"t":"delete","p":"gone","pt":"flow"}`),
			flowIn: map[string]string{"s": `"xox"`, "n": `1`, "gone": `true`},
			in:     `{"payload":"v"}`, want: `{"topic":"","payload":"v"}`,
			flowWant: map[string]string{"a": `{"b":"v"}`, "s": `"yoy"`, "n": `2`, "gone": "undefined"}},
		{name: "flow change that matches nothing stops the message", node: rules(`{"t":"change","p":"n","pt":"flow","from":"1","fromt":"num","to":"2","tot":"num"}`),
			flowIn: map[string]string{"n": `5`}, in: `{"payload":"v"}`, want: ``, flowWant: map[string]string{"n": `5`}},
		{name: "legacy single rule", node: `{"type":"change","action":"replace","property":"payload","to":"msg.topic"}`,
			in: `{"topic":"t","payload":1}`, want: `{"topic":"t","payload":"t"}`},
		{name: "legacy change with reg", node: `{"type":"change","action":"change","property":"payload","from":"[0-9]+","to":"#","reg":true}`,
			in: `{"payload":"a1b22"}`, want: `{"topic":"","payload":"a#b#"}`},
		{name: "empty rules pass the message", node: `{"type":"change","rules":[]}`,
			in: `{"payload":1}`, want: `{"topic":"","payload":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c, 1, ChangeType) })
	}
}

// A set beneath a value that is not an object is a warning, as Node-RED's
// "no-override", not an error.
func TestChangeSetBeneathStringWarns(t *testing.T) {
	f := runCase(t, nodeCase{node: `{"type":"change","rules":[{"t":"set","p":"payload.a","to":"v","tot":"str"}]}`,
		in: `{"payload":"text"}`, want: `{"topic":"","payload":"text"}`}, 1, ChangeType)
	if got := nodetest.LogMessages(f.Logged(slog.LevelWarn)); !strings.Contains(got, "cannot set property of non-object type: payload.a") {
		t.Errorf("warnings: %s", got)
	}
}

func TestChangeJSONataAndExpr(t *testing.T) {
	for _, typ := range []string{"jsonata", "expr"} {
		t.Run(typ, func(t *testing.T) {
			if _, err := engine.ParseTyped(typ, "1"); err != nil {
				t.Skipf("%s is not available yet: %v", typ, err)
			}
			expr := map[string]string{"jsonata": "payload * 2", "expr": "msg.payload * 2"}[typ]
			runCase(t, nodeCase{node: `{"type":"change","rules":[{"t":"set","p":"payload","to":"` + expr + `","tot":"` + typ + `"}]}`,
				in: `{"payload":21}`, want: `{"topic":"","payload":42}`}, 1, ChangeType)
		})
	}
}

func TestChangeDeployErrors(t *testing.T) {
	for _, c := range []struct{ rule, want string }{
		{`{"t":"set","p":"payload","to":"abc","tot":"num"}`, `field "rules[1].to": "abc" is not a number`},
		{`{"t":"set","p":"payload","to":"{","tot":"json"}`, `field "rules[1].to": invalid JSON`},
		{`{"t":"change","p":"payload","from":"(","fromt":"re","to":"","tot":"str"}`, `field "rules[1].from": regular expression "("`},
		{`{"t":"set","p":"payload..a","to":"","tot":"str"}`, `field "rules[1].p": invalid property path`},
		{`{"t":"frob","p":"payload"}`, `field "rules[1].t": "frob" is not one of`},
		{`{"t":"move","p":"payload","to":"x","tot":"str"}`, `field "rules[1].to": move needs a msg, flow or global property`},
		{`{"t":"set","p":"payload","pt":"env"}`, `field "rules[1].pt": "env" is not one of`},
	} {
		node := `{"type":"change","rules":[{"t":"delete","p":"x"},` + c.rule + `]}`
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, node), nodetest.Options{}, ChangeType)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "n1") {
			t.Errorf("%s: deploy error %v, want one naming n1 and %s", c.rule, err, c.want)
		}
	}
}

func BenchmarkChange5Rules(b *testing.B) {
	f := nodetest.Chain(b, `{"type":"change","rules":[
		{"t":"set","p":"payload.status","pt":"msg","to":"ok","tot":"str"},
		{"t":"change","p":"topic","pt":"msg","from":"sensors/","fromt":"str","to":"devices/","tot":"str"},
		{"t":"move","p":"payload.t","pt":"msg","to":"payload.temperature","tot":"msg"},
		{"t":"delete","p":"payload.debug","pt":"msg"},
		{"t":"set","p":"unit","pt":"msg","to":"C","tot":"str"}]}`, ChangeType)
	payload := engine.RawJSON(`{"t":21.5,"debug":true,"id":"a1"}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Inject("src", engine.NewMessage("sensors/a1", payload))
	}
	if got := msgJSON(f.Received("sink")[0]); got != `{"topic":"devices/a1","payload":{"id":"a1","status":"ok","temperature":21.5},"unit":"C"}` {
		b.Fatalf("got %s", got)
	}
}
