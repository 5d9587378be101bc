package function

import (
	"math"
	"reflect"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
)

// The filter reads a RawJSON payload's property with engine's fast path
// (Path.RawValue); what it reads must be what gjson reads.
func TestFilterRawValueMatchesGJSON(t *testing.T) {
	payloads := []string{
		`{"temperature":1234,"humidity":40}`,
		`{"humidity":40,"temperature":-0}`,
		`{"temperature":21.5,"fahrenheit":70.7,"device":"dev3"}`,
		`{"temperature":1e400}`,
		`{"temperature":12345678901234567890}`,
		`{"temperature":"21.5 C"}`,
		`{"temperature":"a\"b\u00e9"}`,
		`{"temperature":true}`,
		`{"temperature":false}`,
		`{"temperature":null}`,
		`{"temperature":{"v":[1,"}"]}}`,
		`{"temperature":[21.5,"x"]}`,
		`{"a":{"temperature":1}}`,
		`{}`,
		`{"temperature":1,"temperature":2}`,
		`{"temp\u0065rature":1}`,
		`{ "temperature" : 3 }`,
		`[{"temperature":1}]`,
		`{"outer":{"temperature":5,"x":1},"temperature":6}`,
	}
	for _, prop := range []string{"payload.temperature", "payload.outer.temperature"} {
		nd, err := newFilter(&FilterConfig{Func: "rbe", SepTopics: true, Property: prop}, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := nd.(*filterNode)
		for _, p := range payloads {
			got := n.value(engine.NewMessage("t", engine.RawJSON(p)))
			want := jsValueOfGJSON(gjson.Get(p, n.propGJSON))
			if got.kind != want.kind || math.Float64bits(got.num) != math.Float64bits(want.num) ||
				got.str != want.str || got.b != want.b || !reflect.DeepEqual(got.obj, want.obj) {
				t.Errorf("%s of %s: got %+v, want %+v", prop, p, got, want)
			}
		}
	}
}
