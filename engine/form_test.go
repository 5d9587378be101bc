package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

type formProp struct {
	P string       `json:"p" label:"Property"`
	V engine.Typed `json:"v" typeprop:"vt" types:"str,num,date"`
}

type formCfg struct {
	Mode  string       `json:"mode" label:"Mode" default:"rbe" options:"rbe=Block unless value changes,gap=Block unless it changes by more than"`
	Plain string       `json:"plain" options:"=Use msg.qos,0,1"`
	Codes string       `json:"codes" options:"a,b" other:"a property"`
	Gap   float64      `json:"gap" showif:"mode=gap;codes=a,"`
	Props []formProp   `json:"props" label:"Properties" toplevel:"payload=payload:payloadType,topic=topic"`
	Extra engine.Typed `json:"extra" types:"msg,flow,nul" typelabels:"nul=nothing" novalue:"nul"`
	Comma string       `json:"comma" options:"once=Send once\\, until reset,all=Always"`
}

// The form tags (option labels, a comma in one, showif, toplevel, type
// labels and types without a value) and the metadata give exactly this
// schema in GET /nodes.
func TestFormSchemaJSON(t *testing.T) {
	typ := engine.NewType(engine.Meta{
		Type: "f", Outputs: 1, Icon: "inject.svg", Button: "inject", OutputsFrom: "props",
		Labels:           []engine.LabelRule{{If: map[string][]string{"mode": {"gap"}}, Text: "gap {gap}"}, {Text: "{plain}"}},
		Credentials:      map[string]string{"user": "text", "password": "password", "token": "password"},
		CredentialLabels: map[string]string{"user": "Username", "password": "Password"},
	}, func(c *formCfg, _ *engine.Host) (engine.Node, error) { return &sink{}, nil })
	b, err := json.Marshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"f","category":"","inputs":0,"outputs":1,` +
		`"credentials":{"password":"password","token":"password","user":"text"},` +
		`"labels":[{"if":{"mode":["gap"]},"text":"gap {gap}"},{"text":"{plain}"}],` +
		`"icon":"inject.svg","button":"inject","outputsFrom":"props",` +
		`"fields":[` +
		`{"name":"mode","label":"Mode","kind":"select","default":"rbe","options":["rbe","gap"],"optionLabels":["Block unless value changes","Block unless it changes by more than"]},` +
		`{"name":"plain","label":"plain","kind":"select","options":["","0","1"],"optionLabels":["Use msg.qos","0","1"]},` +
		`{"name":"codes","label":"codes","kind":"select","options":["a","b"],"other":"a property"},` +
		`{"name":"gap","label":"gap","kind":"number","showIf":{"codes":["a",""],"mode":["gap"]}},` +
		`{"name":"props","label":"Properties","kind":"list","item":[` +
		`{"name":"p","label":"Property","kind":"string"},` +
		`{"name":"v","label":"v","kind":"typed","types":["str","num","date"],"typeLabels":["string","number","timestamp"],"typeProp":"vt"}],` +
		`"topLevel":[{"key":"payload","value":"payload","type":"payloadType"},{"key":"topic","value":"topic"}]},` +
		`{"name":"extra","label":"extra","kind":"typed","types":["msg","flow","nul"],"typeLabels":["msg.","flow.","nothing"],"noValue":["nul"],"typeProp":"extraType"},` +
		`{"name":"comma","label":"comma","kind":"select","options":["once","all"],"optionLabels":["Send once, until reset","Always"]}],` +
		`"credentialFields":[{"name":"user","label":"Username","kind":"string"},` +
		`{"name":"password","label":"Password","kind":"password"},{"name":"token","label":"token","kind":"password"}]}`
	if string(b) != want {
		t.Fatalf("schema\n%s\nwant\n%s", b, want)
	}
}

type unlabelledType struct {
	V engine.Typed `json:"v" types:"str,pay"`
}

// A typed field's own type needs a label, so that the form shows no
// codes: NewType refuses a type without one.
func TestTypedFieldNeedsTypeLabels(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), `type "pay" has no label`) {
			t.Errorf("NewType: %v", v)
		}
	}()
	engine.NewType(engine.Meta{Type: "u", Inputs: 1}, func(c *unlabelledType, _ *engine.Host) (engine.Node, error) { return &sink{}, nil })
}

// A list entry with no value of its own takes it from the node's
// properties, as Node-RED's inject reads payload and topic: payload's
// value and type, topic's value only for an entry of type str; an entry
// with its own value keeps it.
func TestTopLevelListEntries(t *testing.T) {
	var got *formCfg
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "f", Inputs: 1}, func(c *formCfg, _ *engine.Host) (engine.Node, error) {
		got = c
		return &sink{}, nil
	}))
	rt := engine.New(engine.Options{Registry: reg})
	show := func(doc string) string {
		t.Helper()
		if _, err := rt.Compile(parse(t, doc)); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, p := range got.Props {
			s = append(s, p.P+"="+p.V.Type+":"+p.V.Value)
		}
		return strings.Join(s, " ")
	}
	for doc, want := range map[string]string{
		`[{"id":"n","type":"f","payload":"7","payloadType":"num","topic":"t1","props":[{"p":"payload"},{"p":"topic","vt":"str"}]}]`: "payload=num:7 topic=str:t1",
		// The node's payloadType wins over the entry's vt, as in Node-RED.
		`[{"id":"n","type":"f","payload":"","payloadType":"date","props":[{"p":"payload","vt":"str"}]}]`: "payload=date:",
		// Own values stay; a topic entry of another type is not the node's topic.
		`[{"id":"n","type":"f","payload":"7","payloadType":"num","topic":"t1","props":[{"p":"payload","v":"x","vt":"str"},{"p":"topic","vt":"num"},{"p":"other","v":"1","vt":"num"}]}]`: "payload=str:x topic=num: other=num:1",
	} {
		if s := show(doc); s != want {
			t.Errorf("%s:\n got %s\nwant %s", doc, s, want)
		}
	}
}

type probeCfg struct {
	A int    `json:"a"`
	B string `json:"b"`
	C string `json:"c" options:"x,y"`
}

// A node's every problem comes out at once: those found decoding its
// settings and, from its constructor run on what decoded, those with its
// other fields (errors.Join of field errors), each once. A constructor's
// problem with a field decoding refused, or with no field, is left out
// then: it may come from the refused field's default.
func TestEveryProblemOfANode(t *testing.T) {
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "p", Inputs: 1}, func(c *probeCfg, _ *engine.Host) (engine.Node, error) {
		var errs []error
		if c.B == "bad" {
			errs = append(errs, engine.ErrFieldf("b", "b is bad"))
		}
		if c.A == 0 {
			errs = append(errs, engine.ErrFieldf("a", "a is zero"), errors.New("the node as a whole"))
		}
		return nil, errors.Join(errs...)
	}))
	rt := engine.New(engine.Options{Registry: reg})
	doc, err := flows.Parse([]byte(`[{"id":"t","type":"tab"},{"id":"n","type":"p","z":"t","a":"x","b":"bad","c":"z"}]`))
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
	want := `a: "x" is not a whole number; c: "z" is not one of "x", "y"; b: b is bad`
	if strings.Join(got, "; ") != want {
		t.Errorf("problems\n got %s\nwant %s", strings.Join(got, "; "), want)
	}

	// Valid settings: the constructor's joined errors are each a problem,
	// one without a field too.
	doc, _ = flows.Parse([]byte(`[{"id":"t","type":"tab"},{"id":"n","type":"p","z":"t","b":"bad"}]`))
	_, err = rt.Compile(doc)
	probs = nil
	errors.As(err, &probs)
	got = nil
	for _, p := range probs {
		got = append(got, p.Field+": "+p.Msg)
	}
	if want := "b: b is bad; a: a is zero; : the node as a whole"; strings.Join(got, "; ") != want {
		t.Errorf("problems\n got %s\nwant %s", strings.Join(got, "; "), want)
	}
}
