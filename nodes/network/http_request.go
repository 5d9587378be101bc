package network

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/flows/jsutf8"
	"github.com/runnel-io/runnel/nodes/internal/mustache"
)

// HTTPRequestConfig is the configuration of an http-request node
// (Node-RED's "http request"); its credentials are "user" and "password".
type HTTPRequestConfig struct {
	Method             string              `json:"method" label:"Method" default:"GET" options:"GET,POST,PUT,DELETE,HEAD,PATCH,use=- set by msg.method -"`
	URL                string              `json:"url" label:"URL" help:"May hold {{mustache}} tags from the message; empty: msg.url. Without a scheme, http:// (https:// with a TLS configuration)"`
	Paytoqs            string              `json:"paytoqs" label:"Payload (GET)" default:"ignore" options:"ignore=Ignore,query=Append to query-string parameters,body=Send as request body,true=Append to query-string parameters (older flows),false=Ignore (older flows)"`
	TLS                string              `json:"tls" label:"TLS configuration" node:"tls-config"`
	Persist            bool                `json:"persist" label:"Enable connection keep-alive"`
	Proxy              string              `json:"proxy" label:"Proxy" node:"http-proxy" help:"Empty: the http_proxy, https_proxy and no_proxy environment variables"`
	InsecureHTTPParser bool                `json:"insecureHTTPParser" label:"Disable strict HTTP parsing" help:"Not supported: Go's HTTP client has no lenient parser"`
	AuthType           string              `json:"authType" label:"Authentication" options:"=basic (when there are credentials),basic=basic authentication,digest=digest authentication,bearer=bearer authentication" help:"With the node's credentials: user and password (the token for bearer)"`
	Senderr            bool                `json:"senderr" label:"Only send non-2xx responses to Catch node" help:"As Node-RED: errors go only to catch nodes; otherwise they are also sent on with msg.payload the error text"`
	Ret                string              `json:"ret" label:"Return" default:"txt" options:"txt=a UTF-8 string,bin=a binary buffer,obj=a parsed JSON object"`
	Headers            []HTTPRequestHeader `json:"headers" label:"Headers"`
}

// HTTPRequestHeader is one header of the node's list, as Node-RED keeps
// it: a key and a value, each either a known header name or value (its
// type is the name itself), "other" (the text in keyValue/valueValue) or
// "msg" (a message property).
type HTTPRequestHeader struct {
	KeyType    string `json:"keyType" label:"Header" default:"other" options:"other=another header (name below),msg=a msg. property (below),Content-Type,Accept,Authorization,User-Agent" other:"this header name"`
	KeyValue   string `json:"keyValue" label:"Name" showif:"keyType=other,msg"`
	ValueType  string `json:"valueType" label:"Value is" default:"other" options:"other=the value below,msg=a msg. property (below)" other:"this value"`
	ValueValue string `json:"valueValue" label:"Value" showif:"valueType=other,msg"`
}

// Requests one http-request node runs at once. More wait in Receive, which
// slows their source down (back-pressure) rather than queueing without
// bound; a slow or dead server holds only these slots, never the flow.
const httpRequestConcurrency = 32

// defaultRequestTimeout is Node-RED's httpRequestTimeout default.
const defaultRequestTimeout = 120 * time.Second

// MaxResponseBody bounds the body of a response http request reads (Node-RED
// has no bound): a larger one is an error against the message.
const MaxResponseBody = 64 << 20

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:             "http-request",
		Category:         "network",
		Label:            "http request",
		Inputs:           1,
		Outputs:          1,
		Color:            "#e7e7ae",
		Icon:             "white-globe.svg",
		Credentials:      map[string]string{"user": "text", "password": "password"},
		CredentialLabels: map[string]string{"user": "Username", "password": "Password (token for bearer)"},
		Help: `Sends an HTTP request for each message and sends the response on: msg.payload (a string, a Buffer
or parsed JSON), msg.statusCode, msg.headers, msg.responseUrl, msg.redirectList, msg.responseCookies.

msg.method (with method "use"), msg.url (when the node has none), msg.headers, msg.cookies,
msg.requestTimeout (ms; default 120 s) and msg.followRedirects (default true, at most 21) shape the
request. An object payload is sent as JSON, as a form with content-type
application/x-www-form-urlencoded, or, with content-type multipart/form-data, as one part per
property (a string as it is, a Buffer as a file, {value, options: {filename, contentType}} as a
named file, anything else as its JSON), as Node-RED builds them.

Requests run concurrently, up to 32 per node; messages are not kept in order (as in Node-RED).
Differs from Node-RED: msg.rejectUnauthorized is ignored (use a TLS
configuration), "Disable strict HTTP parsing" is ignored, and the x-node-red-request-node header
carries Runnel's own hash.`,
	}, newHTTPRequest))
	engine.Register(engine.NewType(engine.Meta{
		Type:             "http-proxy",
		Category:         "config",
		Label:            "http proxy",
		Config:           true,
		Credentials:      map[string]string{"username": "text", "password": "password"},
		CredentialLabels: map[string]string{"username": "Username", "password": "Password"},
		Help:             `An HTTP proxy for http request nodes: its URL, and the hosts to reach without it.`,
	}, newHTTPProxy))
}

// HTTPProxyConfig is the configuration of an http-proxy config node
// (Node-RED's "http proxy").
type HTTPProxyConfig struct {
	URL     string          `json:"url" label:"URL" required:"true" help:"http://host:port"`
	NoProxy json.RawMessage `json:"noproxy" label:"Ignore hosts" help:"A JSON array of host names to reach without the proxy"`
}

// HTTPProxy is a built http-proxy config node.
type HTTPProxy struct {
	url     *url.URL
	noProxy string
}

func newHTTPProxy(cfg *HTTPProxyConfig, h *engine.Host) (engine.Node, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		u, err = url.Parse("http://" + cfg.URL)
		if err != nil || u.Host == "" {
			return nil, engine.ErrFieldf("url", "not a proxy URL: %q", cfg.URL)
		}
	}
	c := h.Credentials()
	if c["username"] != "" || c["password"] != "" {
		u.User = url.UserPassword(c["username"], c["password"])
	}
	var hosts []string
	if len(cfg.NoProxy) > 0 {
		if err := json.Unmarshal(cfg.NoProxy, &hosts); err != nil {
			return nil, engine.ErrFieldf("noproxy", "must be an array of host names: %v", err)
		}
	}
	return &HTTPProxy{url: u, noProxy: strings.Join(hosts, ",")}, nil
}

type httpRequest struct {
	h        *engine.Host
	cfg      HTTPRequestConfig
	tmpl     *mustache.Template // the URL's template, when it has tags
	tr       *http.Transport
	user     string
	password string
	hasCreds bool
	slots    chan struct{}
}

func newHTTPRequest(cfg *HTTPRequestConfig, h *engine.Host) (engine.Node, error) {
	n := &httpRequest{h: h, cfg: *cfg, slots: make(chan struct{}, httpRequestConcurrency)}
	if strings.Contains(cfg.URL, "{{") {
		t, err := mustache.Parse(cfg.URL)
		if err != nil {
			return nil, engine.ErrField("url", err)
		}
		n.tmpl = t
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = !cfg.Persist
	tr.DisableCompression = true // Node-RED's decompress: false
	if cfg.TLS != "" {
		tn, err := h.ConfigNode(cfg.TLS, "tls-config")
		if err != nil {
			return nil, engine.ErrField("tls", err)
		}
		tr.TLSClientConfig = tn.(*TLSConfigNode).Config()
	}
	if cfg.Proxy != "" {
		pn, err := h.ConfigNode(cfg.Proxy, "http-proxy")
		if err != nil {
			return nil, engine.ErrField("proxy", err)
		}
		p := pn.(*HTTPProxy)
		pc := &httpproxy.Config{HTTPProxy: p.url.String(), HTTPSProxy: p.url.String(), NoProxy: p.noProxy}
		fn := pc.ProxyFunc()
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return fn(r.URL) }
	} else {
		tr.Proxy = http.ProxyFromEnvironment
	}
	n.tr = tr
	creds := h.Credentials()
	n.user, n.password = creds["user"], creds["password"]
	n.hasCreds = n.user != "" || n.password != ""
	if cfg.InsecureHTTPParser {
		h.Warn("insecureHTTPParser", "Go's HTTP client has no lenient parser: responses are parsed strictly")
	}
	return n, nil
}

// Close drops the node's idle connections.
func (n *httpRequest) Close(context.Context) error {
	n.tr.CloseIdleConnections()
	return nil
}

// Receive starts the request on a goroutine of its own, once one of the
// node's slots is free.
func (n *httpRequest) Receive(ctx context.Context, m *engine.Message, out engine.Output) error {
	select {
	case n.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	n.h.Status(engine.Status{Fill: "blue", Shape: "dot", Text: "requesting"})
	n.h.Go(func() {
		defer func() { <-n.slots }()
		n.do(ctx, m, out)
		if len(n.slots) == 1 {
			n.h.Status(engine.Status{})
		}
	})
	return nil
}

var (
	pathURL             = mustPath("url")
	pathMethod          = mustPath("method")
	pathRequestTimeout  = mustPath("requestTimeout")
	pathFollowRedirects = mustPath("followRedirects")
)

// msgView is the mustache context of a message for the URL template, as
// mustache.render(url, msg): message properties only.
type msgView struct{ m *engine.Message }

func (v msgView) Lookup(name string) (mustache.Value, bool) {
	switch name {
	case "payload":
		return mustache.ValueOf(v.m.Payload), true
	case "topic":
		return mustache.StringValue(v.m.Topic), true
	case "_msgid":
		return mustache.StringValue(v.m.ID()), true
	}
	x, ok := v.m.Prop(name)
	if !ok {
		return mustache.Value{}, false
	}
	return mustache.ValueOf(x), true
}

func (msgView) Fallback(string) mustache.Value { return mustache.Value{} }

var badPercent = regexp.MustCompile(`%(?:[0-9a-fA-F]{2})?`)

// do runs one request and sends its result.
func (n *httpRequest) do(ctx context.Context, m *engine.Message, out engine.Output) {
	u := n.cfg.URL
	if n.tmpl != nil {
		u = string(n.tmpl.Render(nil, msgView{m}))
	} else if u == "" {
		if v, ok := m.Get(pathURL); ok {
			u = engine.ToString(v)
		}
	}
	if u == "" {
		n.h.Error(errors.New("no url specified"), m)
		return
	}
	if strings.Contains(u, "://") && !strings.HasPrefix(u, "http") {
		n.h.Logger().Warn("http request: invalid transport: only http and https URLs are supported", "url", u)
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "invalid transport"})
		return
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		if n.cfg.TLS != "" {
			u = "https://" + u
		} else {
			u = "http://" + u
		}
	}
	// A lone % in the query becomes %25, as Node-RED does for got.
	if base, q, ok := strings.Cut(u, "?"); ok && q != "" {
		u = base + "?" + badPercent.ReplaceAllStringFunc(q, func(s string) string {
			if len(s) == 3 {
				return s
			}
			return "%25"
		})
	}
	method := strings.ToUpper(n.cfg.Method)
	if method == "" {
		method = "GET"
	}
	if method == "USE" {
		method = "GET"
		if v, ok := m.Get(pathMethod); ok {
			if s, ok := v.(string); ok && s != "" {
				method = strings.ToUpper(s)
			}
		}
	}
	headers := n.headers(m)
	payload, hasPayload := m.Lookup(pathPayload)
	if payload == jsv.Undefined {
		hasPayload = false
	}
	var body []byte
	paytoqs := n.cfg.Paytoqs == "query" || n.cfg.Paytoqs == "true"
	paytobody := n.cfg.Paytoqs == "body"
	if method != "GET" && method != "HEAD" && hasPayload || method == "GET" && hasPayload && paytobody {
		switch p := payload.(type) {
		case string:
			body = []byte(p)
		case []byte:
			body = p
		case float64, int, int64, bool:
			body = []byte(engine.ToString(p))
		default:
			if headers.get("content-type") == "multipart/form-data" {
				if b, ct, ok := formDataBody(p); ok {
					body = b
					headers.set("Content-Type", ct)
					break
				}
			}
			if o, ok := decodeObject(p); ok && strings.EqualFold(headers.get("content-type"), "application/x-www-form-urlencoded") {
				body = []byte(formString(o))
			} else {
				body = engine.AppendJSON(nil, p)
				if headers.get("content-type") == "" {
					headers.set("Content-Type", "application/json")
				}
			}
		}
	} else if method == "GET" && hasPayload && paytoqs {
		o, ok := decodeObject(payload)
		if !ok {
			n.h.Error(errors.New("invalid payload: for query parameters it must be an object"), m)
			return
		}
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
			if strings.HasSuffix(u, "?") {
				sep = ""
			}
		}
		u += sep + formString(o)
	}
	pu, err := url.Parse(u)
	if err != nil {
		n.fail(m, out, u, err)
		return
	}
	user, password, hasCreds := n.user, n.password, n.hasCreds
	if pu.User != nil {
		if user == "" {
			user = pu.User.Username()
		}
		if p, ok := pu.User.Password(); ok && password == "" {
			password = p
		}
		hasCreds = true
		pu.User = nil
	}
	timeout := defaultRequestTimeout
	if v, ok := m.Get(pathRequestTimeout); ok {
		if f, ok := engine.ToFloat(v); !ok {
			n.h.Logger().Warn("http request: msg.requestTimeout is not a number: ignored")
		} else if f < 1 {
			n.h.Logger().Warn("http request: msg.requestTimeout is below 1 ms: ignored")
		} else {
			timeout = time.Duration(f * float64(time.Millisecond))
		}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	jar, _ := cookiejar.New(nil)
	if cv, ok := m.Get(pathCookies); ok {
		if cs, ok := decodeObject(cv); ok {
			var list []*http.Cookie
			for name, v := range cs {
				if v == nil {
					continue
				}
				if o, ok := decodeObject(v); ok {
					if o["value"] == nil {
						continue
					}
					val := engine.ToString(o["value"])
					if o["encode"] != false {
						val = encodeURIComponent(val)
					}
					list = append(list, &http.Cookie{Name: name, Value: val})
				} else {
					list = append(list, &http.Cookie{Name: name, Value: encodeURIComponent(engine.ToString(v))})
				}
			}
			jar.SetCookies(pu, list)
		}
	}
	follow := true
	if v, ok := m.Get(pathFollowRedirects); ok {
		follow = engine.Truthy(v)
	}
	redirects := []any{}
	client := &http.Client{Transport: n.tr, Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !follow {
			return http.ErrUseLastResponse
		}
		if len(via) > 21 {
			return errors.New("maximum redirects exceeded")
		}
		info := map[string]any{"location": req.Response.Header.Get("Location")}
		if sc := req.Response.Header.Values("Set-Cookie"); len(sc) > 0 {
			info["cookies"] = extractCookies(sc)
		}
		redirects = append(redirects, info)
		// Credentials set by the node go to the next request too, as got
		// keeps them across redirects on the same host.
		if a := via[0].Header.Get("Authorization"); a != "" && req.URL.Host == via[0].URL.Host {
			req.Header.Set("Authorization", a)
		}
		return nil
	}}
	build := func(auth string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(rctx, method, pu.String(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		for _, h := range headers {
			if strings.EqualFold(h.name, "cookie") {
				for _, c := range strings.Split(h.value, ";") {
					if k, v, ok := strings.Cut(strings.TrimSpace(c), "="); ok {
						jar.SetCookies(pu, []*http.Cookie{{Name: k, Value: v}})
					}
				}
				continue
			}
			if strings.EqualFold(h.name, "content-length") {
				continue
			}
			req.Header[h.name] = []string{h.value} // the case the flow wrote
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return req, nil
	}
	authType := n.cfg.AuthType
	if authType == "" {
		authType = "basic"
	}
	auth := ""
	if hasCreds {
		switch authType {
		case "basic":
			auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		case "bearer":
			auth = "Bearer " + password
		}
	}
	req, err := build(auth)
	if err != nil {
		n.fail(m, out, u, err)
		return
	}
	res, err := client.Do(req)
	if err == nil && hasCreds && authType == "digest" && res.StatusCode == http.StatusUnauthorized {
		if chal := res.Header.Get("WWW-Authenticate"); chal != "" {
			path := res.Request.URL.RequestURI()
			if d, derr := digestHeader(user, password, method, path, chal); derr != nil {
				n.h.Logger().Warn("http request: digest authentication failed", "err", derr)
			} else if req2, berr := build(d); berr == nil {
				req2.URL = res.Request.URL
				io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
				res.Body.Close()
				res, err = client.Do(req2)
			}
		}
	}
	if err != nil {
		n.fail(m, out, u, err)
		return
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBody+1))
	if err != nil {
		n.fail(m, out, u, err)
		return
	}
	if len(data) > MaxResponseBody {
		// A server that sends without end would otherwise take the
		// process's memory (32 requests at once per node).
		n.fail(m, out, u, fmt.Errorf("the response body is larger than %d MiB", MaxResponseBody>>20))
		return
	}
	m.SetProp("statusCode", float64(res.StatusCode))
	hs := responseHeaders(res.Header)
	if sc := res.Header.Values("Set-Cookie"); len(sc) > 0 {
		m.SetProp("responseCookies", extractCookies(sc))
	}
	hs[requestNodeHeader] = headerHash(hs)
	m.SetProp("headers", hs)
	m.SetProp("responseUrl", res.Request.URL.String())
	m.SetProp("redirectList", redirects)
	m.SetProp("retry", float64(0))
	switch n.cfg.Ret {
	case "bin":
		m.SetProp("payload", data)
	case "obj":
		text := jsutf8.Decode(data)
		if res.StatusCode == http.StatusNoContent {
			text = "{}"
		}
		if v, err := engine.ParseJSON([]byte(text)); err == nil {
			m.SetProp("payload", v)
		} else {
			n.h.Logger().Warn("http request: JSON parse error: the payload is left a string", "msgid", m.ID())
			m.SetProp("payload", text)
		}
	default:
		m.SetProp("payload", jsutf8.Decode(data))
	}
	out.Send(0, m)
}

// fail reports err against m and, unless senderr, sends m on with the
// error text as its payload, as Node-RED does.
func (n *httpRequest) fail(m *engine.Message, out engine.Output, u string, err error) {
	code := errorCode(err)
	if code == "ETIMEDOUT" {
		n.h.Error(errors.New("no response from server"), m)
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "no response from server"})
	} else {
		n.h.Error(err, m)
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: code})
	}
	m.SetProp("payload", "RequestError: "+errorText(err, code)+" : "+u)
	m.SetProp("statusCode", code)
	if !n.cfg.Senderr {
		out.Send(0, m)
	}
}

// errorCode names err as Node.js's error codes do.
func errorCode(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "ETIMEDOUT"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "ECONNRESET"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "EHOSTUNREACH"
	case errors.As(err, &dnsErr):
		return "ENOTFOUND"
	}
	if code, _ := tlsError(err); code != "" {
		return code
	}
	return "ERR_HTTP_REQUEST"
}

// tlsError names a refused server certificate as Node.js does: its error
// code and message.
func tlsError(err error) (code, text string) {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		if c := unknown.Cert; c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) {
			return "DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"
		}
		return "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"
	case errors.As(err, &host) && host.Certificate != nil:
		c := host.Certificate
		if ip := net.ParseIP(host.Host); ip != nil {
			list := make([]string, len(c.IPAddresses))
			for i, a := range c.IPAddresses {
				list[i] = a.String()
			}
			return "ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames: IP: " + host.Host + " is not in the cert's list: " + strings.Join(list, ", ")
		}
		names := make([]string, 0, len(c.DNSNames)+len(c.IPAddresses))
		for _, d := range c.DNSNames {
			names = append(names, "DNS:"+d)
		}
		for _, a := range c.IPAddresses {
			names = append(names, "IP Address:"+a.String())
		}
		return "ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames: Host: " + host.Host + ". is not in the cert's altnames: " + strings.Join(names, ", ")
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "CERT_HAS_EXPIRED", "certificate has expired"
	}
	return "", ""
}

func errorText(err error, code string) string {
	var op *net.OpError
	if code == "ECONNREFUSED" && errors.As(err, &op) && op.Addr != nil {
		return "connect ECONNREFUSED " + op.Addr.String()
	}
	if code == "ETIMEDOUT" {
		return "Timeout awaiting 'request'"
	}
	if c, text := tlsError(err); c == code && text != "" {
		return text
	}
	return err.Error()
}

// header is one request header, in the case the flow gave its name.
type header struct{ name, value string }

type headerList []header

func (l headerList) get(name string) string {
	for _, h := range l {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// set replaces every header of that name, case-insensitively (Node-RED's
// updateHeader); an empty value removes it.
func (l *headerList) set(name, value string) {
	out := (*l)[:0]
	for _, h := range *l {
		if !strings.EqualFold(h.name, name) {
			out = append(out, h)
		}
	}
	if value != "" {
		out = append(out, header{name, value})
	}
	*l = out
}

// headers are msg.headers, then the node's list, which wins.
func (n *httpRequest) headers(m *engine.Message) headerList {
	var l headerList
	if hv, ok := m.Get(pathHeaders); ok {
		if o, ok := decodeObject(hv); ok {
			if hash, ok := o[requestNodeHeader].(string); ok {
				rest := map[string]any{}
				for k, v := range o {
					if k != requestNodeHeader {
						rest[k] = v
					}
				}
				o = rest
				if headerHash(rest) == hash {
					o = nil // a response's headers, unchanged: not for this request
				}
			}
			names := make([]string, 0, len(o))
			for k := range o {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				if o[k] != nil {
					l.set(k, engine.ToString(o[k]))
				}
			}
		}
	}
	eval := func(typ, val string) (string, bool) {
		switch typ {
		case "other":
			return val, true
		case "msg":
			p, err := engine.ParsePath(val)
			if err != nil {
				return "", false
			}
			v, ok := m.Get(p)
			if !ok {
				return "", false
			}
			return engine.ToString(v), true
		}
		return typ, true
	}
	for _, h := range n.cfg.Headers {
		name, ok := eval(h.KeyType, h.KeyValue)
		if !ok || name == "" {
			continue
		}
		value, _ := eval(h.ValueType, h.ValueValue)
		l.set(name, value)
	}
	return l
}

// responseHeaders makes msg.headers of a response as Node.js does:
// lower-case names, set-cookie an array, others joined with ", ".
func responseHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "set-cookie" {
			a := make([]any, len(vs))
			for i, v := range vs {
				a[i] = v
			}
			out[lk] = a
			continue
		}
		out[lk] = strings.Join(vs, ", ")
	}
	return out
}

// extractCookies makes msg.responseCookies of Set-Cookie values as
// Node-RED does with the cookie package: each cookie's attributes that
// have a value, by their name as written, and its value as "value".
func extractCookies(setCookie []string) map[string]any {
	out := map[string]any{}
	for _, c := range setCookie {
		eq := strings.IndexByte(c, '=')
		if eq < 0 {
			continue
		}
		key := strings.TrimSpace(c[:eq])
		if key == "" {
			continue
		}
		parsed := map[string]any{}
		for _, part := range strings.Split(c, ";") {
			k, v, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if _, seen := parsed[k]; seen {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if d, err := url.PathUnescape(v); err == nil {
				v = d
			}
			parsed[k] = v
		}
		parsed["value"] = parsed[key]
		delete(parsed, key)
		out[key] = parsed
	}
	return out
}

// formString encodes an object as Node.js's querystring.stringify: arrays
// repeat the key, other objects become empty values.
func formString(o map[string]any) string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	engine.SortKeys(keys)
	var parts []string
	enc := func(v any) string {
		switch v.(type) {
		case string, float64, bool, int, int64:
			return encodeURIComponent(engine.ToString(v))
		}
		return ""
	}
	for _, k := range keys {
		if a, ok := o[k].([]any); ok {
			for _, e := range a {
				parts = append(parts, encodeURIComponent(k)+"="+enc(e))
			}
			continue
		}
		parts = append(parts, encodeURIComponent(k)+"="+enc(o[k]))
	}
	return strings.Join(parts, "&")
}

var digestParam = regexp.MustCompile(`(?i)([a-z0-9_-]+)=(?:"([^"]+)"|([a-z0-9_-]+))`)

// digestHeader answers a digest challenge as Node-RED's http request does
// (RFC 2617 and 7616: MD5, SHA-256, SHA-512-256, their -sess forms, qop
// auth). Written here rather than taken from a library: it is 40 lines,
// and the libraries wrap the whole client.
func digestHeader(user, pass, method, path, challenge string) (string, error) {
	c := map[string]string{}
	for _, m := range digestParam.FindAllStringSubmatch(challenge, -1) {
		v := m[2]
		if v == "" {
			v = m[3]
		}
		c[m[1]] = v
	}
	if c["nonce"] == "" {
		return "", errors.New("invalid digest challenge: missing nonce")
	}
	if c["realm"] == "" {
		return "", errors.New("invalid digest challenge: missing realm")
	}
	algo := c["algorithm"]
	newHash := func() hash.Hash {
		switch strings.TrimSuffix(strings.ToLower(algo), "-sess") {
		case "sha-256":
			return sha256.New()
		case "sha-512-256":
			return sha512.New()
		}
		return md5.New()
	}
	h := func(s string) string {
		x := newHash()
		x.Write([]byte(s))
		sum := hex.EncodeToString(x.Sum(nil))
		if strings.TrimSuffix(strings.ToLower(algo), "-sess") == "sha-512-256" {
			sum = sum[:64]
		}
		return sum
	}
	qop := ""
	for _, q := range strings.Split(c["qop"], ",") {
		if strings.TrimSpace(q) == "auth" {
			qop = "auth"
		}
	}
	nc, cnonce := "", ""
	if qop != "" {
		nc = "00000001"
		var b [16]byte
		_, _ = rand.Read(b[:])
		cnonce = hex.EncodeToString(b[:])
	}
	ha1 := h(user + ":" + c["realm"] + ":" + pass)
	if strings.HasSuffix(strings.ToLower(algo), "-sess") {
		ha1 = h(ha1 + ":" + c["nonce"] + ":" + cnonce)
	}
	ha2 := h(method + ":" + path)
	var resp string
	if qop != "" {
		resp = h(ha1 + ":" + c["nonce"] + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		resp = h(ha1 + ":" + c["nonce"] + ":" + ha2)
	}
	parts := []string{}
	add := func(k, v string, quoted bool) {
		if v == "" {
			return
		}
		if quoted {
			parts = append(parts, fmt.Sprintf(`%s="%s"`, k, v))
		} else {
			parts = append(parts, k+"="+v)
		}
	}
	add("username", user, true)
	add("realm", c["realm"], true)
	add("nonce", c["nonce"], true)
	add("uri", path, true)
	add("qop", qop, false)
	add("response", resp, true)
	add("nc", nc, false)
	add("cnonce", cnonce, true)
	add("algorithm", algo, false)
	add("opaque", c["opaque"], true)
	return "Digest " + strings.Join(parts, ", "), nil
}
