package editor

// The editor's live channel: node status, debug output, node errors, live
// message rates and deploy notices, pushed to the browser over the
// websocket GET /comms in Node-RED's framing (each text frame is a JSON
// array of {"topic","data"} events).
//
// The runtime calls the hub's OnStatus, OnDebug and OnError on the flows'
// own goroutines, so those never block: debug output and errors are taken
// into a small per-flush intake (the rest is only counted), statuses only
// replace the node's latest one. The hub's Run goroutine flushes every
// FlushInterval to each client's bounded queue; a client whose queue is full
// is disconnected rather than waited for.

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// Defaults of HubOptions.
const (
	DefaultFlushInterval  = 100 * time.Millisecond
	DefaultRateInterval   = time.Second
	DefaultDebugPerFlush  = 25
	DefaultSendQueue      = 64
	DefaultWriteTimeout   = 10 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultDebugMaxLength = 1000
)

const (
	// maxClientFrame bounds the frames a client may send; they are ignored.
	maxClientFrame = 4096
	// maxDebugBytes bounds the encoded msg of one debug event; containers
	// beyond it are cut short (and the event marked truncated).
	maxDebugBytes = 64 << 10
	// goodbyeTimeout bounds sending the close frame on shutdown.
	goodbyeTimeout = time.Second
)

// HubOptions configure a Hub. Zero values take the defaults above.
type HubOptions struct {
	// Registry tells config nodes (which have no rates) from flow nodes;
	// DefaultRegistry when nil.
	Registry *engine.Registry
	// Logger receives client connects and disconnects at debug level and
	// slow-client disconnects at warn level; nothing is logged when nil.
	Logger *slog.Logger
	// FlushInterval is how often queued events are sent (100 ms).
	FlushInterval time.Duration
	// RateInterval is how often live rates are sent (1 s).
	RateInterval time.Duration
	// DebugPerFlush is the most debug events, and separately the most
	// error events, sent per flush (25); the rest are dropped and counted.
	DebugPerFlush int
	// SendQueue is the number of frames queued per client (64); a client
	// whose queue is full is disconnected.
	SendQueue int
	// WriteTimeout bounds writing one frame to a client (10 s).
	WriteTimeout time.Duration
	// PingInterval is how often clients are pinged (30 s); a client that
	// answers nothing, not even a pong, for two intervals is disconnected.
	PingInterval time.Duration
	// DebugMaxLength is Node-RED's debugMaxLength (1000): longer strings
	// are cut to it and end in "...", longer arrays and buffers keep that
	// many elements.
	DebugMaxLength int
}

func (o *HubOptions) defaults() {
	if o.Registry == nil {
		o.Registry = engine.DefaultRegistry
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&o.FlushInterval, DefaultFlushInterval)
	setDefault(&o.RateInterval, DefaultRateInterval)
	setDefault(&o.DebugPerFlush, DefaultDebugPerFlush)
	setDefault(&o.SendQueue, DefaultSendQueue)
	setDefault(&o.WriteTimeout, DefaultWriteTimeout)
	setDefault(&o.PingInterval, DefaultPingInterval)
	setDefault(&o.DebugMaxLength, DefaultDebugMaxLength)
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// GraphSource gives the running graph; *engine.Runtime is one.
type GraphSource interface {
	// Graph returns the running graph, or nil when none runs.
	Graph() *engine.Graph
}

// Hub is the live channel between the runtime and the connected editors.
// Create it with NewHub, give its OnStatus, OnDebug and OnError to
// engine.Options, serve it (the API mounts it at GET /comms), and run it
// with Run.
type Hub struct {
	opts     HubOptions
	log      *slog.Logger
	upgrader websocket.Upgrader

	nclients atomic.Int32 // len(clients), read on the hot path
	debug    intake[engine.DebugEvent]
	errs     intake[engine.ErrorEvent]

	mu       sync.Mutex
	closed   bool
	clients  map[*client]struct{}
	status   map[string]engine.Status // the latest status of each node
	dirty    map[string]struct{}      // nodes whose status changed since the last flush
	deployed []string                 // revisions deployed since the last flush
	conns    sync.WaitGroup           // connection handlers, counted under mu while open
}

// NewHub returns a hub that is ready to take events; start its Run
// goroutine to send them.
func NewHub(opts HubOptions) *Hub {
	opts.defaults()
	h := &Hub{
		opts:    opts,
		log:     opts.Logger,
		clients: make(map[*client]struct{}),
		status:  make(map[string]engine.Status),
		dirty:   make(map[string]struct{}),
	}
	h.debug.limit = int32(opts.DebugPerFlush)
	h.errs.limit = int32(opts.DebugPerFlush)
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  4096,
		CheckOrigin:      sameOrigin,
	}
	return h
}

// sameOrigin accepts requests the API has checked (see guard.go) and, for
// a hub served without the API, those that pass the API's origin check
// with no configured origins: no Origin header (clients that are not
// browsers) or the request's own scheme, host and port.
func sameOrigin(r *http.Request) bool {
	if checked, _ := r.Context().Value(originCheckedKey{}).(bool); checked {
		return true
	}
	return crossOrigin(r, nil) == ""
}

// Clients returns the number of connected clients.
func (h *Hub) Clients() int { return int(h.nclients.Load()) }

// OnStatus records a node's status; it is engine.Options.OnStatus. An
// empty status clears it.
func (h *Hub) OnStatus(ev engine.StatusEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ev.Status == (engine.Status{}) {
		if _, ok := h.status[ev.NodeID]; !ok {
			return
		}
		delete(h.status, ev.NodeID)
	} else {
		h.status[ev.NodeID] = ev.Status
	}
	if len(h.clients) > 0 {
		h.dirty[ev.NodeID] = struct{}{}
	}
}

// OnDebug takes a debug node's output; it is engine.Options.OnDebug. It
// never blocks: beyond DebugPerFlush events per flush it only counts.
// Nothing is kept while no client is connected.
func (h *Hub) OnDebug(ev engine.DebugEvent) {
	if h.nclients.Load() == 0 {
		return
	}
	h.debug.add(ev)
}

// OnError takes a node error; it is engine.Options.OnError. Like OnDebug
// it never blocks and keeps at most DebugPerFlush errors per flush.
func (h *Hub) OnError(ev engine.ErrorEvent) {
	if h.nclients.Load() == 0 {
		return
	}
	h.errs.add(ev)
}

// Deployed announces a successful deploy of revision rev to the clients.
// At the next flush the statuses of nodes that are no longer in the
// running graph are cleared.
func (h *Hub) Deployed(rev string) {
	h.mu.Lock()
	h.deployed = append(h.deployed, rev)
	h.mu.Unlock()
}

// Run sends the queued events every FlushInterval and the live rates of
// src's running graph every RateInterval, until ctx is done. It then
// closes every connection (with a going-away close frame), waits for
// their goroutines and returns nil. A hub runs once.
func (h *Hub) Run(ctx context.Context, src GraphSource) error {
	flush := time.NewTicker(h.opts.FlushInterval)
	defer flush.Stop()
	rates := time.NewTicker(h.opts.RateInterval)
	defer rates.Stop()
	r := newRater(h.opts.Registry, time.Now())
	var f flusher
	for {
		select {
		case <-ctx.Done():
			h.shutdown()
			return nil
		case <-flush.C:
			f.flush(h, src.Graph())
		case <-rates.C:
			// Sample even without clients, so that a new client's first
			// rates cover a full interval.
			send := h.nclients.Load() > 0
			if frame := r.sample(src.Graph(), time.Now(), send); frame != nil && send {
				h.broadcast(frame)
			}
		}
	}
}

// shutdown says goodbye to every client and waits for their goroutines.
func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		go c.goodbye()
	}
	h.conns.Wait()
}

// broadcast queues frame for every client.
func (h *Hub) broadcast(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.broadcastLocked(frame)
}

func (h *Hub) broadcastLocked(frame []byte) {
	for c := range h.clients {
		if !c.queue(frame) {
			h.log.Warn("editor client too slow: disconnected", slog.String("remote", c.remote))
		}
	}
}

// ServeHTTP upgrades the request to the live websocket (GET /comms): a
// same-origin browser page, or a client without an Origin header. What
// the client sends is read (at most 4 KiB a frame) and ignored; a larger
// frame ends the connection. After the hub has shut down it answers 503.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	closed := h.closed
	if !closed {
		h.conns.Add(1)
	}
	h.mu.Unlock()
	if closed {
		http.Error(w, "the editor's live channel is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.conns.Done()
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the client already.
		h.log.Debug("editor websocket refused", slog.String("remote", r.RemoteAddr), slog.String("error", err.Error()))
		return
	}
	session, err := authenticate(r.Context(), conn)
	if err != nil {
		h.log.Warn("editor websocket refused", slog.String("remote", r.RemoteAddr), slog.String("error", err.Error()))
		conn.Close()
		return
	}
	c := &client{
		conn:    conn,
		remote:  r.RemoteAddr,
		send:    make(chan []byte, h.opts.SendQueue),
		done:    make(chan struct{}),
		session: session,
	}
	if !h.register(c) {
		c.goodbye()
		return
	}
	h.log.Debug("editor client connected", slog.String("remote", c.remote))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		c.writeLoop(h.opts.WriteTimeout, h.opts.PingInterval)
	}()
	err = c.readLoop(2 * h.opts.PingInterval)
	c.close()
	<-wrote
	h.unregister(c)
	h.log.Debug("editor client disconnected", slog.String("remote", c.remote), slog.String("reason", errText(err)))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// register adds c and queues the snapshot of every current status. It
// fails when the hub has shut down meanwhile.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.clients[c] = struct{}{}
	h.nclients.Store(int32(len(h.clients)))
	if len(h.status) > 0 {
		ids := make([]string, 0, len(h.status))
		for id := range h.status {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		b := []byte{'['}
		for _, id := range ids {
			b = appendStatus(b, id, h.status[id])
		}
		c.queue(closeArray(b))
	}
	return true
}

func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.nclients.Store(int32(len(h.clients)))
	if len(h.clients) == 0 {
		clear(h.dirty)
	}
	h.mu.Unlock()
}

// client is one connected editor.
type client struct {
	conn   *websocket.Conn
	remote string
	send   chan []byte // frames to write; bounded
	done   chan struct{}
	once   sync.Once
	// session is the hash of the session token the client logged in
	// with (zero without one); logging it out disconnects the client.
	session [32]byte
}

// queue adds frame to the client's queue without waiting. When the queue
// is full the client is disconnected (see kick) and queue reports false.
func (c *client) queue(frame []byte) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	select {
	case c.send <- frame:
		return true
	default:
		c.kick()
		return false
	}
}

// kick drops a client that does not keep up. The connection is reset
// rather than closed, so that the frames still in the kernel's send buffer
// (megabytes, for a client that stopped reading) are freed at once instead
// of waiting for a client that may never read them.
func (c *client) kick() {
	if tc, ok := c.conn.NetConn().(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.close()
}

// close drops the connection at once; the goroutines then end.
func (c *client) close() {
	c.once.Do(func() {
		close(c.done)
		c.conn.Close()
	})
}

// goodbye sends a going-away close frame, then closes the connection.
func (c *client) goodbye() {
	c.once.Do(func() {
		close(c.done)
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server stopping")
		c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(goodbyeTimeout))
		c.conn.Close()
	})
}

// writeLoop writes queued frames and pings until the client is closed or
// a write fails.
func (c *client) writeLoop(timeout, pingEvery time.Duration) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			return
		case frame := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(timeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				c.close()
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)); err != nil {
				c.close()
				return
			}
		}
	}
}

// readLoop reads and ignores the client's frames, to notice pongs and
// the connection closing; it returns why it stopped.
func (c *client) readLoop(idle time.Duration) error {
	c.conn.SetReadLimit(maxClientFrame)
	c.conn.SetReadDeadline(time.Now().Add(idle))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(idle))
	})
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		c.conn.SetReadDeadline(time.Now().Add(idle))
	}
}

// intake holds the events of one flush window, at most limit of them; the
// rest are only counted. add is cheap and never waits long: over the limit
// it is one atomic load and one atomic add.
type intake[T any] struct {
	limit   int32
	n       atomic.Int32 // len(buf), readable without mu
	dropped atomic.Uint64
	mu      sync.Mutex
	buf     []stamped[T]
}

// stamped is an event with the time it was taken, in Unix milliseconds.
type stamped[T any] struct {
	ev T
	ts int64
}

func (in *intake[T]) add(ev T) {
	if in.n.Load() >= in.limit {
		in.dropped.Add(1)
		return
	}
	ts := time.Now().UnixMilli()
	in.mu.Lock()
	if int32(len(in.buf)) >= in.limit {
		in.mu.Unlock()
		in.dropped.Add(1)
		return
	}
	in.buf = append(in.buf, stamped[T]{ev, ts})
	in.n.Store(int32(len(in.buf)))
	in.mu.Unlock()
}

// take returns the window's events and the number dropped since the last
// take, and starts a new window in spare.
func (in *intake[T]) take(spare []stamped[T]) ([]stamped[T], uint64) {
	in.mu.Lock()
	got := in.buf
	in.buf = spare[:0]
	in.n.Store(0)
	in.mu.Unlock()
	return got, in.dropped.Swap(0)
}

// flusher is the Run goroutine's state for flushing.
type flusher struct {
	dbgSpare []stamped[engine.DebugEvent]
	errSpare []stamped[engine.ErrorEvent]
	doc      *flows.Document   // the document zOf was built from
	zOf      map[string]string // node id -> tab id
}

// flush sends one frame with the deploys, the changed statuses, and the
// debug and error events of the window that ends now.
func (f *flusher) flush(h *Hub, g *engine.Graph) {
	dbg, dbgDropped := h.debug.take(f.dbgSpare)
	errs, errsDropped := h.errs.take(f.errSpare)
	var tail []byte
	if len(dbg)+len(errs) > 0 || dbgDropped+errsDropped > 0 {
		f.index(g)
		enc := valueEncoder{max: h.opts.DebugMaxLength}
		for _, s := range dbg {
			tail = enc.appendDebug(tail, s.ev, f.zOf[s.ev.NodeID], s.ts)
		}
		if dbgDropped > 0 {
			tail = appendDropped(tail, "debug/dropped", dbgDropped)
		}
		for _, s := range errs {
			tail = appendError(tail, s.ev, f.zOf[s.ev.NodeID], s.ts)
		}
		if errsDropped > 0 {
			tail = appendDropped(tail, "error/dropped", errsDropped)
		}
	}
	clear(dbg) // let the values go
	clear(errs)
	f.dbgSpare, f.errSpare = dbg, errs

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.deployed) > 0 && g != nil {
		// Statuses of nodes a deploy removed are cleared.
		f.index(g)
		for id := range h.status {
			if _, ok := f.zOf[id]; !ok {
				delete(h.status, id)
				if len(h.clients) > 0 {
					h.dirty[id] = struct{}{}
				}
			}
		}
	}
	if len(h.clients) == 0 {
		h.deployed = h.deployed[:0]
		clear(h.dirty)
		return
	}
	if len(h.deployed)+len(h.dirty) == 0 && len(tail) == 0 {
		return
	}
	b := []byte{'['}
	for _, rev := range h.deployed {
		b = append(b, `{"topic":"deploy","data":{"rev":`...)
		b = engine.AppendJSON(b, rev)
		b = append(b, "}},"...)
	}
	h.deployed = h.deployed[:0]
	ids := make([]string, 0, len(h.dirty))
	for id := range h.dirty {
		ids = append(ids, id)
	}
	clear(h.dirty)
	sort.Strings(ids)
	for _, id := range ids {
		b = appendStatus(b, id, h.status[id])
	}
	b = append(b, tail...)
	h.broadcastLocked(closeArray(b))
}

// index maps the node ids of g's document to their tabs; it is rebuilt
// only when the document changes.
func (f *flusher) index(g *engine.Graph) {
	if g == nil {
		if f.doc != nil || f.zOf == nil {
			f.doc, f.zOf = nil, map[string]string{}
		}
		return
	}
	doc := g.Document()
	if f.doc == doc && f.zOf != nil {
		return
	}
	f.doc = doc
	f.zOf = make(map[string]string, len(doc.Nodes))
	for _, n := range doc.Nodes {
		if n != nil {
			f.zOf[n.ID] = n.Z
		}
	}
}

// closeArray ends a frame begun with '[' whose events each end in ','.
func closeArray(b []byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = ']'
		return b
	}
	return append(b, ']')
}

// appendStatus appends a status/<id> event and a comma; a zero status is
// written as {} (cleared).
func appendStatus(b []byte, id string, s engine.Status) []byte {
	b = append(b, `{"topic":`...)
	b = engine.AppendJSON(b, "status/"+id)
	b = append(b, `,"data":{`...)
	sep := ""
	for _, kv := range [...][2]string{{"fill", s.Fill}, {"shape", s.Shape}, {"text", s.Text}} {
		if kv[1] == "" {
			continue
		}
		b = append(b, sep...)
		b = append(b, '"')
		b = append(b, kv[0]...)
		b = append(b, `":`...)
		b = engine.AppendJSON(b, kv[1])
		sep = ","
	}
	return append(b, "}},"...)
}

func appendDropped(b []byte, topic string, n uint64) []byte {
	b = append(b, `{"topic":"`...)
	b = append(b, topic...)
	b = append(b, `","data":{"count":`...)
	b = strconv.AppendUint(b, n, 10)
	return append(b, "}},"...)
}

// appendError appends an error event and a comma.
func appendError(b []byte, ev engine.ErrorEvent, z string, ts int64) []byte {
	msg := ""
	if ev.Err != nil {
		msg = ev.Err.Error()
	}
	b = append(b, `{"topic":"error","data":{"id":`...)
	b = engine.AppendJSON(b, ev.NodeID)
	b = append(b, `,"z":`...)
	b = engine.AppendJSON(b, z)
	b = append(b, `,"type":`...)
	b = engine.AppendJSON(b, ev.Type)
	b = append(b, `,"name":`...)
	b = engine.AppendJSON(b, ev.Name)
	b = append(b, `,"msgid":`...)
	b = engine.AppendJSON(b, ev.MsgID)
	b = append(b, `,"error":`...)
	b = engine.AppendJSON(b, msg)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, "}},"...)
}

// rater computes live message rates from the graph's counters.
type rater struct {
	reg  *engine.Registry
	at   time.Time
	prev map[string]engine.NodeStats
	next map[string]engine.NodeStats
}

func newRater(reg *engine.Registry, now time.Time) *rater {
	return &rater{reg: reg, at: now, prev: map[string]engine.NodeStats{}, next: map[string]engine.NodeStats{}}
}

// sample reads every flow node's counters and, when encode is set,
// returns the rates frame (nil without a graph). Rates are per second over
// the real time since the previous sample. A counter that went down was
// reset (its node was rebuilt by a deploy): its rate counts from zero.
func (r *rater) sample(g *engine.Graph, now time.Time, encode bool) []byte {
	secs := now.Sub(r.at).Seconds()
	r.at = now
	clear(r.next)
	if g == nil {
		r.prev, r.next = r.next, r.prev
		return nil
	}
	var b []byte
	if encode {
		b = append(b, `[{"topic":"rates","data":{`...)
	}
	sep := false
	for _, n := range g.Document().Nodes {
		if n == nil {
			continue
		}
		if t, ok := r.reg.Lookup(n.Type); !ok || t.Config {
			continue
		}
		st, ok := g.Stats(n.ID)
		if !ok {
			continue // tabs, disabled nodes
		}
		if _, dup := r.next[n.ID]; dup {
			continue
		}
		r.next[n.ID] = st
		if !encode {
			continue
		}
		old := r.prev[n.ID]
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = engine.AppendJSON(b, n.ID)
		b = append(b, `:{"in":`...)
		b = engine.AppendNumber(b, rate(st.In, old.In, secs))
		b = append(b, `,"out":`...)
		b = engine.AppendNumber(b, rate(st.Out, old.Out, secs))
		b = append(b, `,"err":`...)
		b = engine.AppendNumber(b, rate(st.Errors, old.Errors, secs))
		b = append(b, `,"inTotal":`...)
		b = strconv.AppendUint(b, st.In, 10)
		b = append(b, `,"outTotal":`...)
		b = strconv.AppendUint(b, st.Out, 10)
		b = append(b, `,"errTotal":`...)
		b = strconv.AppendUint(b, st.Errors, 10)
		b = append(b, '}')
	}
	r.prev, r.next = r.next, r.prev
	if !encode {
		return nil
	}
	return append(b, "}}]"...)
}

// rate is the per-second rate of a counter that went from prev to cur in
// secs seconds, rounded to hundredths; never negative.
func rate(cur, prev uint64, secs float64) float64 {
	d := cur - prev
	if cur < prev {
		d = cur // reset
	}
	if secs <= 0 || d == 0 {
		return 0
	}
	return math.Round(float64(d)/secs*100) / 100
}

// valueEncoder writes values for the debug sidebar, cut short as Node-RED's
// debugMaxLength does: strings to max characters followed by "...",
// arrays, buffers and objects to max elements, and the whole msg to
// maxDebugBytes. truncated says whether anything was cut.
type valueEncoder struct {
	max       int
	start     int // where the value being encoded begins in the buffer
	truncated bool
}

// appendDebug appends a debug event and a comma.
func (e *valueEncoder) appendDebug(b []byte, ev engine.DebugEvent, z string, ts int64) []byte {
	b = append(b, `{"topic":"debug","data":{"id":`...)
	b = engine.AppendJSON(b, ev.NodeID)
	b = append(b, `,"z":`...)
	b = engine.AppendJSON(b, z)
	b = append(b, `,"name":`...)
	b = engine.AppendJSON(b, ev.Name)
	b = append(b, `,"topic":`...)
	b = engine.AppendJSON(b, ev.Topic)
	b = append(b, `,"property":`...)
	b = engine.AppendJSON(b, debugProperty(ev.Property))
	b = append(b, `,"msgid":`...)
	b = engine.AppendJSON(b, ev.MsgID)
	b = append(b, `,"format":`...)
	b = engine.AppendJSON(b, debugFormat(ev.Value))
	b = append(b, `,"msg":`...)
	b = e.appendMsg(b, ev.Value)
	if e.truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, "}},"...)
}

// debugProperty is the property as Node-RED's debug node names it:
// "payload" for msg.payload, "msg" for the whole message.
func debugProperty(p string) string {
	if p == "" {
		return "payload"
	}
	return strings.TrimPrefix(p, "msg.")
}

// debugFormat describes v as Node-RED's debug sidebar does: string[len],
// number, boolean, null, Object, array[len] or buffer[len]. Lengths of
// strings count UTF-16 code units, as JavaScript's length does.
func debugFormat(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "number"
	case string:
		return "string[" + strconv.Itoa(jsLen(x)) + "]"
	case []byte:
		return "buffer[" + strconv.Itoa(len(x)) + "]"
	case []any:
		return "array[" + strconv.Itoa(len(x)) + "]"
	case engine.RawJSON:
		r := gjson.ParseBytes(x)
		if r.IsArray() {
			n := 0
			r.ForEach(func(_, _ gjson.Result) bool { n++; return true })
			return "array[" + strconv.Itoa(n) + "]"
		}
		return debugFormat(fromScalar(r))
	}
	return "Object"
}

// fromScalar is the Go value of a scalar gjson result, or a map
// placeholder for an object.
func fromScalar(r gjson.Result) any {
	switch r.Type {
	case gjson.Null:
		return nil
	case gjson.True, gjson.False:
		return r.Bool()
	case gjson.Number:
		return r.Num
	case gjson.String:
		return r.Str
	}
	return map[string]any(nil)
}

// jsLen is the length of s in UTF-16 code units.
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// appendMsg appends the msg of a debug event: v cut short, a buffer at
// the top as an array of byte values.
func (e *valueEncoder) appendMsg(b []byte, v any) []byte {
	e.truncated = false
	e.start = len(b)
	if x, ok := v.([]byte); ok {
		return e.appendBytes(b, x)
	}
	return e.appendValue(b, v)
}

// full reports whether the value has reached maxDebugBytes, and marks it
// truncated if so.
func (e *valueEncoder) full(b []byte) bool {
	if len(b)-e.start >= maxDebugBytes {
		e.truncated = true
		return true
	}
	return false
}

func (e *valueEncoder) appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return e.appendString(b, x)
	case []byte:
		b = append(b, `{"type":"Buffer","data":`...)
		b = e.appendBytes(b, x)
		return append(b, '}')
	case engine.RawJSON:
		if len(x) <= e.max {
			// Too short to hold anything that needs cutting.
			return engine.AppendJSON(b, x)
		}
		// In JSON.stringify's form first (key order, duplicates,
		// numbers), then cut short.
		return e.appendGJSON(b, gjson.ParseBytes(engine.CanonicalJSON(x)))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		engine.SortKeys(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i == e.max || e.full(b) {
				e.truncated = true
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendString(b, k)
			b = append(b, ':')
			b = e.appendValue(b, x[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, el := range x {
			if i == e.max || e.full(b) {
				e.truncated = true
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendValue(b, el)
		}
		return append(b, ']')
	}
	return engine.AppendJSON(b, v)
}

// appendBytes appends a buffer as an array of its byte values.
func (e *valueEncoder) appendBytes(b []byte, x []byte) []byte {
	if len(x) > e.max {
		x = x[:e.max]
		e.truncated = true
	}
	b = append(b, '[')
	for i, c := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	return append(b, ']')
}

// appendString appends s, cut to max UTF-16 code units and "..." when
// longer.
func (e *valueEncoder) appendString(b []byte, s string) []byte {
	if len(s) > e.max { // a string of at most max bytes has at most max units
		units := 0
		for i, r := range s {
			w := 1
			if r > 0xFFFF {
				w = 2
			}
			if units+w > e.max {
				s = s[:i] + "..."
				e.truncated = true
				break
			}
			units += w
		}
	}
	return engine.AppendJSON(b, s)
}

// appendGJSON appends raw JSON cut short. Of duplicate keys the last
// value is kept at the first key's place, as JSON.parse does.
func (e *valueEncoder) appendGJSON(b []byte, r gjson.Result) []byte {
	switch {
	case r.IsArray():
		if len(r.Raw) <= e.max {
			return engine.AppendJSON(b, engine.RawJSON(r.Raw))
		}
		b = append(b, '[')
		i := 0
		r.ForEach(func(_, v gjson.Result) bool {
			if i == e.max || e.full(b) {
				e.truncated = true
				return false
			}
			if i > 0 {
				b = append(b, ',')
			}
			i++
			b = e.appendGJSON(b, v)
			return true
		})
		return append(b, ']')
	case r.IsObject():
		if len(r.Raw) <= e.max {
			return engine.AppendJSON(b, engine.RawJSON(r.Raw))
		}
		type member struct {
			k string
			v gjson.Result
		}
		var ms []member
		at := map[string]int{}
		r.ForEach(func(k, v gjson.Result) bool {
			if i, dup := at[k.Str]; dup {
				ms[i].v = v
				return true
			}
			at[k.Str] = len(ms)
			ms = append(ms, member{k.Str, v})
			return true
		})
		b = append(b, '{')
		for i, m := range ms {
			if i == e.max || e.full(b) {
				e.truncated = true
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendString(b, m.k)
			b = append(b, ':')
			b = e.appendGJSON(b, m.v)
		}
		return append(b, '}')
	case r.Type == gjson.String:
		return e.appendString(b, r.Str)
	case r.Type == gjson.Number:
		return engine.AppendNumber(b, r.Num)
	}
	return append(b, r.Raw...)
}
