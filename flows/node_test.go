package flows

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSetGetDelete(t *testing.T) {
	n := NewNode("a", "mqtt in")
	if n.Type != "mqtt-in" {
		t.Fatalf("NewNode type = %q", n.Type)
	}
	n.Set("z", json.RawMessage(`"tab1"`))
	n.Set("name", json.RawMessage(`"reader"`))
	n.Set("topic", json.RawMessage(`"a/b"`))
	n.Set("wires", json.RawMessage(`[["b"],["c","d"]]`))
	n.Set("d", json.RawMessage(`true`))
	if n.Z != "tab1" || n.Name != "reader" || !n.HasWires || !n.Disabled ||
		!reflect.DeepEqual(n.Wires, [][]string{{"b"}, {"c", "d"}}) {
		t.Fatalf("typed fields not derived: %+v", n)
	}
	// Replacing keeps the position.
	n.Set("z", json.RawMessage(`"tab2"`))
	if got := keys(n.Props()); got != "id,type,z,name,topic,wires,d" || n.Z != "tab2" {
		t.Errorf("keys = %s, Z = %q", got, n.Z)
	}
	if v, ok := n.Get("topic"); !ok || string(v) != `"a/b"` {
		t.Errorf("Get(topic) = %s, %v", v, ok)
	}
	if _, ok := n.Get("missing"); ok {
		t.Errorf("Get(missing) found something")
	}
	// Set copies the value.
	buf := []byte(`"x"`)
	n.Set("k", buf)
	buf[1] = 'y'
	if v, _ := n.Get("k"); string(v) != `"x"` {
		t.Errorf("Set kept the caller's buffer: %s", v)
	}
	n.Set("type", json.RawMessage(`"rbe"`))
	if v, _ := n.Get("type"); n.Type != "filter-on-change" || string(v) != `"filter-on-change"` {
		t.Errorf("type = %q, prop %s", n.Type, v)
	}
	n.Delete("wires")
	n.Delete("d")
	n.Delete("z")
	n.Delete("nothing")
	if n.HasWires || n.Wires != nil || n.Disabled || n.Z != "" {
		t.Errorf("Delete did not reset typed fields: %+v", n)
	}
	if got := keys(n.Props()); got != "id,type,name,topic,k" {
		t.Errorf("keys after delete = %s", got)
	}
	// For a tab, "disabled" is the switch; "d" is just a property.
	tab := NewNode("t", "tab")
	tab.Set("d", json.RawMessage(`true`))
	if tab.Disabled {
		t.Errorf("tab disabled by d")
	}
	tab.Set("disabled", json.RawMessage(`true`))
	if !tab.Disabled {
		t.Errorf("tab not disabled by disabled")
	}
	// A malformed value leaves the typed field at its zero value.
	tab.Set("wires", json.RawMessage(`"nope"`))
	if tab.Wires != nil || !tab.HasWires {
		t.Errorf("malformed wires: %+v", tab)
	}
	if v, _ := tab.Get("wires"); string(v) != `"nope"` {
		t.Errorf("malformed wires not kept: %s", v)
	}
}

func TestTypedFieldsAssignedDirectly(t *testing.T) {
	d, err := Parse([]byte(`[{"id":"a","type":"mqtt in","z":"t","name":"n","wires":[["b"]],"d":true,"x":1},
		{"id":"t","type":"tab","disabled":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	n, tab := d.Nodes[0], d.Nodes[1]
	n.Name = "renamed"
	n.Z = ""
	n.Wires = [][]string{{"b", "c"}, nil}
	n.Disabled = false
	tab.Disabled = false
	extra := &Node{ID: "e", Type: "rbe", Z: "t", Wires: [][]string{{"a"}}}
	d.Nodes = append(d.Nodes, extra)
	out, err := d.Marshal(FormatNodeRED, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"a","type":"mqtt in","z":"","name":"renamed","wires":[["b","c"],[]],"x":1},` +
		`{"id":"t","type":"tab","disabled":false},` +
		`{"id":"e","type":"rbe","z":"t","wires":[["a"]]}]`
	if string(out) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", out, want)
	}
	if v, _ := n.Get("name"); string(v) != `"renamed"` {
		t.Errorf("Get(name) = %s", v)
	}
}

func TestClone(t *testing.T) {
	d, err := Parse([]byte(`[{"id":"a","type":"inject","v":{"k":1},"wires":[["b"]]},{"id":"b","type":"debug"}]`))
	if err != nil {
		t.Fatal(err)
	}
	c := d.Clone()
	c.Nodes[0].Wires[0][0] = "zzz"
	c.Nodes[0].Set("v", json.RawMessage(`2`))
	v, _ := c.Nodes[1].Get("type")
	v[1] = 'X' // Get's value must not be modified, but a clone must not share it either
	if d.Nodes[0].Wires[0][0] != "b" {
		t.Errorf("clone shares wires")
	}
	if v, _ := d.Nodes[0].Get("v"); string(v) != `{"k":1}` {
		t.Errorf("clone shares props: %s", v)
	}
	if v, _ := d.Nodes[1].Get("type"); string(v) != `"debug"` {
		t.Errorf("clone shares values: %s", v)
	}
	if (*Document)(nil).Clone() != nil || (*Node)(nil).Clone() != nil {
		t.Errorf("nil clones")
	}
}

func TestMarshalInvalidValue(t *testing.T) {
	n := NewNode("a", "inject")
	n.Set("bad", json.RawMessage(`{"x":`))
	_, err := (&Document{Nodes: []*Node{n}}).Marshal(FormatRunnel, false)
	if err == nil {
		t.Fatal("Marshal accepted an invalid value")
	}
	if _, err := (&Document{Nodes: []*Node{nil}}).Marshal(FormatRunnel, false); err == nil {
		t.Fatal("Marshal accepted a nil node")
	}
	if _, err := (&Document{}).Marshal(Format(9), false); err == nil {
		t.Fatal("Marshal accepted an unknown format")
	}
}

func TestTypeNames(t *testing.T) {
	for nr, rn := range map[string]string{
		"mqtt in": "mqtt-in", "mqtt out": "mqtt-out", "rbe": "filter-on-change",
		"json": "json", "template": "template", "inject": "inject", "debug": "debug",
		"mqtt-broker": "mqtt-broker", "tab": "tab", "subflow:abc": "subflow:abc",
	} {
		if got := RunnelType(nr); got != rn {
			t.Errorf("RunnelType(%q) = %q, want %q", nr, got, rn)
		}
		if got := NodeREDType(rn); got != nr {
			t.Errorf("NodeREDType(%q) = %q, want %q", rn, got, nr)
		}
		if got := RunnelType(rn); got != rn {
			t.Errorf("RunnelType(%q) = %q, want it unchanged", rn, got)
		}
	}
}

func keys(ps []Prop) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ","
		}
		s += p.Key
	}
	return s
}
