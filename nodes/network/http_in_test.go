package network

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
	_ "github.com/runnel-io/runnel/nodes/function" // change, function, delay
)

// httpFlow is a deployed flow whose http-in routes are served on a
// loopback listener.
type httpFlow struct {
	*nodetest.Flow
	routes *editor.NodeRoutes
	base   string // http://127.0.0.1:PORT
}

// newHTTPFlow deploys flowJSON with its node routes served (with o's
// limits) by an HTTP server built as runnel serve builds it.
func newHTTPFlow(t testing.TB, flowJSON string, o editor.NodeRoutesOptions) *httpFlow {
	t.Helper()
	routes, err := editor.NewNodeRoutes(o)
	if err != nil {
		t.Fatal(err)
	}
	f, err := nodetest.Deploy(t, flowJSON, nodetest.Options{Runtime: func(opts *engine.Options) {
		opts.HTTPRoutes = routes
	}}, engine.DefaultRegistry.Types()...)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := editor.NewServer(routes, editor.DefaultServerLimits(), nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &httpFlow{Flow: f, routes: routes, base: "http://" + ln.Addr().String()}
}

// do sends a request and returns the status, the headers and the body.
func do(t *testing.T, method, url, ctype, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// echoFlow: http in (method, url) → change (payload = {payload, req
// parts}) → http response.
func echoFlow(method, url string) string {
	return fmt.Sprintf(`[
 {"id":"in","type":"http in","url":%q,"method":%q,"wires":[["fn"]]},
 {"id":"fn","type":"function","func":"msg.payload = {payload: msg.payload, params: msg.req.params, query: msg.req.query, cookie: msg.req.cookies.c, ct: msg.req.headers['content-type'] || null, method: msg.req.method}; return msg;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, url, method)
}

func TestHTTPInEchoes(t *testing.T) {
	cases := []struct {
		name, method, route, reqMethod, path, ctype, body string
		want                                              string
	}{
		{"get query", "get", "/q", "GET", "/q?a=1&b=x%20y&a=2", "", "",
			`{"ct":null,"method":"GET","params":{},"payload":{"a":["1","2"],"b":"x y"},"query":{"a":["1","2"],"b":"x y"}}`},
		{"params", "get", "/users/:id/items/:item", "GET", "/users/42/items/a%20b", "", "",
			`{"ct":null,"method":"GET","params":{"id":"42","item":"a b"},"payload":{},"query":{}}`},
		{"wildcard", "get", "/files/*", "GET", "/files/a/b.txt", "", "",
			`{"ct":null,"method":"GET","params":{"0":"a/b.txt"},"payload":{},"query":{}}`},
		{"trailing slash and case", "get", "/Hello", "GET", "/hello/", "", "",
			`{"ct":null,"method":"GET","params":{},"payload":{},"query":{}}`},
		{"optional param absent", "get", "/opt/:x?", "GET", "/opt", "", "",
			`{"ct":null,"method":"GET","params":{},"payload":{},"query":{}}`},
		{"post json", "post", "/j", "POST", "/j", "application/json", `{"a":[1,2],"b":"ü"}`,
			`{"ct":"application/json","method":"POST","params":{},"payload":{"a":[1,2],"b":"ü"},"query":{}}`},
		{"post invalid utf-8 in json", "post", "/j", "POST", "/j", "application/json", "{\"a\":\"\xff\"}",
			`{"ct":"application/json","method":"POST","params":{},"payload":{"a":"\ufffd"},"query":{}}`},
		{"post form", "post", "/f", "POST", "/f", "application/x-www-form-urlencoded", "a=1&b=%C3%BC",
			`{"ct":"application/x-www-form-urlencoded","method":"POST","params":{},"payload":{"a":"1","b":"ü"},"query":{}}`},
		{"put text", "put", "/t", "PUT", "/t", "text/plain", "hello",
			`{"ct":"text/plain","method":"PUT","params":{},"payload":"hello","query":{}}`},
		{"patch no content type", "patch", "/t", "PATCH", "/t", "", "x",
			`{"ct":null,"method":"PATCH","params":{},"payload":"x","query":{}}`},
		{"delete octet-stream", "delete", "/b", "DELETE", "/b", "application/octet-stream", "\x01\x02",
			`{"ct":"application/octet-stream","method":"DELETE","params":{},"payload":{"type":"Buffer","data":[1,2]},"query":{}}`},
		{"application/foo utf-8 is text", "post", "/b", "POST", "/b", "application/foo", "abc",
			`{"ct":"application/foo","method":"POST","params":{},"payload":"abc","query":{}}`},
		{"image is a buffer", "post", "/b", "POST", "/b", "image/png", "ab",
			`{"ct":"image/png","method":"POST","params":{},"payload":{"type":"Buffer","data":[97,98]},"query":{}}`},
		{"any method", "all", "/any", "PUT", "/any", "text/plain", "x",
			`{"ct":"text/plain","method":"PUT","params":{},"payload":"x","query":{}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newHTTPFlow(t, echoFlow(c.method, c.route), editor.NodeRoutesOptions{})
			code, h, body := do(t, c.reqMethod, f.base+c.path, c.ctype, c.body)
			if code != 200 || canonical(body) != canonical(c.want) {
				t.Fatalf("got %d %s\nwant 200 %s", code, body, c.want)
			}
			if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("content-type %q", ct)
			}
		})
	}
}

func TestHTTPInCookiesAndHeaders(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/c","method":"get","wires":[["fn"]]},
 {"id":"fn","type":"function","func":"msg.payload = 'c=' + msg.req.cookies.c; msg.statusCode = 201; msg.headers = {'X-From-Msg':'m','X-Both':'msg'}; msg.cookies = {a:'x y', b:{value:'v', path:'/p', httpOnly:true, maxAge:60000}, gone:null}; return msg;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{"X-Both":"node","content-type":"text/plain"},"wires":[]}
]`, editor.NodeRoutesOptions{})
	req, _ := http.NewRequest("GET", f.base+"/c", nil)
	req.Header.Set("Cookie", "c=hello%20world")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || string(b) != "c=hello world" {
		t.Fatalf("got %d %q", res.StatusCode, b)
	}
	if got := res.Header.Get("X-Both"); got != "node" {
		t.Errorf("X-Both %q: the node's header must win", got)
	}
	if got := res.Header.Get("X-From-Msg"); got != "m" {
		t.Errorf("X-From-Msg %q", got)
	}
	if got := res.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type %q", got)
	}
	sc := res.Header.Values("Set-Cookie")
	if len(sc) != 3 || sc[0] != "a=x%20y; Path=/" || !strings.HasPrefix(sc[1], "b=v; Max-Age=60; Path=/p; Expires=") || !strings.HasSuffix(sc[1], "GMT; HttpOnly") ||
		sc[2] != "gone=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT" {
		t.Errorf("Set-Cookie %q", sc)
	}
}

// A response that comes after a delay, from another branch.
func TestHTTPResponseAfterDelay(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/slow","method":"get","wires":[["d","dbg"]]},
 {"id":"d","type":"delay","pauseType":"delay","timeout":"200","timeoutUnits":"milliseconds","wires":[["fn"]]},
 {"id":"dbg","type":"test-sink","wires":[]},
 {"id":"fn","type":"function","func":"setTimeout(() => { msg.payload = {late: true}; node.send(msg); }, 50); return null;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"202","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{})
	code, _, body := do(t, "GET", f.base+"/slow", "", "")
	if code != 202 || body != `{"late":true}` {
		t.Fatalf("got %d %s", code, body)
	}
	// msg.res is not data: left out of the message's JSON.
	m := f.WaitReceived("dbg", 1)[0]
	if js := string(m.AppendJSON(nil)); strings.Contains(js, `"res"`) || !strings.Contains(js, `"req"`) {
		t.Errorf("message JSON %s", js)
	}
	v, _ := m.Prop("res")
	if b, _ := json.Marshal(v); string(b) != `{"_res":"[http response to GET /slow: answered]"}` {
		t.Errorf("res shows as %s", b)
	}
}

// A request nobody answers gets 504 when the time limit ends; a response
// after that is an error of the http response node.
func TestHTTPInTimeout(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/never","method":"get","wires":[["d"]]},
 {"id":"d","type":"delay","pauseType":"delay","timeout":"400","timeoutUnits":"milliseconds","wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{ResponseTimeout: 100 * time.Millisecond})
	code, _, body := do(t, "GET", f.base+"/never", "", "")
	if code != http.StatusGatewayTimeout {
		t.Fatalf("got %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range f.Errors() {
			if e.NodeID == "out" && strings.Contains(e.Err.Error(), "the request is gone") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no error from the http response node: %v", f.Errors())
}

func TestHTTPResponsePayloadKinds(t *testing.T) {
	cases := []struct {
		name, set, wantCT, wantBody string
	}{
		{"string", `"hi"`, "text/html; charset=utf-8", "hi"},
		{"number", `42`, "text/html; charset=utf-8", "42"},
		{"object", `{"a":1}`, "application/json; charset=utf-8", `{"a":1}`},
		{"array", `[1,"x"]`, "application/json; charset=utf-8", `[1,"x"]`},
		{"null", `null`, "application/json; charset=utf-8", `null`},
		{"buffer", `Buffer.from([0,255])`, "application/octet-stream", "\x00\xff"},
		{"undefined", `undefined`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newHTTPFlow(t, fmt.Sprintf(`[
 {"id":"in","type":"http in","url":"/p","method":"get","wires":[["fn"]]},
 {"id":"fn","type":"function","func":%q,"outputs":1,"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, "msg.payload = "+c.set+"; return msg;"), editor.NodeRoutesOptions{})
			code, h, body := do(t, "GET", f.base+"/p", "", "")
			if code != 200 || h.Get("Content-Type") != c.wantCT || body != c.wantBody {
				t.Fatalf("got %d %q %q, want %q %q", code, h.Get("Content-Type"), body, c.wantCT, c.wantBody)
			}
		})
	}
}

func TestHTTPInUpload(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/up","method":"post","upload":true,"wires":[["fn"]]},
 {"id":"fn","type":"function","func":"const f = msg.req.files[0]; msg.payload = {fields: msg.payload, name: f.originalname, field: f.fieldname, type: f.mimetype, size: f.size, text: f.buffer.toString()}; return msg;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("title", "report")
	fw, _ := mw.CreateFormFile("doc", "a.txt")
	fw.Write([]byte("file body"))
	mw.Close()
	code, _, body := do(t, "POST", f.base+"/up", mw.FormDataContentType(), buf.String())
	want := `{"field":"doc","fields":{"title":"report"},"name":"a.txt","size":9,"text":"file body","type":"application/octet-stream"}`
	if code != 200 || canonical(body) != canonical(want) {
		t.Fatalf("got %d %s\nwant %s", code, body, want)
	}
}

// Hostile requests: each is refused at its check, and none costs more
// than itself.
func TestHTTPInHostile(t *testing.T) {
	f := newHTTPFlow(t, echoFlow("post", "/h/:name"), editor.NodeRoutesOptions{MaxBody: 1 << 20})
	t.Run("declared 1 GB body", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(f.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /h/x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", 1<<30)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufioReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d", res.StatusCode)
		}
	})
	t.Run("chunked body past the limit", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			chunk := bytes.Repeat([]byte("a"), 64<<10)
			for i := 0; i < 1<<14; i++ { // up to 1 GiB, stops when the server closes
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", f.base+"/h/x", pr)
		req.Header.Set("Content-Type", "text/plain")
		res, err := http.DefaultClient.Do(req)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			return // the server may close before the client reads its answer
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d", res.StatusCode)
		}
	})
	t.Run("dot segments", func(t *testing.T) {
		for _, p := range []string{"/h/..", "/h/%2e%2E", "/x/../h/a"} {
			if code := rawStatus(t, f.base, "POST "+p+" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); code != http.StatusBadRequest {
				t.Errorf("%s: got %d", p, code)
			}
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		code, _, _ := do(t, "POST", f.base+"/h/x", "application/json", `{"a":`)
		if code != http.StatusBadRequest {
			t.Fatalf("got %d", code)
		}
	})
	t.Run("bad percent-encoding in a param", func(t *testing.T) {
		if code := rawStatus(t, f.base, "POST /h/%zz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); code != http.StatusBadRequest {
			t.Fatalf("got %d", code)
		}
	})
	t.Run("unknown route and method", func(t *testing.T) {
		code, _, body := do(t, "GET", f.base+"/h/x", "", "")
		if code != http.StatusNotFound || !strings.Contains(body, "Cannot GET /h/x") {
			t.Fatalf("got %d %s", code, body)
		}
	})
	t.Run("still serving", func(t *testing.T) {
		code, _, _ := do(t, "POST", f.base+"/h/ok", "text/plain", "fine")
		if code != 200 {
			t.Fatalf("got %d", code)
		}
	})
}

// The concurrency limit: requests past it are answered 503 at once.
func TestHTTPInConcurrencyLimit(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/w","method":"get","wires":[["d","seen"]]},
 {"id":"seen","type":"test-sink","wires":[]},
 {"id":"d","type":"delay","pauseType":"delay","timeout":"500","timeoutUnits":"milliseconds","wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{MaxRequests: 2})
	codes := make(chan int, 3)
	for i := 0; i < 2; i++ {
		go func() {
			res, err := http.Get(f.base + "/w")
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	f.WaitReceived("seen", 2) // both are in the flow, held by the delay
	code, h, _ := do(t, "GET", f.base+"/w", "", "")
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("third request: got %d", code)
	}
	for i := 0; i < 2; i++ {
		if c := <-codes; c != 200 {
			t.Errorf("a request within the limit got %d", c)
		}
	}
}

// curl, when installed, against http in → change → http response.
func TestHTTPInCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		mosquittotest.Missing(t, "curl is not installed (Debian package curl)")
	}
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/hook/:dev","method":"post","wires":[["ch"]]},
 {"id":"ch","type":"change","rules":[{"t":"set","p":"payload","pt":"msg","to":"req.params.dev","tot":"msg"}],"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-i", "-H", "Content-Type: application/json", "-d", `{"t":21.5}`, f.base+"/hook/sensor-1").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	s := strings.ReplaceAll(string(out), "\r\n", "\n")
	if !strings.HasPrefix(s, "HTTP/1.1 200 OK\n") || !strings.HasSuffix(s, "\n\nsensor-1") {
		t.Fatalf("curl got:\n%s", s)
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// rawStatus sends raw, a request as written, and returns the answer's
// status.
func rawStatus(t *testing.T, base, raw string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// canonical re-encodes JSON text with sorted keys.
func canonical(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "invalid JSON: " + s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Hot deploys: a replaced http in node's route answers from the new node
// (and its new flow); a removed one answers 404.
func TestHTTPInHotDeploy(t *testing.T) {
	flow := func(name, text string) string {
		return fmt.Sprintf(`[
 {"id":"in","type":"http in","name":%q,"url":"/v","method":"get","wires":[["ch"]]},
 {"id":"ch","type":"change","rules":[{"t":"set","p":"payload","pt":"msg","to":%q,"tot":"str"}],"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, name, text)
	}
	f := newHTTPFlow(t, flow("one", "v1"), editor.NodeRoutesOptions{})
	deploy := func(js string) {
		t.Helper()
		doc, err := flows.Parse([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Runtime().Deploy(context.Background(), doc); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, body := do(t, "GET", f.base+"/v", "", ""); body != "v1" {
		t.Fatalf("v1: %q", body)
	}
	deploy(flow("two", "v2")) // the http in node is replaced (its name changed)
	if _, _, body := do(t, "GET", f.base+"/v", "", ""); body != "v2" {
		t.Fatalf("after replacing the node: %q", body)
	}
	deploy(`[{"id":"other","type":"http in","url":"/w","method":"get","wires":[]}]`)
	if code, _, _ := do(t, "GET", f.base+"/v", "", ""); code != 404 {
		t.Fatalf("after removing the node: %d", code)
	}
}

// A multipart body of more parts than maxMultipartParts is refused with
// 413: each part costs far more memory than its bytes.
func TestHTTPInUploadTooManyParts(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"in","type":"http in","url":"/up","method":"post","upload":true,"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i <= maxMultipartParts; i++ {
		fw, _ := mw.CreateFormFile("f", "x")
		fw.Write([]byte("1"))
	}
	mw.Close()
	if code, _, body := do(t, "POST", f.base+"/up", mw.FormDataContentType(), buf.String()); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d parts: %d %s", maxMultipartParts+1, code, body)
	}
}
