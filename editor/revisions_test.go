package editor_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
	_ "github.com/runnel-io/runnel/nodes" // inject and debug
)

// The three deploys of TestRevisionEndpoints.
const (
	revDoc1 = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","name":"tick","x":100,"y":80,"wires":[["d1"]]},{"id":"d1","type":"debug","z":"t1","x":300,"y":80,"wires":[]}]`
	// d1 renamed.
	revDoc2 = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","name":"tick","x":100,"y":80,"wires":[["d1"]]},{"id":"d1","type":"debug","z":"t1","name":"out","x":300,"y":80,"wires":[]}]`
	// d2 added and wired from i1.
	revDoc3 = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","name":"tick","x":100,"y":80,"wires":[["d1","d2"]]},{"id":"d1","type":"debug","z":"t1","name":"out","x":300,"y":80,"wires":[]},{"id":"d2","type":"debug","z":"t1","x":300,"y":160,"wires":[]}]`
)

// revEnv is an admin API with a real runtime (no broker) and a real SQLite
// store, served over HTTP.
type revEnv struct {
	t        *testing.T
	srv      *httptest.Server
	store    *store.Store
	flowFile string
}

func newRevEnv(t *testing.T, st *store.Store, reg *engine.Registry) *revEnv {
	t.Helper()
	dir := t.TempDir()
	if st == nil {
		var err error
		st, err = store.Open(context.Background(), filepath.Join(dir, "runnel.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	rt := engine.New(engine.Options{Registry: reg})
	t.Cleanup(func() { rt.Stop(context.Background()) })
	e := &revEnv{t: t, store: st, flowFile: filepath.Join(dir, "flows.json")}
	e.srv = httptest.NewServer(editor.NewAPI(editor.Options{Runtime: rt, Registry: reg, Store: st, FlowFile: e.flowFile}))
	t.Cleanup(e.srv.Close)
	return e
}

// do sends a request and returns the status and body.
func (e *revEnv) do(method, path, body string, header ...string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// expect sends a request and fails the test unless it answers code with
// exactly body (a trailing newline aside).
func (e *revEnv) expect(method, path, body string, code int, want string, header ...string) {
	e.t.Helper()
	got, b := e.do(method, path, body, header...)
	if got != code || strings.TrimSuffix(b, "\n") != want {
		e.t.Errorf("%s %s = %d %s\nwant %d %s", method, path, got, b, code, want)
	}
}

func rev(t *testing.T, text string) string {
	t.Helper()
	d, err := flows.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return d.Rev()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRevisionEndpoints(t *testing.T) {
	e := newRevEnv(t, nil, nil)
	start := time.Now().Truncate(time.Millisecond)

	// Three deploys: full (no header), nodes, flows.
	e.expect("POST", "/flows", revDoc1, 200, `{"rev":"`+rev(t, revDoc1)+`"}`, "Node-RED-API-Version", "v2")
	e.expect("POST", "/flows", revDoc2, 204, "", "Node-RED-Deployment-Type", "nodes")
	e.expect("POST", "/flows", revDoc3, 204, "", "Node-RED-Deployment-Type", "flows")
	// Deploys that fail save nothing: a document that does not compile,
	// and one based on a stale rev.
	if code, _ := e.do("POST", "/flows", `[{"id":"x","type":"no-such-type"}]`); code != 400 {
		t.Errorf("invalid deploy: %d, want 400", code)
	}
	e.expect("POST", "/flows", `{"rev":"`+rev(t, revDoc1)+`","flows":`+revDoc1+`}`, 409,
		`{"error":"version_mismatch","message":"the flows were changed since rev `+rev(t, revDoc1)+`"}`)

	// The list, newest first; its times are the deploys'.
	_, body := e.do("GET", "/flows/revisions", "")
	var list struct{ Revisions []store.Revision }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET /flows/revisions: %v: %s", err, body)
	}
	want := []store.Revision{
		{ID: 3, DeployType: "flows", Summary: "1 added, 1 rewired", Rev: rev(t, revDoc3), Nodes: 4},
		{ID: 2, DeployType: "nodes", Summary: "1 changed", Rev: rev(t, revDoc2), Nodes: 3},
		{ID: 1, DeployType: "full", Summary: "3 added", Rev: rev(t, revDoc1), Nodes: 3},
	}
	if len(list.Revisions) == len(want) {
		for i := range want {
			got := list.Revisions[i]
			if got.Time.Before(start) || got.Time.After(time.Now()) {
				t.Errorf("revision %d time %v is not the deploy's", got.ID, got.Time)
			}
			want[i].Time = got.Time
		}
	}
	wantList := `{"revisions":` + mustJSON(t, want) + `}`
	if strings.TrimSuffix(body, "\n") != wantList {
		t.Fatalf("GET /flows/revisions = %s\nwant %s", body, wantList)
	}
	e.expect("GET", "/flows/revisions?limit=2", "", 200, `{"revisions":`+mustJSON(t, want[:2])+`}`)
	e.expect("GET", "/flows/revisions?limit=2&before=3", "", 200, `{"revisions":`+mustJSON(t, want[1:])+`}`)
	e.expect("GET", "/flows/revisions?before=1", "", 200, `{"revisions":[]}`)

	// One revision, with its flows.
	e.expect("GET", "/flows/revisions/2", "", 200, `{"revision":`+mustJSON(t, want[1])+`,"flows":`+revDoc2+`}`)

	// How revision 3 differs from 1, and 1 from 3.
	e.expect("GET", "/flows/revisions/1/diff/3", "", 200,
		`{"from":1,"to":3,"diff":{"added":["d2"],"changed":["d1"],"rewired":["i1"],"tabs":["t1"]}}`)
	e.expect("GET", "/flows/revisions/3/diff/1", "", 200,
		`{"from":3,"to":1,"diff":{"removed":["d2"],"changed":["d1"],"rewired":["i1"],"tabs":["t1"]}}`)
	e.expect("GET", "/flows/revisions/2/diff/2", "", 200, `{"from":2,"to":2,"diff":{}}`)

	// Roll back to revision 1: a new full deploy of its document.
	_, body = e.do("POST", "/flows/revisions/1/rollback", "")
	var rb struct {
		Rev      string         `json:"rev"`
		Revision store.Revision `json:"revision"`
	}
	if err := json.Unmarshal([]byte(body), &rb); err != nil {
		t.Fatalf("rollback: %v: %s", err, body)
	}
	rolled := store.Revision{ID: 4, Time: rb.Revision.Time, DeployType: "nodes",
		Summary: "rollback to #1: 1 changed, 1 rewired, 1 removed", Rev: rev(t, revDoc1), Nodes: 3}
	if wantBody := `{"rev":"` + rev(t, revDoc1) + `","revision":` + mustJSON(t, rolled) + `}`; strings.TrimSuffix(body, "\n") != wantBody {
		t.Errorf("rollback = %s\nwant %s", body, wantBody)
	}

	// The running flows, the flow file and the store's current revision
	// are revision 1's document.
	e.expect("GET", "/flows", "", 200, revDoc1)
	e.expect("GET", "/flows", "", 200, `{"rev":"`+rev(t, revDoc1)+`","flows":`+revDoc1+`}`, "Node-RED-API-Version", "v2")
	fileDoc, err := flows.ReadFile(e.flowFile)
	if err != nil {
		t.Fatal(err)
	}
	if fileDoc.Rev() != rev(t, revDoc1) {
		t.Errorf("flow file is not revision 1's document")
	}
	doc, cur, err := e.store.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := doc.Marshal(flows.FormatRunnel, false); string(b) != revDoc1 || cur != rolled {
		t.Errorf("store's current = %s %+v, want %s %+v", b, cur, revDoc1, rolled)
	}
	e.expect("GET", "/flows/revisions?limit=1", "", 200, `{"revisions":[`+mustJSON(t, rolled)+`]}`)

	// Requests for what does not exist, and malformed ones.
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/flows/revisions/9", 404, `{"error":"not_found","message":"no revision 9"}`},
		{"GET", "/flows/revisions/1/diff/9", 404, `{"error":"not_found","message":"no revision 9"}`},
		{"GET", "/flows/revisions/9/diff/1", 404, `{"error":"not_found","message":"no revision 9"}`},
		{"POST", "/flows/revisions/9/rollback", 404, `{"error":"not_found","message":"no revision 9"}`},
		{"GET", "/flows/revisions/x", 400, `{"error":"invalid_request","message":"revision id must be a positive integer, not \"x\""}`},
		{"GET", "/flows/revisions/0/diff/1", 400, `{"error":"invalid_request","message":"revision id must be a positive integer, not \"0\""}`},
		{"GET", "/flows/revisions/1/diff/-1", 400, `{"error":"invalid_request","message":"revision id must be a positive integer, not \"-1\""}`},
		{"POST", "/flows/revisions/1.5/rollback", 400, `{"error":"invalid_request","message":"revision id must be a positive integer, not \"1.5\""}`},
		{"GET", "/flows/revisions?limit=0", 400, `{"error":"invalid_request","message":"limit must be a positive integer, not \"0\""}`},
		{"GET", "/flows/revisions?before=x", 400, `{"error":"invalid_request","message":"before must be a positive integer, not \"x\""}`},
	} {
		e.expect(c.method, c.path, "", c.code, c.body)
	}
	revs, err := e.store.Revisions(context.Background(), 0, 0)
	if err != nil || len(revs) != 4 {
		t.Errorf("after the failed requests: %d revisions, %v; want 4", len(revs), err)
	}
}

// A revision whose document no longer compiles (here: its node type is
// gone) is not rolled back to, and the answer lists its problems.
func TestRollbackInvalid(t *testing.T) {
	e := newRevEnv(t, nil, nil)
	e.expect("POST", "/flows", revDoc1, 204, "")
	e.expect("POST", "/flows", `[{"id":"t1","type":"tab","label":"Flow 1"}]`, 204, "")

	inject, ok := engine.DefaultRegistry.Lookup("inject")
	if !ok {
		t.Fatal("no inject type")
	}
	reg := engine.NewRegistry()
	reg.MustRegister(inject)
	noDebug := newRevEnv(t, e.store, reg)
	code, body := noDebug.do("POST", "/flows/revisions/1/rollback", "")
	var resp struct {
		Error    string
		Problems []flows.Problem
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if code != 400 || resp.Error != "invalid_flows" || len(resp.Problems) != 1 || resp.Problems[0].NodeID != "d1" || resp.Problems[0].Type != "debug" {
		t.Errorf("rollback to a revision with an unknown type = %d %s, want 400 naming node d1", code, body)
	}
	revs, err := e.store.Revisions(context.Background(), 0, 0)
	if err != nil || len(revs) != 2 {
		t.Errorf("after a failed rollback: %d revisions, %v; want 2", len(revs), err)
	}
}

func TestRevisionsWithoutStore(t *testing.T) {
	rt := engine.New(engine.Options{})
	srv := httptest.NewServer(editor.NewAPI(editor.Options{Runtime: rt}))
	defer srv.Close()
	e := &revEnv{t: t, srv: srv}
	const notFound = `{"error":"not_found","message":"revisions need the SQLite store"}`
	for _, c := range []struct{ method, path string }{
		{"GET", "/flows/revisions"},
		{"GET", "/flows/revisions/1"},
		{"GET", "/flows/revisions/1/diff/2"},
		{"POST", "/flows/revisions/1/rollback"},
	} {
		e.expect(c.method, c.path, "", 404, notFound)
	}
	// Deploys still work, and are not revisions.
	e.expect("POST", "/flows", revDoc1, 204, "")
	e.expect("GET", "/flows", "", 200, revDoc1)
}

func TestRevisionJSONNames(t *testing.T) {
	r := store.Revision{ID: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), User: "ada", DeployType: "nodes", Summary: "1 changed", Rev: "abc", Nodes: 2}
	want := `{"id":7,"time":"2026-01-02T03:04:05.006Z","user":"ada","deployType":"nodes","summary":"1 changed","rev":"abc","nodes":2}`
	if got := mustJSON(t, r); got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	var back store.Revision
	if err := json.Unmarshal([]byte(want), &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}
