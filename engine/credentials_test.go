package engine_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

type credConfig struct {
	Conn string `json:"conn" node:"cred-conn"`
}

// credConn is a config node that keeps the credentials it was built with.
type credConn struct{ creds map[string]string }

// credUser is a flow node that uses a credConn.
type credUser struct{ conn *credConn }

func (credUser) Receive(context.Context, *engine.Message, engine.Output) error { return nil }

func credRegistry() *engine.Registry {
	reg := engine.NewRegistry()
	reg.MustRegister(engine.NewType(engine.Meta{Type: "cred-conn", Config: true}, func(_ *struct{}, h *engine.Host) (engine.Node, error) {
		c := &credConn{creds: h.Credentials()}
		// The map is the node's own: changing it changes nothing else.
		h.Credentials()["password"] = "tampered"
		return c, nil
	}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "cred-user", Inputs: 1}, func(cfg *credConfig, h *engine.Host) (engine.Node, error) {
		n, err := h.ConfigNode(cfg.Conn, "cred-conn")
		if err != nil {
			return nil, engine.ErrField("conn", err)
		}
		return credUser{conn: n.(*credConn)}, nil
	}))
	return reg
}

func TestHostCredentials(t *testing.T) {
	ctx := context.Background()
	rt := engine.New(engine.Options{Registry: credRegistry()})
	defer rt.Stop(ctx)
	doc, err := flows.Parse([]byte(`[
		{"id":"c1","type":"cred-conn","credentials":{"user":"alice","password":"pw1"}},
		{"id":"c2","type":"cred-conn"},
		{"id":"u1","type":"cred-user","conn":"c1"},
		{"id":"u2","type":"cred-user","conn":"c2"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Deploy(ctx, doc); err != nil {
		t.Fatal(err)
	}
	g := rt.Graph()
	c1 := g.Node("c1").(*credConn)
	if want := map[string]string{"user": "alice", "password": "pw1"}; !reflect.DeepEqual(c1.creds, want) {
		t.Fatalf("c1 credentials %v, want %v", c1.creds, want)
	}
	if c2 := g.Node("c2").(*credConn); len(c2.creds) != 0 {
		t.Fatalf("c2 credentials %v, want none", c2.creds)
	}

	// A nodes deploy that changes only c1's password replaces c1 and the
	// node that uses it, and keeps the others.
	next := doc.Clone()
	next.Credentials["c1"]["password"] = "pw2"
	p, err := rt.Plan(next, engine.DeployNodes)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"u1", "c1"}; !reflect.DeepEqual(p.Replaced, want) {
		t.Fatalf("replaced %v, want %v", p.Replaced, want)
	}
	if err := rt.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	g2 := rt.Graph()
	if got := g2.Node("c1").(*credConn).creds["password"]; got != "pw2" {
		t.Fatalf("c1 password after the deploy: %q", got)
	}
	if g2.Node("u1").(credUser).conn != g2.Node("c1").(*credConn) {
		t.Fatal("u1 still uses the old connection")
	}
	if g2.Node("c2") != g.Node("c2") {
		t.Fatal("c2 was replaced though its credentials did not change")
	}
}
