package function

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// switchJSON is a switch node testing payload (or what extra sets) with
// the given rules.
func switchJSON(extra string, rules ...string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"type":"switch","property":"payload","propertyType":"msg","rules":[` + strings.Join(rules, ",") + `]` + extra + `}`
}

func TestSwitchRules(t *testing.T) {
	t.Setenv("RUNNEL_SWITCH_TEST", "7")
	const m5 = `{"topic":"","payload":"5"}`
	cases := []struct {
		nodeCase
		outputs int
	}{
		{nodeCase{name: "eq and neq are loose", node: switchJSON("",
			`{"t":"eq","v":"5","vt":"num"}`, `{"t":"eq","v":"5","vt":"str"}`, `{"t":"eq","v":"05","vt":"str"}`,
			`{"t":"neq","v":"5","vt":"num"}`, `{"t":"eq","v":"true","vt":"bool"}`, `{"t":"eq","v":" 5 "}`),
			in: `{"payload":"5"}`, want: m5 + "|" + m5 + "|||" + "|" + m5}, 6},
		{nodeCase{name: "booleans compare as numbers", node: switchJSON("",
			`{"t":"eq","v":"1","vt":"num"}`, `{"t":"eq","v":"1","vt":"str"}`, `{"t":"eq","v":"true","vt":"str"}`),
			in: `{"payload":true}`, want: `{"topic":"","payload":true}|{"topic":"","payload":true}|`}, 3},
		{nodeCase{name: "strings compare as text, others as numbers", node: switchJSON("",
			`{"t":"lt","v":"9","vt":"str"}`, `{"t":"lt","v":"9","vt":"num"}`, `{"t":"gt","v":"9","vt":"num"}`,
			`{"t":"gte","v":"10","vt":"num"}`, `{"t":"lte","v":"10","vt":"str"}`, `{"t":"gt","v":"x","vt":"str"}`),
			in: `{"payload":"10"}`, want: `{"topic":"","payload":"10"}||{"topic":"","payload":"10"}|{"topic":"","payload":"10"}|{"topic":"","payload":"10"}|`}, 6},
		{nodeCase{name: "undefined and null", node: `{"type":"switch","property":"nope","propertyType":"msg","rules":[` +
			`{"t":"lt","v":"5","vt":"num"},{"t":"null"},{"t":"nnull"},{"t":"eq","v":"nope2","vt":"msg"},{"t":"istype","v":"undefined","vt":"undefined"},{"t":"istype","v":"null","vt":"null"}]}`,
			in: `{"payload":1}`, want: `|{"topic":"","payload":1}||{"topic":"","payload":1}|{"topic":"","payload":1}|`}, 6},
		{nodeCase{name: "null is less than one", node: `{"type":"switch","property":"x","rules":[` +
			`{"t":"lt","v":"1","vt":"num"},{"t":"eq","v":"0","vt":"num"},{"t":"null"},{"t":"istype","v":"null","vt":"null"},{"t":"istype","v":"object","vt":"object"}]}`,
			in: `{"x":null}`, want: `{"topic":"","x":null}||{"topic":"","x":null}|{"topic":"","x":null}|`}, 5},
		{nodeCase{name: "btwn either way", node: switchJSON("",
			`{"t":"btwn","v":"1","vt":"num","v2":"10","v2t":"num"}`, `{"t":"btwn","v":"10","vt":"num","v2":"1","v2t":"num"}`,
			`{"t":"btwn","v":"6","vt":"num","v2":"10","v2t":"num"}`, `{"t":"btwn","v":"5","vt":"str","v2":"5","v2t":"num"}`),
			in: `{"payload":5}`, want: `{"topic":"","payload":5}|{"topic":"","payload":5}||{"topic":"","payload":5}`}, 4},
		{nodeCase{name: "cont on text forms", node: `{"type":"switch","property":"payload.o","rules":[` +
			`{"t":"cont","v":"object","vt":"str"},{"t":"cont","v":"z","vt":"str"}]}`,
			in: `{"payload":{"o":{"b":1}}}`, want: `{"topic":"","payload":{"o":{"b":1}}}|`}, 2},
		{nodeCase{name: "cont in an array's text", node: switchJSON("", `{"t":"cont","v":"1,2","vt":"str"}`, `{"t":"cont","v":"3","vt":"num"}`),
			in: `{"payload":[1,2]}`, want: `{"topic":"","payload":[1,2]}|`}, 2},
		{nodeCase{name: "regex with and without case", node: switchJSON("",
			`{"t":"regex","v":"^hel","vt":"str","case":true}`, `{"t":"regex","v":"^hel","vt":"str","case":false}`, `{"t":"regex","v":"topic","vt":"msg"}`),
			in: `{"topic":"l+o","payload":"Hello"}`, want: `{"topic":"l+o","payload":"Hello"}||{"topic":"l+o","payload":"Hello"}`}, 3},
		{nodeCase{name: "true and false are strict", node: switchJSON("", `{"t":"true"}`, `{"t":"false"}`),
			in: `{"payload":"true"}`, want: `|`}, 2},
		{nodeCase{name: "false", node: switchJSON("", `{"t":"true"}`, `{"t":"false"}`),
			in: `{"payload":false}`, want: `|{"topic":"","payload":false}`}, 2},
		{nodeCase{name: "empty", node: `{"type":"switch","property":"payload.e","rules":[{"t":"empty"},{"t":"nempty"}]}`,
			in: `{"payload":{"e":""}}`, want: `{"topic":"","payload":{"e":""}}|`}, 2},
		{nodeCase{name: "empty object and array", node: `{"type":"switch","property":"payload.o","rules":[{"t":"empty"},{"t":"nempty"}]}`,
			in: `{"payload":{"o":{}}}`, want: `{"topic":"","payload":{"o":{}}}|`}, 2},
		{nodeCase{name: "numbers are neither empty nor not", node: switchJSON("", `{"t":"empty"}`, `{"t":"nempty"}`),
			in: `{"payload":0}`, want: `|`}, 2},
		{nodeCase{name: "istype", node: switchJSON("",
			`{"t":"istype","v":"string","vt":"string"}`, `{"t":"istype","v":"number","vt":"number"}`, `{"t":"istype","v":"boolean","vt":"boolean"}`,
			`{"t":"istype","v":"array","vt":"array"}`, `{"t":"istype","v":"buffer","vt":"buffer"}`, `{"t":"istype","v":"object","vt":"object"}`,
			`{"t":"istype","v":"json","vt":"json"}`),
			in: `{"payload":"[1]"}`, want: `{"topic":"","payload":"[1]"}||||||{"topic":"","payload":"[1]"}`}, 7},
		{nodeCase{name: "istype of an array", node: switchJSON("",
			`{"t":"istype","v":"array","vt":"array"}`, `{"t":"istype","v":"object","vt":"object"}`, `{"t":"istype","v":"json","vt":"json"}`),
			in: `{"payload":[1]}`, want: `{"topic":"","payload":[1]}||{"topic":"","payload":[1]}`}, 3},
		{nodeCase{name: "hask", node: switchJSON("", `{"t":"hask","v":"a","vt":"str"}`, `{"t":"hask","v":"b","vt":"str"}`),
			in: `{"payload":{"a":null}}`, want: `{"topic":"","payload":{"a":null}}|`}, 2},
		{nodeCase{name: "else after a match and after no match", node: switchJSON("",
			`{"t":"eq","v":"1","vt":"num"}`, `{"t":"else"}`, `{"t":"eq","v":"2","vt":"num"}`, `{"t":"else"}`),
			in: `{"payload":2}`, want: `|{"topic":"","payload":2}|{"topic":"","payload":2}|`}, 4},
		{nodeCase{name: "checkall false stops at the first match", node: switchJSON(`"checkall":"false"`,
			`{"t":"gt","v":"1","vt":"num"}`, `{"t":"gt","v":"2","vt":"num"}`),
			in: `{"payload":3}`, want: `{"topic":"","payload":3}|`}, 2},
		{nodeCase{name: "checkall boolean false checks all, as in Node-RED", node: switchJSON(`"checkall":false`,
			`{"t":"gt","v":"1","vt":"num"}`, `{"t":"gt","v":"2","vt":"num"}`),
			in: `{"payload":3}`, want: `{"topic":"","payload":3}|{"topic":"","payload":3}`}, 2},
		{nodeCase{name: "values from msg, flow, global and env", node: switchJSON("",
			`{"t":"eq","v":"topic","vt":"msg"}`, `{"t":"lt","v":"limit","vt":"flow"}`, `{"t":"eq","v":"RUNNEL_SWITCH_TEST","vt":"env"}`, `{"t":"eq","v":"g","vt":"global"}`),
			flowIn: map[string]string{"limit": "10"},
			in:     `{"topic":"7","payload":7}`, want: `{"topic":"7","payload":7}|{"topic":"7","payload":7}|{"topic":"7","payload":7}|`}, 4},
		{nodeCase{name: "property from flow", node: `{"type":"switch","property":"#:(memory)::mode","propertyType":"flow","rules":[{"t":"eq","v":"auto","vt":"str"},{"t":"eq","v":"manual","vt":"str"}]}`,
			flowIn: map[string]string{"mode": `"manual"`}, in: `{"payload":1}`, want: `|{"topic":"","payload":1}`}, 2},
		{nodeCase{name: "property from env", node: `{"type":"switch","property":"RUNNEL_SWITCH_TEST","propertyType":"env","rules":[{"t":"eq","v":"7","vt":"num"}]}`,
			in: `{"payload":1}`, want: `{"topic":"","payload":1}`}, 1},
		{nodeCase{name: "value without a type is a number when it reads as one", node: switchJSON("", `{"t":"lt","v":"9"}`, `{"t":"lt","v":"x9"}`),
			in: `{"payload":"10"}`, want: `|{"topic":"","payload":"10"}`}, 2},
		{nodeCase{name: "a bad regular expression from the message is an error", node: switchJSON("", `{"t":"eq","v":"x","vt":"str"}`, `{"t":"regex","v":"topic","vt":"msg"}`),
			in: `{"topic":"(","payload":"x"}`, want: `|`, errs: `regular expression "(": missing closing ): ` + "`(`" + ` (Runnel uses Go's RE2 syntax: no lookaround or back-references)`}, 2},
		{nodeCase{name: "a sequence rule without parts is an error", node: switchJSON("", `{"t":"head","v":"1","vt":"num"}`),
			in: `{"payload":1}`, want: ``, errs: errNoParts.Error()}, 1},
		{nodeCase{name: "head and index with parts", node: switchJSON("", `{"t":"head","v":"2","vt":"num"}`, `{"t":"index","v":"1","vt":"num","v2":"3","v2t":"num"}`),
			in: `{"payload":1,"parts":{"count":5,"id":"a","index":1}}`, want: `{"topic":"","payload":1,"parts":{"count":5,"id":"a","index":1}}|{"topic":"","payload":1,"parts":{"count":5,"id":"a","index":1}}`}, 2},
		{nodeCase{name: "no rules", node: switchJSON(""), in: `{"payload":1}`, want: ``}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c.nodeCase, c.outputs, SwitchType) })
	}
}

// sendAll sends each message (JSON) through the flow's src and returns
// what each of the n sinks received, "|" between sinks.
func sendAll(t *testing.T, f *nodetest.Flow, n int, msgs ...string) string {
	t.Helper()
	for _, m := range msgs {
		f.Inject("src", inMsg(t, m))
	}
	var outs []string
	for i := 0; i < n; i++ {
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
	return strings.Join(outs, "|")
}

// prev is the property's value in the previous message, null at first.
func TestSwitchPrev(t *testing.T) {
	node := switchJSON("", `{"t":"eq","v":"","vt":"prev"}`, `{"t":"gt","v":"","vt":"prev"}`, `{"t":"btwn","v":"","vt":"prev","v2":"10","v2t":"num"}`)
	f := nodetest.New(t, nodetest.ChainJSON(t, node, 3), SwitchType)
	got := sendAll(t, f, 3, `{"payload":0}`, `{"payload":0}`, `{"payload":5}`, `{"payload":20}`)
	want := `{"topic":"","payload":0}|{"topic":"","payload":5} {"topic":"","payload":20}|{"topic":"","payload":0} {"topic":"","payload":0} {"topic":"","payload":5}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Messages from several sources at once: prev is read and written under
// one lock, so each message sees the one before it and none is lost.
func TestSwitchPrevConcurrent(t *testing.T) {
	node := switchJSON("", `{"t":"neq","v":"","vt":"prev"}`, `{"t":"eq","v":"","vt":"prev"}`)
	f := nodetest.New(t, nodetest.ChainJSON(t, node, 2), SwitchType)
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				f.Inject("src", engine.NewMessage("", float64(i%2)))
			}
		}()
	}
	wg.Wait()
	changed, same := len(f.Received("sink")), len(f.Received("sink1"))
	if changed+same != senders*each || changed == 0 {
		t.Errorf("changed %d + same %d, want %d in all", changed, same, senders*each)
	}
}

// Sequence rules with hand-made msg.parts (split makes them): tail holds
// a sequence until its count is known; repair renumbers each output's
// share as a sequence of its own.
func TestSwitchSequences(t *testing.T) {
	seq := func(id string, vals ...int) []string {
		var out []string
		for i, v := range vals {
			out = append(out, fmt.Sprintf(`{"payload":%d,"parts":{"id":"%s","index":%d,"count":%d}}`, v, id, i, len(vals)))
		}
		return out
	}
	t.Run("tail", func(t *testing.T) {
		f := nodetest.New(t, nodetest.ChainJSON(t, switchJSON("", `{"t":"tail","v":"2","vt":"num"}`), 1), SwitchType)
		got := sendAll(t, f, 1, seq("s", 10, 11, 12, 13)...)
		want := `{"topic":"","payload":12,"parts":{"count":4,"id":"s","index":2}} {"topic":"","payload":13,"parts":{"count":4,"id":"s","index":3}}`
		if got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("repair", func(t *testing.T) {
		f := nodetest.New(t, nodetest.ChainJSON(t, switchJSON(`"repair":true`, `{"t":"gt","v":"11","vt":"num"}`, `{"t":"else"}`), 2), SwitchType)
		for i, m := range seq("s", 10, 12, 11, 13) {
			f.Inject("src", inMsg(t, m))
			if n := len(f.Received("sink")) + len(f.Received("sink1")); i < 3 && n != 0 {
				t.Fatalf("sent %d messages before the sequence was complete", n)
			}
		}
		var ids [2]string
		for port, sink := range []string{"sink", "sink1"} {
			var vals []string
			for i, m := range f.Received(sink) {
				p, _ := m.Prop("parts")
				pm := engine.NewMessage("", p)
				id, _ := pm.Lookup(engine.MustParsePath("payload.id"))
				idx, _ := pm.Lookup(engine.MustParsePath("payload.index"))
				cnt, _ := pm.Lookup(engine.MustParsePath("payload.count"))
				if i == 0 {
					ids[port], _ = id.(string)
				}
				if idx != float64(i) || cnt != 2.0 || id == "s" || id != ids[port] || port == 1 && ids[1] == ids[0] {
					t.Errorf("%s message %d: parts %s", sink, i, engine.MarshalJSON(p))
				}
				vals = append(vals, engine.ToString(m.Payload))
			}
			want := map[string]string{"sink": "12 13", "sink1": "10 11"}[sink]
			if strings.Join(vals, " ") != want {
				t.Errorf("%s got %v, want %s", sink, vals, want)
			}
		}
	})
}

func TestSwitchJSONataAndExpr(t *testing.T) {
	for _, typ := range []string{"jsonata", "expr"} {
		t.Run(typ, func(t *testing.T) {
			if _, err := engine.ParseTyped(typ, "1"); err != nil {
				t.Skipf("%s is not available yet: %v", typ, err)
			}
			expr := map[string]string{"jsonata": "payload * 2", "expr": "msg.payload * 2"}[typ]
			test := map[string]string{"jsonata": "payload > 10", "expr": "msg.payload > 10"}[typ]
			node := `{"type":"switch","property":"` + expr + `","propertyType":"` + typ + `","rules":[{"t":"eq","v":"42","vt":"num"},{"t":"eq","v":"` + expr + `","vt":"` + typ + `"}]}`
			runCase(t, nodeCase{node: node, in: `{"payload":21}`, want: `{"topic":"","payload":21}|{"topic":"","payload":21}`}, 2, SwitchType)
			if typ == "jsonata" {
				node := switchJSON("", `{"t":"jsonata_exp","v":"`+test+`","vt":"jsonata"}`)
				runCase(t, nodeCase{node: node, in: `{"payload":21}`, want: `{"topic":"","payload":21}`}, 1, SwitchType)
			}
		})
	}
}

func TestSwitchDeployErrors(t *testing.T) {
	for _, c := range []struct{ node, want string }{
		{switchJSON("", `{"t":"eq","v":"1"}`, `{"t":"frob"}`), `field "rules[1].t": "frob" is not one of`},
		{switchJSON("", `{"t":"eq","v":"abc","vt":"num"}`), `field "rules[0].v": "abc" is not a number`},
		{switchJSON("", `{"t":"btwn","v":"1","vt":"num","v2":"x","v2t":"num"}`), `field "rules[0].v2": "x" is not a number`},
		{switchJSON("", `{"t":"regex","v":"(","vt":"str"}`), `field "rules[0].v": regular expression "("`},
		{switchJSON("", `{"t":"eq","v":"{","vt":"bin"}`), `field "rules[0].v": invalid buffer`},
		{`{"type":"switch","property":"x","propertyType":"str","rules":[]}`, `field "property": type "str" is not one of`},
		{`{"type":"switch","property":"a..b","propertyType":"msg","rules":[]}`, `field "property": invalid property path`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, c.node), nodetest.Options{}, SwitchType)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "n1") {
			t.Errorf("%s: deploy error %v, want one naming n1 and %s", c.node, err, c.want)
		}
	}
}

func BenchmarkSwitch5Rules(b *testing.B) {
	node := switchJSON("",
		`{"t":"eq","v":"off","vt":"str"}`, `{"t":"lt","v":"0","vt":"num"}`, `{"t":"btwn","v":"0","vt":"num","v2":"20","v2t":"num"}`,
		`{"t":"gt","v":"20","vt":"num"}`, `{"t":"else"}`)
	node = strings.Replace(node, `"property":"payload"`, `"property":"payload.t"`, 1)
	f := nodetest.New(b, nodetest.ChainJSON(b, node, 5), SwitchType)
	payload := engine.RawJSON(`{"t":21.5,"id":"a1"}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Inject("src", engine.NewMessage("sensors/a1", payload))
	}
	if len(f.Received("sink3")) != b.N {
		b.Fatalf("gt 20 got %d of %d", len(f.Received("sink3")), b.N)
	}
}

// A regex rule whose pattern comes from the message keeps only a bounded
// number of compiled patterns: 20,000 distinct topics must not leave
// 20,000 regular expressions behind (found in review).
func TestSwitchRegexCacheIsBounded(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"switch","property":"payload","rules":[{"t":"regex","v":"topic","vt":"msg"}]}`, SwitchType)
	for i := 0; i < 20000; i++ {
		f.Inject("src", engine.NewMessage(fmt.Sprintf("x%d", i), fmt.Sprintf("ax%dz", i)))
	}
	if got := len(f.Received("sink")); got != 20000 {
		t.Fatalf("%d of 20000 messages matched their own topic", got)
	}
	n := f.Runtime().Graph().Node("n1").(*switchNode)
	if got := n.reCache.len(); got > regexCacheMax {
		t.Fatalf("%d regular expressions cached, want at most %d", got, regexCacheMax)
	}
}

// A new switch node starts as Node-RED's does: one == rule against an empty
// string (its editor's defaults, rules [{t:"eq", v:"", vt:"str"}]).
func TestSwitchDefaultRule(t *testing.T) {
	for _, f := range SwitchType.Fields {
		if f.Name != "rules" {
			continue
		}
		if got := fmt.Sprintf("%s", f.Default); got != `[{"t":"eq","v":"","vt":"str"}]` {
			t.Fatalf("rules default %s", got)
		}
		return
	}
	t.Fatal("no rules field")
}
