package nodes_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/nodes/common"
	"github.com/runnel-io/runnel/nodes/function"
)

// subflowTypes are the node types the subflow tests use besides
// test-source and test-sink.
func subflowTypes() []*engine.Type {
	return []*engine.Type{function.FunctionType, function.ChangeType, common.StatusType, common.CatchType}
}

// payloads returns the payloads of msgs as text.
func payloads(msgs []*engine.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = engine.ToString(m.Payload)
		if _, ok := m.Payload.(engine.RawJSON); ok {
			out[i] = string(engine.AppendJSON(nil, m.Payload))
		}
	}
	return out
}

// fn is a function node of the subflow tests.
func fn(id, z, body string, wires string) string {
	return `{"id":"` + id + `","type":"function","z":"` + z + `","func":` + jsonStr(body) + `,"outputs":1,"wires":` + wires + `}`
}

func jsonStr(s string) string {
	b := engine.AppendJSONString(nil, s)
	return string(b)
}

func TestSubflowExpansion(t *testing.T) {
	cases := []struct {
		name  string
		flow  string
		sinks map[string][]string // sink id: payloads after one message "m" from src
	}{{
		name: "input to a node to output 1, two instances",
		flow: `[
			{"id":"t1","type":"tab","label":"main"},
			{"id":"sf","type":"subflow","name":"Add","in":[{"x":1,"y":1,"wires":[{"id":"a"}]}],"out":[{"x":1,"y":1,"wires":[{"id":"a","port":0}]}],
			 "env":[{"name":"SUFFIX","type":"str","value":"-def"}]},
			` + fn("a", "sf", `msg.payload += env.get("SUFFIX") + "/" + env.get("NR_SUBFLOW_NAME") + "/" + env.get("NR_NODE_PATH"); return msg;`, `[[]]`) + `,
			{"id":"src","type":"test-source","z":"t1","wires":[["i1","i2"]]},
			{"id":"i1","type":"subflow:sf","z":"t1","name":"one","wires":[["k1"]]},
			{"id":"i2","type":"subflow:sf","z":"t1","env":[{"name":"SUFFIX","type":"str","value":"-inst"}],"wires":[["k2"]]},
			{"id":"k1","type":"test-sink","z":"t1"},
			{"id":"k2","type":"test-sink","z":"t1"}
		]`,
		sinks: map[string][]string{"k1": {"m-def/one/t1/i1/a"}, "k2": {"m-inst/undefined/t1/i2/a"}},
	}, {
		name: "nested: instance env over definition env over the enclosing instance's over the tab's",
		flow: `[
			{"id":"t1","type":"tab","label":"main","env":[{"name":"T","type":"str","value":"tab"},{"name":"A1","type":"str","value":"a-tab"}]},
			{"id":"A","type":"subflow","name":"Inner","in":[{"wires":[{"id":"fa"}]}],"out":[{"wires":[{"id":"fa","port":0}]}],
			 "env":[{"name":"A1","type":"str","value":"a-def"},{"name":"A2","type":"str","value":"a2-def"},{"name":"E","type":"env","value":"T"}]},
			` + fn("fa", "A", `msg.payload = [env.get("A1"), env.get("A2"), env.get("B1"), env.get("T"), env.get("E"), env.get("NR_SUBFLOW_ID"), env.get("NR_SUBFLOW_PATH"), env.get("NR_SUBFLOW_NAME"), env.get("NR_NODE_ID"), env.get("NR_NODE_PATH")].join(","); return msg;`, `[[]]`) + `,
			{"id":"B","type":"subflow","name":"Outer","in":[{"wires":[{"id":"ia"}]}],"out":[{"wires":[{"id":"ia","port":0}]}],
			 "env":[{"name":"B1","type":"str","value":"b-def"}]},
			{"id":"ia","type":"subflow:A","z":"B","name":"inner","env":[{"name":"A1","type":"str","value":"a-in-b"}],"wires":[[]]},
			{"id":"src","type":"test-source","z":"t1","wires":[["ib"]]},
			{"id":"ib","type":"subflow:B","z":"t1","env":[{"name":"B1","type":"str","value":"b-inst"}],"wires":[["k1"]]},
			{"id":"k1","type":"test-sink","z":"t1"}
		]`,
		sinks: map[string][]string{"k1": {"a-in-b,a2-def,b-inst,tab,tab,ib-ia,t1/ib/ia,inner,ib-ia-fa,t1/ib/ia/fa"}},
	}, {
		name: "input straight to output 1, a node to output 2, ${NAME} in a property, typed env values",
		flow: `[
			{"id":"t1","type":"tab"},
			{"id":"sf","type":"subflow","name":"Two","in":[{"wires":[{"id":"c"}]}],
			 "out":[{"wires":[{"id":"sf","port":0}]},{"wires":[{"id":"f","port":0}]}],
			 "env":[{"name":"N","type":"num","value":"42"},{"name":"J","type":"json","value":"{\"a\":[1,2]}"},{"name":"B","type":"bool","value":"true"},{"name":"S","type":"str","value":"from-env"}]},
			{"id":"c","type":"change","z":"sf","rules":[{"t":"set","p":"payload","pt":"msg","to":"N","tot":"env"},{"t":"set","p":"topic","pt":"msg","to":"${S}","tot":"str"},{"t":"set","p":"j","pt":"msg","to":"J","tot":"env"},{"t":"set","p":"b","pt":"msg","to":"B","tot":"env"}],"wires":[["f"]]},
			` + fn("f", "sf", `msg.payload = typeof msg.payload + ":" + msg.payload + ":" + JSON.stringify(msg.j) + ":" + msg.b + ":" + msg.topic; return msg;`, `[[]]`) + `,
			{"id":"src","type":"test-source","z":"t1","wires":[["i"]]},
			{"id":"i","type":"subflow:sf","z":"t1","wires":[["k1"],["k2"]]},
			{"id":"k1","type":"test-sink","z":"t1"},
			{"id":"k2","type":"test-sink","z":"t1"}
		]`,
		sinks: map[string][]string{"k1": {"m"}, "k2": {`number:42:{"a":[1,2]}:true:from-env`}},
	}, {
		name: "flow context is the instance's own; a status output sets the instance's status",
		flow: `[
			{"id":"t1","type":"tab"},
			{"id":"sf","type":"subflow","name":"Count","in":[{"wires":[{"id":"f"}]}],"out":[{"wires":[{"id":"f","port":0}]}],
			 "status":{"x":1,"y":1,"wires":[{"id":"f","port":1}]}},
			{"id":"f","type":"function","z":"sf","outputs":2,"func":"const n = (flow.get('n') || 0) + 1; flow.set('n', n); msg.payload = msg.payload + n; return [msg, {payload: 'seen ' + n}];","wires":[[],[]]},
			{"id":"src","type":"test-source","z":"t1","wires":[["i1","i2"]]},
			{"id":"src2","type":"test-source","z":"t1","wires":[["i1"]]},
			{"id":"i1","type":"subflow:sf","z":"t1","name":"first","wires":[["k1"]]},
			{"id":"i2","type":"subflow:sf","z":"t1","wires":[["k2"]]},
			{"id":"tabf","type":"function","z":"t1","func":"msg.payload = String(flow.get('n')); return msg;","outputs":1,"wires":[["k3"]]},
			{"id":"st","type":"status","z":"t1","scope":["i1"],"wires":[["ks"]]},
			{"id":"src3","type":"test-source","z":"t1","wires":[["tabf"]]},
			{"id":"k1","type":"test-sink","z":"t1"},
			{"id":"k2","type":"test-sink","z":"t1"},
			{"id":"k3","type":"test-sink","z":"t1"},
			{"id":"ks","type":"test-sink","z":"t1"}
		]`,
		sinks: map[string][]string{"k1": {"m1"}, "k2": {"m1"}, "ks": {`{"text":"seen 1","source":{"id":"i1","type":"subflow:sf","name":"first"}}`}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := nodetest.New(t, tc.flow, subflowTypes()...)
			f.Inject("src", &engine.Message{Payload: "m"})
			for sink, want := range tc.sinks {
				msgs := f.WaitReceived(sink, len(want))
				if sink == "ks" {
					for _, m := range msgs {
						m.Payload, _ = m.Prop("status")
					}
				}
				got := payloads(msgs)
				if !slices.Equal(got, want) {
					t.Errorf("sink %s got %q, want %q", sink, got, want)
				}
			}
		})
	}
}

var _ = context.Background
var _ = errors.New
var _ = strings.Contains
var _ = flows.Parse

const hotFlow = `[
	{"id":"t1","type":"tab"},
	{"id":"t2","type":"tab"},
	{"id":"sf","type":"subflow","name":"Count","in":[{"x":%d,"y":1,"wires":[{"id":"f"}]}],"out":[{"wires":[{"id":"f","port":0}]}],
	 "env":[{"name":"P","type":"str","value":"%s"}]},
	{"id":"f","type":"function","z":"sf","outputs":1,"x":%d,"initialize":"context.set('n', 0);","func":"const n = (context.get('n') || 0) + 1; context.set('n', n); msg.payload = env.get('P') + n; return msg;","wires":[[]]},
	{"id":"src","type":"test-source","z":"t1","wires":[["i1","i2"]]},
	{"id":"i1","type":"subflow:sf","z":"t1","env":[{"name":"P","type":"str","value":"%s"}],"wires":[["k1"]]},
	{"id":"i2","type":"subflow:sf","z":"t1","wires":[["k2"]]},
	{"id":"k1","type":"test-sink","z":"t1"},
	{"id":"k2","type":"test-sink","z":"t1"},
	{"id":"other","type":"test-sink","z":"t2","name":"%s"}
]`

// TestSubflowHotDeploy: a nodes or flows deploy keeps an unchanged
// instance's nodes running with their state; a changed instance, or any
// change to its definition (a position aside), replaces its nodes. A
// replaced node keeps its node context, as in Node-RED, so the function
// node inside counts from its On Start code, which a restart runs again.
func TestSubflowHotDeploy(t *testing.T) {
	doc := func(portX int, defP string, fX int, i1P, other string) *flows.Document {
		t.Helper()
		d, err := flows.Parse([]byte(fmt.Sprintf(hotFlow, portX, defP, fX, i1P, other)))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	f := nodetest.New(t, fmt.Sprintf(hotFlow, 1, "d", 1, "a", "x"), subflowTypes()...)
	rt := f.Runtime()
	step := 0
	run := func(want1, want2 string) {
		t.Helper()
		step++
		f.Inject("src", &engine.Message{Payload: "m"})
		got1 := payloads(f.WaitReceived("k1", step))
		got2 := payloads(f.WaitReceived("k2", step))
		if got1[step-1] != want1 || got2[step-1] != want2 {
			t.Fatalf("step %d: i1 sent %q, i2 sent %q; want %q, %q", step, got1[step-1], got2[step-1], want1, want2)
		}
	}
	deploy := func(typ engine.DeployType, d *flows.Document) *engine.Plan {
		t.Helper()
		p, err := rt.Plan(d, typ)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Apply(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run("a1", "d1")
	// Moving the subflow's port and node, changing another tab: nothing
	// of the instances restarts.
	p := deploy(engine.DeployNodes, doc(50, "d", 70, "a", "y"))
	if !slices.Equal(p.Replaced, []string{"other"}) {
		t.Fatalf("nodes deploy of moves replaced %q", p.Replaced)
	}
	run("a2", "d2")
	p = deploy(engine.DeployFlows, doc(50, "d", 70, "a", "z"))
	if !slices.Equal(p.Replaced, []string{"other"}) {
		t.Fatalf("flows deploy of another tab replaced %q", p.Replaced)
	}
	run("a3", "d3")
	// A changed instance restarts its own nodes only.
	p = deploy(engine.DeployNodes, doc(50, "d", 70, "A", "z"))
	if !slices.Equal(p.Replaced, []string{"i1", "i1-f"}) {
		t.Fatalf("nodes deploy of a changed instance replaced %q", p.Replaced)
	}
	run("A1", "d4")
	// A changed definition restarts every instance.
	p = deploy(engine.DeployNodes, doc(50, "D", 70, "A", "z"))
	if !slices.Equal(p.Replaced, []string{"i1", "i1-f", "i2", "i2-f"}) {
		t.Fatalf("nodes deploy of a changed definition replaced %q", p.Replaced)
	}
	run("A1", "D1")
	// GET /flows answers the document as deployed, not its expansion.
	if got := rt.Graph().Document(); got.Node("i1-f") != nil || got.Node("sf") == nil || got.Node("f") == nil {
		t.Fatal("the graph's document is not the document deployed")
	}
	// A flows deploy of the instances' tab restarts them.
	p = deploy(engine.DeployFlows, doc(50, "D", 70, "A", "z").Clone())
	if len(p.Replaced) != 0 {
		t.Fatalf("flows deploy of nothing replaced %q", p.Replaced)
	}
	d := doc(50, "D", 70, "A", "z")
	d.Node("k2").Set("name", []byte(`"k"`))
	p = deploy(engine.DeployFlows, d)
	if !slices.Contains(p.Replaced, "i1-f") || !slices.Contains(p.Replaced, "i2-f") {
		t.Fatalf("flows deploy of the instances' tab replaced %q", p.Replaced)
	}
}

// TestSubflowRejected: deploys that cannot run are refused, naming the
// instance and, for a node of the subflow, that node.
func TestSubflowRejected(t *testing.T) {
	chain := func(n int) string {
		var b strings.Builder
		b.WriteString(`[{"id":"t1","type":"tab"},{"id":"top","type":"subflow:s0","z":"t1","wires":[]}`)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, `,{"id":"s%d","type":"subflow","name":"S%d","in":[{"wires":[{"id":"n%d"}]}],"out":[]}`, i, i, i)
			if i+1 < n {
				fmt.Fprintf(&b, `,{"id":"n%d","type":"subflow:s%d","z":"s%d","wires":[]}`, i, i+1, i)
			}
		}
		return b.String() + "]"
	}
	// wide holds ten instances of the next level's subflow, six levels
	// down: a million nodes.
	wide := func() string {
		var b strings.Builder
		b.WriteString(`[{"id":"t1","type":"tab"},{"id":"top","type":"subflow:w0","z":"t1","wires":[]}`)
		for i := 0; i < 7; i++ {
			fmt.Fprintf(&b, `,{"id":"w%d","type":"subflow","in":[],"out":[]}`, i)
			for k := 0; k < 10; k++ {
				if i < 6 {
					fmt.Fprintf(&b, `,{"id":"w%d_%d","type":"subflow:w%d","z":"w%d","wires":[]}`, i, k, i+1, i)
				} else {
					fmt.Fprintf(&b, `,{"id":"w%d_%d","type":"test-sink","z":"w%d"}`, i, k, i)
				}
			}
		}
		return b.String() + "]"
	}
	cases := []struct {
		name, flow string
		want       []string // in the error, in order
	}{{
		name: "a million nodes once expanded",
		flow: wide(),
		want: []string{`the flows have more than 100000 nodes once subflow instances are expanded`},
	}, {
		name: "missing definition",
		flow: `[{"id":"t1","type":"tab"},{"id":"i","type":"subflow:nope","z":"t1","wires":[]}]`,
		want: []string{`node "i" (subflow:nope) field "type": no subflow definition with id "nope" in the flows`},
	}, {
		name: "missing definition of a nested instance",
		flow: `[{"id":"t1","type":"tab"},{"id":"sf","type":"subflow","name":"Outer","in":[],"out":[]},
			{"id":"n","type":"subflow:gone","z":"sf"},{"id":"i","type":"subflow:sf","z":"t1","wires":[]}]`,
		want: []string{`node "i" (subflow:sf) field "type": subflow instance "i-n": no subflow definition with id "gone"`},
	}, {
		name: "a subflow holding an instance of itself",
		flow: `[{"id":"t1","type":"tab"},{"id":"sf","type":"subflow","name":"Loop","in":[],"out":[]},
			{"id":"n","type":"subflow:sf","z":"sf"},{"id":"i","type":"subflow:sf","z":"t1","wires":[]}]`,
		want: []string{`node "i" (subflow:sf) field "type": subflow instance "i-n": subflow "Loop" contains an instance of itself: "Loop" -> "Loop"`},
	}, {
		name: "a cycle through three subflows",
		flow: `[{"id":"t1","type":"tab"},
			{"id":"a","type":"subflow","name":"A","in":[],"out":[]},{"id":"na","type":"subflow:b","z":"a"},
			{"id":"b","type":"subflow","name":"B","in":[],"out":[]},{"id":"nb","type":"subflow:c","z":"b"},
			{"id":"c","type":"subflow","name":"C","in":[],"out":[]},{"id":"nc","type":"subflow:a","z":"c"},
			{"id":"i","type":"subflow:a","z":"t1","wires":[]}]`,
		want: []string{`subflow instance "i-na-nb-nc": subflow "A" contains an instance of itself: "A" -> "B" -> "C" -> "A"`},
	}, {
		name: "1000 nested levels",
		flow: chain(1000),
		want: []string{`node "top" (subflow:s0) field "type": subflow instance "top-n0-n1-n2-n3-n4-n5-n6-n7-n8-n9-n10-n11-n12-n13-n14-n15-n16-n17-n18-n19-n20-n21-n22-n23-n24-n25-n26-n27-n28-n29-n30-n31": subflow instances nest more than 32 levels deep`},
	}, {
		name: "a bad node inside",
		flow: `[{"id":"t1","type":"tab"},{"id":"sf","type":"subflow","name":"Bad","in":[{"wires":[{"id":"f"}]}],"out":[]},
			{"id":"f","type":"function","z":"sf","func":"return msg;;; }","outputs":1,"wires":[[]]},
			{"id":"i","type":"subflow:sf","z":"t1","wires":[]}]`,
		want: []string{`node "i" (subflow:sf): node "f" of subflow "Bad" in instance "i" (function), field "func": `},
	}, {
		name: "a bad node two levels down",
		flow: `[{"id":"t1","type":"tab"},{"id":"sf","type":"subflow","name":"Bad","in":[{"wires":[{"id":"f"}]}],"out":[]},
			{"id":"f","type":"function","z":"sf","func":"return msg;;; }","outputs":1,"wires":[[]]},
			{"id":"o","type":"subflow","name":"Outer","in":[],"out":[]},{"id":"n","type":"subflow:sf","z":"o"},
			{"id":"i","type":"subflow:o","z":"t1","wires":[]}]`,
		want: []string{`node "i" (subflow:o): node "f" of subflow "Bad" in instance "i-n" of subflow "Outer" in instance "i" (function), field "func": `},
	}, {
		name: "a derived id taken",
		flow: `[{"id":"t1","type":"tab"},{"id":"sf","type":"subflow","name":"S","in":[],"out":[]},
			{"id":"f","type":"function","z":"sf","func":"return msg;","outputs":1,"wires":[[]]},
			{"id":"i","type":"subflow:sf","z":"t1","wires":[]},{"id":"i-f","type":"test-sink","z":"t1"}]`,
		want: []string{`node "i" (subflow:sf): the id "i-f" that Node-RED gives node "f" of subflow "S" in this instance is already used by another node`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nodetest.Deploy(t, tc.flow, nodetest.Options{}, subflowTypes()...)
			var probs flows.Problems
			if !errors.As(err, &probs) {
				t.Fatalf("deploy: %v; want problems", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say\n%s", err, w)
				}
			}
		})
	}
}

// TestSubflowOddInput: what deploys with a warning or runs as Node-RED
// does: extra instance wires, empty and huge env names, a definition with
// no input, an unknown node in the subflow's output wires.
func TestSubflowOddInput(t *testing.T) {
	huge := strings.Repeat("N", 100000)
	flow := `[{"id":"t1","type":"tab"},
		{"id":"sf","type":"subflow","name":"S","in":[{"wires":[{"id":"f"},{"id":"ghost"}]}],"out":[{"wires":[{"id":"f","port":0},{"id":"ghost","port":0}]}],
		 "env":[{"name":"","type":"str","value":"empty"},{"name":"` + huge + `","type":"str","value":"huge"}]},
		` + fn("f", "sf", `msg.payload = env.get("") + "," + env.get("`+huge+`"); return msg;`, `[[]]`) + `,
		{"id":"none","type":"subflow","name":"NoInput","in":[],"out":[]},
		{"id":"src","type":"test-source","z":"t1","wires":[["i","j"]]},
		{"id":"i","type":"subflow:sf","z":"t1","wires":[["k"],["k"]]},
		{"id":"j","type":"subflow:none","z":"t1","wires":[["k"]]},
		{"id":"k","type":"test-sink","z":"t1"}]`
	f := nodetest.New(t, flow, subflowTypes()...)
	f.Inject("src", &engine.Message{Payload: "m"})
	if got := payloads(f.WaitReceived("k", 1)); !slices.Equal(got, []string{"empty,huge"}) {
		t.Fatalf("got %q", got)
	}
	var ws []string
	for _, w := range f.Runtime().Graph().Warnings() {
		ws = append(ws, w.String())
	}
	want := []string{
		`line 7: node "i" (subflow:sf) field "in": the subflow's input is wired to "ghost", which is not in it: the wire is dropped`,
		`line 7: node "i" (subflow:sf) field "wires": wired from output 2 but subflow "S" has 1 output(s): the wire is dropped`,
		`line 7: node "i" (subflow:sf) field "out": the subflow's output 1 is wired from "ghost", which is not in it: the wire is dropped`,
		`line 8: node "j" (subflow:none) field "wires": wired from output 1 but subflow "NoInput" has 0 output(s): the wire is dropped`,
	}
	if strings.Join(ws, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(ws, "\n"), strings.Join(want, "\n"))
	}
}

// parentFlow is the flow of the "$parent." context tests: a tab whose
// function sets x and passes the message to an instance of Outer, which
// holds an instance of Inner; Inner reads and writes the flow contexts
// above it with "$parent." keys (a function and a change node), Outer and
// the tab read what it wrote.
const parentFlow = `[
	{"id":"t1","type":"tab","label":"main"},
	{"id":"A","type":"subflow","name":"Inner","in":[{"wires":[{"id":"fa"}]}],"out":[{"wires":[{"id":"ca","port":0}]}]},
	` + `{"id":"fa","type":"function","z":"A","outputs":1,"wires":[["ca"]],"func":` + "%s" + `},
	{"id":"ca","type":"change","z":"A","rules":[{"t":"set","p":"$parent.$parent.q","pt":"flow","to":"changed","tot":"str"},{"t":"set","p":"fromB","pt":"msg","to":"$parent.b","tot":"flow"}],"wires":[[]]},
	{"id":"B","type":"subflow","name":"Outer","in":[{"wires":[{"id":"fb0"}]}],"out":[{"wires":[{"id":"fb","port":0}]}]},
	` + `{"id":"fb0","type":"function","z":"B","outputs":1,"wires":[["ia"]],"func":"flow.set('b', 'outer-b'); return msg;"},
	{"id":"ia","type":"subflow:A","z":"B","wires":[["fb"]]},
	` + `{"id":"fb","type":"function","z":"B","outputs":1,"wires":[[]],"func":"msg.payload += '|' + flow.get('y') + '|' + String(flow.get('own')) + '|' + msg.fromB; return msg;"},
	{"id":"src","type":"test-source","z":"t1","wires":[["tabset"]]},
	` + `{"id":"tabset","type":"function","z":"t1","outputs":1,"wires":[["ib"]],"func":"flow.set('x', 'tab-x'); flow.set('$parent.z', 1); msg.payload = String(flow.get('$parent.x')); return msg;"},
	{"id":"ib","type":"subflow:B","z":"t1","wires":[["tabget"]]},
	` + `{"id":"tabget","type":"function","z":"t1","outputs":1,"wires":[["k1"]],"func":"msg.payload += '|' + flow.get('seen') + '|' + String(flow.get('z')) + '|' + String(flow.get('y')) + '|' + flow.get('q'); return msg;"},
	{"id":"k1","type":"test-sink","z":"t1"}
]`

// TestSubflowParentContext: inside a subflow, flow context keys starting
// "$parent." name the flow context of the flow around the instance (the
// tab, or the instance of an enclosing subflow), "$parent.$parent." the
// one around that, as in Node-RED; on a tab, and for "$parent" alone,
// there is nothing: reads are undefined and writes are dropped.
func TestSubflowParentContext(t *testing.T) {
	inner := `msg.payload += ':' + [String(flow.get('$parent.x')), flow.get('$parent.$parent.x'), String(flow.get('$parent')), String(flow.get('$parent.$parent.$parent.x'))].join(',');
flow.set('$parent.y', 'from-inner'); flow.set('$parent.$parent.seen', 'yes'); flow.set('own', 'inner'); flow.set('$parent', 'ignored');
return msg;`
	f := nodetest.New(t, fmt.Sprintf(parentFlow, jsonStr(inner)), subflowTypes()...)
	f.Inject("src", &engine.Message{Payload: "m"})
	got := payloads(f.WaitReceived("k1", 1))
	want := []string{"undefined:undefined,tab-x,undefined,undefined|from-inner|undefined|outer-b|yes|undefined|undefined|changed"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
