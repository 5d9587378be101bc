package sequence

import (
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// msgJSON writes a message as a test expects it: without _msgid, and
// without parts.id (random) but with its presence marked.
func msgJSON(m *engine.Message) string {
	b := []byte{'{'}
	for _, k := range m.Keys() {
		v, _ := m.Prop(k)
		if k == "_msgid" || k == "payload" && v == nil || k == "topic" && v == "" {
			continue
		}
		if k == "parts" {
			v = stripIDs(engine.PlainValue(v))
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, engine.MarshalJSON(k)...)
		b = append(b, ':')
		b = append(b, engine.MarshalJSON(v)...)
	}
	return string(append(b, '}'))
}

// stripIDs replaces each random parts id by "ID".
func stripIDs(v any) any {
	p, ok := v.(map[string]any)
	if !ok {
		return v
	}
	cp := make(map[string]any, len(p))
	for k, x := range p {
		cp[k] = x
	}
	if id, ok := cp["id"].(string); ok && len(id) == 16 {
		cp["id"] = "ID"
	}
	if inner, ok := cp["parts"]; ok {
		cp["parts"] = stripIDs(inner)
	}
	return cp
}

// inMsg builds a message from JSON text of its properties.
func inMsg(t testing.TB, js string) *engine.Message {
	t.Helper()
	v, err := engine.ParseJSON([]byte(js))
	if err != nil {
		t.Fatalf("message %s: %v", js, err)
	}
	obj, ok := v.(engine.RawJSON)
	if !ok || obj[0] != '{' {
		t.Fatalf("message %s is not an object", js)
	}
	m := engine.NewMessage("", nil)
	for _, e := range members(obj) {
		m.SetProp(e.k, e.v)
	}
	return m
}

// received returns what the sink got, one message per line.
func received(f *nodetest.Flow) string {
	var out []string
	for _, m := range f.Received("sink") {
		out = append(out, msgJSON(m))
	}
	return strings.Join(out, "\n")
}

// errs returns the errors the nodes reported, joined.
func errs(f *nodetest.Flow) string {
	var out []string
	for _, e := range f.Errors() {
		out = append(out, e.Err.Error())
	}
	return strings.Join(out, "; ")
}

type seqCase struct {
	name string
	node string
	in   []string // messages as JSON; a Go []byte payload is written {"payloadHex":"..."}
	want string   // one message per line
	errs string
}

func runSeq(t *testing.T, c seqCase, types ...*engine.Type) *nodetest.Flow {
	t.Helper()
	f := nodetest.Chain(t, c.node, types...)
	for _, js := range c.in {
		m := inMsg(t, js)
		if hx, ok := m.Prop("payloadHex"); ok {
			m.DeleteProp("payloadHex")
			m.Payload = []byte(hx.(string))
		}
		f.Inject("src", m)
	}
	if got := received(f); got != c.want {
		t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
	}
	if got := errs(f); got != c.errs {
		t.Errorf("%s: errors %q, want %q", c.name, got, c.errs)
	}
	return f
}
