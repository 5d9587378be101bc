package editor_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

type failingStart struct{}

func (failingStart) Start(context.Context) error { return errors.New("the device is gone") }

// TestDeployThatFailsToStartIsNotSaved: POST /flows with a node that
// fails to start answers 400 naming it; the previous flows keep running
// and stay the stored revision and the flow file (before, the failed
// flows were saved first, so every restart ran them again).
func TestDeployThatFailsToStartIsNotSaved(t *testing.T) {
	reg := engine.NewRegistry()
	for _, typ := range engine.DefaultRegistry.Types() {
		reg.MustRegister(typ)
	}
	reg.MustRegister(engine.NewType(engine.Meta{Type: "fails-to-start", Outputs: 1},
		func(*struct{}, *engine.Host) (engine.Node, error) { return failingStart{}, nil }))
	e := newRevEnv(t, nil, reg)
	e.expect("POST", "/flows", revDoc1, 204, "")
	saved, err := os.ReadFile(e.flowFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := `[{"id":"t1","type":"tab","label":"Flow 1"},
{"id":"f","type":"fails-to-start","z":"t1","wires":[[]]}]`
	e.expect("POST", "/flows", bad, 400, `{"error":"invalid_flows","message":"nodes failed to start; the deploy was rolled back:\nline 2: node \"f\" (fails-to-start): failed to start: the device is gone",`+
		`"problems":[{"id":"f","type":"fails-to-start","line":2,"error":"failed to start: the device is gone"}]}`)
	e.expect("GET", "/flows", "", 200, revDoc1)
	revs, err := e.store.Revisions(context.Background(), 0, 0)
	if err != nil || len(revs) != 1 {
		t.Fatalf("%d revisions, %v; want 1", len(revs), err)
	}
	doc, _, err := e.store.Current(context.Background())
	if err != nil || doc.Rev() != rev(t, revDoc1) {
		t.Fatalf("the current revision is not the flows that run: %v", err)
	}
	now, err := os.ReadFile(e.flowFile)
	if err != nil || string(now) != string(saved) {
		t.Fatalf("the flow file changed: %v\n%s", err, now)
	}
	if _, err := flows.Parse(now); err != nil {
		t.Fatal(err)
	}
}

// TestPostFlowsRefusesTheNaNRepeat: POST /flows with the reported flow
// answered 204 and crashed the process; it is refused, naming node, field
// and line, and nothing is saved.
func TestPostFlowsRefusesTheNaNRepeat(t *testing.T) {
	e := newRevEnv(t, nil, nil)
	e.expect("POST", "/flows", "[{\"id\":\"t\",\"type\":\"tab\"},\n{\"id\":\"i\",\"type\":\"inject\",\"z\":\"t\",\"repeat\":\"NaN\",\"wires\":[[]]}]", 400,
		`{"error":"invalid_flows","message":"line 2: node \"i\" (inject) field \"repeat\": \"NaN\" is not a number of seconds from 0 to 2147483",`+
			`"problems":[{"id":"i","type":"inject","field":"repeat","line":2,"error":"\"NaN\" is not a number of seconds from 0 to 2147483"}]}`)
	if revs, err := e.store.Revisions(context.Background(), 0, 0); err != nil || len(revs) != 0 {
		t.Fatalf("%d revisions, %v; want none", len(revs), err)
	}
}
