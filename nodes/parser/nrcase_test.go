package parser

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// nrCase is a table test whose expected lines were printed by Node-RED
// 4.1.15's own node (its .js file driven by a small harness that feeds
// messages and prints what the node sends, warns and reports):
//
//	SEND {json of the message sent}   (top-level keys sorted; _msgid and topic left out; the input's id is "ID")
//	WARN text
//	ERROR text
type nrCase struct {
	name string
	cfg  string   // the node's properties
	in   []string // input messages as JSON; "_buf":"text" sets a buffer payload
	want []string
}

// runNRCases runs each case through a fresh node of type typ.
func runNRCases(t *testing.T, typ *engine.Type, cases []nrCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal([]byte(tc.cfg), &c); err != nil {
				t.Fatal(err)
			}
			c["type"] = typ.Meta.Type
			cb, _ := json.Marshal(c)
			f := nodetest.Chain(t, string(cb), typ)
			var got []string
			seen := 0
			nerr := 0
			nwarn := 0
			for _, in := range tc.in {
				m := msgFromJSON(t, in)
				f.Inject("src", m)
				for _, w := range f.Logged(slog.LevelWarn)[nwarn:] {
					got = append(got, "WARN "+w.Msg)
					nwarn++
				}
				recv := f.Received("sink")
				for _, r := range recv[seen:] {
					_, hasPayload := r.Lookup(engine.MustParsePath("payload"))
					got = append(got, "SEND "+normMsg(t, r.AppendJSON(nil), m.ID(), hasPayload))
				}
				seen = len(recv)
				for _, e := range f.Errors()[nerr:] {
					got = append(got, "ERROR "+e.Err.Error())
					nerr++
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant (Node-RED)\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func msgFromJSON(t *testing.T, s string) *engine.Message {
	t.Helper()
	var props map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &props); err != nil {
		t.Fatalf("input %s: %v", s, err)
	}
	m := engine.NewMessage("", nil)
	for k, raw := range props {
		v, err := engine.ParseJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		switch k {
		case "_buf":
			m.Payload = []byte(v.(string))
		case "topic":
			m.Topic = v.(string)
		default:
			m.SetProp(k, v)
		}
	}
	return m
}

// normMsg writes a message as the harness prints Node-RED's: top-level
// keys sorted, _msgid and an empty topic left out, id as "ID".
func normMsg(t *testing.T, b []byte, id string, hasPayload bool) string {
	t.Helper()
	b = bytes.ReplaceAll(b, []byte(`"`+id+`"`), []byte(`"ID"`))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	delete(top, "_msgid")
	if !hasPayload {
		delete(top, "payload")
	}
	if string(top["topic"]) == `""` {
		delete(top, "topic")
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []byte
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = engine.AppendJSONString(out, k)
		out = append(out, ':')
		out = append(out, engine.CanonicalJSON(engine.RawJSON(top[k]))...)
	}
	return string(append(out, '}'))
}
