package editor

// The live channel's websocket connections: the upgrade of GET /comms, and
// each editor's queue, writer and reader.

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

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
