package flows

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(Example)
	for _, s := range []string{
		``, `[]`, `{}`, `null`, `[1]`, `[{}]`, `{"rev":"1","flows":[{"id":"a","type":"tab"}]}`,
		`[{"id":"a","type":"mqtt in","wires":[["b"]]},{"id":"b","type":"rbe","d":true}]`,
		`[{"id":"a","type":"x","id":"b"}]`,
		`[{"id":"a","type":"x"},{"id":"a","type":"x"}]`,
		`[{"id":"a","type":"x","wires":[[1]]}]`,
		"[\n{\"id\":\"a\"\n\"type\":\"x\"}]",
		`[{"id":"\u0061","type":"mqtt\u0020in","name":"<&>"}]`,
		`[{"id":"a","type":"tab","disabled":true,"d":true}]`,
		`{"flows":[{"id":"a","type":"x"}],"flows":[]}`,
		`[{"id":"é","type":"°","z":"","v":[[[[[]]]]]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if d != nil {
				t.Fatalf("Parse returned a document and an error %v", err)
			}
			return
		}
		for _, format := range []Format{FormatRunnel, FormatNodeRED} {
			for _, pretty := range []bool{false, true} {
				out, err := d.Marshal(format, pretty)
				if err != nil {
					t.Fatalf("Marshal(%v, %v): %v", format, pretty, err)
				}
				d2, err := Parse(out)
				if err != nil {
					t.Fatalf("Marshal(%v, %v) output does not parse: %v\n%s", format, pretty, err, out)
				}
				if len(d2.Nodes) != len(d.Nodes) {
					t.Fatalf("%d nodes became %d", len(d.Nodes), len(d2.Nodes))
				}
				for i, n := range d.Nodes {
					m := d2.Nodes[i]
					if n.ID != m.ID || n.Type != m.Type || n.Z != m.Z || n.Name != m.Name ||
						n.Disabled != m.Disabled || n.HasWires != m.HasWires || !reflect.DeepEqual(n.Wires, m.Wires) {
						t.Fatalf("node %d changed: %+v became %+v", i, n, m)
					}
					if !reflect.DeepEqual(n.Props(), m.Props()) {
						t.Fatalf("node %d props changed: %v became %v", i, n.Props(), m.Props())
					}
				}
			}
		}
		// A clone marshals the same.
		a, _ := d.Marshal(FormatRunnel, false)
		b, _ := d.Clone().Marshal(FormatRunnel, false)
		if string(a) != string(b) {
			t.Fatalf("clone marshals differently")
		}
	})
}
