package editor

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// serveMounted serves the test API and node routes made with o, mounted
// as runnel serve mounts them; it returns the base URL and the routes.
func serveMounted(t *testing.T, o NodeRoutesOptions, lim ServerLimits) (string, *NodeRoutes) {
	t.Helper()
	api, _ := newTestAPI(t)
	routes, err := NewNodeRoutes(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewServer(Mount(api, routes), lim, nil)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String(), routes
}

// says answers with its text.
func says(text string) func(http.ResponseWriter, *http.Request, map[string]string) {
	return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		fmt.Fprintf(w, "%s %v", text, p)
	}
}

func get(t *testing.T, method, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// The editor's and admin API's paths win over node routes; the rest of
// the node root is the routes'.
func TestNodeRoutesPrecedence(t *testing.T) {
	base, routes := serveMounted(t, NodeRoutesOptions{}, DefaultServerLimits())
	for _, p := range []string{"/flows", "/", "/healthz", "/hello/:x"} {
		if _, err := routes.Route("n1", "GET", p, says("node")); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, body := get(t, "GET", base+"/flows"); code != 200 || strings.HasPrefix(body, "node") {
		t.Errorf("GET /flows: %d %.40s: the admin API must answer", code, body)
	}
	if code, _, body := get(t, "GET", base+"/"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("GET /: %d %.40s: the editor must answer", code, body)
	}
	if code, _, body := get(t, "GET", base+"/hello/w%20x"); code != 200 || body != "node map[x:w x]" {
		t.Errorf("GET /hello/w%%20x: %d %q", code, body)
	}
	if code, _, body := get(t, "POST", base+"/hello/x"); code != 404 || !strings.Contains(body, "Cannot POST /hello/x") {
		t.Errorf("POST /hello/x: %d %q", code, body)
	}
}

func TestNodeRoutesRoot(t *testing.T) {
	base, routes := serveMounted(t, NodeRoutesOptions{Root: "/api"}, DefaultServerLimits())
	routes.Route("n1", "GET", "/hello", says("node"))
	if code, _, body := get(t, "GET", base+"/api/hello"); code != 200 || body != "node map[]" {
		t.Errorf("GET /api/hello: %d %q", code, body)
	}
	if code, _, body := get(t, "GET", base+"/hello"); code != 404 || strings.HasPrefix(body, "node") {
		t.Errorf("GET /hello outside the root: %d %q", code, body)
	}
}

// A route handed over to the node's successor keeps answering; the
// predecessor's removal does not remove it; a removed route answers 404.
func TestNodeRoutesHandOver(t *testing.T) {
	base, routes := serveMounted(t, NodeRoutesOptions{}, DefaultServerLimits())
	rmOld, _ := routes.Route("n1", "GET", "/r", says("old"))
	rmNew, _ := routes.Route("n1", "GET", "/r", says("new"))
	rmOld()
	if code, _, body := get(t, "GET", base+"/r"); code != 200 || body != "new map[]" {
		t.Errorf("after the hand-over: %d %q", code, body)
	}
	rmNew()
	if code, _, _ := get(t, "GET", base+"/r"); code != 404 {
		t.Errorf("after removal: %d", code)
	}
}

func TestNodeRoutesAuth(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	base, routes := serveMounted(t, NodeRoutesOptions{AuthUser: "u", AuthPasswordHash: string(hash), CORS: []string{"https://app.example"}}, DefaultServerLimits())
	routes.Route("n1", "GET", "/s", says("secret"))
	code, h, _ := get(t, "GET", base+"/s")
	if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="Authorization Required"` {
		t.Errorf("no credentials: %d %q", code, h.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", base+"/s", nil)
	for _, pw := range []string{"bad", "pw", "pw"} { // the second "pw" is remembered
		req.SetBasicAuth("u", pw)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := map[bool]int{true: 200, false: 401}[pw == "pw"]; res.StatusCode != want {
			t.Errorf("password %q: %d", pw, res.StatusCode)
		}
	}
	// A CORS preflight passes without credentials, as in Node-RED.
	code, h, _ = get(t, "OPTIONS", base+"/s", "Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if code != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", code, h)
	}
	code, h, _ = get(t, "GET", base+"/s", "Origin", "https://evil.example")
	if code != 401 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin: %d %v", code, h)
	}
	// Any other OPTIONS request needs credentials: an "all methods" route
	// would otherwise run its flow for anyone.
	routes.Route("n2", "*", "/any", says("flow ran"))
	for _, hdr := range [][]string{nil, {"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"}} {
		if code, _, body := get(t, "OPTIONS", base+"/any", hdr...); code != 401 {
			t.Errorf("OPTIONS %v without credentials: %d %q", hdr, code, body)
		}
	}
}

// A route parameter that decodes to a path with dot segments
// (..%2F..%2Fetc%2Fpasswd) is refused as the path itself would be.
func TestNodeRoutesEncodedDotSegments(t *testing.T) {
	base, routes := serveMounted(t, NodeRoutesOptions{}, DefaultServerLimits())
	routes.Route("n1", "GET", "/file/:name", says("name"))
	routes.Route("n2", "GET", "/files/*", says("rest"))
	for _, p := range []string{"/file/..%2F..%2Fetc%2Fpasswd", "/files/a/..%2F..%2Fetc", "/file/..%5Cx", "/file/%2E%2E"} {
		if code, _, body := get(t, "GET", base+p); code != 400 {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
	if code, _, body := get(t, "GET", base+"/file/a%2Fb"); code != 200 || body != "name map[name:a/b]" {
		t.Errorf("a%%2Fb: %d %q", code, body)
	}
}

func TestNodeRoutesBadConfig(t *testing.T) {
	if _, err := NewNodeRoutes(NodeRoutesOptions{AuthUser: "u", AuthPasswordHash: "plain"}); err == nil {
		t.Error("a password that is not a bcrypt hash must be refused")
	}
	if _, err := NewNodeRoutes(NodeRoutesOptions{Root: "api"}); err == nil {
		t.Error("a root without a leading / must be refused")
	}
	r, _ := NewNodeRoutes(NodeRoutesOptions{})
	if _, err := r.Route("n", "GET", "/a/:", says("x")); err == nil {
		t.Error("a parameter without a name must be refused")
	}
}

// A slowloris client on a node route is closed by the server's header
// timeout, and costs the routes nothing.
func TestNodeRoutesSlowloris(t *testing.T) {
	base, routes := serveMounted(t, NodeRoutesOptions{}, quickLimits(300*time.Millisecond, time.Minute, time.Minute, time.Minute))
	routes.Route("n1", "GET", "/s", says("ok"))
	addr := strings.TrimPrefix(base, "http://")
	slow := dialRaw(t, addr)
	fmt.Fprintf(slow, "GET /s HTTP/1.1\r\nHost: %s\r\n", addr)
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		fmt.Fprintf(slow, "X-A: b\r\n")
		if code, _, _ := get(t, "GET", base+"/s"); code != 200 {
			t.Fatalf("another client: %d", code)
		}
	}
	closedWithin(t, slow, 5*time.Second, "unfinished headers on a node route")
}

func TestCompileRoute(t *testing.T) {
	cases := []struct {
		pattern, path string
		match         bool
		params        string
	}{
		{"/a/:id", "/a/1", true, "[1]"},
		{"/a/:id", "/a/1/", true, "[1]"},
		{"/a/:id", "/a/", false, ""},
		{"/a/:id", "/a/1/2", false, ""},
		{"/a/:id?", "/a", true, "[]"},
		{"/a/:id(\\d+)", "/a/x", false, ""},
		{"/a/:id(\\d+)", "/a/12", true, "[12]"},
		{"/f/*", "/f/x/y", true, "[x/y]"},
		{"/f.json", "/fxjson", false, ""},
		{"/f.json", "/F.JSON", true, "[]"},
		{"/:a-:b", "/x-y", true, "[x y]"},
	}
	for _, c := range cases {
		re, _, err := compileRoute(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		m := re.FindStringSubmatch(c.path)
		if (m != nil) != c.match {
			t.Errorf("%s ~ %s: match %v", c.pattern, c.path, m != nil)
			continue
		}
		if m != nil {
			var ps []string
			for _, p := range m[1:] {
				if p != "" {
					ps = append(ps, p)
				}
			}
			if got := fmt.Sprint(ps); got != c.params && !(got == "[]" && c.params == "[]") {
				t.Errorf("%s ~ %s: params %s, want %s", c.pattern, c.path, got, c.params)
			}
		}
	}
}

// TestNodeRoutesAuthBounded: password checks (bcrypt, tens of
// milliseconds of a core each) run at most maxAuthChecks at once; a
// request that finds them all taken gets 503 at once, without a check.
// Without the bound, a client guessing passwords in parallel takes every
// core.
func TestNodeRoutesAuthBounded(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	base, routes := serveMounted(t, NodeRoutesOptions{AuthUser: "u", AuthPasswordHash: string(hash)}, DefaultServerLimits())
	routes.Route("n1", "GET", "/s", says("secret"))
	entered, release := make(chan struct{}), make(chan struct{})
	var checks atomic.Int32
	routes.compare = func(h, p []byte) error {
		checks.Add(1)
		entered <- struct{}{}
		<-release
		return bcrypt.CompareHashAndPassword(h, p)
	}
	slots := cap(routes.authSem)
	codes := make(chan int, slots)
	for i := 0; i < slots; i++ {
		go func() {
			code, _, _ := get(t, "GET", base+"/s", "Authorization", "Basic dTpiYWQ=") // u:bad
			codes <- code
		}()
		<-entered
	}
	code, h, _ := get(t, "GET", base+"/s", "Authorization", "Basic dTpwdw==") // u:pw
	if code != 503 || h.Get("Retry-After") != "1" {
		t.Errorf("with every check slot taken: %d %v", code, h)
	}
	close(release)
	for i := 0; i < slots; i++ {
		if c := <-codes; c != 401 {
			t.Errorf("wrong password: %d", c)
		}
	}
	go func() { <-entered }()
	if code, _, body := get(t, "GET", base+"/s", "Authorization", "Basic dTpwdw=="); code != 200 || !strings.HasPrefix(body, "secret") {
		t.Errorf("after the checks: %d %q", code, body)
	}
	if n := checks.Load(); n != int32(slots)+1 {
		t.Errorf("%d checks ran, want %d (the refused request must not run one)", n, slots+1)
	}
}
