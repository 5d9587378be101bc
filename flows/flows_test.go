package flows_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/flows"
)

// decodeOrdered decodes a flow document into, per node, its keys in order
// and its values decoded (numbers kept as json.Number).
func decodeOrdered(t *testing.T, data []byte) (keys [][]string, values []map[string]any) {
	t.Helper()
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		t.Fatalf("decode: %v", err)
	}
	for _, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			ks = append(ks, tok.(string))
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
		}
		var m map[string]any
		dec = json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ks)
		values = append(values, m)
	}
	return keys, values
}

func TestNodeREDRoundTrip(t *testing.T) {
	in, err := os.ReadFile("testdata/nodered-export.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := flows.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Nodes) != 11 {
		t.Fatalf("got %d nodes, want 11", len(d.Nodes))
	}
	wantKeys, wantValues := decodeOrdered(t, in)
	for _, pretty := range []bool{false, true} {
		out, err := d.Marshal(flows.FormatNodeRED, pretty)
		if err != nil {
			t.Fatal(err)
		}
		gotKeys, gotValues := decodeOrdered(t, out)
		if !reflect.DeepEqual(gotKeys, wantKeys) {
			t.Errorf("pretty=%v: key order changed:\n got %v\nwant %v", pretty, gotKeys, wantKeys)
		}
		if !reflect.DeepEqual(gotValues, wantValues) {
			t.Errorf("pretty=%v: values changed:\n got %v\nwant %v", pretty, gotValues, wantValues)
		}
	}
	// The file is written as Node-RED writes it with flowFilePretty, apart
	// from the few arrays written on one line and the escapes.
	out, _ := d.Marshal(flows.FormatNodeRED, true)
	if !bytes.HasPrefix(out, []byte("[\n    {\n        \"id\": \"f6f2187d.f17ca8\",\n")) {
		t.Errorf("pretty output starts %q", out[:60])
	}

	// Runnel's format has Runnel's names and nothing else changed.
	rout, err := d.Marshal(flows.FormatRunnel, false)
	if err != nil {
		t.Fatal(err)
	}
	_, runnelValues := decodeOrdered(t, rout)
	renamed := map[string]string{"mqtt in": "mqtt-in", "mqtt out": "mqtt-out", "rbe": "filter-on-change"}
	for i, v := range runnelValues {
		want := wantValues[i]["type"].(string)
		if r, ok := renamed[want]; ok {
			want = r
		}
		if v["type"] != want {
			t.Errorf("node %d: Runnel type %v, want %v", i, v["type"], want)
		}
		v["type"] = wantValues[i]["type"]
	}
	if !reflect.DeepEqual(runnelValues, wantValues) {
		t.Errorf("Runnel format changed more than type names")
	}
	for _, s := range []string{`"type":"mqtt-in"`, `"type":"mqtt-out"`, `"type":"filter-on-change"`} {
		if !bytes.Contains(rout, []byte(s)) {
			t.Errorf("Runnel format lacks %s", s)
		}
	}
	// And it parses back to the same document.
	d2, err := flows.Parse(rout)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range d2.Nodes {
		m := d.Nodes[i]
		if n.ID != m.ID || n.Type != m.Type || n.Z != m.Z || n.Name != m.Name || n.Disabled != m.Disabled ||
			!reflect.DeepEqual(n.Wires, m.Wires) || !reflect.DeepEqual(n.Props(), m.Props()) {
			t.Errorf("node %d differs after a Runnel round trip", i)
		}
	}
	if n := d.Node("99aabbccddeeff00"); n == nil || !n.Disabled {
		t.Errorf("disabled node not disabled: %+v", n)
	}
}

func TestPrettyIndent(t *testing.T) {
	d, err := flows.Parse([]byte(`[{"id":"a","type":"rbe","wires":[["b"]],"o":{},"e":[]}]`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Marshal(flows.FormatNodeRED, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `[
    {
        "id": "a",
        "type": "rbe",
        "wires": [
            [
                "b"
            ]
        ],
        "o": {},
        "e": []
    }
]`
	if string(out) != want {
		t.Errorf("pretty =\n%s\nwant\n%s", out, want)
	}
	empty, _ := (&flows.Document{}).Marshal(flows.FormatRunnel, true)
	if string(empty) != "[]" {
		t.Errorf("empty document = %s", empty)
	}
}

func TestWriteFileReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.json")
	d := flows.ExampleDocument()
	if err := flows.WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	// Overwrite an existing file, keeping its permissions.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	d.Nodes[1].Set("topic", json.RawMessage(`"sensors/#"`))
	if err := flows.WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "flows.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only flows.json", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, %v; want 0640", fi.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("[\n    {\n")) || !bytes.Contains(data, []byte(`"type": "mqtt-in"`)) {
		t.Errorf("file is not pretty Runnel format:\n%s", data)
	}
	got, err := flows.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Node("sensors-in").Get("topic"); string(v) != `"sensors/#"` {
		t.Errorf("topic = %s", v)
	}

	// Writing through a symbolic link replaces the file it points to.
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(path, link); err == nil {
		if err := flows.WriteFile(link, &flows.Document{}); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("link replaced by a file")
		}
		if data, _ := os.ReadFile(path); string(data) != "[]\n" {
			t.Errorf("target = %q", data)
		}
	}

	// A document that cannot be marshalled leaves the file alone.
	bad := flows.NewNode("x", "inject")
	bad.Set("v", json.RawMessage(`{`))
	if err := flows.WriteFile(path, &flows.Document{Nodes: []*flows.Node{bad}}); err == nil {
		t.Errorf("WriteFile wrote an invalid document")
	}
	if err := flows.WriteFile(filepath.Join(dir, "missing", "flows.json"), d); err == nil {
		t.Errorf("WriteFile into a missing directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temp files left: %v", entries)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.json")
	if err := os.WriteFile(path, []byte("[\n  {\"id\": \"a\", \"type\": \"inject\"}\n  {\"id\": \"b\"}\n]"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := flows.ReadFile(path)
	want := path + ": line 3, column 3: invalid character '{' after array element"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	var pe *flows.ParseError
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Errorf("error does not wrap a *ParseError at line 3: %#v", err)
	}

	if err := os.WriteFile(path, []byte(`[{"id":"a","type":"x"},{"id":"a","type":"y"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = flows.ReadFile(path)
	var ps flows.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("error = %v, want Problems naming the file", err)
	}

	if _, err := flows.ReadFile(filepath.Join(dir, "nope.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestExampleDocument(t *testing.T) {
	d := flows.ExampleDocument()
	if len(d.Nodes) != 6 {
		t.Fatalf("example has %d objects, want 6", len(d.Nodes))
	}
	tabs := d.Tabs()
	if len(tabs) != 1 || tabs[0].ID != "tab-sensors" {
		t.Fatalf("tabs = %v", tabs)
	}
	if v, _ := tabs[0].Get("label"); string(v) != `"Sensor alerts"` {
		t.Errorf("tab label = %s", v)
	}
	chain := []struct{ id, typ string }{
		{"sensors-in", "mqtt-in"},
		{"parse-json", "json"},
		{"temp-changed", "filter-on-change"},
		{"render-alert", "template"},
		{"alerts-out", "mqtt-out"},
	}
	for i, c := range chain {
		n := d.Node(c.id)
		if n == nil || n.Type != c.typ || n.Z != "tab-sensors" || !n.HasWires {
			t.Fatalf("node %s = %+v", c.id, n)
		}
		if y, _ := n.Get("y"); string(y) != "100" {
			t.Errorf("%s y = %s", c.id, y)
		}
		if i+1 < len(chain) {
			if !reflect.DeepEqual(n.Wires, [][]string{{chain[i+1].id}}) {
				t.Errorf("%s wires = %v", c.id, n.Wires)
			}
		} else if len(n.Wires) != 0 {
			t.Errorf("%s wires = %v", c.id, n.Wires)
		}
	}
	tmpl, _ := d.Node("render-alert").Get("template")
	var s string
	_ = json.Unmarshal(tmpl, &s)
	if s != "{{{topic}}}: temperature changed to {{payload.temperature}} °C" {
		t.Errorf("template = %q", s)
	}
	// Each call returns a fresh document.
	d.Nodes[0].Set("label", json.RawMessage(`"changed"`))
	if v, _ := flows.ExampleDocument().Nodes[0].Get("label"); string(v) != `"Sensor alerts"` {
		t.Errorf("ExampleDocument shares state")
	}
	// In Node-RED's names it is the classic tutorial flow.
	out, err := d.Marshal(flows.FormatNodeRED, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"type":"mqtt in"`, `"type":"rbe"`, `"type":"mqtt out"`} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("Node-RED export lacks %s", s)
		}
	}
}
