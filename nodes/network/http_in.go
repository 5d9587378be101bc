package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// HTTPInConfig is the configuration of an http-in node (Node-RED's
// "http in").
type HTTPInConfig struct {
	URL             string `json:"url" label:"URL" required:"true" help:"Express route syntax: /users/:id, /files/*, served under the node root (httpNodeRoot)"`
	Method          string `json:"method" label:"Method" default:"get" options:"get=GET,post=POST,put=PUT,delete=DELETE,patch=PATCH,all=any method"`
	Upload          bool   `json:"upload" label:"Accept file uploads" showif:"method=post" help:"multipart/form-data: the files in msg.req.files, the other fields in msg.payload"`
	SkipBodyParsing bool   `json:"skipBodyParsing" label:"Do not parse the body" help:"msg.payload is the body's bytes, whatever its content type"`
	SwaggerDoc      string `json:"swaggerDoc" label:"Swagger doc" kind:"hidden" help:"Kept, not used: Runnel has no swagger plugin"`
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "http-in",
		Category: "network",
		Label:    "http in",
		Outputs:  1,
		Color:    "#e7e7ae",
		Icon:     "white-globe.svg",
		Labels:   []engine.LabelRule{{Text: "[{method}] {url}"}},
		Help: `Serves an HTTP endpoint on the editor's listener, under the node root (default /), and sends a
message for each request. An http response node must answer it.

msg.req holds params (route parameters), query, headers (lower-case names), cookies, body, method,
url, originalUrl, path, baseUrl, hostname, ip and protocol (and files for uploads). msg.payload is the
query for GET, the body for other methods: JSON (application/json) and forms
(application/x-www-form-urlencoded) parsed to objects (queries and forms as Express's qs parses
them: a[b]=1&c[]=2 gives {"a":{"b":"1"},"c":["2"]}), text as a string, other content types as a
Buffer. msg.res is the handle the http response node answers through; it is not data, and is left out
when the message is written as JSON.

Differs from Node-RED: the editor's and admin API's own paths always win over a route; a route path
with a . or .. segment is refused (400);
malformed JSON is answered 400 (Node-RED answers 500); bodies above the configured limit (5 MiB by
default, every content type) are answered 413; a request that no http response answers within the
response time limit (120 s by default) is answered 504; "any method" is Runnel's.`,
	}, newHTTPIn))
}

// httpIn serves one route.
type httpIn struct {
	h      *engine.Host
	cfg    HTTPInConfig
	method string // upper case; "*" for any
	url    string
	remove func()
}

func newHTTPIn(cfg *HTTPInConfig, h *engine.Host) (engine.Node, error) {
	u := cfg.URL
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	m := strings.ToUpper(cfg.Method)
	switch m {
	case "GET", "POST", "PUT", "DELETE", "PATCH":
	case "ALL":
		m = "*"
	default:
		return nil, engine.ErrFieldf("method", "unknown method %q", cfg.Method)
	}
	return &httpIn{h: h, cfg: *cfg, method: m, url: u}, nil
}

// TakeOver lets a replacing node register its route first: the route
// table hands it over in place, so no request is answered 404 in between.
func (n *httpIn) TakeOver(prev engine.Node) bool {
	_, ok := prev.(*httpIn)
	return ok
}

// Start registers the route.
func (n *httpIn) Start(ctx context.Context) error {
	routes := n.h.HTTPRoutes()
	if routes == nil {
		n.h.Logger().Warn("no HTTP server: the route is not served (runnel run has none; use runnel serve)", "url", n.url)
		n.h.Status(engine.Status{Fill: "grey", Shape: "ring", Text: "no HTTP server"})
		return nil
	}
	rm, err := routes.Route(n.h.ID(), n.method, n.url, n.serve)
	if err != nil {
		return fmt.Errorf("http in %s %s: %w", n.cfg.Method, n.url, err)
	}
	n.remove = rm
	return nil
}

// Close removes the route, unless a successor has taken it over.
func (n *httpIn) Close(context.Context) error {
	if n.remove != nil {
		n.remove()
	}
	return nil
}

// serve runs on the server's goroutine for the request: it sends the
// message into the flow, then waits for the response (or the time limit,
// or the client going away).
func (n *httpIn) serve(w http.ResponseWriter, r *http.Request, params map[string]string) {
	res := newHTTPResponse(r)
	defer func() {
		if v := recover(); v != nil {
			n.h.ReportPanic(v)
			if res.state.CompareAndSwap(resPending, resGone) {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			}
		}
	}()
	req, payload, status, err := n.request(w, r, params)
	if err != nil {
		n.h.Logger().Warn("http in: refused a request", "url", r.URL.Path, "err", err)
		if status == http.StatusRequestEntityTooLarge {
			w.Header().Set("Connection", "close")
		}
		http.Error(w, http.StatusText(status)+": "+err.Error(), status)
		return
	}
	m := engine.NewMessage("", nil)
	if payload != nil {
		m.SetProp("payload", payload)
	}
	m.SetProp("req", req)
	m.SetProp("res", res)
	res.msgid = m.ID()
	n.h.Send(0, m)
	select {
	case rep := <-res.reply:
		rep.write(w, r)
	case <-r.Context().Done():
		if res.state.CompareAndSwap(resPending, resGone) {
			if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				n.h.Logger().Warn("http in: no response within the time limit: answered 504", "url", r.URL.Path, "msgid", m.ID())
				http.Error(w, "Gateway Timeout: the flow did not answer in time", http.StatusGatewayTimeout)
			}
			return
		}
		(<-res.reply).write(w, r) // answered just now
	}
}

// request builds msg.req and msg.payload. On error it gives the status
// to answer.
func (n *httpIn) request(w http.ResponseWriter, r *http.Request, params map[string]string) (map[string]any, any, int, error) {
	query, _ := parseQS(r.URL.RawQuery, queryQS) // no error without strictDepth
	headers := make(map[string]any, len(r.Header)+1)
	if r.Host != "" {
		headers["host"] = r.Host
	}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		switch {
		case lk == "set-cookie":
			a := make([]any, len(vs))
			for i, v := range vs {
				a[i] = v
			}
			headers[lk] = a
		case lk == "cookie":
			headers[lk] = strings.Join(vs, "; ")
		default:
			headers[lk] = strings.Join(vs, ", ")
		}
	}
	cookies := map[string]any{}
	for _, c := range r.Cookies() {
		v := c.Value
		if d, err := url.PathUnescape(v); err == nil {
			v = d
		}
		if _, dup := cookies[c.Name]; !dup {
			cookies[c.Name] = v
		}
	}
	ps := make(map[string]any, len(params))
	for k, v := range params {
		ps[k] = v
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	req := map[string]any{
		"params": ps, "query": query, "headers": headers, "cookies": cookies,
		"method": r.Method, "url": r.URL.RequestURI(), "originalUrl": r.URL.RequestURI(),
		"path": r.URL.Path, "baseUrl": "", "hostname": host, "ip": ip, "protocol": proto,
	}
	if n.method == "GET" {
		return req, query, 0, nil
	}
	body, files, status, err := n.body(r)
	if err != nil {
		return nil, nil, status, err
	}
	req["body"] = body
	if files != nil {
		req["files"] = files
	}
	return req, body, 0, nil
}

// body reads and parses the request's body as Node-RED's body parsers
// do.
func (n *httpIn) body(r *http.Request) (body any, files []any, status int, err error) {
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if n.cfg.Upload && ct == "multipart/form-data" && !n.cfg.SkipBodyParsing {
		return multipartBody(r, ctParams)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, nil, http.StatusRequestEntityTooLarge, errors.New("the body is larger than the limit")
		}
		return nil, nil, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
	}
	if n.cfg.SkipBodyParsing {
		return raw, nil, 0, nil
	}
	// body-parser's json and urlencoded parsers take a request that says
	// it has a body (a Content-Length, even 0, or chunked) and make {} of
	// an empty one.
	hasBody := len(raw) > 0 || r.Header.Get("Content-Length") != "" || len(r.TransferEncoding) > 0
	switch {
	case ct == "application/json" && hasBody:
		if len(raw) == 0 {
			return map[string]any{}, nil, 0, nil
		}
		text := jsutf8.Decode(raw) // as body-parser decodes: bad bytes become U+FFFD
		t := strings.TrimLeft(text, " \t\r\n")
		if t == "" || (t[0] != '{' && t[0] != '[') {
			return nil, nil, http.StatusBadRequest, errors.New("the JSON body must be an object or an array")
		}
		v, err := engine.ParseJSON([]byte(text))
		if err != nil {
			return nil, nil, http.StatusBadRequest, fmt.Errorf("invalid JSON body: %w", err)
		}
		return v, nil, 0, nil
	case ct == "application/x-www-form-urlencoded" && hasBody:
		text := jsutf8.Decode(raw)
		opts, err := formQS(text)
		if err != nil {
			return nil, nil, http.StatusRequestEntityTooLarge, fmt.Errorf("form body: %w", err)
		}
		v, err := parseQS(text, opts)
		if err != nil {
			return nil, nil, http.StatusBadRequest, fmt.Errorf("form body: %w", err)
		}
		return v, nil, 0, nil
	}
	// Node-RED's raw body parser.
	text := true
	checkUTF8 := false
	if ct != "" {
		typ, sub, _ := strings.Cut(ct, "/")
		switch {
		case typ == "text":
		case sub == "xml" || strings.HasSuffix(sub, "+xml"):
		case typ != "application":
			text = false
		case sub != "octet-stream" && sub != "cbor" && sub != "x-protobuf":
			text, checkUTF8 = false, true
		default:
			text = false
		}
	}
	switch {
	case text:
		return jsutf8.Decode(raw), nil, 0, nil
	case checkUTF8 && jsutf8.IsUTF8(raw):
		return string(raw), nil, 0, nil
	}
	return raw, nil, 0, nil
}

// maxMultipartParts bounds the parts of a multipart body (Go's own form
// parser stops at 1000).
const maxMultipartParts = 1000

// multipartBody parses a multipart/form-data body as multer's memory
// storage does: files with their bytes, other fields as the body.
func multipartBody(r *http.Request, params map[string]string) (any, []any, int, error) {
	if params["boundary"] == "" {
		return nil, nil, http.StatusBadRequest, errors.New("multipart body without a boundary")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	var fields formFields
	files := []any{}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err == nil && parts >= maxMultipartParts {
			// Each part costs far more than its bytes: a body of many
			// tiny parts would take many times its size in memory.
			return nil, nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the body has more than %d parts", maxMultipartParts)
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, nil, http.StatusRequestEntityTooLarge, errors.New("the body is larger than the limit")
			}
			return nil, nil, http.StatusBadRequest, fmt.Errorf("multipart body: %w", err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, nil, http.StatusRequestEntityTooLarge, errors.New("the body is larger than the limit")
			}
			return nil, nil, http.StatusBadRequest, fmt.Errorf("multipart body: %w", err)
		}
		ct := p.Header.Get("Content-Type")
		if p.FileName() == "" {
			// busboy takes an application/octet-stream part for a file,
			// and multer drops a file without a name.
			if ct != "application/octet-stream" {
				fields.add(p.FormName(), jsutf8.Decode(data))
			}
			continue
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		enc := p.Header.Get("Content-Transfer-Encoding")
		if enc == "" {
			enc = "7bit"
		}
		files = append(files, map[string]any{
			"fieldname": p.FormName(), "originalname": p.FileName(), "encoding": enc,
			"mimetype": ct, "buffer": data, "size": float64(len(data)),
		})
	}
	return fields.object(), files, 0, nil
}

// formFields are the fields of a multipart body in the order they came.
type formFields struct {
	names []string
	vals  [][]string
}

func (f *formFields) add(name, val string) {
	for i, n := range f.names {
		if n == name {
			f.vals[i] = append(f.vals[i], val)
			return
		}
	}
	f.names = append(f.names, name)
	f.vals = append(f.vals, []string{val})
}

// object is the body as multer makes it: each field in order, a repeated
// one as an array.
func (f *formFields) object() engine.RawJSON {
	b := []byte{'{'}
	for i, n := range f.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = engine.AppendJSONString(b, n)
		b = append(b, ':')
		if len(f.vals[i]) == 1 {
			b = engine.AppendJSONString(b, f.vals[i][0])
			continue
		}
		b = append(b, '[')
		for j, v := range f.vals[i] {
			if j > 0 {
				b = append(b, ',')
			}
			b = engine.AppendJSONString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// States of an HTTPResponse.
const (
	resPending int32 = iota
	resAnswered
	resGone
)

// HTTPResponse is msg.res: the handle of a request waiting for its answer.
// http-response answers it once; the request's goroutine writes the
// answer. It is an engine.Handle: left out of the message's JSON.
type HTTPResponse struct {
	method, path string
	msgid        string
	state        atomic.Int32
	reply        chan *httpReply // holds the one answer
}

func newHTTPResponse(r *http.Request) *HTTPResponse {
	return &HTTPResponse{method: r.Method, path: r.URL.Path, reply: make(chan *httpReply, 1)}
}

// RunnelHandle marks HTTPResponse as an engine.Handle.
func (*HTTPResponse) RunnelHandle() {}

// MarshalJSON shows the handle as a short description, as the debug
// sidebar displays it.
func (r *HTTPResponse) MarshalJSON() ([]byte, error) {
	state := "waiting"
	switch r.state.Load() {
	case resAnswered:
		state = "answered"
	case resGone:
		state = "gone"
	}
	return engine.AppendJSON(nil, map[string]any{"_res": "[http response to " + r.method + " " + r.path + ": " + state + "]"}), nil
}

// errRequestGone is the error of an answer to a request that is no longer
// waiting.
var errRequestGone = errors.New("the request is gone: it was answered already, timed out, or its client went away")

// answer hands rep to the request; it fails when the request has had its
// answer or is gone.
func (r *HTTPResponse) answer(rep *httpReply) error {
	if !r.state.CompareAndSwap(resPending, resAnswered) {
		return errRequestGone
	}
	r.reply <- rep
	return nil
}
