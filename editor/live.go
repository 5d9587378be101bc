package editor

// The editor's live channel: node status, debug output, node errors, live
// message rates and deploy notices, pushed to the browser over the
// websocket GET /comms in Node-RED's framing (each text frame is a JSON
// array of {"topic","data"} events).
//
// The runtime calls the hub's OnStatus, OnDebug and OnError on the flows'
// own goroutines, so those never block: debug output and errors are taken
// into a small per-flush intake that keeps the newest (the older ones are
// only counted), statuses only replace the node's latest one. The hub's Run goroutine flushes every
// FlushInterval to each client's bounded queue; a client whose queue is full
// is disconnected rather than waited for.
//
// This file is the hub; live_conn.go holds the websocket connections,
// live_events.go the intake and the frames, live_rates.go the rate
// sampler, live_auth.go the websocket's login, and package debugvalue
// writes the values of debug events.

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/engine"
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
	// error events, sent per flush (25): the newest of the flush window;
	// the older ones are dropped and counted.
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
	deployed []deployNote             // revisions deployed since the last flush
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
// never blocks: beyond DebugPerFlush events per flush a new event replaces
// the window's oldest, which is counted as dropped.
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
func (h *Hub) Deployed(rev string) { h.DeployedBy(rev, "", "") }

// DeployedBy is Deployed for a deploy made by an editor session (the
// Runnel-Session header of its request, see SessionOf) and a user; the
// event carries both when set, so that the editor that deployed knows the
// event is its own and the others can say someone else deployed.
func (h *Hub) DeployedBy(rev, session, user string) {
	h.mu.Lock()
	h.deployed = append(h.deployed, deployNote{rev, session, user})
	h.mu.Unlock()
}

// deployNote is one deploy for the next flush's deploy events.
type deployNote struct{ rev, session, user string }

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
