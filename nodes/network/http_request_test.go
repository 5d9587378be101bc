package network

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// requestFlow deploys test-source → http request (nodeJSON) → test-sink,
// with credentials for the request node.
func requestFlow(t *testing.T, nodeJSON string, creds map[string]string) *nodetest.Flow {
	t.Helper()
	cj := ""
	if creds != nil {
		cj = `,"credentials":` + string(engine.AppendJSON(nil, toAny(creds)))
	}
	js := fmt.Sprintf(`[
 {"id":"src","type":"test-source","wires":[["req"]]},
 %s,
 {"id":"sink","type":"test-sink","wires":[]}
]`, strings.Replace(nodeJSON, "{", `{"id":"req","type":"http request","wires":[["sink"]]`+cj+`,`, 1))
	f, err := nodetest.Deploy(t, js, nodetest.Options{}, engine.DefaultRegistry.Types()...)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return f
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func prop(m *engine.Message, name string) string {
	v, _ := m.Prop(name)
	return string(engine.AppendJSON(nil, v))
}

func TestHTTPRequestJSONAndHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "abc", Path: "/"})
		fmt.Fprintf(w, `{"method":%q,"path":%q,"ct":%q,"x":%q,"body":%q,"cookie":%q}`, r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("X-Custom"), b, r.Header.Get("Cookie"))
	}))
	defer srv.Close()
	f := requestFlow(t, `{"method":"use","ret":"obj","url":"`+srv.URL+`/items/{{{topic}}}?q=1","headers":[{"keyType":"other","keyValue":"X-Custom","valueType":"msg","valueValue":"topic"}]}`, nil)
	m := engine.NewMessage("a b", map[string]any{"n": 1.0})
	m.SetProp("method", "post")
	m.SetProp("cookies", map[string]any{"c": "v 1"})
	f.Inject("src", m)
	got := f.WaitReceived("sink", 1)[0]
	want := `{"body":"{\"n\":1}","cookie":"c=v%201","ct":"application/json","method":"POST","path":"/items/a%20b?q=1","x":"a b"}`
	if p := string(engine.AppendJSON(nil, got.Payload)); canonical(p) != canonical(want) {
		t.Errorf("payload %s\nwant %s", p, want)
	}
	if s := prop(got, "statusCode"); s != "200" {
		t.Errorf("statusCode %s", s)
	}
	if s := prop(got, "responseCookies"); s != `{"sid":{"Path":"/","value":"abc"}}` {
		t.Errorf("responseCookies %s", s)
	}
	if s := prop(got, "headers"); !strings.Contains(s, `"content-type":"application/json"`) || !strings.Contains(s, `"x-node-red-request-node":`) {
		t.Errorf("headers %s", s)
	}
	if s := prop(got, "responseUrl"); s != `"`+srv.URL+`/items/a%20b?q=1"` {
		t.Errorf("responseUrl %s", s)
	}
}

func TestHTTPRequestRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "step", Value: "a"})
		http.Redirect(w, r, "/b", http.StatusFound)
	})
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusMovedPermanently) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "end cookie="+r.Header.Get("Cookie")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f := requestFlow(t, `{"method":"GET","ret":"txt","url":"`+srv.URL+`/a"}`, nil)
	f.Inject("src", engine.NewMessage("", nil))
	got := f.WaitReceived("sink", 1)[0]
	if got.Payload != "end cookie=step=a" || prop(got, "responseUrl") != `"`+srv.URL+`/c"` {
		t.Errorf("got %v %s", got.Payload, prop(got, "responseUrl"))
	}
	if s := prop(got, "redirectList"); s != `[{"cookies":{"step":{"value":"a"}},"location":"/b"},{"location":"/c"}]` {
		t.Errorf("redirectList %s", s)
	}
	m := engine.NewMessage("", nil)
	m.SetProp("followRedirects", false)
	f.Inject("src", m)
	got = f.WaitReceived("sink", 2)[1]
	if prop(got, "statusCode") != "302" {
		t.Errorf("not following: status %s", prop(got, "statusCode"))
	}
}

func TestHTTPRequestAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	creds := map[string]string{"user": "u", "password": "p"}
	for _, c := range []struct{ typ, want string }{
		{"", "Basic dTpw"}, {"basic", "Basic dTpw"}, {"bearer", "Bearer p"},
	} {
		f := requestFlow(t, `{"method":"GET","url":"`+srv.URL+`","authType":"`+c.typ+`"}`, creds)
		f.Inject("src", engine.NewMessage("", nil))
		if got := f.WaitReceived("sink", 1)[0].Payload; got != c.want {
			t.Errorf("%q: %v", c.typ, got)
		}
	}
}

func TestHTTPRequestDigest(t *testing.T) {
	const realm, nonce = "r", "n123"
	ha1 := md5hex("u:" + realm + ":p")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		if !strings.HasPrefix(a, "Digest ") {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5`, realm, nonce))
			w.WriteHeader(401)
			return
		}
		p := map[string]string{}
		for _, m := range regexp.MustCompile(`(\w+)="?([^",]*)"?`).FindAllStringSubmatch(a, -1) {
			p[m[1]] = m[2]
		}
		want := md5hex(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + md5hex("GET:"+p["uri"]))
		if p["response"] != want || p["uri"] != "/d?x=1" {
			w.WriteHeader(403)
			return
		}
		fmt.Fprint(w, "welcome")
	}))
	defer srv.Close()
	f := requestFlow(t, `{"method":"GET","url":"`+srv.URL+`/d?x=1","authType":"digest"}`, map[string]string{"user": "u", "password": "p"})
	f.Inject("src", engine.NewMessage("", nil))
	got := f.WaitReceived("sink", 1)[0]
	if got.Payload != "welcome" {
		t.Fatalf("got %s %v", prop(got, "statusCode"), got.Payload)
	}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// A dead server and a slow one: each message gets its error (and is sent
// on with it), and a slow server does not hold up a quick request.
func TestHTTPRequestDeadAndSlow(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		fmt.Fprint(w, "ok "+r.URL.Path)
	}))
	defer slow.Close()
	defer close(release)
	f := requestFlow(t, `{"method":"GET","url":""}`, nil)
	m := engine.NewMessage("", nil)
	m.SetProp("url", slow.URL+"/slow")
	m.SetProp("requestTimeout", 300.0)
	f.Inject("src", m)
	m = engine.NewMessage("", nil)
	m.SetProp("url", "http://"+dead+"/x")
	f.Inject("src", m)
	m = engine.NewMessage("", nil)
	m.SetProp("url", slow.URL+"/fast")
	f.Inject("src", m)
	got := f.WaitReceived("sink", 3)
	// The order is the order they finish in: the slow one times out last.
	if got[2].Payload != "RequestError: Timeout awaiting 'request' : "+slow.URL+"/slow" || prop(got[2], "statusCode") != `"ETIMEDOUT"` {
		t.Errorf("slow: %v %s", got[2].Payload, prop(got[2], "statusCode"))
	}
	var sawDead, sawFast bool
	for _, g := range got[:2] {
		switch {
		case g.Payload == "ok /fast":
			sawFast = true
		case g.Payload == "RequestError: connect ECONNREFUSED "+dead+" : http://"+dead+"/x" && prop(g, "statusCode") == `"ECONNREFUSED"`:
			sawDead = true
		}
	}
	if !sawDead || !sawFast {
		t.Errorf("got %v, %v", got[0].Payload, got[1].Payload)
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(f.Errors()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(f.Errors()); n != 2 {
		t.Errorf("%d errors, want 2 (dead, timeout)", n)
	}
}

func TestHTTPRequestRetAndQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/none" {
			w.WriteHeader(204)
			return
		}
		fmt.Fprint(w, r.URL.RawQuery)
	}))
	defer srv.Close()
	f := requestFlow(t, `{"method":"GET","url":"`+srv.URL+`/q","paytoqs":"query","ret":"bin"}`, nil)
	f.Inject("src", engine.NewMessage("", map[string]any{"a": "x y", "b": []any{1.0, 2.0}}))
	if got := f.WaitReceived("sink", 1)[0].Payload; string(got.([]byte)) != "a=x%20y&b=1&b=2" {
		t.Errorf("query %q", got)
	}
	f2 := requestFlow(t, `{"method":"GET","url":"`+srv.URL+`/none","ret":"obj"}`, nil)
	f2.Inject("src", engine.NewMessage("", nil))
	if got := string(engine.AppendJSON(nil, f2.WaitReceived("sink", 1)[0].Payload)); got != "{}" {
		t.Errorf("204 as obj: %s", got)
	}
}

// A response body larger than MaxResponseBody is an error against the
// message, read no further than the bound.
func TestHTTPRequestResponseBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < MaxResponseBody>>20+8; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	f := requestFlow(t, `{"method":"GET","url":"`+srv.URL+`/big"}`, nil)
	f.Inject("src", engine.NewMessage("", nil))
	got := f.WaitReceived("sink", 1)
	if p, _ := got[0].Payload.(string); !strings.Contains(p, "larger than 64 MiB") {
		t.Fatalf("payload %.80v", got[0].Payload)
	}
}
