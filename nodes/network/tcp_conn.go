package network

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// Limits of the TCP nodes. Node-RED has none; a flow's listener is a door
// into the process, so Runnel bounds what one client can make it hold.
const (
	// tcpMaxConns is the most connections one listener node serves at
	// once; further connections are closed as they come.
	tcpMaxConns = 256
	// tcpMaxMessage is the most bytes a tcp in node gathers into one
	// message (a delimited line, or a whole connection in single mode),
	// and a tcp request node into one reply; past it the connection is
	// closed.
	tcpMaxMessage = 1 << 20
	// tcpWriteQueue and tcpWriteQueueBytes bound the writes waiting for
	// one connection (beyond what the operating system buffers); a
	// client that does not read until either is reached is disconnected,
	// so it costs only itself.
	tcpWriteQueue      = 1024
	tcpWriteQueueBytes = 4 << 20
	// tcpWriteTimeout bounds one write to a connection.
	tcpWriteTimeout = 30 * time.Second
	// tcpReconnect is how long a client node waits before connecting
	// again after losing its connection (Node-RED's socketReconnectTime).
	tcpReconnect = 10 * time.Second
	// tcpDialTimeout bounds one connection attempt.
	tcpDialTimeout = 10 * time.Second
)

// tcpConn is one TCP connection of a tcp in or tcp out node. Writes go
// through a bounded queue to a goroutine of its own, so that a peer that
// does not read never blocks the flow.
type tcpConn struct {
	id   string
	conn net.Conn
	log  func(msg string, args ...any)

	mu     sync.Mutex
	queue  chan tcpWrite
	queued int // bytes in queue
	closed bool
	done   chan struct{}
}

// tcpWrite is one queued write; end half-closes the connection after it
// (Node-RED's socket.end), close closes it.
type tcpWrite struct {
	b     []byte
	end   bool
	close bool
}

// tcpSessions are the connections tcp in nodes hold, by session id
// (msg._session.id), so that a tcp out node in reply mode can answer
// through them, as Node-RED's connection pool does.
var tcpSessions sync.Map // string -> *tcpConn

func newTCPConn(c net.Conn, log func(string, ...any), goFn func(func())) *tcpConn {
	t := &tcpConn{id: newSessionID(), conn: c, log: log, queue: make(chan tcpWrite, tcpWriteQueue), done: make(chan struct{})}
	goFn(t.writer)
	return t
}

// newSessionID returns a connection id (tcp and websocket _session.id) as
// Node-RED's RED.util.generateId makes them: 16 hexadecimal digits.
func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write queues b for the connection; when the queue is full the peer is
// not reading, and is disconnected.
func (t *tcpConn) write(b []byte, end bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if t.queued+len(b) <= tcpWriteQueueBytes {
		select {
		case t.queue <- tcpWrite{b: b, end: end}:
			t.queued += len(b)
			return
		default:
		}
	}
	t.log("tcp: the peer does not read: disconnected", "remote", t.conn.RemoteAddr().String(), "queued_bytes", t.queued)
	t.closeLocked()
}

// closeAfterWrites closes the connection once the writes queued before
// are done.
func (t *tcpConn) closeAfterWrites() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	select {
	case t.queue <- tcpWrite{close: true}:
	default:
		t.closeLocked()
	}
}

// close closes the connection; queued writes are dropped.
func (t *tcpConn) close() {
	t.mu.Lock()
	t.closeLocked()
	t.mu.Unlock()
}

func (t *tcpConn) closeLocked() {
	if !t.closed {
		t.closed = true
		close(t.done)
		_ = t.conn.Close()
	}
}

func (t *tcpConn) writer() {
	for {
		select {
		case <-t.done:
			return
		case w := <-t.queue:
			if w.close {
				t.close()
				return
			}
			t.mu.Lock()
			t.queued -= len(w.b)
			t.mu.Unlock()
			_ = t.conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
			if _, err := t.conn.Write(w.b); err != nil {
				t.close()
				return
			}
			if w.end {
				if cw, ok := t.conn.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				} else {
					t.close()
					return
				}
			}
		}
	}
}

// tcpPayload converts msg.payload to the bytes written, as Node-RED's tcp
// out does: a Buffer as is, a string decoded from base64 when asked,
// anything else as its string form.
func tcpPayload(p any, base64 bool) []byte {
	switch v := p.(type) {
	case []byte:
		return v
	case string:
		if base64 {
			return jsv.DecodeBase64(v)
		}
		return []byte(v)
	}
	return []byte(engine.ToString(p))
}

// tlsFor returns the TLS configuration of the tls-config node id, or nil
// when id is empty. server asks for a certificate to serve.
func tlsFor(h *engine.Host, id string, server bool) (*tls.Config, error) {
	if id == "" {
		return nil, nil
	}
	n, err := h.ConfigNode(id, "tls-config")
	if err != nil {
		return nil, engine.ErrFieldf("tls", "%v", err)
	}
	t := n.(*TLSConfigNode)
	if t.Err() != nil {
		return nil, engine.ErrFieldf("tls", "%v", t.Err())
	}
	c := t.Config()
	if server && len(c.Certificates) == 0 {
		return nil, engine.ErrFieldf("tls", "a TLS listener needs a certificate and key in its tls-config")
	}
	return c, nil
}

// tcpListener is the listening side shared by tcp in and tcp out as
// servers: loopback unless [nodes] listen_all, bounded connections, and a
// log line naming the node and address.
type tcpListener struct {
	h     *engine.Host
	what  string // "tcp in" or "tcp out", for logs
	host  string
	port  int
	tls   *tls.Config
	serve func(ctx context.Context, c *tcpConn) // runs on a goroutine per connection

	ln    net.Listener
	mu    sync.Mutex
	conns map[*tcpConn]struct{}
	// closed is set under mu when close begins: accept then closes what
	// it accepts instead of keeping it.
	closed bool
	wg     sync.WaitGroup
}

// newTCPListener checks the address at deploy: a flow may not listen on
// the broker's or the editor's own address.
func newTCPListener(h *engine.Host, what string, port int, tc *tls.Config) (*tcpListener, error) {
	host := h.ListenHost(false)
	if err := h.CheckListen(host, port); err != nil {
		return nil, engine.ErrFieldf("port", "%v", err)
	}
	return &tcpListener{h: h, what: what, host: host, port: port, tls: tc, conns: map[*tcpConn]struct{}{}}, nil
}

// start listens; a failure (the port in use) is the node's error and
// status, and the rest of the flows run, as in Node-RED.
func (l *tcpListener) start(ctx context.Context) {
	addr := net.JoinHostPort(l.host, strconv.Itoa(l.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		l.h.Error(fmt.Errorf("%s: cannot listen on %s: %w", l.what, addr, err), nil)
		l.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "cannot listen on port " + strconv.Itoa(l.port)})
		return
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	l.ln = ln
	l.h.Logger().Info(l.what+": listening on "+ln.Addr().String(), "tls", l.tls != nil)
	l.status()
	l.wg.Add(1)
	l.h.Go(func() {
		defer l.wg.Done()
		l.accept(ctx)
	})
}

func (l *tcpListener) accept(ctx context.Context) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of file descriptors: let some go
			continue
		}
		l.mu.Lock()
		if l.closed {
			// Accepted just as close began: close has already closed
			// the connections it knew of, so this one is ours to close.
			l.mu.Unlock()
			_ = c.Close()
			return
		}
		if len(l.conns) >= tcpMaxConns {
			l.mu.Unlock()
			l.h.Logger().Warn(l.what+": too many connections: refused one", "remote", c.RemoteAddr().String(), "max", tcpMaxConns)
			_ = c.Close()
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetKeepAlivePeriod(2 * time.Minute)
		}
		t := newTCPConn(c, l.h.Logger().Warn, l.h.Go)
		l.conns[t] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		l.status()
		l.h.Go(func() {
			defer l.wg.Done()
			defer func() {
				// The peer is done sending (or the node is closing, which
				// closes t at once): what the flow has already queued for
				// it, such as the reply to its last line, still goes out,
				// as Node.js writes a reply made while handling the data
				// before it ends the socket.
				t.closeAfterWrites()
				l.mu.Lock()
				delete(l.conns, t)
				l.mu.Unlock()
				l.status()
			}()
			l.serve(ctx, t)
		})
	}
}

// each calls fn for every open connection.
func (l *tcpListener) each(fn func(*tcpConn)) {
	l.mu.Lock()
	conns := make([]*tcpConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		fn(c)
	}
}

func (l *tcpListener) status() {
	l.mu.Lock()
	n := len(l.conns)
	l.mu.Unlock()
	l.h.Status(engine.Status{Text: fmt.Sprintf("%d connections", n)})
}

// close stops listening, closes every connection and waits for their
// goroutines.
func (l *tcpListener) close() {
	if l.ln == nil {
		return
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	_ = l.ln.Close()
	l.each(func(c *tcpConn) { c.close() })
	l.wg.Wait()
	l.h.Logger().Info(l.what + ": stopped listening on " + l.ln.Addr().String())
}

// dial connects to addr, with TLS when tc is set.
func dial(ctx context.Context, addr string, tc *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: tcpDialTimeout, KeepAlive: 2 * time.Minute}
	if tc != nil {
		if tc.ServerName == "" {
			tc = tc.Clone()
			tc.ServerName, _, _ = net.SplitHostPort(addr)
		}
		return (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// sleepCtx waits d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
