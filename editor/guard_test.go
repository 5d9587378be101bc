package editor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/engine"
)

const guardFlow = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","wires":[[]]}]`

// guardEnv is an admin API without users (nothing needs a login) and a
// live hub, on a loopback httptest server.
type guardEnv struct {
	t    *testing.T
	srv  *httptest.Server
	rt   *engine.Runtime
	port string
}

func newGuardEnv(t *testing.T, allowed ...string) *guardEnv {
	t.Helper()
	api, rt := newTestAPI(t, allowed...)
	e := &guardEnv{t: t, rt: rt, srv: httptest.NewServer(api)}
	t.Cleanup(e.srv.Close)
	u, _ := url.Parse(e.srv.URL)
	e.port = u.Port()
	return e
}

// newTestAPI is an admin API without users (nothing needs a login) with a
// running live hub and guardFlow deployed.
func newTestAPI(t *testing.T, allowed ...string) (*API, *engine.Runtime) {
	t.Helper()
	reg, hub, rt := runningFlow(t, guardFlow)
	api, err := New(Options{Runtime: rt, Registry: reg, Live: hub, AllowedHosts: allowed})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx, rt) }()
	t.Cleanup(func() {
		cancel()
		<-done
		rt.Stop(context.Background())
	})
	return api, rt
}

// do sends a request; headers are name, value pairs ("Host" sets the Host
// header). It returns the status and body.
func (e *guardEnv) do(method, path, body string, header ...string) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// flows returns the running document's ids.
func (e *guardEnv) ids() string {
	var ids []string
	for _, n := range e.rt.Graph().Document().Nodes {
		ids = append(ids, n.ID)
	}
	return strings.Join(ids, ",")
}

const otherFlow = `[{"id":"t2","type":"tab","label":"Pwned"}]`

func TestGuardHost(t *testing.T) {
	e := newGuardEnv(t, "runnel.example", "proxy.example:8443")
	for _, c := range []struct {
		host string
		code int
	}{
		{"127.0.0.1:" + e.port, 200},
		{"localhost:" + e.port, 200},
		{"LOCALHOST.:" + e.port, 200},
		{"[::1]:" + e.port, 200},
		{"runnel.example", 200},
		{"runnel.example:1234", 200},
		{"proxy.example:8443", 200},
		{"proxy.example", 421},
		{"evil.example:" + e.port, 421}, // DNS rebinding: a foreign name for 127.0.0.1
		{"evil.example", 421},
		{"localhost:1", 421}, // another port of this machine
		{"127.0.0.1", 421},
		{"192.0.2.1:" + e.port, 421},
	} {
		code, body := e.do("GET", "/flows", "", "Host", c.host)
		if code != c.code {
			t.Errorf("Host %s: GET /flows = %d %s, want %d", c.host, code, body, c.code)
		}
	}
	want := `{"error":"unknown_host","message":"Host \"evil.example:` + e.port + `\" is not a name of this editor (DNS rebinding protection): use its address, localhost, or add the name to [editor] allowed_hosts"}` + "\n"
	if code, body := e.do("POST", "/flows", otherFlow, "Host", "evil.example:"+e.port, "Content-Type", "application/json"); code != 421 || body != want {
		t.Errorf("rebound POST /flows = %d %s, want 421 %s", code, body, want)
	}
	if code, _ := e.do("GET", "/", "", "Host", "evil.example:"+e.port); code != 421 {
		t.Errorf("rebound GET / = %d, want 421", code)
	}
	if got := e.ids(); got != "t1,i1" {
		t.Errorf("flows after refused requests: %s", got)
	}
}

func TestGuardOrigin(t *testing.T) {
	e := newGuardEnv(t, "https://editor.example", "lan-name")
	json := []string{"Content-Type", "application/json"}
	own := "http://127.0.0.1:" + e.port
	refused := []struct {
		name   string
		header []string
	}{
		{"another port", []string{"Origin", "http://127.0.0.1:9"}},
		{"localhost, another port", []string{"Origin", "http://localhost:9"}},
		{"another site", []string{"Origin", "http://evil.example"}},
		{"https on the same host", []string{"Origin", "https://127.0.0.1:" + e.port}},
		{"null", []string{"Origin", "null"}},
		{"not a URL", []string{"Origin", "::"}},
		{"Sec-Fetch-Site without Origin", []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://localhost:9"}},
		{"configured origin, another scheme", []string{"Origin", "http://editor.example"}},
	}
	for _, c := range refused {
		for _, req := range [][2]string{{"POST", "/flows"}, {"POST", "/inject/i1"}, {"POST", "/flows/revisions/1/rollback"}, {"PUT", "/flows"}, {"DELETE", "/flows"}} {
			body := ""
			if req[1] == "/flows" {
				body = otherFlow
			}
			code, got := e.do(req[0], req[1], body, append(c.header, json...)...)
			if code != 403 || !strings.Contains(got, `"error":"cross_origin"`) {
				t.Errorf("%s: %s %s = %d %s, want 403", c.name, req[0], req[1], code, got)
			}
		}
	}
	want := `{"error":"cross_origin","message":"POST /flows refused: its Origin http://127.0.0.1:9 is not this editor (http://127.0.0.1:` + e.port + `); add the origin to [editor] allowed_hosts if it should be allowed"}` + "\n"
	if code, body := e.do("POST", "/flows", otherFlow, "Origin", "http://127.0.0.1:9", "Content-Type", "application/json"); body != want {
		t.Errorf("cross-origin POST /flows = %d %s, want %s", code, body, want)
	}
	if got := e.ids(); got != "t1,i1" {
		t.Fatalf("flows after refused requests: %s", got)
	}
	// Reads are not refused: the browser does not let the page read them.
	if code, _ := e.do("GET", "/flows", "", "Origin", "http://evil.example"); code != 200 {
		t.Errorf("cross-origin GET: %d", code)
	}
	for _, c := range []struct {
		name   string
		header []string
	}{
		{"no Origin (curl)", nil},
		{"the editor's own origin", []string{"Origin", own}},
		{"localhost, own port", []string{"Origin", "http://localhost:" + e.port, "Host", "localhost:" + e.port}},
		{"Sec-Fetch-Site same-origin behind a proxy", []string{"Origin", "https://proxy.example", "Sec-Fetch-Site", "same-origin"}},
		{"a configured origin", []string{"Origin", "https://editor.example"}},
		{"a configured name, any scheme and port", []string{"Origin", "http://lan-name:8080"}},
	} {
		if code, body := e.do("POST", "/flows", guardFlow, append(c.header, json...)...); code != 204 {
			t.Errorf("%s: POST /flows = %d %s, want 204", c.name, code, body)
		}
	}
	// curl -XPOST localhost:1880/inject/ID: no body, no Content-Type.
	if code, body := e.do("POST", "/inject/i1", ""); code != 200 {
		t.Errorf("POST /inject/i1 = %d %s", code, body)
	}
}

func TestGuardContentType(t *testing.T) {
	e := newGuardEnv(t)
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		code, body := e.do("POST", "/flows", otherFlow, "Content-Type", ct)
		want := `{"error":"unsupported_media_type","message":"POST /flows: Content-Type \"` + ct + `\": the body must be application/json"}` + "\n"
		if code != 415 || body != want {
			t.Errorf("Content-Type %q: %d %s, want 415 %s", ct, code, body, want)
		}
	}
	if got := e.ids(); got != "t1,i1" {
		t.Fatalf("flows after refused requests: %s", got)
	}
	if code, body := e.do("POST", "/flows", otherFlow, "Content-Type", "application/json; charset=utf-8"); code != 204 {
		t.Errorf("application/json; charset=utf-8: %d %s", code, body)
	}
	// The login takes forms, as Node-RED's (no users here: 404).
	if code, body := e.do("POST", "/auth/token", "grant_type=password", "Content-Type", "application/x-www-form-urlencoded"); code != 404 {
		t.Errorf("form login: %d %s", code, body)
	}
	if code, _ := e.do("POST", "/auth/token", "grant_type=password", "Content-Type", "text/plain"); code != 415 {
		t.Errorf("text/plain login: %d", code)
	}
}

// The /comms upgrade is checked like a change; a configured origin is let
// in also when a proxy changed Host.
func TestGuardWebsocket(t *testing.T) {
	e := newGuardEnv(t, "https://editor.example")
	ws := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/comms"
	dial := func(header ...string) (int, error) {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		conn, resp, err := websocket.DefaultDialer.Dial(ws, h)
		if err == nil {
			conn.Close()
			return 101, nil
		}
		if resp != nil {
			return resp.StatusCode, err
		}
		return 0, err
	}
	if code, err := dial("Origin", "http://127.0.0.1:9"); code != 403 || !errors.Is(err, websocket.ErrBadHandshake) {
		t.Errorf("cross-origin upgrade: %d %v", code, err)
	}
	if code, _ := dial("Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("cross-site upgrade without Origin: %d", code)
	}
	if code, err := dial("Origin", "https://editor.example"); code != 101 {
		t.Errorf("configured origin: %d %v", code, err)
	}
	if code, err := dial(); code != 101 {
		t.Errorf("no Origin: %d %v", code, err)
	}
}

func TestAllowedHostsBad(t *testing.T) {
	for _, s := range []string{"", "ftp://x", "https://x/path", "a b", "user@host", ":80"} {
		_, err := parseAllowed([]string{s})
		if err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	reg := testRegistry(t)
	_, err := New(Options{Runtime: engine.New(engine.Options{Registry: reg}), Registry: reg, AllowedHosts: []string{"https://x/p"}})
	if err == nil || err.Error() != `editor allowed_hosts "https://x/p": an origin must be http://HOST[:PORT] or https://HOST[:PORT]` {
		t.Errorf("New: %v", err)
	}
}

// A deploy's invalid UTF-8 is replaced as Node-RED's JavaScript decodes
// it, so that every answer is valid UTF-8.
func TestInvalidUTF8(t *testing.T) {
	e := newGuardEnv(t)
	doc := "[{\"id\":\"t1\",\"type\":\"tab\",\"label\":\"a\xffb\xe2\x82c\xf0\x9f\x98\"},{\"id\":\"i1\",\"type\":\"inject\",\"z\":\"t1\",\"name\":\"\xed\xa0\x80\",\"topic\":\"\xc3\",\"wires\":[[]]}]"
	if code, body := e.do("POST", "/flows", doc, "Content-Type", "application/json"); code != 204 {
		t.Fatalf("POST /flows = %d %s", code, body)
	}
	code, body := e.do("GET", "/flows", "")
	want := `[{"id":"t1","type":"tab","label":"a` + "\uFFFDb\uFFFDc\uFFFD" + `"},{"id":"i1","type":"inject","z":"t1","name":"` + "\uFFFD\uFFFD\uFFFD" + `","topic":"` + "\uFFFD" + `","wires":[[]]}]`
	if code != 200 || body != want || !utf8.ValidString(body) {
		t.Errorf("GET /flows = %d %q\nwant %q", code, body, want)
	}
}

// TestGuardOriginEntryBehindTLSProxy: a proxy that terminates TLS for
// https://runnel.example forwards Host: runnel.example over plain HTTP.
// The origin entry allows that host name on any port in the Host check;
// the Origin check still wants its scheme and port.
func TestGuardOriginEntryBehindTLSProxy(t *testing.T) {
	e := newGuardEnv(t, "https://runnel.example")
	for _, c := range []struct {
		host string
		code int
	}{
		{"runnel.example", 200},
		{"runnel.example:443", 200},
		{"runnel.example:8080", 200},
		{"evil.example", 421},
	} {
		if code, body := e.do("GET", "/flows", "", "Host", c.host); code != c.code {
			t.Errorf("Host %s: GET /flows = %d %s, want %d", c.host, code, body, c.code)
		}
	}
	for _, c := range []struct {
		origin string
		code   int
	}{
		{"https://runnel.example", 204},
		{"https://runnel.example:8443", 403},
		{"http://evil.example", 403},
	} {
		code, body := e.do("POST", "/flows", otherFlow, "Host", "runnel.example", "Origin", c.origin, "Content-Type", "application/json")
		if code != c.code {
			t.Errorf("Origin %s: POST /flows = %d %s, want %d", c.origin, code, body, c.code)
		}
	}
}

// TestHubAloneChecksOriginAsTheAPI: a hub served without the API applies
// the API's origin check (no configured origins): another scheme on the
// same host and port, or a cross-site Sec-Fetch-Site, is refused.
func TestHubAloneChecksOriginAsTheAPI(t *testing.T) {
	srv := httptest.NewServer(NewHub(HubOptions{Registry: testRegistry(t)}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	ws := "ws://" + u.Host
	for _, c := range []struct {
		name   string
		header []string
		code   int
	}{
		{"another scheme", []string{"Origin", "https://" + u.Host}, 403},
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"another site", []string{"Origin", "http://evil.example"}, 403},
		{"own origin", []string{"Origin", "http://" + u.Host}, 101},
		{"no Origin", nil, 101},
	} {
		h := http.Header{}
		for i := 0; i+1 < len(c.header); i += 2 {
			h.Set(c.header[i], c.header[i+1])
		}
		conn, resp, err := websocket.DefaultDialer.Dial(ws, h)
		if conn != nil {
			conn.Close()
		}
		if resp == nil || resp.StatusCode != c.code {
			t.Errorf("%s: %v %v, want %d", c.name, resp, err, c.code)
		}
	}
}
