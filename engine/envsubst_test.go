package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

type envSubstCfg struct {
	Broker string         `json:"broker"`
	Port   float64        `json:"port"`
	Label  string         `json:"label"`
	Inner  string         `json:"inner"`
	Rules  []envSubstRule `json:"rules"`
	To     engine.Typed   `json:"to" typeprop:"tot" types:"str,env"`
}

type envSubstRule struct {
	P string `json:"p"`
}

type envSubstNode struct {
	cfg envSubstCfg
	h   *engine.Host
}

// A node property that is exactly ${NAME} (or $(NAME)), at any depth, is
// the variable's value in the node's configuration, as Node-RED's
// mapEnvVarProperties makes it when it loads a flow: resolved through the
// node's group, its tab and the process environment, keeping the
// variable's type. The document, its export and the deploy diff keep
// ${NAME} as written; a node is built with the environment of its deploy.
func TestEnvSubstitution(t *testing.T) {
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "cfgnode", Config: true}, func(c *envSubstCfg, h *engine.Host) (engine.Node, error) {
		return &envSubstNode{cfg: *c, h: h}, nil
	}))
	rt := engine.New(engine.Options{Registry: reg})
	t.Setenv("RUNNEL_ENVSUBST_HOST", "broker.example")
	const text = `[{"id":"t","type":"tab","label":"Tab","env":[{"name":"PORT","value":"1884","type":"num"},{"name":"WHO","value":"tab","type":"str"}]},
	{"id":"g","type":"group","z":"t","name":"G","env":[{"name":"WHO","value":"group","type":"str"}]},
	{"id":"n","type":"cfgnode","z":"t","g":"g","name":"${WHO}","broker":"${RUNNEL_ENVSUBST_HOST}","port":"${PORT}",
	 "label":"$(NR_GROUP_NAME)","inner":"x-${WHO}","rules":[{"p":"${WHO}"},{"p":"${RUNNEL_ENVSUBST_UNSET}"},{"p":"${ WHO}"}],
	 "to":"${NR_NODE_NAME}","tot":"str"}]`
	doc := parse(t, text)
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	node := func() *envSubstNode { return rt.Graph().Node("n").(*envSubstNode) }
	c := node().cfg
	to, _ := c.To.Const()
	got := []any{c.Broker, c.Port, c.Label, c.Inner, c.Rules[0].P, c.Rules[1].P, c.Rules[2].P, to, node().h.Name()}
	want := []any{"broker.example", 1884.0, "G", "x-${WHO}", "group", "${RUNNEL_ENVSUBST_UNSET}", "${ WHO}", "group", "group"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("config %d = %#v, want %#v", i, got[i], want[i])
		}
	}
	if v, _ := node().h.Env("WHO"); v != "group" {
		t.Errorf("Env(WHO) = %q, want the group's", v)
	}
	if v, _ := node().h.Env("PORT"); v != "1884" {
		t.Errorf("Env(PORT) = %q, want the tab's", v)
	}

	// The document keeps what was written, and so does its export.
	out, err := rt.Graph().Document().Marshal(flows.FormatNodeRED, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"broker":"${RUNNEL_ENVSUBST_HOST}"`, `"port":"${PORT}"`, `"name":"${WHO}"`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("export lacks %s:\n%s", s, out)
		}
	}

	// Another value of the variable is no change to the flows: a nodes
	// deploy keeps the node as it was built; a full deploy rebuilds it
	// with the value of the time.
	t.Setenv("RUNNEL_ENVSUBST_HOST", "other.example")
	doc2 := parse(t, text)
	if d := flows.Compare(rt.Graph().Document(), doc2); len(d.Changed)+len(d.Added)+len(d.Removed) > 0 {
		t.Errorf("diff = %+v, want no change", d)
	}
	p, err := rt.Plan(doc2, engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if b := node().cfg.Broker; b != "broker.example" {
		t.Errorf("after a nodes deploy broker = %q, want the kept node's", b)
	}
	if err := rt.Deploy(context.Background(), parse(t, text)); err != nil {
		t.Fatal(err)
	}
	if b := node().cfg.Broker; b != "other.example" {
		t.Errorf("after a full deploy broker = %q, want the new value", b)
	}
}
