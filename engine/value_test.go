package engine

import (
	"math"
	"testing"
)

func TestFormatNumberLikeJavaScript(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{22, "22"}, {21.5, "21.5"}, {-0.5, "-0.5"}, {0, "0"}, {0.1, "0.1"},
		{1e21, "1e+21"}, {1e20, "100000000000000000000"}, {1.5e-7, "1.5e-7"}, {0.000001, "0.000001"},
		{123456789012, "123456789012"}, {math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
		{0.30000000000000004, "0.30000000000000004"}, {-1e-7, "-1e-7"}, {2.5e25, "2.5e+25"},
	}
	for _, c := range cases {
		if got := FormatNumber(c.in); got != c.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseJSONKeepsObjectsRaw(t *testing.T) {
	v, err := ParseJSON([]byte(` {"b": 1.0, "a": [1, "x", null, true]} `))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := v.(RawJSON)
	if !ok {
		t.Fatalf("got %T, want RawJSON", v)
	}
	if got := string(MarshalJSON(raw)); got != `{"b":1,"a":[1,"x",null,true]}` {
		t.Errorf("MarshalJSON = %s", got)
	}
	for in, want := range map[string]any{"21.5": 21.5, `"x"`: "x", "true": true, "null": nil} {
		got, err := ParseJSON([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParseJSON(%s) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	if _, err := ParseJSON([]byte(`{"a":`)); err == nil {
		t.Error("ParseJSON accepted invalid JSON")
	}
}

// TestParseJSONRepeatedKeys: a parsed object is what JSON.parse makes of
// the text, so a lookup finds the last value of a repeated key (gjson,
// reading the text, finds the first).
func TestParseJSONRepeatedKeys(t *testing.T) {
	v, err := ParseJSON([]byte(`{"role":"user","n":{"x":1,"x":2},"role":"admin"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(v.(RawJSON)); got != `{"role":"admin","n":{"x":2}}` {
		t.Errorf("ParseJSON = %s", got)
	}
	// Numbers stay as written: -0 and 1e400 are -0 and Infinity to
	// JavaScript, which no canonical JSON text keeps.
	w, _ := ParseJSON([]byte(`{"z": -0, "big": 1e400, "a": 1.50, "a": 2}`))
	if got := string(w.(RawJSON)); got != `{"z":-0,"big":1e400,"a":2}` {
		t.Errorf("ParseJSON = %s", got)
	}
	m := NewMessage("", v)
	for path, want := range map[string]any{"payload.role": "admin", "payload.n.x": 2.0} {
		p, _ := ParsePath(path)
		if got, _ := m.Get(p); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
}

func TestToFloatLikeParseFloat(t *testing.T) {
	cases := []struct {
		in   any
		want float64
		ok   bool
	}{
		{"21.5", 21.5, true}, {" 3abc", 3, true}, {"abc", 0, false}, {"", 0, false},
		{"-1e3x", -1000, true}, {".5", 0.5, true}, {"Infinity", math.Inf(1), true},
		{true, 0, false}, {nil, 0, false}, {7.0, 7, true},
	}
	for _, c := range cases {
		got, ok := ToFloat(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("ToFloat(%#v) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestEqualIgnoresKeyOrderAndRepresentation(t *testing.T) {
	a, _ := ParseJSON([]byte(`{"x":1,"y":[1,2]}`))
	b := map[string]any{"y": []any{1.0, 2.0}, "x": 1.0}
	if !Equal(a, b) {
		t.Error("RawJSON and map with the same content are not Equal")
	}
	if Equal("21.5", 21.5) {
		t.Error(`"21.5" equals 21.5`)
	}
	if Equal(a, map[string]any{"x": 1.0}) {
		t.Error("different objects are Equal")
	}
}

func TestAppendJSONEscapesLikeJSONStringify(t *testing.T) {
	got := string(MarshalJSON("a\"b\\c\n\u0001é</>"))
	want := `"a\"b\\c\n\u0001é</>"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := string(MarshalJSON([]byte{1, 2})); got != `{"type":"Buffer","data":[1,2]}` {
		t.Errorf("buffer: %s", got)
	}
}

func TestMarshalRawJSONDuplicateKeysLikeJSONParse(t *testing.T) {
	// JSON.stringify(JSON.parse(...)) keeps the first position and the last value.
	got := string(MarshalJSON(RawJSON(`{"a":1,"b":2,"a":3}`)))
	if got != `{"a":3,"b":2}` {
		t.Errorf("got %s", got)
	}
}

func TestMarshalLargeRawJSONDuplicateKeys(t *testing.T) {
	in := `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k1":"last"}`
	want := `{"k0":0,"k1":"last","k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16}`
	if got := string(MarshalJSON(RawJSON(in))); got != want {
		t.Errorf("got %s", got)
	}
}

func TestTruthyAndNumberLikeJavaScript(t *testing.T) {
	for v, want := range map[any]bool{nil: false, false: false, true: true, "": false, "0": true, 0.0: false,
		1.5: true, 0: false, int64(2): true, uint8(0): false} {
		if got := Truthy(v); got != want {
			t.Errorf("Truthy(%#v) = %v, want %v", v, got, want)
		}
	}
	if Truthy(math.NaN()) || !Truthy(RawJSON(`{}`)) || !Truthy([]any{}) {
		t.Error("Truthy of NaN, {} or [] is wrong")
	}
	if !Equal(2, 2.0) || Equal(math.NaN(), math.NaN()) || Equal(1.0, "1") {
		t.Error("Equal on numbers is wrong")
	}
}
