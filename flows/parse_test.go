package flows

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		line, col  int
		msgContain string
	}{
		{
			name: "missing comma between properties",
			in:   "[\n  {\"id\": \"a\",\n    \"type\": \"inject\"\n    \"name\": \"x\"}\n]",
			line: 4, col: 5, msgContain: "after object key:value pair",
		},
		{
			name: "missing comma between nodes on line 3",
			in:   "[\n  {\"id\": \"a\", \"type\": \"inject\"}\n  {\"id\": \"b\", \"type\": \"debug\"}\n]",
			line: 3, col: 3, msgContain: "after array element",
		},
		{
			name: "trailing comma",
			in:   "[\n  {\"id\": \"a\", \"type\": \"inject\"},\n]",
			line: 3, col: 1, msgContain: "looking for beginning of value",
		},
		{
			name: "unexpected end",
			in:   "[\n  {\"id\": \"a\"",
			line: 2, col: 13, msgContain: "unexpected end of JSON input",
		},
		{
			name: "empty input",
			in:   "",
			line: 1, col: 1, msgContain: "unexpected end",
		},
		{
			name: "columns count characters, not bytes",
			in:   "[{\"name\": \"°C°C\" x}]",
			line: 1, col: 18, msgContain: "invalid character 'x'",
		},
		{
			name: "garbage after the document",
			in:   "[]\n]",
			line: 2, col: 1, msgContain: "after top-level value",
		},
		{
			name: "single quotes",
			in:   "[{'id': 'a'}]",
			line: 1, col: 3, msgContain: "invalid character",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", d)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if pe.Line != tt.line || pe.Column != tt.col {
				t.Errorf("position = line %d, column %d, want line %d, column %d (%v)", pe.Line, pe.Column, tt.line, tt.col, err)
			}
			want := "line " + itoa(tt.line) + ", column " + itoa(tt.col) + ": "
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.msgContain) {
				t.Errorf("error = %q, want prefix %q containing %q", err, want, tt.msgContain)
			}
			var se *json.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error does not wrap a *json.SyntaxError")
			}
		})
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestParseShapeErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int
		contains  []string
	}{
		{"string at top level", "  \"flows\"", 1, 3, []string{"array of node objects", "not a string"}},
		{"number at top level", "\n42", 2, 1, []string{"not a number"}},
		{"null at top level", "null", 1, 1, []string{"not null"}},
		{"object without flows", "{\n  \"rev\": \"abc\"\n}", 1, 1, []string{`no "flows" property`}},
		{"v2 flows not an array", "{\"rev\": \"abc\",\n \"flows\": {}}", 2, 11, []string{`"flows" is an object`}},
		{"number element", "[\n  {\"id\": \"a\", \"type\": \"inject\"},\n  42\n]", 3, 3, []string{"flows[1]", "a number", "not a node object"}},
		{"array element", "[[]]", 1, 2, []string{"flows[0]", "an array"}},
		{"string element in v2", "{\"flows\": [{\"id\":\"a\",\"type\":\"tab\"}, \"x\"]}", 1, 37, []string{"flows[1]", "a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if pe.Line != tt.line || pe.Column != tt.col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", pe.Line, pe.Column, tt.line, tt.col, err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not contain %q", err, c)
				}
			}
		})
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Problem // Msg compared by substring
	}{
		{
			name: "duplicate ids",
			in: `[
  {"id": "a", "type": "inject", "wires": [["b"]]},
  {"id": "b", "type": "debug"},
  {"id": "a", "type": "mqtt in"}
]`,
			want: []Problem{{NodeID: "a", Type: "mqtt-in", Field: "id", Line: 4, Msg: "duplicate id: already used by the node on line 2"}},
		},
		{
			name: "bad wires",
			in: `[
  {"id": "a", "type": "inject", "wires": "b"},
  {"id": "b", "type": "json", "wires": ["c"]},
  {"id": "c", "type": "json", "wires": [[1]]},
  {"id": "e", "type": "json", "wires": [["a"], null]}
]`,
			want: []Problem{
				{NodeID: "a", Type: "inject", Field: "wires", Line: 2, Msg: "not a string"},
				{NodeID: "b", Type: "json", Field: "wires", Line: 3, Msg: "output 0 is a string"},
				{NodeID: "c", Type: "json", Field: "wires", Line: 4, Msg: "output 0, wire 0 is a number"},
				{NodeID: "e", Type: "json", Field: "wires", Line: 5, Msg: "output 1 is null"},
			},
		},
		{
			name: "missing and mistyped fields, all reported",
			in: `[
  {"type": "inject"},
  {"id": "b"},
  {"id": 7, "type": "debug"},
  {"id": "d", "type": ["rbe"]},
  {"id": "e", "type": "json", "z": 1, "name": false},
  {"id": "", "type": ""}
]`,
			want: []Problem{
				{Type: "inject", Field: "id", Line: 2, Msg: "missing id"},
				{NodeID: "b", Field: "type", Line: 3, Msg: "missing type"},
				{Type: "debug", Field: "id", Line: 4, Msg: "id must be a string, not a number"},
				{NodeID: "d", Field: "type", Line: 5, Msg: "type must be a string, not an array"},
				{NodeID: "e", Type: "json", Field: "z", Line: 6, Msg: "z must be a string"},
				{NodeID: "e", Type: "json", Field: "name", Line: 6, Msg: "name must be a string, not a boolean"},
				{Field: "id", Line: 7, Msg: "id must not be empty"},
				{Field: "type", Line: 7, Msg: "type must not be empty"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.in))
			if d != nil {
				t.Errorf("Parse returned a document with problems")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T %v is not Problems", err, err)
			}
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tt.want), err)
			}
			for i, p := range ps {
				w := tt.want[i]
				if p.NodeID != w.NodeID || p.Type != w.Type || p.Field != w.Field || p.Line != w.Line || !strings.Contains(p.Msg, w.Msg) {
					t.Errorf("problem %d = %+v, want %+v", i, p, w)
				}
			}
		})
	}
}

// TestParseAcceptsNodeREDNulls: Node-RED loads a node whose name, z or
// wires is null as if the property were absent (its runtime reads them with
// "|| []" and truthiness), and so does Parse; the document is written back
// as it came.
func TestParseAcceptsNodeREDNulls(t *testing.T) {
	tests := []struct {
		name, node string
		z, label   string
		wires      [][]string
	}{
		{"name null", `{"id":"n","type":"debug","z":"t","name":null,"x":1,"y":2,"wires":[]}`, "t", "", [][]string{}},
		{"z null", `{"id":"n","type":"debug","z":null,"name":"d","wires":[]}`, "", "d", [][]string{}},
		{"wires null", `{"id":"n","type":"debug","z":"t","wires":null}`, "t", "", nil},
		{"x, y and info null", `{"id":"n","type":"debug","z":"t","info":null,"x":null,"y":null,"wires":[["a"]]}`, "t", "", [][]string{{"a"}}},
		{"all at once", `{"id":"n","type":"json","z":null,"name":null,"wires":null,"g":null}`, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `[{"id":"t","type":"tab"},` + tt.node + `]`
			d, err := Parse([]byte(in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			n := d.Nodes[1]
			if n.ID != "n" || n.Z != tt.z || n.Name != tt.label || !reflect.DeepEqual(n.Wires, tt.wires) {
				t.Errorf("node = id %q z %q name %q wires %#v; want z %q name %q wires %#v", n.ID, n.Z, n.Name, n.Wires, tt.z, tt.label, tt.wires)
			}
			out, err := d.Marshal(FormatRunnel, false)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != in {
				t.Errorf("written back as\n%s\nwant\n%s", out, in)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	in := "[\n" +
		`  {"id":"t1","type":"tab","label":"One","disabled":true},` + "\n" +
		`  {"id":"t2","type":"tab","label":"Two","d":true},` + "\n" +
		`    {"id":"n1","type":"mqtt in","z":"t1","name":"in","wires":[["n2","n3"],[]],"x":1,"y":2},` + "\n" +
		`  {"id":"n2","type":"rbe","z":"t1","d":true,"wires":[]},` + "\n" +
		`  {"id":"c1","type":"mqtt-broker","broker":"localhost","d":false}` + "\n]"
	d, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	type fields struct {
		ID, Type, Z, Name  string
		Wires              [][]string
		Disabled, HasWires bool
		Line, Column       int
	}
	want := []fields{
		{ID: "t1", Type: "tab", Disabled: true, Line: 2, Column: 3},
		{ID: "t2", Type: "tab", Line: 3, Column: 3},
		{ID: "n1", Type: "mqtt-in", Z: "t1", Name: "in", Wires: [][]string{{"n2", "n3"}, {}}, HasWires: true, Line: 4, Column: 5},
		{ID: "n2", Type: "filter-on-change", Z: "t1", Wires: [][]string{}, Disabled: true, HasWires: true, Line: 5, Column: 3},
		{ID: "c1", Type: "mqtt-broker", Line: 6, Column: 3},
	}
	if len(d.Nodes) != len(want) {
		t.Fatalf("got %d nodes, want %d", len(d.Nodes), len(want))
	}
	for i, n := range d.Nodes {
		got := fields{n.ID, n.Type, n.Z, n.Name, n.Wires, n.Disabled, n.HasWires, n.Line, n.Column}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("node %d = %+v, want %+v", i, got, want[i])
		}
	}
	// The type property agrees with Node.Type.
	if v, _ := d.Nodes[2].Get("type"); string(v) != `"mqtt-in"` {
		t.Errorf(`type property = %s, want "mqtt-in"`, v)
	}
	var keys []string
	for _, p := range d.Nodes[2].Props() {
		keys = append(keys, p.Key)
	}
	if got := strings.Join(keys, ","); got != "id,type,z,name,wires,x,y" {
		t.Errorf("property order = %s", got)
	}
	if tabs := d.Tabs(); len(tabs) != 2 || tabs[0].ID != "t1" || tabs[1].ID != "t2" {
		t.Errorf("Tabs() = %v", tabs)
	}
	if n := d.Node("c1"); n == nil || n.Type != "mqtt-broker" {
		t.Errorf("Node(c1) = %v", n)
	}
	if n := d.Node("nope"); n != nil {
		t.Errorf("Node(nope) = %v", n)
	}
}

func TestParseContainers(t *testing.T) {
	for _, in := range []string{"[]", " \n[ ]\n", `{"rev":"x","flows":[]}`} {
		d, err := Parse([]byte(in))
		if err != nil || d == nil || len(d.Nodes) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want an empty document", in, d, err)
		}
	}
	d, err := Parse([]byte("{\"rev\": \"abc\", \"flows\": [\n {\"id\":\"a\",\"type\":\"rbe\"}]}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Nodes) != 1 || d.Nodes[0].Type != "filter-on-change" || d.Nodes[0].Line != 2 || d.Nodes[0].Column != 2 {
		t.Errorf("v2 document = %+v", d.Nodes[0])
	}
}

func TestParseKeepsValuesAndDuplicateKeys(t *testing.T) {
	in := `[{"id":"a","type":"x","v": { "k" : [1, 2.50, "s p\u00e9"] },"name":"one","name":"two","big":12345678901234567890}]`
	d, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	n := d.Nodes[0]
	if v, _ := n.Get("v"); string(v) != `{"k":[1,2.50,"s p\u00e9"]}` {
		t.Errorf("v = %s", v)
	}
	if v, _ := n.Get("big"); string(v) != `12345678901234567890` {
		t.Errorf("big = %s", v)
	}
	// A repeated key keeps its first position and its last value.
	if n.Name != "two" || len(n.Props()) != 5 || n.Props()[3].Key != "name" {
		t.Errorf("name = %q, props = %v", n.Name, n.Props())
	}
}

func TestParseDuplicateKeysInLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[{"id":"a","type":"x"`)
	for i := range 40 {
		b.WriteString(`,"k` + itoa(i%20) + `":` + itoa(i))
	}
	b.WriteString(`}]`)
	d, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	n := d.Nodes[0]
	if len(n.Props()) != 22 {
		t.Fatalf("got %d props, want 22", len(n.Props()))
	}
	if v, _ := n.Get("k3"); string(v) != "23" || n.Props()[5].Key != "k3" {
		t.Errorf("k3 = %s at %s", v, n.Props()[5].Key)
	}
}
