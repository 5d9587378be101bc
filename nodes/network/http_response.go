package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/runnel-io/runnel/engine"
)

// HTTPResponseConfig is the configuration of an http-response node
// (Node-RED's "http response").
type HTTPResponseConfig struct {
	StatusCode string          `json:"statusCode" label:"Status code" help:"Empty: msg.statusCode, else 200"`
	Headers    json.RawMessage `json:"headers" label:"Headers" default:"{}" help:"An object of header names and values; they win over msg.headers"`
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "http-response",
		Category: "network",
		Label:    "http response",
		Inputs:   1,
		Color:    "#e7e7ae",
		Icon:     "white-globe.svg",
		Help: `Answers the request of an http in node: the message must carry its msg.res, which may have gone
through other nodes, a delay or a function's timer on the way.

The status is the node's, else msg.statusCode, else 200. Headers are the node's and msg.headers (the
node's win). msg.cookies sets cookies: name: value, or name: {value, maxAge (ms), expires, domain,
path, httpOnly, secure, sameSite}; null (or a null value) clears the cookie. An object or array payload
is sent as JSON (application/json), a string as text/html unless a content-type header says otherwise,
a Buffer as application/octet-stream, a number as its text.

Answering a request that is gone (answered already, timed out, or whose client left) is an error of
this node. Differs from Node-RED: no ETag header and no 304 answers from it.`,
	}, newHTTPResponseNode))
}

type httpResponseNode struct {
	h       *engine.Host
	status  int
	headers map[string]any
}

func newHTTPResponseNode(cfg *HTTPResponseConfig, h *engine.Host) (engine.Node, error) {
	n := &httpResponseNode{h: h}
	if s := strings.TrimSpace(cfg.StatusCode); s != "" {
		code, err := strconv.Atoi(s)
		if err == nil && (code < 100 || code > 999) {
			err = errors.New("out of range")
		}
		if err != nil {
			// Node-RED's parseInt gives NaN: msg.statusCode then decides.
			h.Warn("statusCode", "%q is not a status code: msg.statusCode or 200 is used", s)
		} else {
			n.status = code
		}
	}
	if len(cfg.Headers) > 0 && string(cfg.Headers) != "null" {
		v, err := engine.ParseJSON(cfg.Headers)
		if err != nil {
			return nil, engine.ErrField("headers", err)
		}
		obj, ok := decodeObject(v)
		if !ok {
			return nil, engine.ErrFieldf("headers", "must be an object of header names and values")
		}
		n.headers = obj
	}
	return n, nil
}

// decodeObject returns v as a decoded object, if it is one.
func decodeObject(v any) (map[string]any, bool) {
	if r, ok := v.(engine.RawJSON); ok {
		v = r.Decode()
	}
	o, ok := v.(map[string]any)
	return o, ok
}

var (
	pathRes        = mustPath("res")
	pathPayload    = mustPath("payload")
	pathHeaders    = mustPath("headers")
	pathCookies    = mustPath("cookies")
	pathStatusCode = mustPath("statusCode")
)

func mustPath(s string) engine.Path {
	p, err := engine.ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Receive answers msg.res.
func (n *httpResponseNode) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	v, _ := m.Get(pathRes)
	res, ok := v.(*HTTPResponse)
	if !ok {
		n.h.Logger().Warn("http response: no response object (msg.res): the message did not come from an http in node", "msgid", m.ID())
		return nil
	}
	rep := &httpReply{header: http.Header{}}
	// Headers: the node's, then msg.headers where the node has none.
	var msgHeaders map[string]any
	if hv, ok := m.Get(pathHeaders); ok {
		msgHeaders, _ = decodeObject(hv)
		if msgHeaders != nil {
			if hash, ok := msgHeaders[requestNodeHeader].(string); ok {
				rest := make(map[string]any, len(msgHeaders))
				for k, v := range msgHeaders {
					if k != requestNodeHeader {
						rest[k] = v
					}
				}
				msgHeaders = rest
				if headerHash(rest) == hash {
					msgHeaders = nil // an http request's answer, unchanged: not for this response
				}
			}
		}
	}
	for k, v := range n.headers {
		setHeader(rep.header, k, v)
	}
	for k, v := range msgHeaders {
		if _, mine := n.headers[k]; !mine {
			setHeader(rep.header, k, v)
		}
	}
	if cv, ok := m.Get(pathCookies); ok {
		if cookies, ok := decodeObject(cv); ok {
			names := make([]string, 0, len(cookies))
			for k := range cookies {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, name := range names {
				if c := cookieHeader(name, cookies[name]); c != "" {
					rep.header.Add("Set-Cookie", c)
				}
			}
		}
	}
	rep.status = n.status
	if rep.status == 0 {
		if sv, ok := m.Get(pathStatusCode); ok {
			if f, ok := engine.ToFloat(sv); ok && f >= 100 && f <= 999 {
				rep.status = int(f)
			}
		}
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	payload, defined := m.Lookup(pathPayload)
	ct := rep.header.Get("Content-Type")
	switch p := payload.(type) {
	case string:
		rep.body = []byte(p)
		if ct == "" {
			rep.header.Set("Content-Type", "text/html; charset=utf-8")
		}
	case []byte:
		rep.body = p
		if ct == "" {
			rep.header.Set("Content-Type", "application/octet-stream")
		}
	case float64, int, int64:
		rep.body = []byte(engine.ToString(p))
		if ct == "" {
			rep.header.Set("Content-Type", "text/html; charset=utf-8")
		}
	default:
		if !defined {
			break // undefined: an empty body
		}
		rep.body = engine.AppendJSON(nil, p) // objects, arrays, null, booleans: JSON, as Express's json()
		if ct == "" {
			rep.header.Set("Content-Type", "application/json; charset=utf-8")
		}
	}
	if err := res.answer(rep); err != nil {
		return err
	}
	return nil
}

// httpReply is an answer, written by the request's goroutine.
type httpReply struct {
	status int
	header http.Header
	body   []byte
}

func (rep *httpReply) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, vs := range rep.header {
		h[k] = vs
	}
	if rep.status == http.StatusNoContent || rep.status == http.StatusNotModified || rep.status < 200 {
		h.Del("Content-Type")
		h.Del("Content-Length")
		w.WriteHeader(rep.status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rep.body)
	}
}

// setHeader sets a header from a message value: a string, a number, or an
// array of them. Names and values that are not valid in HTTP are left out.
func setHeader(h http.Header, name string, v any) {
	if !httpguts.ValidHeaderFieldName(name) {
		return
	}
	var vals []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			vals = append(vals, engine.ToString(e))
		}
	case nil:
		return
	default:
		vals = []string{engine.ToString(v)}
	}
	h.Del(name)
	for _, s := range vals {
		if httpguts.ValidHeaderFieldValue(s) {
			h.Add(name, s)
		}
	}
}

// cookieHeader writes a Set-Cookie value as Express's res.cookie and
// res.clearCookie do (with the cookie package's attribute order).
func cookieHeader(name string, v any) string {
	if !httpguts.ValidHeaderFieldName(name) {
		return ""
	}
	opts, isObj := decodeObject(v)
	clear := v == nil
	if isObj {
		if val, ok := opts["value"]; ok && val == nil {
			clear = true
		}
	}
	var value string
	switch {
	case clear:
	case isObj:
		switch x := opts["value"].(type) {
		case string:
			value = x
		case nil:
		default:
			if o, ok := decodeObject(x); ok {
				value = "j:" + string(engine.AppendJSON(nil, o))
			} else {
				value = engine.ToString(x)
			}
		}
	default:
		value = engine.ToString(v)
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('=')
	if !(isObj && opts["encode"] == false) {
		value = encodeURIComponent(value)
	}
	b.WriteString(value)
	path := "/"
	var expires string
	if clear {
		expires = "Thu, 01 Jan 1970 00:00:00 GMT"
	}
	if isObj {
		if ma, ok := engine.ToFloat(opts["maxAge"]); ok && !clear && !math.IsNaN(ma) {
			b.WriteString("; Max-Age=" + strconv.FormatInt(int64(math.Floor(ma/1000)), 10))
			expires = time.Now().Add(time.Duration(ma) * time.Millisecond).UTC().Format(http.TimeFormat)
		}
		if d, ok := opts["domain"].(string); ok && d != "" {
			b.WriteString("; Domain=" + d)
		}
		if p, ok := opts["path"].(string); ok && p != "" {
			path = p
		}
		if e, ok := opts["expires"]; ok && expires == "" {
			var t time.Time
			switch x := e.(type) {
			case string:
				t, _ = time.Parse(time.RFC3339, x)
			case float64:
				t = time.UnixMilli(int64(x))
			}
			if !t.IsZero() {
				expires = t.UTC().Format(http.TimeFormat)
			}
		}
	}
	b.WriteString("; Path=" + path)
	if expires != "" {
		b.WriteString("; Expires=" + expires)
	}
	if isObj {
		if opts["httpOnly"] == true {
			b.WriteString("; HttpOnly")
		}
		switch s := opts["sameSite"].(type) {
		case bool:
			if s {
				b.WriteString("; SameSite=Strict")
			}
		case string:
			switch strings.ToLower(s) {
			case "strict":
				b.WriteString("; SameSite=Strict")
			case "lax":
				b.WriteString("; SameSite=Lax")
			case "none":
				b.WriteString("; SameSite=None")
			}
		}
		if opts["secure"] == true {
			b.WriteString("; Secure")
		}
	}
	s := b.String()
	if !httpguts.ValidHeaderFieldValue(s) {
		return ""
	}
	return s
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent.
func encodeURIComponent(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	for _, r := range []struct{ from, to string }{{"%21", "!"}, {"%27", "'"}, {"%28", "("}, {"%29", ")"}, {"%2A", "*"}} {
		e = strings.ReplaceAll(e, r.from, r.to)
	}
	return e
}

// requestNodeHeader marks the headers an http request node set as
// msg.headers, with their hash, so that an http response node does not
// send a response's headers back when the message goes on to it
// unchanged (Node-RED uses hash-sum; Runnel its own hash).
const requestNodeHeader = "x-node-red-request-node"

// headerHash hashes a headers object.
func headerHash(h map[string]any) string {
	sum := sha256.Sum256(engine.AppendJSON(nil, h))
	return hex.EncodeToString(sum[:4])
}
