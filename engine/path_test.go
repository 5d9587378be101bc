package engine

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		in   string
		want []string // keys; "#n" for an index
		err  string
	}{
		{in: "payload", want: []string{"payload"}},
		{in: "payload.temperature", want: []string{"payload", "temperature"}},
		{in: "payload.list[0].name", want: []string{"payload", "list", "#0", "name"}},
		{in: `payload["key with space"]`, want: []string{"payload", "key with space"}},
		{in: `payload['a.b'].c`, want: []string{"payload", "a.b", "c"}},
		{in: "payload.readings.0.t", want: []string{"payload", "readings", "#0", "t"}},
		{in: "payload.readings.0", want: []string{"payload", "readings", "0"}},
		{in: "payload.readings.0[1]", want: []string{"payload", "readings", "0", "#1"}},
		{in: "payload.readings.01.t", want: []string{"payload", "readings", "#1", "t"}},
		{in: `payload["0"].t`, want: []string{"payload", "0", "t"}},
		{in: "", err: "empty"},
		{in: "payload.", err: "ends with"},
		{in: "payload..a", err: "unexpected '.'"},
		{in: "payload[x]", err: "not an array index"},
		{in: "payload[0", err: "unclosed"},
		{in: "[0]", err: "must start with a name"},
		{in: `payload["a]`, err: "unclosed"},
	}
	for _, c := range cases {
		p, err := ParsePath(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePath(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePath(%q): %v", c.in, err)
			continue
		}
		var got []string
		for _, s := range p.Segments() {
			if s.IsIndex {
				got = append(got, "#"+s.Key)
			} else {
				got = append(got, s.Key)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("ParsePath(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestMessageGetSetOnRawAndDecoded(t *testing.T) {
	raw, _ := ParseJSON([]byte(`{"temperature":21.5,"list":[{"name":"a"},{"name":"b c"}],"odd key":{"x.y":1}}`))
	for _, payload := range []any{raw, raw.(RawJSON).Decode()} {
		m := NewMessage("sensors/dev1/data", payload)
		get := func(path string) any {
			v, ok := m.Get(MustParsePath(path))
			if !ok {
				return "<missing>"
			}
			return v
		}
		if got := get("payload.temperature"); got != 21.5 {
			t.Errorf("%T: temperature = %#v", payload, got)
		}
		if got := get("payload.list[1].name"); got != "b c" {
			t.Errorf("%T: list[1].name = %#v", payload, got)
		}
		if got := get(`payload["odd key"]['x.y']`); got != 1.0 {
			t.Errorf("%T: odd key = %#v", payload, got)
		}
		if got := get("payload.nope.deeper"); got != "<missing>" {
			t.Errorf("%T: missing = %#v", payload, got)
		}
		if got := get("topic"); got != "sensors/dev1/data" {
			t.Errorf("topic = %#v", got)
		}
		// Set copies on write: a copy made before the change does not see it.
		before := m.Copy()
		if err := m.Set(MustParsePath("payload.list[0].name"), "z"); err != nil {
			t.Fatal(err)
		}
		if got := get("payload.list[0].name"); got != "z" {
			t.Errorf("%T: after set = %#v", payload, got)
		}
		if v, _ := before.Get(MustParsePath("payload.list[0].name")); v != "a" {
			t.Errorf("%T: the copy saw the change: %#v", payload, v)
		}
		if err := m.Set(MustParsePath("payload.temperature.x"), 1.0); err == nil && TypeName(payload) != "object" {
			t.Errorf("setting a property of a number should fail")
		}
	}
}

func TestMessageSetCreatesMissingAndCopiesProps(t *testing.T) {
	m := NewMessage("t", nil)
	if err := m.Set(MustParsePath("a.b[1]"), "x"); err != nil {
		t.Fatal(err)
	}
	if got := string(MarshalJSON(m.Value()["a"])); got != `{"b":[null,"x"]}` {
		t.Errorf("created %s", got)
	}
	c := m.Copy()
	c.SetProp("extra", 1.0)
	if _, ok := m.Prop("extra"); ok {
		t.Error("a property set on a copy leaked into the original")
	}
	if c.ID() != m.ID() || len(m.ID()) != 16 {
		t.Errorf("copy id %s, original %s", c.ID(), m.ID())
	}
}

func TestMessagePropsInlineAndMap(t *testing.T) {
	m := NewMessage("t", 1.0)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		m.SetProp(k, float64(i))
	}
	c := m.Copy()
	c.SetProp("a", "changed")
	c.SetProp("e", "changed")
	c.DeleteProp("b")
	c.DeleteProp("d")
	if got := string(m.AppendJSON(nil)); got != `{"_msgid":"`+m.ID()+`","topic":"t","payload":1,"a":0,"b":1,"c":2,"d":3,"e":4}` {
		t.Errorf("original: %s", got)
	}
	if got := string(c.AppendJSON(nil)); got != `{"_msgid":"`+m.ID()+`","topic":"t","payload":1,"a":"changed","c":2,"e":"changed"}` {
		t.Errorf("copy: %s", got)
	}
	c.SetProp("f", true)
	if v, ok := c.Prop("f"); !ok || v != true {
		t.Errorf("f = %v, %v", v, ok)
	}
	if _, ok := m.Prop("f"); ok {
		t.Error("f leaked into the original")
	}
}

// Deleting an array element removes it and moves the later ones up, as
// Node-RED's setMessageProperty(msg, "a[1]", undefined) splices, whether
// the array is kept as JSON or decoded.
func TestMessageDeleteSplicesArrays(t *testing.T) {
	for _, payload := range []any{RawJSON(`{"a":[1,2,3]}`), map[string]any{"a": []any{1.0, 2.0, 3.0}}} {
		m := NewMessage("", payload)
		m.Delete(MustParsePath("payload.a[1]"))
		m.Delete(MustParsePath("payload.a[5]"))
		if got := string(MarshalJSON(m.Payload)); got != `{"a":[1,3]}` {
			t.Errorf("%T: after delete payload = %s, want {\"a\":[1,3]}", payload, got)
		}
	}
}

// Node-RED's setMessageProperty creates a missing container as an array
// only when the segment inside it is a number: a[0] and a.0.b, but not
// a.0 nor a.0[1], whose "0" is a key. On an existing array a key of
// digits names an element, and deleting it leaves a hole (null in JSON)
// where deleting an index splices. Checked against Node-RED 4.1.15 in
// nodes/nodereddiff/testdata/change-set-numeric-key.json.
func TestMessageSetNumericKeys(t *testing.T) {
	for _, tc := range []struct{ payload, path, want string }{
		{`{}`, "payload.a.0", `{"a":{"0":"x"}}`},
		{`{}`, "payload.a[0]", `{"a":["x"]}`},
		{`{}`, "payload.a.0.b", `{"a":[{"b":"x"}]}`},
		{`{}`, "payload.a.0[1]", `{"a":{"0":[null,"x"]}}`},
		{`{}`, `payload.a["0"].b`, `{"a":{"0":{"b":"x"}}}`},
		{`{"a":[1,2]}`, "payload.a.0", `{"a":["x",2]}`},
		{`{"a":[1,2]}`, "payload.a.1.b", `{"a":[1,2]}`}, // not beneath a number
		{`{"a":{"b":null}}`, "payload.a.b.c", `{"a":{"b":null}}`},
		{`{"a":{"k":1}}`, "payload.a.0", `{"a":{"0":"x","k":1}}`}, // JavaScript puts integer keys first
		{``, "payload.0", `{"0":"x"}`},
		{``, "payload.0.b", `[{"b":"x"}]`},
	} {
		for _, decoded := range []bool{false, true} {
			m := NewMessage("", nil)
			if tc.payload != "" {
				v, err := ParseJSON([]byte(tc.payload))
				if err != nil {
					t.Fatal(err)
				}
				if decoded {
					v = v.(RawJSON).Decode()
				}
				m.Payload = v
			}
			_ = m.Set(MustParsePath(tc.path), "x")
			if got := string(MarshalJSON(m.Payload)); got != tc.want {
				t.Errorf("%s on %s (decoded %v) = %s, want %s", tc.path, tc.payload, decoded, got, tc.want)
			}
		}
	}
	for _, tc := range []struct{ payload, path, want string }{
		{`{"a":[1,2,3]}`, "payload.a.0", `{"a":[null,2,3]}`},
		{`{"a":[1,2,3]}`, "payload.a[0]", `{"a":[2,3]}`},
		{`{"a":[1,2,3]}`, "payload.a.5", `{"a":[1,2,3]}`},
		{`{"a":{"0":1,"1":2}}`, "payload.a.0", `{"a":{"1":2}}`},
		{`[[1,2]]`, "payload.0.1", `[[1,null]]`},
	} {
		for _, decoded := range []bool{false, true} {
			v, err := ParseJSON([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if decoded {
				v = v.(RawJSON).Decode()
			}
			m := NewMessage("", v)
			m.Delete(MustParsePath(tc.path))
			if got := string(MarshalJSON(m.Payload)); got != tc.want {
				t.Errorf("delete %s on %s (decoded %v) = %s, want %s", tc.path, tc.payload, decoded, got, tc.want)
			}
		}
	}
}

// A payload set to null is there and null, as Node-RED's msg.payload =
// null; a message that never had one, or whose payload was deleted, has
// none (undefined).
func TestMessageNullPayload(t *testing.T) {
	payload := MustParsePath("payload")
	has := func(m *Message) bool { _, ok := m.Lookup(payload); return ok }
	m := NewMessage("t", nil)
	if has(m) {
		t.Error("a new message without a payload has one")
	}
	m.SetProp("payload", nil)
	if v, ok := m.Lookup(payload); !ok || v != nil {
		t.Errorf("payload set to null: Lookup = %v, %v; want nil, true", v, ok)
	}
	if c := m.Copy(); !has(c) {
		t.Error("a copy lost the null payload")
	}
	m.DeleteProp("payload")
	if has(m) {
		t.Error("a deleted payload is still there")
	}
	_ = m.Set(payload, nil)
	if !has(m) {
		t.Error("Set(payload, nil) is not a null payload")
	}
	_ = m.Set(payload, 1.0)
	m.Delete(payload)
	if has(m) {
		t.Error("Delete(payload) left a payload")
	}
}
