package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

type typedRule struct {
	T  string       `json:"t" options:"set,delete"`
	P  string       `json:"p" default:"payload"`
	Pt string       `json:"pt" default:"msg" options:"msg,flow,global"`
	To engine.Typed `json:"to" typeprop:"tot" types:"str,num,bool,json,bin,msg,flow,global,env,date,re"`
}

type typedCfg struct {
	Payload engine.Typed `json:"payload" types:"date,str,num,json" default:""`
	Rules   []typedRule  `json:"rules"`
}

// Typed fields and lists of structs decode from Node-RED's properties,
// compile at deploy and evaluate per message; every bad entry is named.
func TestTypedFieldsAndLists(t *testing.T) {
	var got *typedCfg
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "c", Inputs: 1}, func(c *typedCfg, _ *engine.Host) (engine.Node, error) {
		got = c
		return &sink{}, nil
	}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "src", Outputs: 1}, func(_ *srcConfig, h *engine.Host) (engine.Node, error) {
		return &src{h: h}, nil
	}))
	rt := engine.New(engine.Options{Registry: reg})
	t.Setenv("RUNNEL_TYPED_TEST", "from-env")
	doc := parse(t, `[{"id":"t","type":"tab","label":"Tab","env":[{"name":"SITE","value":"lab","type":"str"}]},
	{"id":"s","type":"src","z":"t","wires":[["n"]]},
	{"id":"n","type":"c","z":"t","payloadType":"num","payload":" 0x1f ","rules":[
		{"t":"set","p":"a","to":"hi","tot":"str"},
		{"t":"set","p":"b","to":"[1,{\"x\":2}]","tot":"json"},
		{"t":"set","p":"c","to":"payload.k","tot":"msg"},
		{"t":"set","p":"d","to":"${SITE}-${RUNNEL_TYPED_TEST}-${NR_FLOW_NAME}","tot":"env"},
		{"t":"set","p":"e","to":"[104,105]","tot":"bin"},
		{"t":"set","p":"f","to":"TRUE","tot":"bool"},
		{"t":"delete","p":"g"}
	]}]`)
	if _, err := rt.Compile(doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Payload.Const(); v != 31.0 {
		t.Fatalf("payload = %v", v)
	}
	if len(got.Rules) != 7 || got.Rules[6].T != "delete" || !got.Rules[6].To.IsZero() || got.Rules[0].Pt != "msg" {
		t.Fatalf("rules = %+v", got.Rules)
	}
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	h := rt.Graph().Node("s").(*src).h
	m := engine.NewMessage("x", engine.RawJSON(`{"k":[1,2]}`))
	var out []string
	for _, r := range got.Rules {
		v, err := r.To.Eval(h, m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(engine.MarshalJSON(v)))
	}
	want := `"hi" [1,{"x":2}] [1,2] "lab-from-env-Tab" {"type":"Buffer","data":[104,105]} true null`
	if strings.Join(out, " ") != want {
		t.Fatalf("evaluated\n%s\nwant\n%s", strings.Join(out, " "), want)
	}

	// Every problem, each named by its entry.
	_, err := rt.Compile(parse(t, `[{"id":"t","type":"tab"},{"id":"n","type":"c","z":"t","payloadType":"flow","payload":"x","rules":[
		{"t":"set","to":"abc","tot":"num"},
		{"t":"set","to":"{","tot":"json"},
		5,
		{"t":"set","to":"(","tot":"re"},
		{"t":"set","to":"x","tot":"jsonata2"},
		{"t":"move"}
	]}]`))
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{
		`field "payload": type "flow" is not one of "date", "str", "num", "json"`,
		`field "rules[0].to": "abc" is not a number`,
		`field "rules[1].to": invalid JSON`,
		`field "rules[2]": expected an object, got a number`,
		`field "rules[3].to": regular expression "("`,
		`field "rules[4].to": type "jsonata2" is not one of`,
		`field "rules[5].t": "move" is not one of "set", "delete"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

// A jsonata value runs against the whole message, decoded, with Node-RED's
// context and environment functions.
func TestTypedJSONata(t *testing.T) {
	reg := testRegistry()
	rt := engine.New(engine.Options{Registry: reg})
	t.Setenv("RUNNEL_JSONATA_TEST", "env-value")
	if err := rt.Deploy(context.Background(), parse(t, `[{"id":"t","type":"tab"},{"id":"s","type":"src","z":"t"}]`)); err != nil {
		t.Fatal(err)
	}
	h := rt.Graph().Node("s").(*src).h
	if err := h.FlowContext().Set("count", 4.0); err != nil {
		t.Fatal(err)
	}
	if err := h.GlobalContext().Set("#:(persistent)::site", engine.RawJSON(`{"name":"lab"}`)); err != nil {
		t.Fatal(err)
	}
	m := engine.NewMessage("sensors/a", engine.RawJSON(`{"temperature":21.5,"unit":"C"}`))
	m.SetProp("extra", map[string]any{"raw": engine.RawJSON(`[1,2]`)})
	for _, tc := range []struct{ expr, want string }{
		{`payload.temperature * 9 / 5 + 32`, `70.7`},
		{`payload.temperature > 20 and payload.unit = "C"`, `true`},
		{`$sum(extra.raw) & "/" & topic`, `"3/sensors/a"`},
		{`$flowContext("count") + 1`, `5`},
		{`$globalContext("site", "persistent").name`, `"lab"`},
		{`$env("RUNNEL_JSONATA_TEST")`, `"env-value"`},
		{`msg.payload.unit`, `"C"`},
		{`nothing`, `null`},
		// Keys in the order the constructor writes them, integer-like ones
		// first, as JavaScript keeps an object's keys.
		{`{"topic": topic, "t": payload.temperature, "10": 1, "2": 2, "in": {"z": 1, "a": nothing, "b": 2}}`,
			`{"2":2,"10":1,"topic":"sensors/a","t":21.5,"in":{"z":1,"b":2}}`},
		{`({"b": 1, "a": 2})`, `{"b":1,"a":2}`},
		{`{"b": 1, "a": 2}.a`, `2`},
	} {
		typed, err := engine.ParseTyped("jsonata", tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		v, err := typed.Eval(h, m)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := string(engine.MarshalJSON(v)); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
		}
	}
	if _, err := engine.ParseTyped("jsonata", `payload.(`); err == nil {
		t.Error("a syntax error compiled")
	}
}

// An expr value reads the message, the context and the environment.
func TestTypedExpr(t *testing.T) {
	rt := engine.New(engine.Options{Registry: testRegistry()})
	t.Setenv("RUNNEL_EXPR_TEST", "env-value")
	if err := rt.Deploy(context.Background(), parse(t, `[{"id":"t","type":"tab"},{"id":"s","type":"src","z":"t"}]`)); err != nil {
		t.Fatal(err)
	}
	h := rt.Graph().Node("s").(*src).h
	if err := h.FlowContext().Set("count", 4.0); err != nil {
		t.Fatal(err)
	}
	m := engine.NewMessage("sensors/a", engine.RawJSON(`{"temperature":21.5,"unit":"C"}`))
	for _, tc := range []struct{ expr, want string }{
		{`msg.payload.temperature * 9 / 5 + 32`, `70.7`},
		{`msg.payload.temperature > 20 && msg.payload.unit == "C"`, `true`},
		{`msg.topic + "/" + flow.count`, `"sensors/a/4"`},
		{`env("RUNNEL_EXPR_TEST")`, `"env-value"`},
		{`msg.nothing`, `null`},
	} {
		typed, err := engine.ParseTyped("expr", tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		v, err := typed.Eval(h, m)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := string(engine.MarshalJSON(v)); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
		}
	}
	if _, err := engine.ParseTyped("expr", `msg.(`); err == nil {
		t.Error("a syntax error compiled")
	}
}

// A bool value is true exactly when its text is "true" in any case, as
// Node-RED's /^true$/i: spaces around it make it false.
func TestTypedBool(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"true", true}, {"TRUE", true}, {"True", true},
		{"true ", false}, {" true", false}, {"\ttrue\n", false},
		{"false", false}, {"", false}, {"1", false}, {"yes", false}, {"truex", false},
	} {
		typed, err := engine.ParseTyped("bool", tc.text)
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if v, _ := typed.Const(); v != tc.want {
			t.Errorf("bool %q = %v, want %v", tc.text, v, tc.want)
		}
	}
}

// A set may not pad an array to a huge index anywhere along its path,
// whatever holds the payload (JSON bytes, nothing yet, a decoded map):
// payload.a.b[2000000] would make a message of megabytes from a few bytes
// of flow (found in review: only the first segment was checked).
func TestSetRefusesHugeIndexesAnywhere(t *testing.T) {
	for _, path := range []string{"payload[2000000]", "payload.a[2000000]", "payload.a.b[2000000]", "payload.a[1][2000000]"} {
		for _, payload := range []any{engine.RawJSON(`{"x":1}`), nil, map[string]any{"x": 1.0}} {
			if _, isMap := payload.(map[string]any); isMap && path == "payload[2000000]" {
				continue // a key of an existing object, as in JavaScript: nothing is padded
			}
			m := engine.NewMessage("t", payload)
			err := m.Set(engine.MustParsePath(path), 1.0)
			if err == nil || !strings.Contains(err.Error(), "too large") {
				t.Errorf("%s on %T: err %v, message of %d bytes", path, payload, err, len(m.AppendJSON(nil)))
			}
		}
	}
}
