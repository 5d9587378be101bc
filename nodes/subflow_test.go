package nodes_test

import (
	"context"
	"errors"
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
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := nodetest.New(t, tc.flow, subflowTypes()...)
			f.Inject("src", &engine.Message{Payload: "m"})
			for sink, want := range tc.sinks {
				got := payloads(f.WaitReceived(sink, len(want)))
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
