package network

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
)

// Limits of WebSocket connections (listener and client alike).
const (
	// WSMaxMessage bounds a message a peer sends (all its frames
	// together): a larger one ends the connection with close code 1009
	// (message too big). Node-RED's ws library allows 100 MiB.
	WSMaxMessage = 1 << 20
	// WSMaxClients bounds the clients of one websocket-listener, and
	// WSMaxClientsTotal those of all listeners of the process; more are
	// answered 503 before the upgrade. WebSocket connections stay open on
	// the editor's listener, which accepts 256 connections at once
	// (editor.DefaultServerLimits): the total leaves half of them to the
	// editor, the admin API and http in.
	WSMaxClients      = 64
	WSMaxClientsTotal = 128
	// WSSendQueue bounds the messages waiting to be written to one
	// connection. A peer that does not read them in time is
	// disconnected: it costs only itself, and the flow never waits for
	// it.
	WSSendQueue = 256
	// wsWriteWait bounds one write to a peer.
	wsWriteWait = 10 * time.Second
)

// wsFrame is one message to write: websocket.TextMessage or BinaryMessage.
type wsFrame struct {
	typ  int
	data []byte
}

// wsPeer is one open WebSocket connection, to a listener's client or a
// websocket-client's server. A reader goroutine hands what the peer
// sends to the endpoint; a writer goroutine writes the queued frames and
// the heartbeat pings.
type wsPeer struct {
	id   string
	c    *websocket.Conn
	ep   *wsEndpoint
	send chan wsFrame
	done chan struct{}
	once sync.Once
	// pending is set when a heartbeat ping waits for its pong.
	pending atomic.Bool
	// why is why the connection was ended by this side, if it was.
	why atomic.Pointer[string]
}

func newWSPeer(ep *wsEndpoint, c *websocket.Conn) *wsPeer {
	return &wsPeer{id: newSessionID(), c: c, ep: ep, send: make(chan wsFrame, WSSendQueue), done: make(chan struct{})}
}

// enqueue queues f for the writer without waiting. A full queue ends the
// connection (the peer does not read what it is sent).
func (p *wsPeer) enqueue(f wsFrame) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	select {
	case p.send <- f:
		return true
	default:
		p.ep.kicked.Add(1)
		p.ep.h.Logger().Warn("websocket: a peer that does not read was disconnected", "session", p.id, "queued", WSSendQueue)
		p.kill("send queue full: the peer does not read what it is sent (" + strconv.Itoa(WSSendQueue) + " messages waiting)")
		return false
	}
}

// kill ends the connection at once, without a closing handshake: both
// goroutines return.
func (p *wsPeer) kill(why string) {
	p.once.Do(func() {
		if why != "" {
			p.why.Store(&why)
		}
		close(p.done)
		_ = p.c.Close()
	})
}

// shutdown ends the connection with a close frame (code, text), as far as
// the peer takes it within a second, then closes it.
func (p *wsPeer) shutdown(code int, text string) {
	_ = p.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	p.kill("")
}

// run serves the connection until it ends: it reads on the caller's
// goroutine and writes on another. hb is the heartbeat interval (0:
// none): a ping every hb, and the connection ends when a ping's pong has
// not come by the next one, as Node-RED's websocket-client does.
func (p *wsPeer) run(hb time.Duration) error {
	c := p.c
	c.SetReadLimit(WSMaxMessage)
	c.SetPongHandler(func(string) error { p.pending.Store(false); return nil })
	c.SetPingHandler(func(data string) error {
		p.pending.Store(false) // Node-RED counts a ping as a sign of life too
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			return nil // the read fails next if the connection is gone
		}
		return nil
	})
	p.ep.h.Go(func() { p.write(hb) })
	defer p.kill("")
	for {
		typ, data, err := c.ReadMessage()
		if err != nil {
			if w := p.why.Load(); w != nil {
				return errors.New(*w)
			}
			return err
		}
		if typ == websocket.TextMessage && !utf8.Valid(data) {
			// As Node-RED's ws library does: close code 1007.
			p.shutdown(websocket.CloseInvalidFramePayloadData, "invalid UTF-8 in a text message")
			return errors.New("the peer sent invalid UTF-8 in a text message")
		}
		p.ep.deliver(p.id, typ, data)
	}
}

// write writes queued frames and heartbeat pings until the connection
// ends.
func (p *wsPeer) write(hb time.Duration) {
	var tick <-chan time.Time
	if hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.done:
			return
		case f := <-p.send:
			_ = p.c.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := p.c.WriteMessage(f.typ, f.data); err != nil {
				p.kill("write: " + err.Error())
				return
			}
		case <-tick:
			if p.pending.Load() {
				p.kill("heartbeat: no pong within " + hb.String())
				return
			}
			p.pending.Store(true)
			if err := p.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				p.kill("ping: " + err.Error())
				return
			}
		}
	}
}

// wsEndpoint is what a websocket-listener or websocket-client config node
// shares with its websocket in and out nodes: the open connections, the
// input nodes to hand messages to, and the nodes that show its status.
type wsEndpoint struct {
	h        *engine.Host
	wholemsg bool
	server   bool // a listener: status counts the clients

	mu       sync.Mutex
	peers    map[string]*wsPeer
	inputs   map[string]*wsIn // by node id: a successor replaces its predecessor
	watchers map[string]*wsWatcher
	last     engine.Status // the status now, for nodes that start later
	closed   bool
	// early holds what peers send before the first input node starts
	// (config nodes start, and a client connects, before the flow's
	// nodes): a server's greeting on connect is not lost. hadInput is
	// set once an input has started; later gaps drop, as in Node-RED.
	early    []wsEarly
	hadInput bool

	wg      sync.WaitGroup // connection goroutines
	dropped atomic.Uint64  // messages not sent: no connection, or the peer gone
	kicked  atomic.Uint64  // peers disconnected for not reading
}

func newWSEndpoint(h *engine.Host, wholemsg, server bool) *wsEndpoint {
	return &wsEndpoint{h: h, wholemsg: wholemsg, server: server,
		peers: map[string]*wsPeer{}, inputs: map[string]*wsIn{}, watchers: map[string]*wsWatcher{}}
}

// addPeer registers an open connection; false when the endpoint is
// closing or full (max > 0).
func (e *wsEndpoint) addPeer(p *wsPeer, max int) bool {
	e.mu.Lock()
	if e.closed || (max > 0 && len(e.peers) >= max) {
		e.mu.Unlock()
		return false
	}
	e.peers[p.id] = p
	e.wg.Add(1)
	n := len(e.peers)
	e.mu.Unlock()
	e.notify(engine.Status{Fill: "green", Shape: "dot", Text: e.connectedText(n)})
	return true
}

func (e *wsEndpoint) connectedText(n int) string {
	if e.server {
		return "connected " + strconv.Itoa(n)
	}
	return "connected"
}

// removePeer forgets a connection that has ended.
func (e *wsEndpoint) removePeer(p *wsPeer) {
	e.mu.Lock()
	delete(e.peers, p.id)
	n := len(e.peers)
	e.mu.Unlock()
	e.wg.Done()
	if n > 0 && e.server {
		e.notify(engine.Status{Fill: "green", Shape: "dot", Text: e.connectedText(n)})
	} else {
		e.notify(engine.Status{Fill: "red", Shape: "ring", Text: "disconnected"})
	}
}

// count returns the number of open connections.
func (e *wsEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.peers)
}

// notify shows s on every websocket in and out node of the endpoint, as
// Node-RED's opened, closed and erro events do.
func (e *wsEndpoint) notify(s engine.Status) {
	e.mu.Lock()
	e.last = s
	fns := make([]func(engine.Status), 0, len(e.watchers))
	for _, w := range e.watchers {
		fns = append(fns, w.fn)
	}
	e.mu.Unlock()
	for _, fn := range fns {
		fn(s)
	}
}

// watch shows the endpoint's status on the node id (now, when there is
// one, and on every change) until the returned function is called.
func (e *wsEndpoint) watch(id string, fn func(engine.Status)) (cancel func()) {
	w := &wsWatcher{fn: fn}
	e.mu.Lock()
	e.watchers[id] = w
	last := e.last
	e.mu.Unlock()
	if last != (engine.Status{}) {
		fn(last)
	}
	return func() {
		e.mu.Lock()
		if e.watchers[id] == w {
			delete(e.watchers, id)
		}
		e.mu.Unlock()
	}
}

// wsEarly is a message a peer sent before any input node started.
type wsEarly struct {
	id   string
	typ  int
	data []byte
}

// wsEarlyMax bounds the messages kept for the first input node.
const wsEarlyMax = 64

// wsWatcher is a node that shows an endpoint's status.
type wsWatcher struct{ fn func(engine.Status) }

// addInput hands what peers send to n, in place of an earlier node of the
// same id; the returned function removes it, unless a successor has
// taken its place.
func (e *wsEndpoint) addInput(n *wsIn) (remove func()) {
	id := n.h.ID()
	e.mu.Lock()
	e.inputs[id] = n
	early := e.early
	e.early, e.hadInput = nil, true
	e.mu.Unlock()
	for _, m := range early {
		n.h.Send(0, e.message(m.id, m.typ, m.data))
	}
	return func() {
		e.mu.Lock()
		if e.inputs[id] == n {
			delete(e.inputs, id)
		}
		e.mu.Unlock()
	}
}

// deliver sends what peer id sent to every input node, as a message of
// its own each: {payload, _session}, or in whole-message mode the message
// the JSON text describes.
func (e *wsEndpoint) deliver(id string, typ int, data []byte) {
	e.mu.Lock()
	if !e.hadInput {
		if len(e.early) < wsEarlyMax {
			e.early = append(e.early, wsEarly{id, typ, data})
		}
		e.mu.Unlock()
		return
	}
	ins := make([]*wsIn, 0, len(e.inputs))
	for _, n := range e.inputs {
		ins = append(ins, n)
	}
	e.mu.Unlock()
	for _, n := range ins {
		n.h.Send(0, e.message(id, typ, data))
	}
}

// message builds the message of what a peer sent, as Node-RED's
// handleEvent does: a text message's payload is a string, a binary
// message's a Buffer. In whole-message mode the text is parsed as JSON:
// an object is the message; any other JSON value becomes its payload
// (Runnel's choice for arrays and null, which Node-RED mishandles); text
// that is not JSON becomes the payload as it came.
func (e *wsEndpoint) message(id string, typ int, data []byte) *engine.Message {
	var raw any = data
	if typ == websocket.TextMessage {
		raw = string(data)
	}
	m := engine.NewMessage("", nil)
	if e.wholemsg {
		if v, err := engine.ParseJSON(data); err == nil {
			if r, ok := v.(engine.RawJSON); ok && !r.IsArray() {
				// Member by member, so that objects inside keep their
				// key order; a repeated key's last value wins, as in
				// JSON.parse.
				gjson.ParseBytes(r).ForEach(func(k, pv gjson.Result) bool {
					if val, err := engine.ParseJSON([]byte(pv.Raw)); err == nil {
						m.SetProp(k.String(), val)
					}
					return true
				})
			} else {
				m.SetProp("payload", v)
			}
		} else {
			m.SetProp("payload", raw)
		}
	} else {
		m.SetProp("payload", raw)
	}
	m.SetProp("_session", map[string]any{"type": "websocket", "id": id})
	return m
}

// frame is what websocket out writes for m: in whole-message mode the
// message as JSON without its _session; otherwise a Buffer payload as a
// binary message and any other payload as text (objects as JSON). ok is
// false when there is nothing to send: no payload, or an empty string
// (Node-RED sends neither).
func (e *wsEndpoint) frame(m *engine.Message) (wsFrame, bool) {
	if e.wholemsg {
		return wsFrame{typ: websocket.TextMessage, data: messageJSON(m)}, true
	}
	p, ok := m.Lookup(payloadPath)
	if !ok {
		return wsFrame{}, false
	}
	switch x := p.(type) {
	case []byte:
		return wsFrame{typ: websocket.BinaryMessage, data: x}, true
	case string:
		if x == "" {
			return wsFrame{}, false
		}
		return wsFrame{typ: websocket.TextMessage, data: []byte(x)}, true
	}
	return wsFrame{typ: websocket.TextMessage, data: PayloadBytesText(p)}, true
}

// PayloadBytesText is RED.util.ensureString's text of a payload that is
// not a string or Buffer: null as "null", numbers and booleans as their
// text, objects and arrays as JSON.
func PayloadBytesText(p any) []byte {
	if p == nil {
		return []byte("null")
	}
	return PayloadBytes(p)
}

var payloadPath, _ = engine.ParsePath("payload")
var topicPath, _ = engine.ParsePath("topic")

// messageJSON writes m as JSON.stringify writes a message, without
// _session, and without a topic or payload Node-RED would not have.
func messageJSON(m *engine.Message) []byte {
	b := []byte{'{'}
	first := true
	for _, k := range m.Keys() {
		var v any
		var ok bool
		switch k {
		case "_session":
			continue
		case "payload":
			v, ok = m.Lookup(payloadPath)
		case "topic":
			v, ok = m.Lookup(topicPath)
		default:
			v, ok = m.Prop(k)
		}
		if !ok {
			continue
		}
		if _, isHandle := v.(engine.Handle); isHandle {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = engine.AppendJSONString(b, k)
		b = append(b, ':')
		b = engine.AppendJSON(b, v)
	}
	return append(b, '}')
}

// broadcast queues f to every open connection; it returns how many took
// it.
func (e *wsEndpoint) broadcast(f wsFrame) int {
	e.mu.Lock()
	peers := make([]*wsPeer, 0, len(e.peers))
	for _, p := range e.peers {
		peers = append(peers, p)
	}
	e.mu.Unlock()
	n := 0
	for _, p := range peers {
		if p.enqueue(f) {
			n++
		}
	}
	return n
}

// reply queues f to connection id only; false when it is not open.
func (e *wsEndpoint) reply(id string, f wsFrame) bool {
	e.mu.Lock()
	p := e.peers[id]
	e.mu.Unlock()
	if p == nil {
		return false
	}
	return p.enqueue(f)
}

// closeAll closes every connection with code 1001 (going away) and waits,
// within ctx, for their goroutines.
func (e *wsEndpoint) closeAll(ctx context.Context) {
	e.mu.Lock()
	e.closed = true
	peers := make([]*wsPeer, 0, len(e.peers))
	for _, p := range e.peers {
		peers = append(peers, p)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.shutdown(websocket.CloseGoingAway, "")
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Metrics reports the endpoint's connections and what it dropped.
func (e *wsEndpoint) Metrics() []engine.Metric {
	return []engine.Metric{
		{Name: "runnel_websocket_connections", Value: float64(e.count())},
		{Name: "runnel_websocket_dropped_total", Counter: true, Value: float64(e.dropped.Load())},
		{Name: "runnel_websocket_slow_peers_disconnected_total", Counter: true, Value: float64(e.kicked.Load())},
	}
}
