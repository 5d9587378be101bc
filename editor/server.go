package editor

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// ServerLimits bound the editor's HTTP server, so that connections that
// send nothing, send slowly or sit idle are closed and cannot pile up.
// The /comms websocket is not affected once upgraded: the upgrade clears
// the connection's deadlines, and the hub keeps it alive with pings.
type ServerLimits struct {
	// ReadHeaderTimeout is how long a connection may take to send a
	// request's headers (also the first request's, so a connection that
	// sends nothing is closed after it).
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a request, body included, may take to read.
	ReadTimeout time.Duration
	// WriteTimeout is how long a request may take from the end of its
	// headers to the end of its answer (a deploy included).
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header.
	MaxHeaderBytes int
	// MaxConns is the most connections open at once; more wait in the
	// kernel's accept queue until one closes. 0: no limit.
	MaxConns int
}

// DefaultServerLimits: 10 s for the headers, 60 s for a request, 120 s
// for an answer, 30 s idle, 64 KiB of headers, 256 connections.
func DefaultServerLimits() ServerLimits {
	return ServerLimits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxConns:          256,
	}
}

// NewServer returns an HTTP server for h (the API) with lim's timeouts;
// serve it on LimitListener(ln, lim.MaxConns). Its own errors (such as
// TLS handshakes) are logged at debug level to log, if not nil.
func NewServer(h http.Handler, lim ServerLimits, log *slog.Logger) *http.Server {
	s := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
	}
	if log != nil {
		s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	}
	return s
}

// LimitListener returns ln accepting at most n connections open at once
// (ln itself if n <= 0): Accept waits until one of them is closed.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, n)
}

// maxBodiesInFlight bounds the bytes that flow documents being uploaded
// may take at once: two of the largest. A body reserves its
// Content-Length (maxBody when unknown) while it is read and parsed.
const maxBodiesInFlight = 2 * maxBody

// bodyBudget counts the bytes left for request bodies.
type bodyBudget struct {
	mu   sync.Mutex
	free int64
}

// take reserves n bytes; false if there are not as many left.
func (b *bodyBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.free {
		return false
	}
	b.free -= n
	return true
}

func (b *bodyBudget) give(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
}

// reserveBody reserves room for r's body; it answers 413 or 503 and
// returns false when there is none, else a function that gives it back.
func (a *API) reserveBody(w http.ResponseWriter, r *http.Request) (func(), bool) {
	n := r.ContentLength
	if n > maxBody {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, "the flow document is larger than "+strconv.Itoa(maxBody>>20)+" MiB", nil)
		return nil, false
	}
	if n < 0 {
		n = maxBody
	}
	if !a.bodies.take(n) {
		// Close the connection after the answer: otherwise the server
		// would first read what is left of the body (all of a chunked one
		// that never ends) and the client would wait for its 503.
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "too many flow documents are being uploaded at once: try again", nil)
		return nil, false
	}
	return func() { a.bodies.give(n) }, true
}
