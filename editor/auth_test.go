package editor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/system"
	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

const authFlow = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","wires":[["s1"]]},{"id":"s1","type":"test-status","z":"t1","wires":[]}]`

// The API tokens of authEnv.
const (
	ciToken     = "ci-token-0123456789abcdef0123456789abcdef"
	viewerToken = "viewer-token-0123456789abcdef0123456789"
)

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// authEnv is an admin API with two users (admin: full, viewer: read) and
// two API tokens (ci: full, sha256; dash: read, bcrypt), a live hub, and a
// clock the test moves.
type authEnv struct {
	t   *testing.T
	srv *httptest.Server
	api *API
	hub *Hub
	mu  sync.Mutex
	now time.Time
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	reg, hub, rt := runningFlow(t, authFlow)
	dash, err := bcrypt.GenerateFromPassword([]byte(viewerToken), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	api, err := New(Options{Runtime: rt, Registry: reg, Live: hub, SessionTTL: time.Hour,
		Users: []User{
			{Name: "admin", PasswordHash: mustHash(t, "s3cret"), Role: RoleFull},
			{Name: "viewer", PasswordHash: mustHash(t, "look"), Role: RoleRead},
		},
		Tokens: []Token{
			{Name: "ci", Hash: HashToken(ciToken), Role: RoleFull},
			{Name: "dash", Hash: string(dash), Role: RoleRead},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &authEnv{t: t, api: api, hub: hub, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	api.auth.now = func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }
	e.srv = httptest.NewServer(api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx, rt) }()
	t.Cleanup(func() {
		cancel()
		<-done
		e.srv.Close()
		rt.Stop(context.Background())
	})
	return e
}

func (e *authEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// do sends a request with an optional bearer token; it returns the
// status, the body and the response headers.
func (e *authEnv) do(method, path, token, body string, header ...string) (int, string, http.Header) {
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
	return resp.StatusCode, string(b), resp.Header
}

// login posts the form Node-RED's editor posts and returns the token.
func (e *authEnv) login(user, pw string) (int, string) {
	e.t.Helper()
	form := url.Values{"client_id": {"node-red-editor"}, "grant_type": {"password"}, "scope": {"*"}, "username": {user}, "password": {pw}}
	code, body, _ := e.do("POST", "/auth/token", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if code != 200 {
		return code, body
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		e.t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 || len(tok.AccessToken) < 40 {
		e.t.Fatalf("token answer %s", body)
	}
	return code, tok.AccessToken
}

func TestAuthLoginAndRoles(t *testing.T) {
	e := newAuthEnv(t)
	const deploy = `{"flows":` + authFlow + `}`

	if code, body, _ := e.do("GET", "/auth/login", "", ""); code != 200 ||
		body != `{"type":"credentials","prompts":[{"id":"username","type":"text","label":"Username"},{"id":"password","type":"password","label":"Password"}]}`+"\n" {
		t.Errorf("GET /auth/login: %d %s", code, body)
	}
	// The page itself and the health check need no login.
	if code, _, _ := e.do("GET", "/", "", ""); code != 200 {
		t.Errorf("GET /: %d", code)
	}
	if code, _, _ := e.do("GET", "/healthz", "", ""); code != 200 {
		t.Errorf("GET /healthz: %d", code)
	}
	// The bcrypt-hashed token, once (then it is remembered).
	if code, _, _ := e.do("GET", "/flows", viewerToken, ""); code != 200 {
		t.Errorf("bcrypt token: %d", code)
	}
	// Everything else does.
	for _, c := range [][2]string{{"GET", "/flows"}, {"POST", "/flows"}, {"GET", "/nodes"}, {"POST", "/inject/i1"},
		{"GET", "/flows/revisions"}, {"GET", "/metrics"}, {"GET", "/auth/me"}, {"POST", "/auth/revoke"}} {
		code, body, h := e.do(c[0], c[1], "", "")
		if code != 401 || !strings.Contains(body, `"error":"unauthorized"`) || h.Get("WWW-Authenticate") != `Bearer realm="runnel"` {
			t.Errorf("%s %s without a token: %d %s", c[0], c[1], code, body)
		}
		if code, _, _ := e.do(c[0], c[1], "not-a-token", ""); code != 401 {
			t.Errorf("%s %s with a wrong token: %d", c[0], c[1], code)
		}
	}

	if code, body := e.login("admin", "wrong"); code != 401 || !strings.Contains(body, `"error":"invalid_grant"`) {
		t.Errorf("wrong password: %d %s", code, body)
	}
	if code, body := e.login("nobody", "s3cret"); code != 401 {
		t.Errorf("unknown user: %d %s", code, body)
	}
	code, admin := e.login("admin", "s3cret")
	if code != 200 {
		t.Fatalf("login admin: %d %s", code, admin)
	}
	if code, body, _ := e.do("GET", "/auth/me", admin, ""); code != 200 || body != `{"user":{"permissions":"*","role":"full","username":"admin"}}`+"\n" {
		t.Errorf("GET /auth/me: %d %s", code, body)
	}
	if code, body, _ := e.do("POST", "/flows", admin, deploy, "Content-Type", "application/json"); code != 204 {
		t.Errorf("admin deploys: %d %s", code, body)
	}
	if code, body, _ := e.do("POST", "/inject/i1", admin, ""); code != 200 {
		t.Errorf("admin injects: %d %s", code, body)
	}

	// JSON bodies are accepted too.
	code, body, _ := e.do("POST", "/auth/token", "", `{"client_id":"node-red-admin","grant_type":"password","scope":"*","username":"viewer","password":"look"}`, "Content-Type", "application/json")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(body), &tok)
	viewer := tok.AccessToken
	if code != 200 || viewer == "" {
		t.Fatalf("login viewer: %d %s", code, body)
	}
	for _, tk := range []string{viewer, viewerToken} {
		if code, _, _ := e.do("GET", "/flows", tk, ""); code != 200 {
			t.Errorf("read role GET /flows: %d", code)
		}
		if code, _, _ := e.do("GET", "/metrics", tk, ""); code != 200 {
			t.Errorf("read role GET /metrics: %d", code)
		}
		for _, c := range [][2]string{{"POST", "/flows"}, {"POST", "/inject/i1"}, {"POST", "/flows/revisions/1/rollback"}} {
			code, body, _ := e.do(c[0], c[1], tk, deploy, "Content-Type", "application/json")
			if code != 403 || !strings.Contains(body, `"error":"forbidden"`) || !strings.Contains(body, "needs the full role") {
				t.Errorf("read role %s %s: %d %s", c[0], c[1], code, body)
			}
		}
	}
	// A full user may ask for a read-only session.
	form := url.Values{"client_id": {"node-red-admin"}, "grant_type": {"password"}, "scope": {"read"}, "username": {"admin"}, "password": {"s3cret"}}
	_, body, _ = e.do("POST", "/auth/token", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	json.Unmarshal([]byte(body), &tok)
	if code, _, _ := e.do("POST", "/flows", tok.AccessToken, deploy); code != 403 {
		t.Errorf("scope read deploys: %d", code)
	}
	// The full API token deploys.
	if code, body, _ := e.do("POST", "/flows", ciToken, deploy, "Content-Type", "application/json"); code != 204 {
		t.Errorf("ci token deploys: %d %s", code, body)
	}

	// Logging out ends the session; the other sessions stay.
	if code, _, _ := e.do("POST", "/auth/revoke", admin, "token="+url.QueryEscape(admin), "Content-Type", "application/x-www-form-urlencoded"); code != 200 {
		t.Errorf("revoke: %d", code)
	}
	if code, _, _ := e.do("GET", "/flows", admin, ""); code != 401 {
		t.Errorf("revoked token: %d", code)
	}
	if code, _, _ := e.do("GET", "/flows", viewer, ""); code != 200 {
		t.Errorf("other session after a revoke: %d", code)
	}
	// Sessions expire after SessionTTL; API tokens do not.
	e.advance(time.Hour + time.Second)
	if code, _, _ := e.do("GET", "/flows", viewer, ""); code != 401 {
		t.Errorf("expired session: %d", code)
	}
	if code, _, _ := e.do("GET", "/flows", ciToken, ""); code != 200 {
		t.Errorf("API token after an hour: %d", code)
	}
	// Bad requests.
	for _, b := range []string{"grant_type=client_credentials&username=admin", "grant_type=password", "grant_type=password&username=admin&scope=write"} {
		if code, body, _ := e.do("POST", "/auth/token", "", b, "Content-Type", "application/x-www-form-urlencoded"); code != 400 {
			t.Errorf("POST /auth/token %s: %d %s", b, code, body)
		}
	}
}

func TestAuthBruteForce(t *testing.T) {
	e := newAuthEnv(t)
	for i := 0; i < freeAttempts; i++ {
		if code, body := e.login("admin", "guess"); code != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, code, body)
		}
	}
	// Now even the right password waits, for this user and this address.
	code, body, h := e.do("POST", "/auth/token", "", "grant_type=password&username=admin&password=s3cret", "Content-Type", "application/x-www-form-urlencoded")
	if code != 429 || h.Get("Retry-After") != "1" || !strings.Contains(body, "too many failed logins") {
		t.Errorf("locked: %d %q %s", code, h.Get("Retry-After"), body)
	}
	if code, _ := e.login("viewer", "look"); code != 429 {
		t.Errorf("same address, other user: %d", code)
	}
	e.advance(time.Second)
	if code, _ := e.login("admin", "guess"); code != 401 {
		t.Errorf("after the wait: %d", code)
	}
	// Each further failure doubles the wait.
	if _, _, h := e.do("POST", "/auth/token", "", "grant_type=password&username=admin&password=s3cret", "Content-Type", "application/x-www-form-urlencoded"); h.Get("Retry-After") != "2" {
		t.Errorf("Retry-After after 7 failures: %q", h.Get("Retry-After"))
	}
	e.advance(2 * time.Second)
	if code, _ := e.login("admin", "s3cret"); code != 200 {
		t.Errorf("right password after the wait: %d", code)
	}
	// Success clears the record.
	if code, _ := e.login("admin", "guess"); code != 401 {
		t.Errorf("after a success: %d", code)
	}

	// Wrong bearer tokens cost a bcrypt comparison each (the env has a
	// bcrypt-hashed token), so they are limited the same way.
	for i := 0; i < freeAttempts; i++ {
		e.do("GET", "/flows", "guessed-token", "")
	}
	if code, _, _ := e.do("GET", "/flows", viewerToken, ""); code != 401 {
		t.Errorf("a bcrypt token from a locked-out address: %d", code)
	}
	if code, _, _ := e.do("GET", "/flows", ciToken, ""); code != 200 {
		t.Errorf("a sha256 token from a locked-out address: %d", code)
	}
	e.advance(4 * time.Second)
	if code, _, _ := e.do("GET", "/flows", viewerToken, ""); code != 200 {
		t.Errorf("a bcrypt token after the wait: %d", code)
	}
}

func TestAuthWebsocket(t *testing.T) {
	e := newAuthEnv(t)
	ws := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/comms"
	_, token := e.login("viewer", "look")

	// No auth frame: refused.
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"subscribe":"status/#"}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != `{"auth":"fail"}` {
		t.Errorf("without auth: %q %v", b, err)
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Errorf("without auth, close: %v", err)
	}
	c.Close()
	// A wrong header: refused before the upgrade.
	if _, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{"Authorization": {"Bearer nope"}}); err == nil || resp.StatusCode != 401 {
		t.Errorf("wrong header: %v", err)
	}

	// Node-RED's first frame: accepted, then events flow.
	c, _, err = websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`{"auth":"`+token+`"}`))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != `{"auth":"ok"}` {
		t.Fatalf("auth frame: %q %v", b, err)
	}
	e.do("POST", "/inject/i1", ciToken, "")
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for status: %v", err)
		}
		if strings.Contains(string(b), `"topic":"status/s1"`) {
			break
		}
	}
	// The header works for clients that can set it.
	h, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"Authorization": {"Bearer " + ciToken}})
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	h.Close()

	// Logging out disconnects the session's websocket.
	e.do("POST", "/auth/revoke", token, "")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("after logout: %v", err)
			}
			break
		}
	}
}

func TestAuthBadConfig(t *testing.T) {
	rt := engine.New(engine.Options{})
	good := mustHash(t, "x")
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Users: []User{{Name: "", PasswordHash: good, Role: RoleFull}}}, "editor user 1: empty name"},
		{Options{Users: []User{{Name: "a", PasswordHash: "plain", Role: RoleFull}}}, `editor user "a": password_hash is not a bcrypt hash`},
		{Options{Users: []User{{Name: "a", PasswordHash: good, Role: "admin"}}}, `editor user "a": role "admin": must be full or read`},
		{Options{Users: []User{{Name: "a", PasswordHash: good, Role: RoleFull}, {Name: "a", PasswordHash: good, Role: RoleRead}}}, `editor user "a": defined twice`},
		{Options{Tokens: []Token{{Name: "ci", Hash: "sha256:abc", Role: RoleFull}}}, `editor token "ci": token_hash: sha256: must be followed by 64 hex digits`},
		{Options{Tokens: []Token{{Name: "ci", Hash: HashToken("x"), Role: ""}}}, `editor token "ci": role "": must be full or read`},
	} {
		c.opts.Runtime = rt
		_, err := New(c.opts)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts.Users, err, c.want)
		}
	}
}

// TestAuthNoLog checks that passwords and tokens never reach the log.
func TestAuthNoLog(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	api, err := New(Options{Runtime: engine.New(engine.Options{}), Logger: log,
		Users: []User{{Name: "admin", PasswordHash: mustHash(t, "pw-in-log?"), Role: RoleFull}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	post := func(pw string) string {
		resp, err := http.PostForm(srv.URL+"/auth/token", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		return tok.AccessToken
	}
	post("wrong-pw-in-log?")
	token := post("pw-in-log?")
	req, _ := http.NewRequest("POST", srv.URL+"/auth/revoke", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	http.DefaultClient.Do(req)
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if token == "" || strings.Contains(out, "pw-in-log?") || strings.Contains(out, token) {
		t.Errorf("the log shows a secret:\n%s", out)
	}
	for _, want := range []string{"editor login failed", "editor login", "editor logout"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type fakeBroker struct{ info *system.Info }

func (b fakeBroker) Info() *system.Info { return b.info }

// TestHealthzDown checks the 503 answers of GET /healthz.
func TestHealthzDown(t *testing.T) {
	rt := engine.New(engine.Options{})
	for _, c := range []struct {
		broker BrokerInfo
		deploy bool
		code   int
		body   string
	}{
		{fakeBroker{&system.Info{Uptime: 5}}, true, 200, `{"status":"ok","broker":"up","flows":"running","nodes":0,"uptime":5}`},
		{fakeBroker{nil}, true, 503, `{"status":"unavailable","broker":"down","flows":"running","nodes":0,"uptime":0}`},
		{fakeBroker{&system.Info{Uptime: 5}}, false, 503, `{"status":"unavailable","broker":"up","flows":"stopped","nodes":0,"uptime":5}`},
	} {
		if c.deploy {
			if err := rt.Deploy(context.Background(), &flows.Document{}); err != nil {
				t.Fatal(err)
			}
		} else {
			rt.Stop(context.Background())
		}
		srv := httptest.NewServer(NewAPI(Options{Runtime: rt, Broker: c.broker,
			Users: []User{{Name: "a", PasswordHash: mustHash(t, "x"), Role: RoleRead}}}))
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != c.code || strings.TrimSpace(string(b)) != c.body {
			t.Errorf("GET /healthz: %d %s, want %d %s", resp.StatusCode, b, c.code, c.body)
		}
	}
}

// loginFrom posts a login from the loopback address local (127.0.0.N).
func (e *authEnv) loginFrom(local, user, pw string) int {
	e.t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer c.CloseIdleConnections()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
	resp, err := c.Post(e.srv.URL+"/auth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An attacker who rotates addresses (here loopback aliases) is held back
// by the user name's count, also when its attempts come all at once.
func TestAuthBruteForceManyAddresses(t *testing.T) {
	e := newAuthEnv(t)
	// A real cost, so that the attempts overlap as they would.
	slow, err := bcrypt.GenerateFromPassword([]byte("s3cret"), 8)
	if err != nil {
		t.Fatal(err)
	}
	e.api.auth.users["admin"] = User{Name: "admin", PasswordHash: string(slow), Role: RoleFull}
	const n = 40
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes <- e.loginFrom(fmt.Sprintf("127.0.0.%d", i+2), "admin", "guess") })
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[401] != freeAttempts || count[429] != n-freeAttempts {
		t.Errorf("%d attempts at once from %d addresses: %v, want %d × 401 and the rest 429", n, n, count, freeAttempts)
	}
	// One by one from yet more addresses: still locked, also with the
	// right password, until the wait is over.
	if code := e.loginFrom("127.0.0.100", "admin", "s3cret"); code != 429 {
		t.Errorf("a new address, the right password: %d, want 429", code)
	}
	// Other users are not affected from a fresh address.
	if code := e.loginFrom("127.0.0.101", "viewer", "look"); code != 200 {
		t.Errorf("another user: %d", code)
	}
	e.advance(time.Second)
	if code := e.loginFrom("127.0.0.102", "admin", "s3cret"); code != 200 {
		t.Errorf("after the wait: %d", code)
	}
}

// Filling the failure table with new names does not unlock a name under
// attack.
func TestAuthFailureTableFull(t *testing.T) {
	e := newAuthEnv(t)
	for i := 0; i < freeAttempts; i++ {
		e.loginFrom(fmt.Sprintf("127.0.1.%d", i+1), "admin", "guess")
	}
	a := e.api.auth
	a.mu.Lock()
	now := a.now()
	for i := len(a.failures); i < maxFailures; i++ {
		a.failures[fmt.Sprintf("user:name%d", i)] = failure{count: 1, last: now}
	}
	a.mu.Unlock()
	if code := e.loginFrom("127.0.2.1", "someone-new", "x"); code != 401 {
		t.Errorf("a new name: %d", code)
	}
	if code := e.loginFrom("127.0.2.2", "admin", "s3cret"); code != 429 {
		t.Errorf("admin after the table filled up: %d, want 429", code)
	}
	a.mu.Lock()
	left := len(a.failures)
	a.mu.Unlock()
	if left >= maxFailures {
		t.Errorf("%d failure records after the sweep", left)
	}
}
