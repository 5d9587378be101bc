package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// wsURL is the ws:// URL of path on f's HTTP server.
func (f *httpFlow) wsURL(path string) string { return "ws" + strings.TrimPrefix(f.base, "http") + path }

// wsDial connects a real WebSocket client; it fails the test on error.
func wsDial(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	c, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		st := 0
		if res != nil {
			st = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, st)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wsRead reads the next message, within 5 s.
func wsRead(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(b)
}

func wsWrite(t *testing.T, c *websocket.Conn, typ int, s string) {
	t.Helper()
	if err := c.WriteMessage(typ, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// waitStatus waits until node id shows text.
func waitStatus(t *testing.T, f *httpFlow, id, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st := f.Statuses()
		for i := len(st) - 1; i >= 0; i-- {
			if st[i].NodeID == id {
				if st[i].Status.Text == text {
					return
				}
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	var last []string
	for _, s := range f.Statuses() {
		if s.NodeID == id {
			last = append(last, s.Status.Text)
		}
	}
	t.Fatalf("node %s never showed %q; statuses: %q", id, text, last)
}

const wsEchoFlow = `[
 {"id":"l","type":"websocket-listener","path":"/ws/echo","wholemsg":"false"},
 {"id":"in","type":"websocket in","name":"","server":"l","client":"","wires":[["fn","sink"]]},
 {"id":"fn","type":"function","func":"msg.payload = 'echo: ' + msg.payload; return msg;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"websocket out","name":"","server":"l","client":"","wires":[]},
 {"id":"sink","type":"test-sink","wires":[]}
]`

// Echo: websocket in → function → websocket out answers the client that
// sent the message, and only it.
func TestWebSocketEcho(t *testing.T) {
	f := newHTTPFlow(t, wsEchoFlow, editor.NodeRoutesOptions{})
	a := wsDial(t, f.wsURL("/ws/echo"), nil)
	b := wsDial(t, f.wsURL("/ws/echo"), nil)
	waitStatus(t, f, "out", "connected 2")
	wsWrite(t, a, websocket.TextMessage, "hi")
	if typ, got := wsRead(t, a); typ != websocket.TextMessage || got != "echo: hi" {
		t.Fatalf("a got %d %q", typ, got)
	}
	wsWrite(t, b, websocket.TextMessage, "b")
	if _, got := wsRead(t, b); got != "echo: b" {
		t.Fatalf("b got %q (a's reply went to b?)", got)
	}
	msgs := f.WaitReceived("sink", 2)
	ids := map[string]bool{}
	for i, m := range msgs {
		s, _ := m.Prop("_session")
		sess, _ := s.(map[string]any)
		id, _ := sess["id"].(string)
		if sess["type"] != "websocket" || len(id) != 16 {
			t.Fatalf("message %d: _session %v", i, s)
		}
		ids[id] = true
		if p, _ := m.Payload.(string); p != []string{"hi", "b"}[i] {
			t.Fatalf("message %d: payload %#v", i, m.Payload)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("the two clients share a session id: %v", ids)
	}
	// A binary message comes out as a Buffer.
	wsWrite(t, a, websocket.BinaryMessage, "\x00\xff")
	msgs = f.WaitReceived("sink", 3)
	if p, ok := msgs[2].Payload.([]byte); !ok || string(p) != "\x00\xff" {
		t.Fatalf("binary payload %#v", msgs[2].Payload)
	}
	if _, got := wsRead(t, a); got != "echo: \x00\ufffd" {
		t.Fatalf("binary echo %q", got)
	}
	// A client leaving updates the count; nothing comes out of websocket in.
	b.Close()
	waitStatus(t, f, "in", "connected 1")
	a.Close()
	waitStatus(t, f, "in", "disconnected")
	if n := len(f.Received("sink")); n != 3 {
		t.Fatalf("websocket in sent %d messages, want 3", n)
	}
}

// Broadcast: a message without _session goes to every client, as text,
// binary or JSON; no payload and an empty string send nothing.
func TestWebSocketBroadcast(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"l","type":"websocket-listener","path":"ws/all","wholemsg":"false"},
 {"id":"src","type":"test-source","wires":[["out"]]},
 {"id":"out","type":"websocket out","server":"l","wires":[]}
]`, editor.NodeRoutesOptions{})
	a := wsDial(t, f.wsURL("/ws/all"), nil)
	b := wsDial(t, f.wsURL("/ws/all"), nil)
	waitStatus(t, f, "out", "connected 2")
	noPayload := engine.NewMessage("", nil)
	send := []*engine.Message{
		engine.NewMessage("", "text"),
		engine.NewMessage("", ""),
		noPayload,
		engine.NewMessage("", []byte{1, 2}),
		engine.NewMessage("", map[string]any{"a": 1.0}),
		engine.NewMessage("", 0.0),
		engine.NewMessage("", true),
	}
	other := engine.NewMessage("", "to tcp")
	other.SetProp("_session", map[string]any{"type": "tcp", "id": "x"})
	send = append(send, other)
	for _, m := range send {
		f.Inject("src", m)
	}
	want := []struct {
		typ int
		s   string
	}{{1, "text"}, {2, "\x01\x02"}, {1, `{"a":1}`}, {1, "0"}, {1, "true"}, {1, "to tcp"}}
	for _, c := range []*websocket.Conn{a, b} {
		for i, w := range want {
			if typ, got := wsRead(t, c); typ != w.typ || got != w.s {
				t.Fatalf("message %d: got %d %q, want %d %q", i, typ, got, w.typ, w.s)
			}
		}
	}
	// A session that has gone gets nothing, and nobody else gets it.
	gone := engine.NewMessage("", "for a gone client")
	gone.SetProp("_session", map[string]any{"type": "websocket", "id": "0123456789abcdef"})
	f.Inject("src", gone)
	f.Inject("src", engine.NewMessage("", "last"))
	if _, got := wsRead(t, a); got != "last" {
		t.Fatalf("got %q", got)
	}
}

// Whole-message mode: the client's JSON is the message, and the message
// goes back as JSON without _session.
func TestWebSocketWholeMessage(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"l","type":"websocket-listener","path":"/ws/msg","wholemsg":"true"},
 {"id":"in","type":"websocket in","server":"l","wires":[["fn","sink"]]},
 {"id":"fn","type":"function","func":"msg.seen = typeof msg.payload; msg._msgid = 'fixed'; return msg;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"websocket out","server":"l","wires":[]},
 {"id":"sink","type":"test-sink","wires":[]}
]`, editor.NodeRoutesOptions{})
	c := wsDial(t, f.wsURL("/ws/msg"), nil)
	cases := []struct{ send, want string }{
		{`{"topic":"t","payload":{"a":[1,2]},"n":1}`, `{"n":1,"payload":{"a":[1,2]},"seen":"object","topic":"t"}`},
		{`not json`, `{"payload":"not json","seen":"string"}`},
		{`5`, `{"payload":5,"seen":"number"}`},
		{`[1,2]`, `{"payload":[1,2],"seen":"object"}`},
	}
	for _, cs := range cases {
		wsWrite(t, c, websocket.TextMessage, cs.send)
		_, got := wsRead(t, c)
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("%s: %q is not JSON", cs.send, got)
		}
		if _, ok := m["_session"]; ok {
			t.Fatalf("%s: _session sent: %s", cs.send, got)
		}
		delete(m, "_msgid")
		b, _ := json.Marshal(m)
		if string(b) != cs.want {
			t.Fatalf("sent %s\n got %s\nwant %s", cs.send, b, cs.want)
		}
	}
	msgs := f.WaitReceived("sink", len(cases))
	if s, _ := msgs[0].Prop("_session"); s == nil {
		t.Fatal("no _session in whole-message mode")
	}
}

// Limits: a message larger than WSMaxMessage ends its connection with
// 1009; a text message that is not UTF-8 with 1007; a plain GET is
// answered 426.
func TestWebSocketLimits(t *testing.T) {
	f := newHTTPFlow(t, wsEchoFlow, editor.NodeRoutesOptions{})
	c := wsDial(t, f.wsURL("/ws/echo"), nil)
	wsWrite(t, c, websocket.BinaryMessage, strings.Repeat("x", WSMaxMessage+1))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("huge message: %v, want close 1009", err)
	}
	c = wsDial(t, f.wsURL("/ws/echo"), nil)
	wsWrite(t, c, websocket.TextMessage, "a\xffb")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
		t.Fatalf("invalid UTF-8: %v, want close 1007", err)
	}
	if n := len(f.Received("sink")); n != 0 {
		t.Fatalf("%d messages came out", n)
	}
	if code, _, _ := do(t, "GET", f.base+"/ws/echo", "", ""); code != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d", code)
	}
}

// Origins: a page on another origin is refused unless listed; a page of
// the same host and a client without Origin are let in.
func TestWebSocketOrigin(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"l","type":"websocket-listener","path":"/ws/o","wholemsg":"false"},
 {"id":"l2","type":"websocket-listener","path":"/ws/o2","wholemsg":"false","origins":"https://app.example"}
]`, editor.NodeRoutesOptions{})
	host := strings.TrimPrefix(f.base, "http://")
	try := func(path, origin string) int {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, res, err := websocket.DefaultDialer.Dial(f.wsURL(path), h)
		if err == nil {
			c.Close()
			return 101
		}
		if res == nil {
			t.Fatalf("%s %s: %v", path, origin, err)
		}
		return res.StatusCode
	}
	for _, c := range []struct {
		path, origin string
		want         int
	}{
		{"/ws/o", "", 101},
		{"/ws/o", "http://" + host, 101},
		{"/ws/o", "http://evil.example", 403},
		{"/ws/o", "null", 403},
		{"/ws/o2", "https://app.example", 101},
		{"/ws/o2", "https://other.example", 403},
	} {
		if got := try(c.path, c.origin); got != c.want {
			t.Errorf("%s from %q: %d, want %d", c.path, c.origin, got, c.want)
		}
	}
}

// A client that never reads is disconnected once its queue is full; the
// flow does not wait for it and the other client gets every message.
func TestWebSocketSlowClient(t *testing.T) {
	f := newHTTPFlow(t, `[
 {"id":"l","type":"websocket-listener","path":"/ws/slow","wholemsg":"false"},
 {"id":"src","type":"test-source","wires":[["out"]]},
 {"id":"out","type":"websocket out","server":"l","wires":[]}
]`, editor.NodeRoutesOptions{})
	slow := wsDial(t, f.wsURL("/ws/slow"), nil)
	good := wsDial(t, f.wsURL("/ws/slow"), nil)
	waitStatus(t, f, "out", "connected 2")
	payload := []byte(strings.Repeat("z", 256<<10))
	sent := 0
	kicked := func() bool {
		st := f.Statuses()
		for i := len(st) - 1; i >= 0; i-- {
			if st[i].NodeID == "out" {
				return st[i].Status.Text == "connected 1"
			}
		}
		return false
	}
	for batch := 0; batch < 40 && !kicked(); batch++ {
		for i := 0; i < 100; i++ {
			m := engine.NewMessage("", append(fmt.Appendf(nil, "%08d", sent), payload...))
			f.Inject("src", m)
			sent++
		}
		// The good client reads the batch before the next one.
		for i := sent - 100; i < sent; i++ {
			good.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := good.ReadMessage()
			if err != nil {
				t.Fatalf("good client, message %d: %v", i, err)
			}
			if got := string(b[:8]); got != fmt.Sprintf("%08d", i) {
				t.Fatalf("good client: got message %s, want %d", got, i)
			}
		}
	}
	if !kicked() {
		t.Fatal("the client that never reads was not disconnected")
	}
	// The slow client's connection has ended: after what the kernel had
	// buffered, its reads fail.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for n := 0; ; n++ {
		_, _, err := slow.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the slow client's connection is still open after %d messages", n)
			}
			break
		}
	}
}

// Hot deploy: a deploy that keeps the listener keeps its clients; one
// that moves its path closes them and serves the new path only.
func TestWebSocketHotDeploy(t *testing.T) {
	flow := func(path, prefix string) string {
		return fmt.Sprintf(`[
 {"id":"l","type":"websocket-listener","path":%q,"wholemsg":"false"},
 {"id":"in","type":"websocket in","server":"l","wires":[["fn"]]},
 {"id":"fn","type":"function","func":"msg.payload = '%s' + msg.payload; return msg;","outputs":1,"wires":[["out"]]},
 {"id":"out","type":"websocket out","server":"l","wires":[]}
]`, path, prefix)
	}
	f := newHTTPFlow(t, flow("/ws/a", "one:"), editor.NodeRoutesOptions{})
	deploy := func(js string) {
		t.Helper()
		doc, err := flows.Parse([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.Runtime().Plan(doc, engine.DeployNodes)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Runtime().Apply(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	c := wsDial(t, f.wsURL("/ws/a"), nil)
	wsWrite(t, c, websocket.TextMessage, "x")
	if _, got := wsRead(t, c); got != "one:x" {
		t.Fatalf("got %q", got)
	}
	deploy(flow("/ws/a", "two:")) // only the function changes
	wsWrite(t, c, websocket.TextMessage, "y")
	if _, got := wsRead(t, c); got != "two:y" {
		t.Fatalf("after a deploy that keeps the listener: %q", got)
	}
	deploy(flow("/ws/b", "two:")) // the path moves
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("old client after the path moved: %v, want close 1001", err)
	}
	if _, res, err := websocket.DefaultDialer.Dial(f.wsURL("/ws/a"), nil); err == nil || res == nil || res.StatusCode != 404 {
		t.Fatalf("old path still served: %v", err)
	}
	c = wsDial(t, f.wsURL("/ws/b"), nil)
	wsWrite(t, c, websocket.TextMessage, "z")
	if _, got := wsRead(t, c); got != "two:z" {
		t.Fatalf("new path: %q", got)
	}
}

// wsTestServer is a WebSocket server a websocket-client connects to: it
// greets each connection with "hello N" and records what it receives.
type wsTestServer struct {
	t      *testing.T
	mu     sync.Mutex
	n      int
	got    chan string
	hdr    chan http.Header
	srv    *http.Server
	ln     net.Listener
	active map[*websocket.Conn]bool
}

func startWSTestServer(t *testing.T, addr string, got chan string, hdr chan http.Header, n int) *wsTestServer {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the port of a server just closed may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &wsTestServer{t: t, got: got, hdr: hdr, ln: ln, n: n, active: map[*websocket.Conn]bool{}}
	up := websocket.Upgrader{Subprotocols: []string{"p2"}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.active[c] = true
		s.mu.Unlock()
		select {
		case hdr <- r.Header.Clone():
		default:
		}
		c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "hello %d", s.n))
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			got <- string(b)
		}
	})}
	go s.srv.Serve(ln)
	return s
}

func (s *wsTestServer) stop() {
	s.srv.Close()
	s.mu.Lock()
	for c := range s.active {
		c.Close()
	}
	s.mu.Unlock()
}

// websocket-client connects, sends and receives, and connects again after
// the server restarts.
func TestWebSocketClientReconnect(t *testing.T) {
	old := wsReconnect
	wsReconnect = 50 * time.Millisecond
	t.Cleanup(func() { wsReconnect = old })
	got := make(chan string, 16)
	hdr := make(chan http.Header, 4)
	srv := startWSTestServer(t, "127.0.0.1:0", got, hdr, 1)
	addr := srv.ln.Addr().String()
	f := newHTTPFlow(t, fmt.Sprintf(`[
 {"id":"c","type":"websocket-client","path":"ws://%s/x","tls":"","wholemsg":"false","hb":"","subprotocol":"p1, p2",
  "headers":[{"keyType":"other","keyValue":"X-Token","valueType":"other","valueValue":"secret"},{"keyType":"User-Agent","keyValue":"","valueType":"Mozilla/5.0","valueValue":""}]},
 {"id":"in","type":"websocket in","server":"","client":"c","wires":[["sink"]]},
 {"id":"src","type":"test-source","wires":[["out"]]},
 {"id":"out","type":"websocket out","server":"","client":"c","wires":[]},
 {"id":"sink","type":"test-sink","wires":[]}
]`, addr), editor.NodeRoutesOptions{})
	defer srv.stop()
	msgs := f.WaitReceived("sink", 1)
	if msgs[0].Payload != "hello 1" {
		t.Fatalf("got %#v", msgs[0].Payload)
	}
	h := <-hdr
	if h.Get("X-Token") != "secret" || h.Get("User-Agent") != "Mozilla/5.0" || h.Get("Sec-Websocket-Protocol") != "p1, p2" {
		t.Fatalf("upgrade headers: %v", h)
	}
	waitStatus(t, f, "out", "connected")
	f.Inject("src", engine.NewMessage("", "one"))
	if s := <-got; s != "one" {
		t.Fatalf("server got %q", s)
	}
	// A reply to the current connection's session goes to the server.
	reply := engine.NewMessage("", "reply")
	reply.SetProp("_session", mustProp(t, msgs[0], "_session"))
	f.Inject("src", reply)
	if s := <-got; s != "reply" {
		t.Fatalf("server got %q", s)
	}

	srv.stop()
	waitStatus(t, f, "out", "disconnected")
	srv2 := startWSTestServer(t, addr, got, hdr, 2)
	defer srv2.stop()
	msgs = f.WaitReceived("sink", 2)
	if msgs[1].Payload != "hello 2" {
		t.Fatalf("after the restart: %#v", msgs[1].Payload)
	}
	waitStatus(t, f, "out", "connected")
	f.Inject("src", engine.NewMessage("", "two"))
	if s := <-got; s != "two" {
		t.Fatalf("after the restart the server got %q", s)
	}
}

func mustProp(t *testing.T, m *engine.Message, name string) any {
	t.Helper()
	v, ok := m.Prop(name)
	if !ok {
		t.Fatalf("no msg.%s", name)
	}
	return v
}

// Heartbeat: a server that never answers pings (it does not read) loses
// the connection by the second ping, and the client connects again.
func TestWebSocketClientHeartbeat(t *testing.T) {
	old := wsReconnect
	wsReconnect = 50 * time.Millisecond
	t.Cleanup(func() { wsReconnect = old })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *websocket.Conn, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- c // never read: pings go unanswered
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	newHTTPFlow(t, fmt.Sprintf(`[
 {"id":"c","type":"websocket-client","path":"ws://%s/hb","wholemsg":"false","hb":"1"},
 {"id":"in","type":"websocket in","client":"c","wires":[]}
]`, ln.Addr()), editor.NodeRoutesOptions{})
	first := <-conns
	defer first.Close()
	select {
	case c := <-conns:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not drop the silent connection and connect again")
	}
	// The first connection was closed by the client.
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := first.ReadMessage(); err == nil {
		t.Fatal("the silent connection is still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the silent connection is still open")
	}
}

// At most WSMaxClients clients per listener and WSMaxClientsTotal for all
// listeners: the next is answered 503.
func TestWebSocketMaxClients(t *testing.T) {
	// Clients of earlier tests may still be going away.
	for deadline := time.Now().Add(5 * time.Second); wsClientsTotal.Load() != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	f := newHTTPFlow(t, `[
 {"id":"l1","type":"websocket-listener","path":"/ws/1","wholemsg":"false"},
 {"id":"l2","type":"websocket-listener","path":"/ws/2","wholemsg":"false"},
 {"id":"l3","type":"websocket-listener","path":"/ws/3","wholemsg":"false"}
]`, editor.NodeRoutesOptions{})
	refused := func(path string) {
		t.Helper()
		_, res, err := websocket.DefaultDialer.Dial(f.wsURL(path), nil)
		if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s: %v, want 503", path, err)
		}
	}
	for i := 0; i < WSMaxClients; i++ {
		wsDial(t, f.wsURL("/ws/1"), nil)
	}
	refused("/ws/1")
	for i := 0; i < WSMaxClientsTotal-WSMaxClients; i++ {
		wsDial(t, f.wsURL("/ws/2"), nil)
	}
	refused("/ws/3")
}
