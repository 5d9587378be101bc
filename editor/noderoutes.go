package editor

// Node routes: the HTTP endpoints that http-in nodes serve, Node-RED's
// RED.httpNode mounted at httpNodeRoot. NodeRoutes is the route table the
// runtime's nodes register in (engine.HTTPRoutes) and the handler that
// serves them; Mount puts it beside the admin API on one listener.
//
// Precedence, as in Node-RED (which mounts the admin app before the node
// app): a request the admin API or the editor's files answer goes to them,
// whatever routes the flows declare; the rest goes to the node routes when
// its path is under the node root, and is answered 404 otherwise. So a flow
// cannot take over GET /flows, POST /flows or /comms, nor the editor's page
// at GET /.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"html"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/engine"
)

// NodeRoutesOptions configure the node routes.
type NodeRoutesOptions struct {
	// Root is the path the routes are served under (Node-RED's
	// httpNodeRoot); "/" when empty. A route /hello with root /api is
	// served at /api/hello.
	Root string
	// AuthUser and AuthPasswordHash (bcrypt) ask every request to a node
	// route for HTTP basic authentication (Node-RED's httpNodeAuth);
	// none when AuthUser is empty. OPTIONS requests (CORS preflights)
	// pass without, as in Node-RED.
	AuthUser         string
	AuthPasswordHash string
	// CORS lists the origins that browsers may call node routes from
	// (Node-RED's httpNodeCors.origin); "*" allows any. Empty: no CORS
	// headers, so browsers on other origins cannot read the answers.
	CORS []string
	// MaxBody bounds a request's body (DefaultNodeMaxBody when 0): a
	// larger Content-Length is answered 413 before the body is read, and
	// reading past it fails.
	MaxBody int64
	// MaxRequests bounds the requests being served at once, waiting for
	// their response included (DefaultNodeMaxRequests when 0); more are
	// answered 503 with Retry-After.
	MaxRequests int
	// ResponseTimeout is how long a request waits for the flow's http
	// response node (DefaultNodeResponseTimeout when 0): the request's
	// context ends then, and http-in answers 504.
	ResponseTimeout time.Duration
	// Logger receives a line for each route added and removed.
	Logger *slog.Logger
}

// Defaults of NodeRoutesOptions: Node-RED's apiMaxLength (5 MB), its
// server's two-minute timeout, and 128 requests at once.
const (
	DefaultNodeMaxBody         = 5 << 20
	DefaultNodeMaxRequests     = 128
	DefaultNodeResponseTimeout = 120 * time.Second
)

// NodeRoutes is the table of node routes and their handler; it implements
// engine.HTTPRoutes and http.Handler. Create it with NewNodeRoutes.
type NodeRoutes struct {
	opts   NodeRoutesOptions
	log    *slog.Logger
	root   string // without a trailing slash; "" for /
	cors   map[string]bool
	anyCO  bool
	routes atomic.Pointer[[]*nodeRoute] // copied on write, in registration order
	mu     sync.Mutex                   // serialises writers of routes
	sem    chan struct{}

	authMu   sync.Mutex
	authGood [32]byte // sha256 of the last password that matched (bcrypt is slow)
	authOK   bool
	// authSem bounds the bcrypt checks running at once: each takes tens
	// of milliseconds of a core, and a client guessing passwords must not
	// take every core with them.
	authSem chan struct{}
	compare func(hash, password []byte) error // bcrypt's; replaced in tests
}

// maxAuthChecks is how many bcrypt checks run at once: half the cores.
func maxAuthChecks() int { return max(1, runtime.GOMAXPROCS(0)/2) }

type nodeRoute struct {
	owner, method, pattern string
	re                     *regexp.Regexp
	names                  []string
	h                      atomic.Pointer[engine.HTTPHandler]
	gen                    atomic.Uint64 // which registration holds it (see Route)
}

// NewNodeRoutes checks o and returns an empty route table.
func NewNodeRoutes(o NodeRoutesOptions) (*NodeRoutes, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	if !strings.HasPrefix(o.Root, "/") || strings.ContainsAny(o.Root, "?#:*") {
		return nil, fmt.Errorf("http node root %q: must be a path that starts with /", o.Root)
	}
	if o.AuthUser != "" {
		if _, err := bcrypt.Cost([]byte(o.AuthPasswordHash)); err != nil {
			return nil, fmt.Errorf("http node auth: the password hash is not a bcrypt hash (make one with runnel passwd): %w", err)
		}
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultNodeMaxBody
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultNodeMaxRequests
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = DefaultNodeResponseTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &NodeRoutes{opts: o, log: log, root: strings.TrimSuffix(o.Root, "/"), cors: map[string]bool{}, sem: make(chan struct{}, o.MaxRequests),
		authSem: make(chan struct{}, maxAuthChecks()), compare: bcrypt.CompareHashAndPassword}
	for _, c := range o.CORS {
		if c == "*" {
			n.anyCO = true
		}
		n.cors[strings.TrimSuffix(c, "/")] = true
	}
	n.routes.Store(&[]*nodeRoute{})
	return n, nil
}

// Root returns the path the routes are served under.
func (n *NodeRoutes) Root() string { return n.opts.Root }

var routeGen atomic.Uint64

// Route implements engine.HTTPRoutes. A route of the same owner, method
// and pattern as one already there takes its place (and its precedence);
// otherwise it goes after the others: the first route that matches a
// request serves it, as Express does.
func (n *NodeRoutes) Route(owner, method, pattern string, h engine.HTTPHandler) (func(), error) {
	if !strings.HasPrefix(pattern, "/") {
		pattern = "/" + pattern
	}
	re, names, err := compileRoute(pattern)
	if err != nil {
		return nil, err
	}
	method = strings.ToUpper(method)
	gen := routeGen.Add(1)
	n.mu.Lock()
	defer n.mu.Unlock()
	old := *n.routes.Load()
	var rt *nodeRoute
	for _, r := range old {
		if r.owner == owner && r.method == method && r.pattern == pattern {
			rt = r
		}
	}
	if rt != nil {
		rt.h.Store(&h)
		rt.gen.Store(gen)
	} else {
		rt = &nodeRoute{owner: owner, method: method, pattern: pattern, re: re, names: names}
		rt.h.Store(&h)
		rt.gen.Store(gen)
		nw := append(append(make([]*nodeRoute, 0, len(old)+1), old...), rt)
		n.routes.Store(&nw)
		n.log.Info("http route added", "node", owner, "method", method, "path", n.root+pattern)
	}
	return func() { n.remove(rt, gen) }, nil
}

func (n *NodeRoutes) remove(rt *nodeRoute, gen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rt.gen.Load() != gen {
		return // a newer registration holds the route
	}
	old := *n.routes.Load()
	nw := make([]*nodeRoute, 0, len(old))
	for _, r := range old {
		if r != rt {
			nw = append(nw, r)
		}
	}
	n.routes.Store(&nw)
	n.log.Info("http route removed", "node", rt.owner, "method", rt.method, "path", n.root+rt.pattern)
}

// under returns r's path below the root, and whether it is under it.
func (n *NodeRoutes) under(r *http.Request) (string, bool) {
	p := r.URL.EscapedPath()
	if n.root == "" {
		return p, true
	}
	if !strings.HasPrefix(p, n.root) {
		return "", false
	}
	rest := p[len(n.root):]
	if rest == "" {
		return "/", true
	}
	if rest[0] != '/' {
		return "", false
	}
	return rest, true
}

// ServeHTTP serves a request to a node route: the checks (path, CORS,
// authentication, limits), then the first route that matches it.
func (n *NodeRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := n.under(r)
	if !ok {
		notFound(w, r)
		return
	}
	if dotSegment(p) {
		// Express would match "." and ".." as text; a flow that used such
		// a parameter as a file name would be open to path traversal.
		http.Error(w, "Bad Request: the path has a . or .. segment", http.StatusBadRequest)
		return
	}
	if n.applyCORS(w, r) {
		return // a preflight, answered
	}
	// Only a CORS preflight, answered above, goes without credentials: any
	// other OPTIONS request would reach a flow (an "all methods" route).
	if n.opts.AuthUser != "" {
		switch n.authorized(r) {
		case authBusy:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Service Unavailable: too many password checks at once", http.StatusServiceUnavailable)
			return
		case authRefused:
			w.Header().Set("WWW-Authenticate", `Basic realm="Authorization Required"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	rt, params, err := n.match(r.Method, p)
	if err != nil {
		http.Error(w, "Bad Request: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, v := range params {
		// A parameter decoded from %2F and dots ("..%2F..%2Fetc") is a
		// path with dot segments too.
		if dotSegment(strings.ReplaceAll(v, `\`, "/")) {
			http.Error(w, "Bad Request: a parameter has a . or .. segment", http.StatusBadRequest)
			return
		}
	}
	if rt == nil {
		notFound(w, r)
		return
	}
	if r.ContentLength > n.opts.MaxBody {
		w.Header().Set("Connection", "close")
		http.Error(w, "Payload Too Large: the body is larger than "+strconv.FormatInt(n.opts.MaxBody, 10)+" bytes", http.StatusRequestEntityTooLarge)
		return
	}
	select {
	case n.sem <- struct{}{}:
		defer func() { <-n.sem }()
	default:
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Service Unavailable: too many requests at once", http.StatusServiceUnavailable)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, n.opts.MaxBody)
	// The answer may come late (a delay in the flow): let the server wait
	// for it past its own write timeout, up to the response time limit.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(n.opts.ResponseTimeout + 10*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), n.opts.ResponseTimeout)
	defer cancel()
	(*rt.h.Load())(w, r.WithContext(ctx), params)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot %s %s</pre>\n</body>\n</html>\n",
		html.EscapeString(r.Method), html.EscapeString(r.URL.EscapedPath()))
}

// dotSegment reports whether p has a "." or ".." segment, percent-encoded
// or not.
func dotSegment(p string) bool {
	for _, s := range strings.Split(p, "/") {
		s = strings.ReplaceAll(strings.ToLower(s), "%2e", ".")
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// match finds the first route for method and path p.
func (n *NodeRoutes) match(method, p string) (*nodeRoute, map[string]string, error) {
	for _, rt := range *n.routes.Load() {
		if rt.method != "*" && rt.method != method && !(method == http.MethodHead && rt.method == http.MethodGet) {
			continue
		}
		m := rt.re.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		params := make(map[string]string, len(rt.names))
		for i, name := range rt.names {
			if m[i+1] == "" {
				continue
			}
			v, err := url.PathUnescape(m[i+1])
			if err != nil {
				return nil, nil, fmt.Errorf("failed to decode param %q", m[i+1])
			}
			params[name] = v
		}
		return rt, params, nil
	}
	return nil, nil, nil
}

// applyCORS sets the CORS headers for an allowed origin, and answers a
// preflight (true).
func (n *NodeRoutes) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	if len(n.cors) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	h := w.Header()
	switch {
	case n.anyCO:
		h.Set("Access-Control-Allow-Origin", "*")
	case origin != "" && n.cors[origin]:
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		h.Add("Vary", "Origin")
		return false
	}
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// authorized checks r's basic credentials. The last password that matched
// is remembered (as a hash), as Node-RED does: bcrypt takes tens of
// milliseconds, too long for every request of a busy endpoint.
//
// At most maxAuthChecks bcrypt checks run at once; a request that finds
// them all busy is refused with 503 rather than queued, so that password
// guessing costs the guesser, not every core of the machine.
func (n *NodeRoutes) authorized(r *http.Request) authResult {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(n.opts.AuthUser)) != 1 {
		return authRefused
	}
	sum := sha256.Sum256([]byte(pass))
	n.authMu.Lock()
	cached := n.authOK && subtle.ConstantTimeCompare(sum[:], n.authGood[:]) == 1
	n.authMu.Unlock()
	if cached {
		return authOK
	}
	select {
	case n.authSem <- struct{}{}:
		defer func() { <-n.authSem }()
	default:
		return authBusy
	}
	if n.compare([]byte(n.opts.AuthPasswordHash), []byte(pass)) != nil {
		return authRefused
	}
	n.authMu.Lock()
	n.authGood, n.authOK = sum, true
	n.authMu.Unlock()
	return authOK
}

// authResult is what authorized decided.
type authResult int

const (
	authOK authResult = iota
	authRefused
	authBusy // every bcrypt check slot was taken
)

// compileRoute turns an Express 4 route path (path-to-regexp 0.1) into a
// regular expression: ":name" matches one segment, ":name?" an optional
// one (with its slash), ":name(re)" what re matches, "*" anything
// (parameters "0", "1", ...); the rest matches itself, case-insensitively,
// with an optional trailing slash.
func compileRoute(pattern string) (*regexp.Regexp, []string, error) {
	var b strings.Builder
	b.WriteString("(?i)^")
	var names []string
	wild := 0
	p := strings.TrimSuffix(pattern, "/")
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '/' && i+1 < len(p) && p[i+1] == ':' || c == ':':
			slash := c == '/'
			j := i + 1
			if slash {
				j++
			}
			k := j
			for k < len(p) && (p[k] == '_' || p[k] >= 'a' && p[k] <= 'z' || p[k] >= 'A' && p[k] <= 'Z' || p[k] >= '0' && p[k] <= '9') {
				k++
			}
			if k == j {
				return nil, nil, fmt.Errorf("route %q: a parameter needs a name after ':'", pattern)
			}
			names = append(names, p[j:k])
			capture := "[^/]+?"
			if k < len(p) && p[k] == '(' {
				end := strings.IndexByte(p[k:], ')')
				if end < 0 {
					return nil, nil, fmt.Errorf("route %q: unclosed ( in a parameter", pattern)
				}
				capture = p[k+1 : k+end]
				if _, err := regexp.Compile(capture); err != nil {
					return nil, nil, fmt.Errorf("route %q: %w", pattern, err)
				}
				k += end + 1
			}
			optional := k < len(p) && p[k] == '?'
			if optional {
				k++
			}
			sl := ""
			if slash {
				sl = "/"
			}
			if optional {
				fmt.Fprintf(&b, "(?:%s(%s))?", sl, capture)
			} else {
				fmt.Fprintf(&b, "%s(%s)", sl, capture)
			}
			i = k
		case c == '*':
			names = append(names, strconv.Itoa(wild))
			wild++
			b.WriteString("(.*)")
			i++
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			i++
		}
	}
	b.WriteString("/?$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, nil, fmt.Errorf("route %q: %w", pattern, err)
	}
	return re, names, nil
}

// Owns reports whether the admin API or the editor's files answer r, so
// that node routes do not (see Mount).
func (a *API) Owns(r *http.Request) bool {
	_, pattern := a.mux.Handler(r)
	switch pattern {
	case "":
		return false // no route of the API: 404 or 405
	case "GET /":
		// The editor's files: the page itself, and the files there are.
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			return true
		}
		st, err := fs.Stat(distFS(), name)
		return err == nil && !st.IsDir()
	}
	return true
}

// Mount returns the handler of the HTTP listener: the admin API and the
// editor, then the node routes (see the precedence above). nodes may be
// nil: then api alone.
func Mount(api *API, nodes *NodeRoutes) http.Handler {
	if nodes == nil {
		return api
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api.Owns(r) {
			api.ServeHTTP(w, r)
			return
		}
		if _, ok := nodes.under(r); ok {
			nodes.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
