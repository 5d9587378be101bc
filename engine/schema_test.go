package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

type boundedConfig struct {
	Factor float64 `json:"factor" default:"1"`
	Delay  float64 `json:"delay" default:"0.1" min:"0" max:"2147483"`
	Count  int     `json:"count" default:"1" min:"1" max:"10"`
}

// TestNumberFieldsRefuseNaNInfAndOutOfBounds: a number field never
// decodes to NaN or ±Inf, and min and max bound integer and number
// fields; each problem names node, field and line.
func TestNumberFieldsRefuseNaNInfAndOutOfBounds(t *testing.T) {
	reg := engine.NewRegistry()
	var got *boundedConfig
	reg.MustRegister(engine.NewType(engine.Meta{Type: "bounded"}, func(c *boundedConfig, h *engine.Host) (engine.Node, error) {
		got = c
		return struct{}{}, nil
	}))
	rt := engine.New(engine.Options{Registry: reg})
	for _, tc := range []struct {
		field, value, want string
	}{
		{"factor", `"NaN"`, `"NaN" is not a number`},
		{"factor", `"nan"`, `"nan" is not a number`},
		{"factor", `"Inf"`, `"Inf" is not a number`},
		{"factor", `"-Infinity"`, `"-Infinity" is not a number`},
		{"factor", `1e400`, `"1e400" is not a number`},
		{"factor", `"1e400"`, `"1e400" is not a number`},
		{"delay", `-1`, `-1 is out of range: want 0 to 2147483`},
		{"delay", `"2147484"`, `2147484 is out of range: want 0 to 2147483`},
		{"delay", `"NaN"`, `"NaN" is not a number`},
		{"count", `0`, `0 is out of range: want 1 to 10`},
		{"count", `"11"`, `11 is out of range: want 1 to 10`},
		{"count", `99999999999999999999`, `"99999999999999999999" is not a whole number`},
		{"count", `1e300`, `"1e300" is not a whole number`},
		{"count", `"NaN"`, `"NaN" is not a whole number`},
	} {
		doc, err := flows.Parse([]byte(fmt.Sprintf("[\n{\"id\":\"b\",\"type\":\"bounded\",%q:%s}\n]", tc.field, tc.value)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rt.Compile(doc)
		var probs flows.Problems
		want := flows.Problems{{NodeID: "b", Type: "bounded", Field: tc.field, Line: 2, Msg: tc.want}}
		if !errors.As(err, &probs) || len(probs) != 1 || probs[0] != want[0] {
			t.Errorf("%s = %s: got %v, want %v", tc.field, tc.value, err, want)
		}
	}
	doc, err := flows.Parse([]byte(`[{"id":"b","type":"bounded","factor":" 2.5 ","delay":"2147483","count":"10"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Compile(doc); err != nil {
		t.Fatal(err)
	}
	if *got != (boundedConfig{Factor: 2.5, Delay: 2147483, Count: 10}) {
		t.Fatalf("decoded %+v", *got)
	}
	typ, _ := reg.Lookup("bounded")
	if f := typ.Fields[2]; f.Min == nil || *f.Min != 1 || f.Max == nil || *f.Max != 10 {
		t.Fatalf("the schema does not show the bounds: %+v", f)
	}
}

type tabbedConfig struct {
	Outputs    int    `json:"outputs" default:"1" tab:"Setup"`
	NoErr      int    `json:"noerr" kind:"hidden"`
	Initialize string `json:"initialize" kind:"code" lang:"javascript" tab:"On Start"`
	Func       string `json:"func" kind:"code" lang:"javascript" tab:" On Message "`
}

// TestFieldTab: the tab tag puts a field on a form tab, which GET /nodes
// gives as "tab" (trimmed; absent for a field without one).
func TestFieldTab(t *testing.T) {
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "tabbed"}, func(c *tabbedConfig, h *engine.Host) (engine.Node, error) {
		return struct{}{}, nil
	}))
	typ, _ := reg.Lookup("tabbed")
	var got []string
	for _, f := range typ.Fields {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{
		`{"name":"outputs","label":"outputs","kind":"integer","default":1,"tab":"Setup"}`,
		`{"name":"noerr","label":"noerr","kind":"hidden"}`,
		`{"name":"initialize","label":"initialize","kind":"code","lang":"javascript","tab":"On Start"}`,
		`{"name":"func","label":"func","kind":"code","lang":"javascript","tab":"On Message"}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
