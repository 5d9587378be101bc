package editor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

const sidebarFlow = `[
	{"id":"t1","type":"tab","label":"Flow 1"},
	{"id":"src","type":"test-source","z":"t1","wires":[["dbg"]]},
	{"id":"dbg","type":"debug","z":"t1","name":"debug 1","active":true,"tosidebar":true,"complete":"false","wires":[]}
]`

// sidebarEnv is an admin API with the users and tokens of authEnv, a
// library directory, and the debug events of its running flow.
type sidebarEnv struct {
	t   *testing.T
	srv *httptest.Server
	rt  *engine.Runtime
	reg *engine.Registry
	lib string

	mu     sync.Mutex
	events []engine.DebugEvent
}

func newSidebarEnv(t *testing.T) *sidebarEnv {
	t.Helper()
	e := &sidebarEnv{t: t, reg: testRegistry(t), lib: filepath.Join(t.TempDir(), "lib", "flows")}
	e.rt = engine.New(engine.Options{Registry: e.reg, OnDebug: func(ev engine.DebugEvent) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
	}})
	doc, err := flows.Parse([]byte(sidebarFlow))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	dash, err := bcrypt.GenerateFromPassword([]byte(viewerToken), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Options{Runtime: e.rt, Registry: e.reg, LibraryDir: e.lib,
		Users: []User{{Name: "admin", PasswordHash: mustHash(t, "s3cret"), Role: RoleFull}},
		Tokens: []Token{
			{Name: "ci", Hash: HashToken(ciToken), Role: RoleFull},
			{Name: "dash", Hash: string(dash), Role: RoleRead},
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(api)
	t.Cleanup(func() {
		e.srv.Close()
		e.rt.Stop(context.Background())
	})
	return e
}

// do sends a request (JSON body when not empty) with an optional token;
// header holds name, value pairs.
func (e *sidebarEnv) do(method, path, token, body string, header ...string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *sidebarEnv) expect(method, path, token, body string, code int, want string, header ...string) string {
	e.t.Helper()
	got, b := e.do(method, path, token, body, header...)
	if got != code || (want != "" && strings.TrimSuffix(b, "\n") != want) {
		e.t.Errorf("%s %s: %d %s\nwant %d %s", method, path, got, b, code, want)
	}
	return b
}

func (e *sidebarEnv) debugCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events)
}

func (e *sidebarEnv) emit(payload any) {
	e.t.Helper()
	src, ok := e.rt.Graph().Node("src").(*testSource)
	if !ok {
		e.t.Fatal("no test source")
	}
	src.emit("t", payload)
}

// waitDebug waits until n debug events have come, and checks that no more
// come for a moment.
func (e *sidebarEnv) waitDebug(n int) {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for e.debugCount() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := e.debugCount(); got != n {
		e.t.Fatalf("%d debug events, want %d", got, n)
	}
}

// The debug node's button turns it off and on in the running flows at
// once, without a deploy; it needs the full role and the editor's origin.
func TestDebugEnableDisable(t *testing.T) {
	t.Parallel()
	e := newSidebarEnv(t)
	rev := e.rt.Graph().Document().Rev()
	e.emit(1.0)
	e.waitDebug(1)

	e.expect("POST", "/debug/dbg/disable", "", "", 401, "")
	e.expect("POST", "/debug/dbg/disable", viewerToken, "", 403, "")
	e.expect("POST", "/debug/dbg/disable", ciToken, "", 403, "", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site")
	e.expect("POST", "/debug/dbg/disable", ciToken, "", 200, `{"id":"dbg","active":false}`)
	e.emit(2.0)
	e.waitDebug(1)
	e.expect("POST", "/debug/dbg/enable", ciToken, "", 200, `{"id":"dbg","active":true}`)
	e.emit(3.0)
	e.waitDebug(2)
	if got := e.rt.Graph().Document().Rev(); got != rev {
		t.Errorf("the toggle deployed: rev %s, was %s", got, rev)
	}

	e.expect("POST", "/debug/dbg/toggle", ciToken, "", 404, "")
	e.expect("POST", "/debug/src/disable", ciToken, "", 404, `{"error":"not_found","message":"no running debug node \"src\""}`)
	e.expect("POST", "/debug/nope/enable", ciToken, "", 404, "")
}

// Node-RED's context endpoints list node, flow and global context in both
// stores, one key, and delete a key from one store; reading needs a login,
// deleting the full role and the editor's origin.
func TestContextEndpoints(t *testing.T) {
	t.Parallel()
	e := newSidebarEnv(t)
	g := e.rt.GlobalContext()
	g.Set("count", 3.0)
	g.Set("#:(persistent)::p", "kept")
	e.rt.FlowContext("t1").Set("f", map[string]any{"a": []any{1.0, 2.0}})
	e.rt.NodeContext("dbg").Set("n", true)
	e.rt.NodeContext("dbg").Set("key/with slash", "s")

	e.expect("GET", "/context/global", "", "", 401, "")
	e.expect("GET", "/context/global", viewerToken, "", 200,
		`{"memory":{"count":{"msg":3,"format":"number"}},"persistent":{"p":{"msg":"kept","format":"string[4]"}}}`)
	e.expect("GET", "/context/flow/t1", viewerToken, "", 200,
		`{"memory":{"f":{"msg":{"a":[1,2]},"format":"Object"}},"persistent":{}}`)
	e.expect("GET", "/context/node/dbg", viewerToken, "", 200,
		`{"memory":{"key/with slash":{"msg":"s","format":"string[1]"},"n":{"msg":true,"format":"boolean"}},"persistent":{}}`)
	e.expect("GET", "/context/node/other", viewerToken, "", 200, `{"memory":{},"persistent":{}}`)
	e.expect("GET", "/context/global/count", viewerToken, "", 200, `{"msg":3,"format":"number"}`)
	e.expect("GET", "/context/global/p?store=persistent", viewerToken, "", 200, `{"msg":"kept","format":"string[4]"}`)
	e.expect("GET", "/context/global/p?store=file", viewerToken, "", 200, `{"msg":"kept","format":"string[4]"}`)
	e.expect("GET", "/context/global/p", viewerToken, "", 404, "")
	e.expect("GET", "/context/node/dbg/key%2Fwith%20slash", viewerToken, "", 200, `{"msg":"s","format":"string[1]"}`)
	e.expect("GET", "/context/global/count?store=redis", viewerToken, "", 400,
		`{"error":"unknown_store","message":"unknown context store \"redis\" (the stores are memory and persistent)"}`)
	for _, p := range []string{"/context/bogus", "/context/flow", "/context/node/a/b/c", "/context/global/a/b", "/context/flow/a/b/c/d"} {
		e.expect("GET", p, viewerToken, "", 404, "")
	}

	e.expect("DELETE", "/context/global/count", "", "", 401, "")
	e.expect("DELETE", "/context/global/count", viewerToken, "", 403, "")
	e.expect("DELETE", "/context/global/count", ciToken, "", 403, "", "Origin", "http://evil.example")
	e.expect("DELETE", "/context/global", ciToken, "", 404, "")
	e.expect("DELETE", "/context/global/count", ciToken, "", 204, "")
	e.expect("DELETE", "/context/global/p", ciToken, "", 204, "") // memory: not there, nothing happens
	e.expect("GET", "/context/global", viewerToken, "", 200,
		`{"memory":{},"persistent":{"p":{"msg":"kept","format":"string[4]"}}}`)
	e.expect("DELETE", "/context/global/p?store=persistent", ciToken, "", 204, "")
	e.expect("DELETE", "/context/node/dbg/key%2Fwith%20slash", ciToken, "", 204, "")
	e.expect("DELETE", "/context/flow/t1/f", ciToken, "", 204, "")
	e.expect("GET", "/context/global", viewerToken, "", 200, `{"memory":{},"persistent":{}}`)
	e.expect("GET", "/context/node/dbg", viewerToken, "", 200, `{"memory":{"n":{"msg":true,"format":"boolean"}},"persistent":{}}`)
	if _, ok := e.rt.FlowContext("t1").Get("f"); ok {
		t.Error("the flow key is still set")
	}
}

// The examples are listed with their tabs' labels, served as they are
// embedded, and each compiles; names that are not examples are not found.
func TestExamples(t *testing.T) {
	t.Parallel()
	e := newSidebarEnv(t)
	var list []exampleInfo
	if err := json.Unmarshal([]byte(e.expect("GET", "/library/examples", viewerToken, "", 200, "")), &list); err != nil {
		t.Fatal(err)
	}
	e.expect("GET", "/library/examples", "", "", 401, "")
	names := exampleNames()
	if len(list) != len(names) || len(list) < 3 || list[0].Name != seedExample || list[0].Label != "Sensor alerts" {
		t.Fatalf("examples %+v, want %v", list, names)
	}
	for _, ex := range list {
		if ex.Nodes == 0 || ex.Label == "" {
			t.Errorf("example %+v", ex)
		}
		_, body := e.do("GET", "/library/examples/"+ex.Name, viewerToken, "")
		if body != string(exampleBytes(ex.Name)) {
			t.Errorf("example %s is not served as embedded", ex.Name)
		}
		doc, err := flows.Parse([]byte(body))
		if err == nil {
			_, err = e.rt.Compile(doc)
		}
		if err != nil {
			t.Errorf("example %s: %v", ex.Name, err)
		}
	}
	for _, p := range []string{"nope", "..%2Fapi.go", "%2E%2E", ".hidden", "embed.go"} {
		e.expect("GET", "/library/examples/"+p, viewerToken, "", 404, "")
	}
}

// The library saves, lists, serves and deletes entries by name; names
// that could reach outside its directory, or are too long, are refused,
// and so are bodies that are not flows or are too large.
func TestLibrary(t *testing.T) {
	t.Parallel()
	e := newSidebarEnv(t)
	flow := `[{"id":"n1","type":"debug","z":"t1","name":"x","wires":[]},{"id":"n2","type":"inject","z":"t1","wires":[["n1"]]}]`
	e.expect("GET", "/library/flows", viewerToken, "", 200, `[]`)
	e.expect("POST", "/library/flows/my%20flow", "", flow, 401, "")
	e.expect("POST", "/library/flows/my%20flow", viewerToken, flow, 403, "")
	e.expect("POST", "/library/flows/my%20flow", ciToken, flow, 403, "", "Origin", "http://evil.example")
	e.expect("POST", "/library/flows/my%20flow", ciToken, flow, 415, "", "Content-Type", "text/plain")
	e.expect("POST", "/library/flows/my%20flow", ciToken, flow, 204, "")
	e.expect("POST", "/library/flows/Ünïcode_1.2-a", ciToken, "[\n"+`{"id":"a","type":"tab"}`+"\n]", 204, "")
	b, err := os.ReadFile(filepath.Join(e.lib, "my flow.json"))
	if err != nil || string(b) != flow {
		t.Fatalf("the entry's file: %q, %v", b, err)
	}
	var list []libraryEntry
	if err := json.Unmarshal([]byte(e.expect("GET", "/library/flows", viewerToken, "", 200, "")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "my flow" || list[0].Size != int64(len(flow)) || list[1].Name != "Ünïcode_1.2-a" || time.Since(list[0].Modified) > time.Minute {
		t.Errorf("entries %+v", list)
	}
	e.expect("GET", "/library/flows/my%20flow", viewerToken, "", 200, flow)
	e.expect("GET", "/library/flows/%C3%9Cn%C3%AFcode_1.2-a", viewerToken, "", 200, `[{"id":"a","type":"tab"}]`)
	e.expect("GET", "/library/flows", "", "", 401, "")
	e.expect("GET", "/library/flows/other", viewerToken, "", 404, "")

	// Hostile names.
	outside := filepath.Join(filepath.Dir(e.lib), "outside.json")
	for _, name := range []string{"..%2Foutside", "%2E%2E%2Foutside", "..", ".hidden", "a%2Fb", "a%5Cb", "a%00b", "%20lead", "trail%20", "trail.",
		"a..b", strings.Repeat("x", 65), "", "a%0Ab", "%E2%80%AEevil"} {
		code, body := e.do("POST", "/library/flows/"+name, ciToken, flow)
		if code != 400 && code != 404 && code != 405 && code != 301 {
			t.Errorf("POST name %q: %d %s", name, code, body)
		}
		if code, _ := e.do("GET", "/library/flows/"+name, viewerToken, ""); code == 200 {
			t.Errorf("GET name %q: 200", name)
		}
	}
	if _, err := os.Stat(outside); err == nil {
		t.Error("a name reached outside the library")
	}
	e.expect("POST", "/library/flows/"+strings.Repeat("x", 64), ciToken, flow, 204, "")
	code, body := e.do("POST", "/library/flows/..%2Foutside", ciToken, flow)
	if code != 400 || !strings.Contains(body, `"error":"invalid_name"`) {
		t.Errorf("traversal: %d %s", code, body)
	}

	// A symbolic link out of the library is not followed.
	if err := os.WriteFile(outside, []byte(`[{"id":"secret","type":"x"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.lib, "link.json")); err != nil {
		t.Fatal(err)
	}
	e.expect("GET", "/library/flows/link", viewerToken, "", 404, "")
	if strings.Contains(e.expect("GET", "/library/flows", viewerToken, "", 200, ""), "link") {
		t.Error("the link is listed")
	}

	// Bodies.
	for _, bad := range []string{`{}`, `[]`, `[1]`, `[null]`, `[{"id":"a"}]`, `[{"id":"","type":"x"}]`, `[{"id":1,"type":"x"}]`, `not json`} {
		e.expect("POST", "/library/flows/bad", ciToken, bad, 400, "")
	}
	big := `[{"id":"a","type":"comment","info":"` + strings.Repeat("x", maxLibraryEntry) + `"}]`
	e.expect("POST", "/library/flows/big", ciToken, big, 413, "")
	if _, err := os.Stat(filepath.Join(e.lib, "big.json")); err == nil {
		t.Error("the large entry was saved")
	}

	// Replace, then delete.
	e.expect("POST", "/library/flows/my%20flow", ciToken, `[{"id":"z","type":"tab"}]`, 204, "")
	e.expect("GET", "/library/flows/my%20flow", viewerToken, "", 200, `[{"id":"z","type":"tab"}]`)
	e.expect("DELETE", "/library/flows/my%20flow", viewerToken, "", 403, "")
	e.expect("DELETE", "/library/flows/my%20flow", ciToken, "", 204, "")
	e.expect("DELETE", "/library/flows/my%20flow", ciToken, "", 404, "")
	e.expect("GET", "/library/flows/my%20flow", viewerToken, "", 404, "")
	ents, _ := os.ReadDir(e.lib)
	for _, de := range ents {
		if strings.HasSuffix(de.Name(), ".tmp") {
			t.Errorf("a temporary file is left: %s", de.Name())
		}
	}
}

// The library holds at most maxLibraryEntries entries; replacing one is
// still allowed when it is full.
func TestLibraryFull(t *testing.T) {
	t.Parallel()
	e := newSidebarEnv(t)
	if err := os.MkdirAll(e.lib, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range maxLibraryEntries {
		os.WriteFile(filepath.Join(e.lib, fmt.Sprintf("e%04d.json", i)), []byte(`[{"id":"a","type":"tab"}]`), 0o644)
	}
	e.expect("POST", "/library/flows/one%20more", ciToken, `[{"id":"a","type":"tab"}]`, 507, "")
	e.expect("POST", "/library/flows/e0001", ciToken, `[{"id":"b","type":"tab"}]`, 204, "")
}
