package function

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/nodes/parser"
)

// fstep is one input message of a filter test.
type fstep struct {
	topic   string
	payload any // nil: no payload
	props   map[string]any
}

func pl(v any) fstep                { return fstep{payload: v} }
func tp(topic string, v any) fstep  { return fstep{topic: topic, payload: v} }
func pr(props map[string]any) fstep { return fstep{props: props} }
func rj(s string) engine.RawJSON    { return engine.RawJSON(s) }

// runFilter deploys a filter-on-change node with the given properties,
// sends steps and returns the indexes of the steps that came out, and the
// warnings logged.
func runFilter(t *testing.T, cfg string, steps []fstep) (sent []int, warns []nodetest.LogRecord) {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	c["type"] = "filter-on-change"
	cb, _ := json.Marshal(c)
	f := nodetest.Chain(t, string(cb), FilterType)
	for i, s := range steps {
		m := engine.NewMessage(s.topic, s.payload)
		for k, v := range s.props {
			m.SetProp(k, v)
		}
		m.SetProp("_step", float64(i))
		f.Inject("src", m)
	}
	sent = []int{}
	for _, m := range f.Received("sink") {
		v, _ := m.Prop("_step")
		sent = append(sent, int(v.(float64)))
	}
	if errs := f.Errors(); len(errs) > 0 {
		t.Errorf("node errors: %v", errs[0].Err)
	}
	return sent, f.Logged(slog.LevelWarn)
}

func TestFilterOnChange(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string
		steps []fstep
		want  []int
		warns int
	}{
		// From Node-RED's rbe_spec.js.
		{
			name: "rbe multiple topics", cfg: `{"func":"rbe","gap":"0"}`,
			steps: []fstep{
				pl("a"), pl("a"), pl("a"), pl(2.0), pl(2.0),
				pl(rj(`{"b":1,"c":2}`)), pl(rj(`{"c":2,"b":1}`)), pl(rj(`{"c":2,"b":1}`)),
				pl(true), pl(false), pl(false), pl(true),
				tp("a", 1.0), tp("b", 1.0), tp("b", 1.0), tp("a", 1.0), tp("c", 1.0),
			},
			want: []int{0, 3, 5, 8, 9, 11, 12, 13, 16},
		},
		{
			name: "rbe septopics false", cfg: `{"func":"rbe","gap":"0","septopics":false}`,
			steps: []fstep{
				tp("a", "a"), tp("b", "a"), tp("c", "a"), tp("a", 2.0), tp("b", 2.0),
				pl(rj(`{"b":1,"c":2}`)), pl(rj(`{"c":2,"b":1}`)), pl(rj(`{"c":2,"b":1}`)),
				tp("a", true), tp("b", false), tp("c", false), tp("d", true),
				tp("a", 1.0), tp("b", 1.0), tp("c", 1.0), tp("d", 1.0), tp("a", 2.0),
			},
			want: []int{0, 3, 5, 8, 9, 11, 12, 16},
		},
		{
			name: "rbe another property", cfg: `{"func":"rbe","property":"foo"}`,
			steps: []fstep{
				pr(map[string]any{"foo": "a"}), pl("a"), pr(map[string]any{"foo": "a"}), pl("a"),
				pr(map[string]any{"foo": "a"}), pr(map[string]any{"foo": "b"}),
				pr(map[string]any{"foo": rj(`{"b":1,"c":2}`)}), pr(map[string]any{"foo": map[string]any{"c": 2.0, "b": 1.0}}),
				pl(rj(`{"c":2,"b":1}`)),
			},
			want: []int{0, 5, 6},
		},
		{
			name: "rbei ignores the first value per topic", cfg: `{"func":"rbei"}`,
			steps: []fstep{
				tp("a", "a"), tp("b", "a"), tp("a", "a"), tp("a", "b"), tp("b", "b"), tp("a", "c"), tp("b", "c"),
			},
			want: []int{3, 4, 5, 6},
		},
		{
			name: "reset per topic and all", cfg: `{"func":"rbe","gap":"0"}`,
			steps: []fstep{
				tp("a", "a"), tp("a", "a"), tp("b", "b"),
				pr(map[string]any{"reset": true}), // all
				tp("a", "a"), tp("b", "b"), tp("b", "b"),
				{topic: "b", props: map[string]any{"reset": ""}}, // only b; any value counts
				tp("b", "b"), tp("a", "a"),
				pr(map[string]any{"reset": ""}), // all
				tp("b", "b"), tp("a", "a"),
				{topic: "c"}, // no payload, no reset: nothing
				tp("b", "b"), tp("a", "a"), tp("c", "c"),
			},
			want: []int{0, 2, 4, 5, 8, 11, 12, 16},
		},
		{
			// Node-RED handles the message after the reset: a reset that
			// carries a payload is compared with the cleared state.
			name: "reset with a payload is passed", cfg: `{"func":"rbe"}`,
			steps: []fstep{
				tp("a", 1.0),
				{topic: "a", payload: 1.0, props: map[string]any{"reset": true}},
				tp("a", 1.0),
				{topic: "a", payload: 1.0, props: map[string]any{"reset": nil}},
			},
			want: []int{0, 1, 3},
		},
		{
			// The reset deletes the state of msg.topic even when topi names
			// another property; without a topi value it clears everything.
			name: "reset keys by msg.topic, not topi", cfg: `{"func":"rbe","topi":"device"}`,
			steps: []fstep{
				{topic: "t1", payload: 1.0, props: map[string]any{"device": "d1"}},
				{topic: "t1", payload: 1.0, props: map[string]any{"device": "d1"}},
				{topic: "t1", props: map[string]any{"device": "d1", "reset": true}}, // deletes "t1"
				{topic: "t1", payload: 1.0, props: map[string]any{"device": "d1"}},
				{topic: "d1", props: map[string]any{"device": "d1", "reset": true}}, // deletes "d1"
				{topic: "t1", payload: 1.0, props: map[string]any{"device": "d1"}},
				{payload: 1.0, props: map[string]any{"device": "d2"}},
				{topic: "x", props: map[string]any{"reset": true}}, // no device: clears all
				{payload: 1.0, props: map[string]any{"device": "d1"}},
				{payload: 1.0, props: map[string]any{"device": "d2"}},
			},
			want: []int{0, 5, 6, 8, 9},
		},
		{
			name: "reset ignores topics when septopics is off", cfg: `{"func":"rbe","septopics":false}`,
			steps: []fstep{
				tp("a", 1.0), tp("b", 1.0),
				{topic: "zzz", props: map[string]any{"reset": true}}, // clears all
				tp("b", 1.0),
			},
			want: []int{0, 3},
		},
		{
			name: "rbe strings numbers and booleans differ", cfg: `{"func":"rbe"}`,
			steps: []fstep{
				pl("21.5"), pl(21.5), pl(21.5), pl("21.5"), pl("21.5"),
				pl(true), pl("true"), pl(1.0), pl(true), pl(1), pl(int64(1)), pl(float32(1)), pl("1"), pl(0.0), pl(false), pl(""),
				pl(uint8(0)), pl(int32(0)), pl(-0.0),
			},
			want: []int{0, 1, 3, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16},
		},
		{
			name: "rbe objects arrays and buffers", cfg: `{"func":"rbe"}`,
			steps: []fstep{
				pl(rj(`{}`)), // 0: previous becomes {} first, so {} is no change
				pl(rj(`{}`)),
				pl(rj(`{"a":1}`)),
				pl(map[string]any{"a": 1.0}),
				pl(map[string]any{"a": 1}),
				pl(rj(`[]`)), // 5: an array is not an object
				pl([]any{}),
				pl(5.0),
				pl(rj(`{}`)), // 8: after a number, {} again equals the fresh {}
				pl(rj(`[1,2]`)),
				pl(rj(`[2,1]`)), // 10
				pl(rj(` [2, 1] `)),
				pl([]byte("ab")), // 12: a buffer is not an array
				pl([]byte("ab")),
				pl([]byte("ac")),
				pl("ac"), // 15
				pl(rj(`{"a":{"b":[1,{"c":null}]}}`)),
				pl(map[string]any{"a": map[string]any{"b": []any{1.0, map[string]any{"c": nil}}}}),
				pl(rj(`{"a":{"b":[1,{"c":false}]}}`)),
				pl(rj(`{"a":1,"b":2}`)),
				pl(rj(`{"a":1,"c":2}`)), // 20: same size, other keys
				pl(rj(`{"1":2}`)),
				pl(rj(`[2]`)),
				pl(rj(`[{"1":2}]`)),
				pl(rj(`[{"1":2.0}]`)),
			},
			want: []int{2, 5, 7, 9, 10, 12, 14, 15, 16, 18, 19, 20, 21, 22, 23},
		},
		{
			name: "rbei objects", cfg: `{"func":"rbei"}`,
			steps: []fstep{
				pl(rj(`{}`)), pl(rj(`{}`)), pl(rj(`{"a":1}`)),
				tp("a", 5.0), tp("a", 5.0), tp("a", 6.0),
				tp("b", rj(`{"x":1}`)), tp("b", rj(`{"x":1}`)), tp("b", rj(`{"x":2}`)),
			},
			want: []int{2, 5, 8},
		},
		{
			name: "rbe null in a nested property", cfg: `{"func":"rbe","property":"payload.v"}`,
			steps: []fstep{
				pl(rj(`{"v":null}`)), pl(rj(`{"v":null}`)), pl(rj(`{"v":0}`)), pl(rj(`{}`)), pl(rj(`{"v":null}`)),
				pl(map[string]any{"v": nil}), pl(map[string]any{"v": 0.0}), pl(map[string]any{"w": 1.0}), pl(map[string]any{"v": nil}),
			},
			want: []int{0, 2, 4, 6, 8},
		},
		{
			name: "missing property is dropped", cfg: `{"func":"rbe","property":"payload.temperature"}`,
			steps: []fstep{
				pl(rj(`{"humidity":1}`)), pl("x"), {topic: "t"}, pl(rj(`[1,2]`)),
				pl(rj(`{"temperature":20}`)), pl(rj(`{"temperature":20,"h":1}`)),
				pl(map[string]any{"temperature": 21.0}), pl(rj(`{"temperature":"21"}`)),
			},
			want: []int{4, 6, 7},
		},
		{
			name: "rbe nested paths with brackets", cfg: `{"func":"rbe","property":"payload.r[1][\"a b\"]"}`,
			steps: []fstep{
				pl(rj(`{"r":[0,{"a b":1}]}`)), pl(rj(`{"r":[5,{"a b":1}]}`)), pl(rj(`{"r":[5,{"a b":2}]}`)),
				pl(map[string]any{"r": []any{0.0, map[string]any{"a b": 2.0}}}),
				pl(rj(`{"r":[0]}`)),
			},
			want: []int{0, 2},
		},
		{
			name: "topi set to another property", cfg: `{"func":"rbe","property":"payload.temp","topi":"payload.sensor"}`,
			steps: []fstep{
				pl(rj(`{"sensor":"s1","temp":1}`)), pl(rj(`{"sensor":"s2","temp":1}`)),
				pl(rj(`{"sensor":"s1","temp":1}`)), pl(rj(`{"sensor":"s1","temp":2}`)),
				pl(rj(`{"temp":2}`)),                      // 4: no sensor: _no_topic
				pl(rj(`{"sensor":"","temp":2}`)),          // falsy: _no_topic
				pl(rj(`{"sensor":0,"temp":2}`)),           // falsy: _no_topic
				pl(rj(`{"sensor":"_no_topic","temp":2}`)), // the same key
				pl(rj(`{"sensor":5,"temp":1}`)),           // 8: key "5"
				pl(rj(`{"sensor":"5","temp":1}`)),         // the same key
				pl(rj(`{"sensor":[5],"temp":1}`)),         // String([5]) is "5" too
				pl(rj(`{"sensor":{"x":1},"temp":1}`)),     // 11: "[object Object]"
				pl(rj(`{"sensor":{"y":2},"temp":1}`)),     // the same key
				pl(rj(`{"sensor":true,"temp":1}`)),        // 13: "true"
				pl(rj(`{"sensor":"true","temp":1}`)),      // the same key
				tp("s1", rj(`{"sensor":"s1","temp":2}`)),  // msg.topic is not the key
			},
			want: []int{0, 1, 3, 4, 8, 11, 13},
		},

		// deadband and narrowband, from Node-RED's rbe_spec.js.
		{
			name: "deadbandEq", cfg: `{"func":"deadbandEq","gap":"10","inout":"out"}`,
			steps: []fstep{pl(0.0), pl(2.0), pl(4.0), pl(6.0), pl(8.0), pl(10.0), pl(15.0), pl(20.0)},
			want:  []int{0, 5, 7},
		},
		{
			name: "deadband", cfg: `{"func":"deadband","gap":"10"}`,
			steps: []fstep{pl(0.0), pl(2.0), pl(4.0), pl("6 deg"), pl(8.0), pl(20.0), pl(15.0), pl("5 deg")},
			want:  []int{0, 5, 7},
		},
		{
			name: "deadband percent", cfg: `{"func":"deadband","gap":"10%"}`,
			steps: []fstep{pl(100.0), pl(95.0), pl(105.0), pl(111.0), pl(120.0), pl(135.0)},
			want:  []int{0, 3, 5},
		},
		{
			name: "narrowbandEq with start", cfg: `{"func":"narrowbandEq","gap":"10","inout":"out","start":"1"}`,
			steps: []fstep{pl(100.0), pl(0.0), pl(10.0), pl(5.0), pl(15.0), pl(10.0), pl(20.0), pl(25.0)},
			want:  []int{1, 3, 5},
		},
		{
			name: "narrowband", cfg: `{"func":"narrowband","gap":"10"}`,
			steps: []fstep{pl(0.0), pl(20.0), pl(40.0), pl("6 deg"), pl(18.0), pl(20.0), pl(50.0), pl("5 deg")},
			want:  []int{0, 3, 7},
		},
		{
			name: "narrowband gap 0 sends unchanged values", cfg: `{"func":"narrowband","gap":"0"}`,
			steps: []fstep{pl(1.0), pl(1.0), pl(1.0), pl(1.0), pl(0.0), pl(1.0)},
			want:  []int{0, 1, 2, 3, 5},
		},
		{
			name: "narrowband in mode with start", cfg: `{"func":"narrowband","gap":"10","inout":"in","start":"500"}`,
			steps: []fstep{pl(50.0), pl(55.0), pl(200.0), pl(205.0)},
			want:  []int{1, 3},
		},

		// Further odd cases, worked out from rbe.js.
		{
			name: "no number found", cfg: `{"func":"deadband","gap":"10"}`,
			steps: []fstep{
				pl("banana"), pl(true), pl(rj(`{"a":1}`)),
				pl(rj(`["7",3]`)), // 3: parseFloat(["7",3]) is 7
				pl(" 12abc"),
				pl([]byte("30")), // 5: a buffer's text
				pl(rj(`[[40]]`)),
				pl(rj(`[]`)), pl(rj(`[null]`)), pl("-"), pl(rj(`{"v":1}`)),
				pl([]any{"50 C"}), // 11
				pl(".5e2"),
			},
			want:  []int{3, 5, 11},
			warns: 7,
		},
		{
			name: "no number found in a nested property", cfg: `{"func":"narrowband","gap":"1","property":"payload.t"}`,
			steps: []fstep{pl(rj(`{"t":"x"}`)), pl(rj(`{"t":null}`)), pl(rj(`{"u":1}`)), pl(rj(`{"t":"2.5"}`)), pl(rj(`{"t":3}`))},
			want:  []int{3, 4},
			warns: 2,
		},
		{
			name: "narrowbandEq starts from the first value", cfg: `{"func":"narrowbandEq","gap":"10"}`,
			steps: []fstep{pl(5.0), pl(14.0), pl(25.0), pl(16.0)},
			want:  []int{0, 1, 3},
		},
		{
			name: "narrowbandEq empty gap never sends", cfg: `{"func":"narrowbandEq"}`,
			steps: []fstep{pl(5.0), pl(5.0), pl(6.0)},
			want:  []int{},
		},
		{
			name: "deadband empty gap sends changes", cfg: `{"func":"deadband","gap":""}`,
			steps: []fstep{pl(5.0), pl(5.0), pl(6.0), pl(6.0), pl(5.0), pl("5")},
			want:  []int{0, 2, 4},
		},
		{
			name: "deadband Go integer payloads", cfg: `{"func":"deadband","gap":"2"}`,
			steps: []fstep{pl(5), pl(int64(6)), pl(uint16(8)), pl(float32(8.5))},
			want:  []int{0, 2},
		},
		{
			name: "deadbandEq empty gap sends everything", cfg: `{"func":"deadbandEq"}`,
			steps: []fstep{pl(5.0), pl(5.0), pl(6.0)},
			want:  []int{0, 1, 2},
		},
		{
			name: "deadband out compares with the last sent", cfg: `{"func":"deadband","gap":"10","inout":"out"}`,
			steps: []fstep{pl(0.0), pl(6.0), pl(12.0), pl(18.0), pl(23.0)},
			want:  []int{0, 2, 4},
		},
		{
			name: "deadband in compares with the last received", cfg: `{"func":"deadband","gap":"10","inout":"in"}`,
			steps: []fstep{pl(0.0), pl(6.0), pl(12.0), pl(18.0), pl(30.0)},
			want:  []int{0, 4},
		},
		{
			name: "narrowband percent with start", cfg: `{"func":"narrowband","gap":"10%","start":"100"}`,
			steps: []fstep{pl(95.0), pl(120.0), pl(100.0), pl(110.0)},
			want:  []int{0, 2, 3},
		},
		{
			name: "narrowbandEq percent with start", cfg: `{"func":"narrowbandEq","gap":"10%","start":"100"}`,
			steps: []fstep{pl(95.0), pl(120.0), pl(100.0), pl(110.0)},
			want:  []int{0, 2},
		},
		{
			name: "deadband percent of zero", cfg: `{"func":"deadband","gap":"10%"}`,
			steps: []fstep{pl(0.0), pl(0.0), pl(0.5), pl(0.52), pl(0.56)},
			want:  []int{0, 2, 4},
		},
		{
			name: "deadband per topic", cfg: `{"func":"deadband","gap":"10"}`,
			steps: []fstep{tp("a", 0.0), tp("b", 0.0), tp("a", 5.0), tp("b", 20.0), tp("a", 20.0)},
			want:  []int{0, 1, 3, 4},
		},
		{
			name: "deadband one state without septopics", cfg: `{"func":"deadband","gap":"10","septopics":false}`,
			steps: []fstep{tp("a", 0.0), tp("b", 0.0), tp("a", 5.0), tp("b", 20.0), tp("a", 20.0)},
			want:  []int{0, 3},
		},
		{
			name: "deadbandEq floating point", cfg: `{"func":"deadbandEq","gap":"0.1"}`,
			steps: []fstep{pl(0.1), pl(0.2), pl(0.3)}, // |0.3-0.2| < 0.1 in float64, as in JavaScript
			want:  []int{0, 1},
		},
		{
			name: "deadband reset", cfg: `{"func":"deadband","gap":"10"}`,
			steps: []fstep{tp("a", 0.0), tp("a", 5.0), {topic: "a", props: map[string]any{"reset": true}}, tp("a", 5.0)},
			want:  []int{0, 3},
		},
		{
			name: "narrowband band state after reset uses start", cfg: `{"func":"narrowband","gap":"5","start":"20"}`,
			steps: []fstep{pl(22.0), pl(30.0), pl(24.0), pr(map[string]any{"reset": 1.0}), pl(24.0), pl(28.0)},
			want:  []int{0, 2, 4, 5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent, warns := runFilter(t, tc.cfg, tc.steps)
			if !slices.Equal(sent, tc.want) {
				t.Errorf("sent steps %v, want %v", sent, tc.want)
			}
			if len(warns) != tc.warns {
				t.Errorf("%d warnings (%s), want %d", len(warns), nodetest.LogMessages(warns), tc.warns)
			}
			for _, w := range warns {
				if w.Msg != "no number found in payload" || w.Node != "n1" {
					t.Errorf("warning %+v", w)
				}
			}
		})
	}
}

// TestFilterNodeREDExport deploys json and rbe nodes as Node-RED exports
// them, including an rbe node from before property, topi, septopics and
// inout existed.
func TestFilterNodeREDExport(t *testing.T) {
	f := nodetest.New(t, `[
		{"id":"tab1","type":"tab","label":"Flow 1","disabled":false,"info":""},
		{"id":"src","type":"test-source","z":"tab1","wires":[["j1"]]},
		{"id":"j1","type":"json","z":"tab1","name":"","property":"payload","action":"","pretty":false,"x":330,"y":200,"wires":[["f1","f2"]]},
		{"id":"f1","type":"rbe","z":"tab1","name":"","func":"deadband","gap":"5%","start":"","inout":"out","septopics":true,"property":"payload.t","topi":"topic","x":530,"y":200,"wires":[["sink1"]]},
		{"id":"f2","type":"rbe","z":"tab1","name":"old","func":"rbei","gap":"","start":"","x":530,"y":260,"wires":[["sink2"]]},
		{"id":"sink1","type":"test-sink","z":"tab1","wires":[]},
		{"id":"sink2","type":"test-sink","z":"tab1","wires":[]}
	]`, FilterType, parser.JSONType)
	for _, p := range []string{`{"t":100}`, `{"t":104}`, `{"t":106}`, `{"t":106}`, `{"t":100}`} {
		f.Inject("src", engine.NewMessage("a", p))
	}
	var got1, got2 []string
	for _, m := range f.Received("sink1") {
		got1 = append(got1, string(engine.MarshalJSON(m.Payload)))
	}
	for _, m := range f.Received("sink2") {
		got2 = append(got2, string(engine.MarshalJSON(m.Payload)))
	}
	if want := []string{`{"t":100}`, `{"t":106}`, `{"t":100}`}; !slices.Equal(got1, want) {
		t.Errorf("deadband 5%%: %v, want %v", got1, want)
	}
	if want := []string{`{"t":104}`, `{"t":106}`, `{"t":100}`}; !slices.Equal(got2, want) {
		t.Errorf("rbei: %v, want %v", got2, want)
	}
}

// TestFilterPassesMessageUnchanged checks that the message sent is the
// message received.
func TestFilterPassesMessageUnchanged(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"filter-on-change","property":"payload.t"}`, FilterType)
	m := engine.NewMessage("room", rj(`{"t":21.5,"h":40}`))
	m.SetProp("extra", "x")
	id := m.ID()
	f.Inject("src", m)
	got := f.Received("sink")
	if len(got) != 1 {
		t.Fatalf("got %d messages", len(got))
	}
	g := got[0]
	if g.ID() != id || g.Topic != "room" || string(engine.MarshalJSON(g.Payload)) != `{"t":21.5,"h":40}` {
		t.Errorf("got %s", g.AppendJSON(nil))
	}
	if v, _ := g.Prop("extra"); v != "x" {
		t.Errorf("extra = %v", v)
	}
}

// TestFilterStoresCopies checks that the state does not change when a
// value that was compared is changed afterwards.
func TestFilterStoresCopies(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"filter-on-change"}`, FilterType)
	obj := map[string]any{"a": 1.0}
	buf := []byte("ab")
	raw := []byte(`{"b":1}`)
	f.Inject("src", engine.NewMessage("o", obj))
	f.Inject("src", engine.NewMessage("b", buf))
	f.Inject("src", engine.NewMessage("r", engine.RawJSON(raw)))
	// Against the rules (values are immutable), change them in place.
	obj["a"] = 2.0
	buf[1] = 'x'
	raw[5] = '2'
	f.Inject("src", engine.NewMessage("o", map[string]any{"a": 1.0}))
	f.Inject("src", engine.NewMessage("b", []byte("ab")))
	f.Inject("src", engine.NewMessage("r", rj(`{"b":1}`)))
	if n := len(f.Received("sink")); n != 3 {
		t.Errorf("%d messages sent, want 3: the state must hold copies", n)
	}
}

func TestFilterConfig(t *testing.T) {
	tests := []struct {
		cfg   string
		field string // "" when valid
	}{
		{`{}`, ""},
		{`{"func":"deadband","gap":"10"}`, ""},
		{`{"func":"deadband","gap":"10%"}`, ""},
		{`{"func":"deadband","gap":"0.5"}`, ""},
		{`{"func":"deadband","gap":".5"}`, ""},
		{`{"func":"deadband","gap":"5."}`, ""},
		{`{"func":"deadband","gap":"%"}`, ""},
		{`{"func":"deadband","gap":""}`, ""},
		{`{"func":"deadband","gap":5}`, ""},
		{`{"func":"narrowband","gap":"1","start":"-2.5"}`, ""},
		{`{"func":"narrowband","start":" 3 "}`, ""},
		{`{"property":"payload.a[0][\"b c\"]","topi":"headers.device"}`, ""},
		{`{"property":"","topi":""}`, ""}, // Node-RED: payload and topic
		{`{"septopics":"false"}`, ""},
		{`{"func":"deadband","gap":"abc"}`, "gap"},
		{`{"func":"deadband","gap":"1..2"}`, "gap"},
		{`{"func":"deadband","gap":"."}`, "gap"},
		{`{"func":"deadband","gap":"-5"}`, "gap"},
		{`{"func":"deadband","gap":"5%%"}`, "gap"},
		{`{"func":"deadband","gap":"1e3"}`, "gap"},
		{`{"func":"narrowband","start":"abc"}`, "start"},
		{`{"func":"narrowband","start":"Infinity"}`, "start"},
		{`{"property":"payload..a"}`, "property"},
		{`{"topi":"a["}`, "topi"},
		{`{"func":"sometimes"}`, "func"},
		{`{"inout":"sideways"}`, "inout"},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal([]byte(tc.cfg), &c); err != nil {
				t.Fatal(err)
			}
			c["type"] = "filter-on-change"
			cb, _ := json.Marshal(c)
			_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, string(cb)), nodetest.Options{}, FilterType)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one about %s", tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

func TestFilterDefaults(t *testing.T) {
	want := map[string]any{"func": "rbe", "gap": nil, "start": nil, "inout": "out", "septopics": true, "property": "payload", "topi": "topic", "store": "node"}
	for _, f := range FilterType.Fields {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected field %s", f.Name)
			continue
		}
		if fmt.Sprint(f.Default) != fmt.Sprint(w) && !(w == nil && (f.Default == nil || f.Default == "")) {
			t.Errorf("field %s: default %v, want %v", f.Name, f.Default, w)
		}
		delete(want, f.Name)
	}
	if len(want) > 0 {
		t.Errorf("missing fields %v", want)
	}
	if FilterType.Type != "filter-on-change" || FilterType.Label != "filter" || FilterType.Inputs != 1 || FilterType.Outputs != 1 {
		t.Errorf("meta %+v", FilterType.Meta)
	}
}

// TestFilterConcurrent feeds one node from several goroutines at once:
// each goroutine is one topic whose value changes every second message.
func TestFilterConcurrent(t *testing.T) {
	for _, fn := range []string{"rbe", "deadband"} {
		t.Run(fn, func(t *testing.T) {
			f := nodetest.Chain(t, `{"type":"filter-on-change","func":"`+fn+`","property":"payload.v"}`, FilterType)
			const workers, per = 8, 2000
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					topic := "t" + strconv.Itoa(w)
					for i := 0; i < per; i++ {
						payload := rj(`{"v":` + strconv.Itoa(i/2) + `}`)
						f.Inject("src", engine.NewMessage(topic, payload))
						if i%100 == 0 {
							f.Inject("src", engine.NewMessage("", rj(`{"other":1}`)))
						}
					}
				}()
			}
			wg.Wait()
			if n := len(f.Received("sink")); n != workers*per/2 {
				t.Errorf("%d sent, want %d", n, workers*per/2)
			}
		})
	}
}

// BenchmarkFilterOnChange measures the reference workload's filter: rbe on
// payload.temperature of a RawJSON payload, per msg.topic, where about one
// message in two changes.
//
//	go test -run '^$' -bench FilterOnChange -benchmem ./nodes/
func BenchmarkFilterOnChange(b *testing.B) {
	for _, fn := range []string{"rbe", "deadband"} {
		b.Run(fn, func(b *testing.B) {
			nd, err := newFilter(&FilterConfig{Func: fn, Gap: "0.5", InOut: "out", SepTopics: true, Property: "payload.temperature", Topi: "topic"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			n := nd.(*filterNode)
			msgs := make([]*engine.Message, 1024)
			for i := range msgs {
				p := `{"temperature":` + strconv.FormatFloat(20+float64(i/20%7)/2, 'f', -1, 64) + `,"humidity":40}`
				msgs[i] = engine.NewMessage("sensors/dev"+strconv.Itoa(i%10)+"/data", rj(p))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := n.Receive(context.Background(), msgs[i&1023], engine.Output{}); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
	// The mixed reference flow's rbe: every reading of a topic differs
	// from the one before, so every message is sent.
	b.Run("mixed", func(b *testing.B) {
		nd, err := newFilter(&FilterConfig{Func: "rbe", InOut: "out", SepTopics: true, Property: "payload.temperature", Topi: "topic"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		n := nd.(*filterNode)
		msgs := make([]*engine.Message, 1024)
		for i := range msgs {
			p := `{"temperature":` + strconv.Itoa(i+1) + `,"fahrenheit":` + strconv.FormatFloat(float64(i+1)*1.8+32, 'f', -1, 64) + `,"device":"dev` + strconv.Itoa(i%10) + `"}`
			msgs[i] = engine.NewMessage("sensors/dev"+strconv.Itoa(i%10)+"/data", rj(p))
		}
		receiveAll(b, n, msgs)
	})
}
