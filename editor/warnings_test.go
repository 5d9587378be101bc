package editor_test

import (
	"os"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// A Node-RED export of part of a flow: i1 is wired to d9, which was not
// exported, and d1's name is null.
const partDoc = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","name":"tick","x":100,"y":80,"wires":[["d1","d9"]]},{"id":"d1","type":"debug","z":"t1","name":null,"x":300,"y":80,"wires":[]}]`

// TestPostFlowsWarnings: POST /flows deploys a document with a wire to a
// node that is not in it and a null name (before: 400, both refused); the
// v2 answer is Node-RED's {"rev"} with a "warnings" array naming the node
// and the missing target; a v1 deploy answers 204 as before; and GET /flows
// and the flow file give the document back as it was posted, the dangling
// wire and the null included, as Node-RED keeps what it was given.
func TestPostFlowsWarnings(t *testing.T) {
	e := newRevEnv(t, nil, engine.DefaultRegistry)
	v2 := []string{"Content-Type", "application/json", "Node-RED-API-Version", "v2"}
	e.expect("POST", "/flows", `{"flows":`+partDoc+`}`, 200,
		`{"rev":"`+rev(t, partDoc)+`","warnings":[{"id":"i1","type":"inject","field":"wires","line":1,"warning":"output 1 is wired to missing node \"d9\": the wire is dropped"}]}`, v2...)
	e.expect("GET", "/flows", "", 200, partDoc)
	b, err := os.ReadFile(e.flowFile)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := flows.Parse(b)
	if err != nil {
		t.Fatalf("the flow file: %v", err)
	}
	if out, _ := saved.Marshal(flows.FormatRunnel, false); string(out) != partDoc {
		t.Errorf("the flow file holds\n%s\nwant\n%s", out, partDoc)
	}

	// v1: 204 and no body, as Node-RED answers.
	e.expect("POST", "/flows", partDoc, 204, "", "Content-Type", "application/json")
	// No warnings: exactly Node-RED's v2 answer.
	e.expect("POST", "/flows", `{"flows":`+revDoc1+`}`, 200, `{"rev":"`+rev(t, revDoc1)+`"}`, v2...)
}
