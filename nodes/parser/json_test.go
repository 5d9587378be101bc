package parser

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// jsonOut describes a value by its JavaScript type and JSON text, so that
// a string "1" and a number 1 differ.
func jsonOut(v any) string {
	return engine.TypeName(v) + " " + string(engine.MarshalJSON(v))
}

func TestJSON(t *testing.T) {
	const employees = `{"employees":[{"firstName":"John","lastName":"Smith"}]}`
	tests := []struct {
		name    string
		cfg     string
		payload any
		props   map[string]any // further message properties
		prop    string         // the property to check; payload when empty
		want    string         // jsonOut of the property; "" when nothing is sent
		err     string         // part of the error reported
		warn    string
	}{
		// From Node-RED's 70-JSON_spec.js.
		{name: "string to object", payload: employees, want: "object " + employees},
		{name: "buffer to object", payload: []byte(employees), want: "object " + employees},
		{name: "object to string", payload: rj(employees), want: `string "{\"employees\":[{\"firstName\":\"John\",\"lastName\":\"Smith\"}]}"`},
		{name: "array to string", payload: []any{1.0, 2.0, 3.0}, want: `string "[1,2,3]"`},
		{name: "boolean to string", payload: true, want: `string "true"`},
		{name: "string to boolean", payload: "true", want: "boolean true"},
		{name: "number to string", payload: 2019.0, want: `string "2019"`},
		{name: "string to number", payload: "1962", want: "number 1962"},
		{name: "invalid string", payload: "foo", err: "invalid JSON at position 1: invalid character 'o'"},
		{name: "invalid buffer", cfg: `{"action":"obj"}`, payload: []byte(`{"name":foo}`), err: "invalid JSON at position 9: invalid character 'o'"},
		{name: "no payload passes", payload: nil, want: "null null"},
		{name: "str: object to string", cfg: `{"action":"str"}`, payload: rj(employees), want: "string " + string(engine.MarshalJSON(employees))},
		{name: "str: string unchanged", cfg: `{"action":"str"}`, payload: employees, want: "string " + string(engine.MarshalJSON(employees))},
		{name: "obj: object unchanged", cfg: `{"action":"obj"}`, payload: rj(employees), want: "object " + employees},
		{name: "obj: string to object", cfg: `{"action":"obj"}`, payload: employees, want: "object " + employees},
		{
			name: "another property: string", cfg: `{"property":"one.two"}`,
			props: map[string]any{"one": map[string]any{"two": employees}}, prop: "one.two",
			want: "object " + employees,
		},
		{
			name: "another property: object", cfg: `{"property":"one.two"}`,
			props: map[string]any{"one": rj(`{"two":` + employees + `}`)}, prop: "one.two",
			want: "string " + string(engine.MarshalJSON(employees)),
		},
		{name: "another property missing passes", cfg: `{"property":"one.two"}`, payload: "x", prop: "payload", want: `string "x"`},

		// Further cases, from 70-JSON.js.
		{name: "str: invalid string unchanged", cfg: `{"action":"str"}`, payload: "foo", want: `string "foo"`},
		{name: "str: buffer unchanged", cfg: `{"action":"str"}`, payload: []byte("{}"), want: `buffer {"type":"Buffer","data":[123,125]}`},
		{name: "obj: number unchanged", cfg: `{"action":"obj"}`, payload: 5.0, want: "number 5"},
		{name: "obj: boolean unchanged", cfg: `{"action":"obj"}`, payload: false, want: "boolean false"},
		{name: "map to string", payload: map[string]any{"b": 1.0, "a": "x"}, want: `string "{\"a\":\"x\",\"b\":1}"`},
		{name: "numbers as JavaScript writes them", payload: rj(`{"a":1.50,"b":1e21,"c":0.1e-6,"d":-0}`), want: `string "{\"a\":1.5,\"b\":1e+21,\"c\":1e-7,\"d\":0}"`},
		{name: "NaN is null", payload: math.NaN(), want: `string "null"`},
		{name: "nested null to string", cfg: `{"property":"payload.x"}`, payload: rj(`{"x":null}`), prop: "payload", want: `object {"x":"null"}`},
		{name: "null string to null", cfg: `{"property":"payload.x"}`, payload: rj(`{"x":"null"}`), prop: "payload", want: `object {"x":null}`},
		{name: "null", payload: "null", want: "null null"},
		{name: "string", payload: `"a\u00e9\n"`, want: `string "aé\n"`},
		{name: "white space", payload: " \n[1, 2]\t\r\n", want: "array [1,2]"},
		{name: "large number", payload: "1e400", want: "number null"}, // Infinity
		{name: "int", payload: 7, want: `string "7"`},
		// JSON.stringify(JSON.parse(text)) as Node.js prints it: array-index
		// keys first in ascending order, the last of duplicate keys at the
		// first's place, Infinity (1e400) as null, -0 as 0.
		{name: "key order as JavaScript", payload: rj(`{"b":1,"10":2,"2":3,"01":4,"-1":5,"a":[1e400,-0,1.0]}`), want: `string "{\"2\":3,\"10\":2,\"b\":1,\"01\":4,\"-1\":5,\"a\":[null,0,1]}"`},
		{name: "duplicate keys", payload: rj(`{"a":1,"b":2,"a":3}`), want: `string "{\"a\":3,\"b\":2}"`},
		{name: "parse then stringify", payload: `{"z": {"1":true, "0":false}, "y": "\u00e9"}`, want: `object {"z":{"0":false,"1":true},"y":"é"}`},
		{name: "pretty key order", cfg: `{"pretty":true}`, payload: rj(`{"b":1,"1":[1e400]}`), want: "string " + string(engine.MarshalJSON("{\n    \"1\": [\n        null\n    ],\n    \"b\": 1\n}"))},
		// JSON.parse(buffer) parses buffer.toString('utf8'): each maximal
		// invalid subsequence is one U+FFFD (node: {"a":"\ufffd\ufffd"} as characters).
		{name: "buffer that is not UTF-8", payload: []byte("{\"a\":\"\xC0\xAF\"}"), want: "object {\"a\":\"\uFFFD\uFFFD\"}"},
		{name: "buffer cut inside a character", payload: []byte("\"\xF0\x9F\x98\""), want: "string \"\uFFFD\""},
		{name: "empty string", payload: "", err: "invalid JSON: unexpected end of JSON input"},
		{name: "truncated", payload: `{"a":`, err: "unexpected end of JSON input"},
		{name: "trailing text", payload: `{"a":1}x`, err: "invalid JSON at position 7: invalid character 'x' after top-level value"},
		{name: "two values", payload: `1 2`, err: "invalid JSON at position 2"},
		{name: "single quotes", payload: `{'a':1}`, err: "invalid JSON at position 1"},
		{name: "byte order mark", payload: "\ufeff{}", err: "invalid JSON at position 0"},
		{
			name: "pretty", cfg: `{"pretty":true}`, payload: rj(`{"a":1,"b":[1,{"c":[]}],"d":{}}`),
			want: "string " + string(engine.MarshalJSON("{\n    \"a\": 1,\n    \"b\": [\n        1,\n        {\n            \"c\": []\n        }\n    ],\n    \"d\": {}\n}")),
		},
		{name: "pretty scalar", cfg: `{"pretty":true}`, payload: 1.5, want: `string "1.5"`},
		{name: "pretty does not change parsing", cfg: `{"pretty":true}`, payload: `{"a": 1}`, want: `object {"a":1}`},
		{name: "function is dropped", payload: func() {}, warn: "Ignored unsupported payload type"},
		{name: "custom type", payload: struct {
			A int `json:"a"`
		}{3}, want: `string "{\"a\":3}"`},
		{name: "custom type that cannot be encoded", payload: struct{ C chan int }{}, err: "failed to convert payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c map[string]any
			cfg := tc.cfg
			if cfg == "" {
				cfg = "{}"
			}
			if err := json.Unmarshal([]byte(cfg), &c); err != nil {
				t.Fatal(err)
			}
			c["type"] = "json"
			cb, _ := json.Marshal(c)
			f := nodetest.Chain(t, string(cb), JSONType)
			m := engine.NewMessage("t", tc.payload)
			for k, v := range tc.props {
				m.SetProp(k, v)
			}
			f.Inject("src", m)
			got := f.Received("sink")
			errs := f.Errors()
			warns := f.Logged(slog.LevelWarn)
			if tc.err != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), tc.err) {
					t.Errorf("errors %v, want one containing %q", errs, tc.err)
				} else if errs[0].NodeID != "n1" || errs[0].MsgID != m.ID() {
					t.Errorf("error event %+v", errs[0])
				}
			} else if len(errs) > 0 {
				t.Errorf("unexpected error: %v", errs[0].Err)
			}
			if tc.warn != "" {
				if len(warns) != 1 || warns[0].Msg != tc.warn {
					t.Errorf("warnings %q, want %q", nodetest.LogMessages(warns), tc.warn)
				}
			} else if len(warns) > 0 {
				t.Errorf("unexpected warnings %q", nodetest.LogMessages(warns))
			}
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("sent %d messages, want none", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("sent %d messages, want 1", len(got))
			}
			p := tc.prop
			if p == "" {
				p = "payload"
			}
			v, _ := got[0].Get(engine.MustParsePath(p))
			if s := jsonOut(v); s != tc.want {
				t.Errorf("%s = %s\n want %s", p, s, tc.want)
			}
			if got[0].Topic != "t" || got[0].ID() != m.ID() {
				t.Errorf("message changed: %s", got[0].AppendJSON(nil))
			}
		})
	}
}

// TestJSONParsedObjectIsRaw checks that a parsed object stays JSON text,
// readable by path without decoding.
func TestJSONParsedObjectIsRaw(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"json"}`, JSONType)
	f.Inject("src", engine.NewMessage("", `{"temperature":21.5,"a b":[1,{"c":"d"}]}`))
	got := f.Received("sink")
	if len(got) != 1 {
		t.Fatalf("got %d", len(got))
	}
	if _, ok := got[0].Payload.(engine.RawJSON); !ok {
		t.Fatalf("payload is %T, want engine.RawJSON", got[0].Payload)
	}
	for path, want := range map[string]any{"payload.temperature": 21.5, `payload["a b"][1].c`: "d"} {
		if v, ok := got[0].Get(engine.MustParsePath(path)); !ok || v != want {
			t.Errorf("%s = %v, %v", path, v, ok)
		}
	}
}

func TestJSONConfig(t *testing.T) {
	tests := []struct {
		cfg   string
		field string
	}{
		{`{}`, ""},
		{`{"property":"payload","action":"","pretty":false}`, ""},
		{`{"property":"","action":"str","pretty":"true"}`, ""}, // Node-RED: payload
		{`{"action":"obj"}`, ""},
		{`{"action":"yaml"}`, "action"},
		{`{"property":"payload["}`, "property"},
		{`{"pretty":"sometimes"}`, "pretty"},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal([]byte(tc.cfg), &c); err != nil {
				t.Fatal(err)
			}
			c["type"] = "json"
			cb, _ := json.Marshal(c)
			_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, string(cb)), nodetest.Options{}, JSONType)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), `"`+tc.field+`"`) {
				t.Errorf("error %v, want one about %s", err, tc.field)
			}
		})
	}
	want := map[string]any{"property": "payload", "action": nil, "pretty": nil}
	for _, f := range JSONType.Fields {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected field %s", f.Name)
			continue
		}
		if w != nil && f.Default != w {
			t.Errorf("field %s: default %v, want %v", f.Name, f.Default, w)
		}
	}
}

// BenchmarkJSONParse measures the json node parsing a 40-byte object from
// a string payload (mqtt-in with datatype utf8), as in the reference flow.
//
//	go test -run '^$' -bench JSONParse -benchmem ./nodes/
func BenchmarkJSONParse(b *testing.B) {
	const text = `{"temperature":21.5,"humidity":40.25}   ` // 40 bytes
	for _, tc := range []struct {
		name    string
		payload any
	}{{"string", text}, {"buffer", []byte(text)}} {
		b.Run(tc.name, func(b *testing.B) {
			nd, err := newJSON(&JSONConfig{Property: "payload", Action: "obj"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			n := nd.(*jsonNode)
			m := engine.NewMessage("sensors/dev1/data", nil)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				m.Payload = tc.payload
				if err := n.Receive(context.Background(), m, engine.Output{}); err != nil {
					b.Fatal(err)
				}
			}
			if _, ok := m.Payload.(engine.RawJSON); !ok {
				b.Fatalf("payload %T", m.Payload)
			}
		})
	}
}

// BenchmarkJSONStringify measures the json node writing a small object.
func BenchmarkJSONStringify(b *testing.B) {
	nd, err := newJSON(&JSONConfig{Property: "payload"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := nd.(*jsonNode)
	obj := rj(`{"temperature":21.5,"humidity":40.25}`)
	m := engine.NewMessage("t", nil)
	b.ReportAllocs()
	for b.Loop() {
		m.Payload = obj
		if err := n.Receive(context.Background(), m, engine.Output{}); err != nil {
			b.Fatal(err)
		}
	}
}
func rj(s string) engine.RawJSON { return engine.RawJSON(s) }
