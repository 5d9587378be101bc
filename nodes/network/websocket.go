package network

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/engine"
)

// WebSocketListenerConfig is the configuration of a websocket-listener
// config node, with Node-RED's property names.
type WebSocketListenerConfig struct {
	Path     string `json:"path" label:"Path" required:"true" help:"Served under the node root (httpNodeRoot), on the editor's listener: /ws/example"`
	WholeMsg string `json:"wholemsg" label:"Send/Receive" default:"false" options:"false=payload,true=entire message"`
	// HB and Origins are Runnel's (Node-RED's listener has neither).
	HB      string `json:"hb" label:"Send heartbeat (s)" help:"Runnel's: ping every client this often and drop one whose pong has not come by the next ping; empty or 0: none, as in Node-RED"`
	Origins string `json:"origins" label:"Allowed origins" help:"Runnel's: browser pages on other origins that may connect (comma-separated, such as https://app.example.com; * for any). Empty: only pages served from this host, and clients that send no Origin"`
}

// WebSocketClientConfig is the configuration of a websocket-client config
// node, with Node-RED's property names.
type WebSocketClientConfig struct {
	Path        string     `json:"path" label:"URL" required:"true" help:"ws:// or wss:// URL of the server"`
	TLS         string     `json:"tls" label:"TLS configuration" node:"tls-config" help:"For wss:// URLs; empty: the system's CAs"`
	Subprotocol string     `json:"subprotocol" label:"Subprotocol" help:"Comma-separated subprotocols offered to the server"`
	WholeMsg    string     `json:"wholemsg" label:"Send/Receive" default:"false" options:"false=payload,true=entire message"`
	HB          string     `json:"hb" label:"Send heartbeat (s)" help:"Ping the server this often; no pong by the next ping ends the connection, which is then made again. Empty or 0: none"`
	Headers     []WSHeader `json:"headers" label:"Headers" help:"Sent with the upgrade request only"`
}

// WSHeader is one header of a websocket-client's upgrade request, as
// Node-RED's editor writes it: the name is keyType, or keyValue when
// keyType is "other"; the value is valueValue when valueType is "other",
// the environment variable valueValue when it is "env", else valueType
// itself (a preset value).
type WSHeader struct {
	KeyType    string `json:"keyType" label:"Header" default:"other" options:"Authorization,User-Agent,other=another header (name below)"`
	KeyValue   string `json:"keyValue" label:"Name" showif:"keyType=other"`
	ValueType  string `json:"valueType" label:"Value is" default:"other" options:"other=the value below,env=the environment variable named below" other:"this value"`
	ValueValue string `json:"valueValue" label:"Value" showif:"valueType=other,env"`
}

// WebSocketNodeConfig is the configuration of websocket in and websocket
// out nodes: a listener (server) or a client, not both (client wins, as in
// Node-RED).
type WebSocketNodeConfig struct {
	Server string `json:"server" label:"Listen on" node:"websocket-listener" help:"Accept connections on a path of this server"`
	Client string `json:"client" label:"Connect to" node:"websocket-client" help:"Or connect to a WebSocket server"`
}

const wsListenerHelp = `Accepts WebSocket connections on a path of the editor's HTTP listener, under the node root
(httpNodeRoot), for its websocket in and websocket out nodes. Each connection is a session: what a client
sends comes out of websocket in with msg._session = {type: "websocket", id}; a websocket out message that
carries that _session goes to that client only, one without goes to every client of the listener.
"entire message" sends and receives whole messages as JSON instead of msg.payload.

Differs from Node-RED: the node root's basic authentication (httpNodeAuth) applies to the upgrade
request; browser pages on other origins are refused (403) unless listed in Allowed origins (Node-RED accepts
any origin unless webSocketNodeVerifyClient is set); a message larger than 1 MiB ends its connection (close
code 1009); at most 64 clients at once per listener and 128 for all listeners (then 503); a client that falls 256 messages behind (it does not
read) is disconnected, and the flow never waits for it; a text message that is not UTF-8 ends the connection
(1007, as Node-RED's ws library does); a path with : * ( ) ? or # is refused; the path matches
case-insensitively, with or without a trailing slash, as http in routes do; heartbeat pings are Runnel's.`

const wsClientHelp = `Connects to a WebSocket server (ws:// or wss://, with a tls-config for wss) for its websocket in
and websocket out nodes, and connects again after the connection drops: 3 s after it (Node-RED's interval),
doubling after each failed attempt up to 60 s. Send heartbeat pings the server every so many seconds and
drops a connection whose pong does not come by the next ping. Subprotocols (comma-separated) are offered on
connect; headers go with the upgrade request. Proxies come from http_proxy, https_proxy and no_proxy.

Differs from Node-RED: a message larger than 1 MiB ends the connection (close code 1009); a reply that
carries the _session of the current connection goes to the server (Node-RED drops every message with a
websocket _session in client mode); while disconnected, messages are dropped and counted, with a warning.`

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "websocket-listener",
		Category: "config",
		Label:    "WebSocket listener",
		Config:   true,
		Labels:   []engine.LabelRule{{Text: "{path}"}},
		Help:     wsListenerHelp,
	}, newWebSocketListener))
	engine.Register(engine.NewType(engine.Meta{
		Type:     "websocket-client",
		Category: "config",
		Label:    "WebSocket client",
		Config:   true,
		Labels:   []engine.LabelRule{{Text: "{path}"}},
		Help:     wsClientHelp,
	}, newWebSocketClient))
	engine.Register(engine.NewType(engine.Meta{
		Type:     "websocket-in",
		Category: "network",
		Label:    "websocket in",
		Outputs:  1,
		Color:    "#d7d7a0",
		Icon:     "white-globe.svg",
		Help: `Sends a message for each message a WebSocket peer sends: msg.payload is a string for a text
message and a Buffer for a binary one (in "entire message" mode the JSON text is the message), with
msg._session = {type: "websocket", id} naming the connection. A connection opening or closing sends nothing;
it shows in the node's status ("connected N", "disconnected").`,
	}, newWebSocketIn))
	engine.Register(engine.NewType(engine.Meta{
		Type:     "websocket-out",
		Category: "network",
		Label:    "websocket out",
		Inputs:   1,
		Color:    "#d7d7a0",
		Icon:     "white-globe.svg",
		Help: `Sends msg.payload to WebSocket peers: a Buffer as a binary message, a string as text, anything
else as its text (objects as JSON); a message without a payload, or with an empty string, sends nothing.
In "entire message" mode the whole message goes as JSON, without _session. A message whose msg._session is a
websocket session goes to that connection only (nothing when it has closed); any other goes to every client
of a listener, or to a client's server.`,
	}, newWebSocketOut))
}

// wsEndpointer is a websocket-listener or websocket-client node.
type wsEndpointer interface {
	endpoint() *wsEndpoint
}

// parseHeartbeat reads an hb property: seconds, empty or 0 for none.
func parseHeartbeat(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 86400 {
		return 0, engine.ErrFieldf("hb", "invalid heartbeat %q: want seconds from 0 to 86400", s)
	}
	// Node-RED takes parseInt of it.
	return time.Duration(int64(f)) * time.Second, nil
}

// --- websocket-listener ---

// WebSocketListener is a built websocket-listener config node.
type WebSocketListener struct {
	h        *engine.Host
	ep       *wsEndpoint
	path     string
	hb       time.Duration
	upgrader websocket.Upgrader
	origins  map[string]bool
	anyOrig  bool
	slots    atomic.Int64 // clients connected or being upgraded
	remove   func()
	unreg    func()
}

func newWebSocketListener(cfg *WebSocketListenerConfig, h *engine.Host) (engine.Node, error) {
	p := strings.TrimSpace(cfg.Path)
	if p == "" {
		return nil, engine.ErrFieldf("path", "the path is required")
	}
	if strings.ContainsAny(p, ":*()?#") {
		return nil, engine.ErrFieldf("path", "path %q: : * ( ) ? and # are not allowed in a WebSocket path", p)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if dotSegmentPath(p) {
		return nil, engine.ErrFieldf("path", "path %q has a . or .. segment", p)
	}
	hb, err := parseHeartbeat(cfg.HB)
	if err != nil {
		return nil, err
	}
	l := &WebSocketListener{h: h, ep: newWSEndpoint(h, cfg.WholeMsg == "true", true), path: p, hb: hb, origins: map[string]bool{}}
	for _, o := range strings.Split(cfg.Origins, ",") {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		switch {
		case o == "":
		case o == "*":
			l.anyOrig = true
		default:
			u, err := url.Parse(o)
			if err != nil || u.Scheme == "" || u.Host == "" {
				return nil, engine.ErrFieldf("origins", "origin %q: want scheme://host[:port], or *", o)
			}
			l.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
		}
	}
	l.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      l.checkOrigin,
	}
	return l, nil
}

func dotSegmentPath(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

func (l *WebSocketListener) endpoint() *wsEndpoint { return l.ep }

// checkOrigin lets in clients without an Origin header (not browsers),
// pages of the same host, and the configured origins.
func (l *WebSocketListener) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || l.anyOrig {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return l.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// wsPaths tracks the listeners on each path of each route table, to warn
// about two listeners on one path as Node-RED does.
var wsPaths = struct {
	sync.Mutex
	m map[wsPathKey]map[*WebSocketListener]bool
}{m: map[wsPathKey]map[*WebSocketListener]bool{}}

type wsPathKey struct {
	routes engine.HTTPRoutes
	path   string
}

// Start serves the path. Two listeners on one path (Node-RED refuses the
// second) are allowed for the moment of a deploy that moves a path from
// one node to another; otherwise the second is warned about, and gets
// connections only once the first is gone.
func (l *WebSocketListener) Start(ctx context.Context) error {
	routes := l.h.HTTPRoutes()
	if routes == nil {
		l.h.Logger().Warn("no HTTP server: the WebSocket path is not served (runnel run has none; use runnel serve)", "path", l.path)
		l.ep.notify(engine.Status{Fill: "grey", Shape: "ring", Text: "no HTTP server"})
		return nil
	}
	rm, err := routes.Route(l.h.ID(), http.MethodGet, l.path, l.serve)
	if err != nil {
		return fmt.Errorf("websocket-listener %s: %w", l.path, err)
	}
	l.remove = rm
	key := wsPathKey{routes, strings.ToLower(strings.TrimSuffix(l.path, "/"))}
	wsPaths.Lock()
	set := wsPaths.m[key]
	if set == nil {
		set = map[*WebSocketListener]bool{}
		wsPaths.m[key] = set
	}
	others := 0
	for o := range set {
		if o.h.ID() != l.h.ID() {
			others++
		}
	}
	set[l] = true
	wsPaths.Unlock()
	l.unreg = func() {
		wsPaths.Lock()
		delete(set, l)
		if len(set) == 0 {
			delete(wsPaths.m, key)
		}
		wsPaths.Unlock()
	}
	if others > 0 {
		l.h.Logger().Warn("another websocket-listener serves this path: this one gets connections only once that one is gone", "path", l.path)
	}
	l.h.Logger().Info("websocket listener: serving under the node root", "path", l.path)
	return nil
}

// Close stops serving the path (unless a successor of the same path has
// taken it over) and closes the connections (code 1001, going away).
func (l *WebSocketListener) Close(ctx context.Context) error {
	if l.unreg != nil {
		l.unreg()
	}
	if l.remove != nil {
		l.remove()
	}
	l.ep.closeAll(ctx)
	return nil
}

// Metrics reports the clients and what was dropped.
func (l *WebSocketListener) Metrics() []engine.Metric { return l.ep.Metrics() }

// serve upgrades a request to the path and serves the connection on
// goroutines of its own, so that the HTTP route's limits on requests in
// flight and their time do not apply to it.
func (l *WebSocketListener) serve(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "Upgrade Required: this path is a WebSocket endpoint", http.StatusUpgradeRequired)
		return
	}
	// A slot is taken before the upgrade and given back when the
	// connection ends, so that the limits hold while upgrades are under
	// way.
	if l.slots.Add(1) > WSMaxClients {
		l.slots.Add(-1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Service Unavailable: too many WebSocket clients on this path", http.StatusServiceUnavailable)
		return
	}
	if wsClientsTotal.Add(1) > WSMaxClientsTotal {
		wsClientsTotal.Add(-1)
		l.slots.Add(-1)
		l.h.Logger().Warn("websocket: refused a client: too many WebSocket clients in all", "path", l.path, "limit", WSMaxClientsTotal)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Service Unavailable: too many WebSocket clients", http.StatusServiceUnavailable)
		return
	}
	release := func() {
		wsClientsTotal.Add(-1)
		l.slots.Add(-1)
	}
	// As Node-RED's ws library does: accept the first subprotocol the
	// client offers.
	var hdr http.Header
	if ps := websocket.Subprotocols(r); len(ps) > 0 {
		hdr = http.Header{"Sec-Websocket-Protocol": {ps[0]}}
	}
	c, err := l.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		release()
		l.h.Logger().Info("websocket: refused a client", "path", l.path, "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	p := newWSPeer(l.ep, c)
	if !l.ep.addPeer(p, 0) {
		release()
		p.shutdown(websocket.CloseGoingAway, "")
		return
	}
	l.h.Go(func() {
		defer release()
		defer l.ep.removePeer(p)
		err := p.run(l.hb)
		l.h.Logger().Debug("websocket: client gone", "session", p.id, "remote", r.RemoteAddr, "err", err)
	})
}

// wsClientsTotal counts the clients of all listeners (see
// WSMaxClientsTotal).
var wsClientsTotal atomic.Int64

// --- websocket-client ---

// Reconnect intervals of websocket-client: the first attempt after a drop
// (Node-RED's 3 s), doubled after each failed one up to the maximum.
var (
	wsReconnect    = 3 * time.Second
	wsReconnectMax = 60 * time.Second
)

// WebSocketClient is a built websocket-client config node.
type WebSocketClient struct {
	h      *engine.Host
	ep     *wsEndpoint
	url    string
	hb     time.Duration
	dialer websocket.Dialer
	header http.Header

	cancel context.CancelFunc
	done   chan struct{}
	cur    atomic.Pointer[wsPeer]
}

func newWebSocketClient(cfg *WebSocketClientConfig, h *engine.Host) (engine.Node, error) {
	raw := strings.TrimSpace(cfg.Path)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, engine.ErrFieldf("path", "URL %q: want ws://host/path or wss://host/path", raw)
	}
	hb, err := parseHeartbeat(cfg.HB)
	if err != nil {
		return nil, err
	}
	c := &WebSocketClient{h: h, ep: newWSEndpoint(h, cfg.WholeMsg == "true", false), url: raw, hb: hb, header: http.Header{}}
	c.dialer = websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 10 * time.Second}
	for _, s := range strings.Split(cfg.Subprotocol, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.dialer.Subprotocols = append(c.dialer.Subprotocols, s)
		}
	}
	if u.Scheme == "wss" {
		if cfg.TLS != "" {
			n, err := h.ConfigNode(cfg.TLS, "tls-config")
			if err != nil {
				return nil, engine.ErrField("tls", err)
			}
			c.dialer.TLSClientConfig = n.(*TLSConfigNode).Config()
		} else {
			c.dialer.TLSClientConfig = tlsDefault("", true)
		}
	}
	for i, hd := range cfg.Headers {
		name := hd.KeyType
		if name == "other" {
			name = hd.KeyValue
		}
		var val string
		switch hd.ValueType {
		case "other":
			val = hd.ValueValue
		case "env":
			val = h.EnvExpand(hd.ValueValue)
		default:
			val = hd.ValueType
		}
		if name == "" || val == "" {
			continue // as Node-RED skips them
		}
		if strings.ContainsAny(name, " \t\r\n:") || strings.ContainsAny(val, "\r\n") {
			return nil, engine.ErrFieldf(fmt.Sprintf("headers[%d]", i), "invalid header %q", name)
		}
		c.header.Add(name, val)
	}
	return c, nil
}

func (c *WebSocketClient) endpoint() *wsEndpoint { return c.ep }

// Metrics reports the connection and what was dropped.
func (c *WebSocketClient) Metrics() []engine.Metric { return c.ep.Metrics() }

// Start connects in the background, and keeps connecting until Close.
func (c *WebSocketClient) Start(ctx context.Context) error {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	c.h.Go(func() {
		defer close(c.done)
		c.loop(ctx)
	})
	return nil
}

// loop connects, serves the connection until it drops, and connects
// again, until ctx ends.
func (c *WebSocketClient) loop(ctx context.Context) {
	log := c.h.Logger()
	wait := wsReconnect
	failures := 0
	for {
		conn, _, err := c.dialer.DialContext(ctx, c.url, c.header)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 || failures%10 == 0 {
				log.Warn("websocket client: cannot connect", "url", redactURL(c.url), "err", err, "attempts", failures, "retry_in", wait)
			}
			c.ep.notify(engine.Status{Fill: "red", Shape: "ring", Text: "error"})
			if !sleepCtx(ctx, wait) {
				return
			}
			wait = min(wait*2, wsReconnectMax)
			continue
		}
		failures, wait = 0, wsReconnect
		p := newWSPeer(c.ep, conn)
		if !c.ep.addPeer(p, 0) {
			p.shutdown(websocket.CloseGoingAway, "")
			return
		}
		c.cur.Store(p)
		log.Info("websocket client: connected", "url", redactURL(c.url), "session", p.id)
		stop := context.AfterFunc(ctx, func() { p.shutdown(websocket.CloseNormalClosure, "") })
		err = p.run(c.hb)
		stop()
		c.cur.Store(nil)
		c.ep.removePeer(p)
		if ctx.Err() != nil {
			return
		}
		log.Warn("websocket client: connection lost", "url", redactURL(c.url), "err", err, "retry_in", wait)
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

// redactURL hides a password in a URL for the log.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// Close ends the connection (code 1000) and stops connecting.
func (c *WebSocketClient) Close(ctx context.Context) error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("websocket client: closing: %w", ctx.Err())
	}
	c.ep.closeAll(ctx)
	return nil
}

// --- websocket in and out ---

// wsEndpointOf resolves a websocket node's config node; nil with a warning
// when there is none (Node-RED deploys such a node, and logs an error).
func wsEndpointOf(cfg *WebSocketNodeConfig, h *engine.Host) *wsEndpoint {
	field, id, typ := "server", cfg.Server, "websocket-listener"
	if cfg.Client != "" {
		field, id, typ = "client", cfg.Client, "websocket-client"
	}
	if id == "" {
		h.Warn(field, "missing server configuration: the node does nothing")
		return nil
	}
	n, err := h.ConfigNode(id, typ)
	if err != nil {
		h.Warn(field, "missing server configuration (%v): the node does nothing", err)
		return nil
	}
	return n.(wsEndpointer).endpoint()
}

// wsIn is a websocket in node.
type wsIn struct {
	h       *engine.Host
	ep      *wsEndpoint
	remove  func()
	unwatch func()
}

func newWebSocketIn(cfg *WebSocketNodeConfig, h *engine.Host) (engine.Node, error) {
	return &wsIn{h: h, ep: wsEndpointOf(cfg, h)}, nil
}

// TakeOver lets a replacing node register first: it takes the
// predecessor's place, so that no message falls between the two.
func (n *wsIn) TakeOver(prev engine.Node) bool {
	_, ok := prev.(*wsIn)
	return ok
}

// Start registers the node with its listener or client.
func (n *wsIn) Start(context.Context) error {
	if n.ep == nil {
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "missing server configuration"})
		return nil
	}
	n.remove = n.ep.addInput(n)
	n.unwatch = n.ep.watch(n.h.ID(), n.h.Status)
	return nil
}

// Close unregisters the node, unless a successor has taken its place.
func (n *wsIn) Close(context.Context) error {
	if n.remove != nil {
		n.remove()
		n.unwatch()
	}
	return nil
}

// wsOut is a websocket out node.
type wsOut struct {
	h       *engine.Host
	ep      *wsEndpoint
	unwatch func()
	warned  atomic.Int64 // unix nanoseconds of the last warning about a drop
}

func newWebSocketOut(cfg *WebSocketNodeConfig, h *engine.Host) (engine.Node, error) {
	return &wsOut{h: h, ep: wsEndpointOf(cfg, h)}, nil
}

// Start shows the listener's or client's status on the node.
func (n *wsOut) Start(context.Context) error {
	if n.ep == nil {
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "missing server configuration"})
		return nil
	}
	n.unwatch = n.ep.watch(n.h.ID(), n.h.Status)
	return nil
}

// Close stops showing the status.
func (n *wsOut) Close(context.Context) error {
	if n.unwatch != nil {
		n.unwatch()
	}
	return nil
}

// errNoServer is the error of a message to a node without a listener or
// client.
var errNoServer = errors.New("missing server configuration")

// Receive sends m to the session it names, or to every peer.
func (n *wsOut) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	if n.ep == nil {
		return errNoServer
	}
	f, ok := n.ep.frame(m)
	if !ok {
		return nil
	}
	if typ, id := sessionOf(m); typ == "websocket" {
		// As Node-RED does: a session that has gone gets nothing.
		if !n.ep.reply(id, f) {
			n.ep.dropped.Add(1)
		}
		return nil
	}
	if n.ep.broadcast(f) == 0 && !n.ep.server {
		n.ep.dropped.Add(1)
		now := time.Now().UnixNano()
		if last := n.warned.Load(); now-last > int64(10*time.Second) && n.warned.CompareAndSwap(last, now) {
			n.h.Logger().Warn("websocket out: not connected: message dropped", "dropped_total", n.ep.dropped.Load())
		}
	}
	return nil
}

// sessionOf returns msg._session's type and id.
func sessionOf(m *engine.Message) (typ, id string) {
	v, ok := m.Prop("_session")
	if !ok {
		return "", ""
	}
	if r, ok := v.(engine.RawJSON); ok {
		v = r.Decode()
	}
	s, ok := v.(map[string]any)
	if !ok {
		return "", ""
	}
	t, _ := s["type"].(string)
	switch x := s["id"].(type) {
	case string:
		id = x
	case nil:
	default:
		id = engine.ToString(x)
	}
	return t, id
}
