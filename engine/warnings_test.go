package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// fileCfgConfig is a config node that needs a file, as tls-config does.
type fileCfgConfig struct {
	File string `json:"file"`
}

type fileCfg struct{}

// warnRegistry is testRegistry with a config type "filecfg" that warns,
// from its constructor, when its file is "missing", and a "user" node that
// refers to one.
func warnRegistry() *engine.Registry {
	reg := testRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "filecfg", Config: true}, func(c *fileCfgConfig, h *engine.Host) (engine.Node, error) {
		if c.File == "missing" {
			h.Warn("file", "open %s: no such file or directory", c.File)
		}
		return &fileCfg{}, nil
	}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "user", Inputs: 1}, func(c *struct {
		Cfg string `json:"cfg" node:"filecfg"`
	}, h *engine.Host) (engine.Node, error) {
		if _, err := h.ConfigNode(c.Cfg, "filecfg"); err != nil {
			return nil, engine.ErrField("cfg", err)
		}
		return &sink{}, nil
	}))
	return reg
}

// TestCompileWarnings: the wires Node-RED loads and drops when a message
// is sent (to an id not in the document, to a tab, to a config node or a
// node without input, from an output the node does not have) compile with
// a warning naming the node, the output and the target, and the wires that
// do lead somewhere still carry messages. Before, each was a problem that
// refused the deploy.
func TestCompileWarnings(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string
	}{
		{"missing target", `[
{"id":"s","type":"src","wires":[["k","gone"]]},
{"id":"k","type":"sink"}]`,
			[]string{`line 2: node "s" (src) field "wires": output 1 is wired to missing node "gone": the wire is dropped`}},
		{"output the node does not have", `[
{"id":"s","type":"src","wires":[["k"],["k"],[]]},
{"id":"k","type":"sink"}]`,
			[]string{`line 2: node "s" (src) field "wires": wired from output 2 but src has 1 output(s): the wire is dropped`}},
		{"empty extra outputs", `[
{"id":"s","type":"src","wires":[["k"],[],[]]},
{"id":"k","type":"sink"}]`, nil},
		{"node without input", `[
{"id":"s","type":"src","wires":[["k","s2"]]},
{"id":"s2","type":"src","wires":[]},
{"id":"k","type":"sink"}]`,
			[]string{`line 2: node "s" (src) field "wires": output 1 is wired to node "s2" (src), which has no input: the wire is dropped`}},
		{"config node", `[
{"id":"s","type":"src","wires":[["k","c"]]},
{"id":"c","type":"filecfg"},
{"id":"k","type":"sink"}]`,
			[]string{`line 2: node "s" (src) field "wires": output 1 is wired to node "c" (filecfg), which has no input: the wire is dropped`}},
		{"tab", `[
{"id":"t","type":"tab"},
{"id":"s","type":"src","z":"t","wires":[["k","t"]]},
{"id":"k","type":"sink","z":"t"}]`,
			[]string{`line 3: node "s" (src) field "wires": output 1 is wired to "t", which is a tab: the wire is dropped`}},
		{"config node with wires", `[
{"id":"s","type":"src","wires":[["k"]]},
{"id":"c","type":"filecfg","wires":[["k"]]},
{"id":"k","type":"sink"}]`,
			[]string{`line 3: node "c" (filecfg) field "wires": config nodes have no wires: the wires are dropped`}},
		{"null name, z and wires", `[
{"id":"s","type":"src","name":null,"z":null,"wires":[["k"]]},
{"id":"k","type":"sink","name":null,"wires":null}]`, nil},
		{"from the constructor, sorted by line", `[
{"id":"s","type":"src","wires":[["k","gone"]]},
{"id":"k","type":"user","cfg":"c"},
{"id":"c","type":"filecfg","file":"missing"}]`,
			[]string{
				`line 2: node "s" (src) field "wires": output 1 is wired to missing node "gone": the wire is dropped`,
				`line 4: node "c" (filecfg) field "file": open missing: no such file or directory`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := parse(t, tt.doc)
			var log bytes.Buffer
			rt := engine.New(engine.Options{Registry: warnRegistry(), Logger: slog.New(slog.NewTextHandler(&log, nil))})
			g, err := rt.Compile(doc)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			var got []string
			for _, w := range g.Warnings() {
				got = append(got, w.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// It deploys, the good wire carries the message, and each
			// warning is logged on one line.
			if err := rt.Deploy(context.Background(), doc); err != nil {
				t.Fatalf("deploy: %v", err)
			}
			defer rt.Stop(context.Background())
			rt.Graph().Node("s").(*src).h.Send(0, engine.NewMessage("", "m"))
			if k, ok := rt.Graph().Node("k").(*sink); ok && strings.Join(k.got, ",") != "m" {
				t.Errorf("sink got %q", k.got)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
				if strings.Contains(l, "flow warning") {
					lines = append(lines, l)
				}
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("logged %d warning lines, want %d:\n%s", len(lines), len(tt.want), log.String())
			}
			for i, w := range rt.Graph().Warnings() {
				if want := `level=WARN msg="flow warning" node=` + w.NodeID; !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "line=") {
					t.Errorf("log line %q, want %q and the line", lines[i], want)
				}
			}
		})
	}
}

// TestWarningsOutliveKeptNodes: a deploy that keeps a config node running
// (a "nodes" deploy that does not touch it) still reports the warning its
// constructor gave when it was built.
func TestWarningsOutliveKeptNodes(t *testing.T) {
	rt := engine.New(engine.Options{Registry: warnRegistry()})
	doc := parse(t, `[
{"id":"c","type":"filecfg","file":"missing"},
{"id":"u","type":"user","cfg":"c"},
{"id":"s","type":"src","wires":[["u"]]}]`)
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(context.Background())
	doc2 := doc.Clone()
	doc2.Nodes = append(doc2.Nodes, flows.NewNode("k", "sink"))
	p, err := rt.Plan(doc2, engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kept != 3 {
		t.Fatalf("kept %d nodes, want 3", p.Kept)
	}
	want := []flows.Warning{{NodeID: "c", Type: "filecfg", Field: "file", Line: 2, Msg: "open missing: no such file or directory"}}
	if got := p.Graph().Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings %+v, want %+v", got, want)
	}
}
