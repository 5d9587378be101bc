package broker

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// TLSFiles name the PEM files of the TLS and WSS listeners.
type TLSFiles struct {
	// Cert is the server's certificate (chain) and Key its private key.
	Cert, Key string
	// ClientCA, when set, holds the certificate authorities that sign
	// client certificates: clients must then present a valid one.
	ClientCA string
}

// Addrs are the addresses the broker's listeners are bound to ("" if a
// listener is off); a port 0 in Options becomes the port chosen.
type Addrs struct {
	TCP, TLS, WS, WSS string
}

// WebSocketPath is where the WS and WSS listeners serve MQTT.
const WebSocketPath = "/mqtt"

// loadTLS reads the certificate files.
func loadTLS(f TLSFiles) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("broker: a TLS listener needs a certificate and a key file")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("broker: TLS certificate %s, key %s: %w", f.Cert, f.Key, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("broker: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker: TLS client CA %s: no PEM certificates in it", f.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// listen binds every listener the options ask for and adds them to the
// server; on error it closes what it bound.
func (b *Broker) listen(opts *Options, g *guard, bt *batcher) (err error) {
	var bound []net.Listener
	defer func() {
		if err != nil {
			for _, ln := range bound {
				ln.Close()
			}
		}
	}()
	var tlsCfg *tls.Config
	if opts.TLSAddr != "" || opts.WSSAddr != "" {
		if tlsCfg, err = loadTLS(opts.TLS); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		kind, addr string
		tls, ws    bool
		out        *string
	}{
		{"tcp", opts.Addr, false, false, &b.addrs.TCP},
		{"tls", opts.TLSAddr, true, false, &b.addrs.TLS},
		{"ws", opts.WSAddr, false, true, &b.addrs.WS},
		{"wss", opts.WSSAddr, true, true, &b.addrs.WSS},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("broker: %s listener on %s: %w", l.kind, l.addr, err)
		}
		bound = append(bound, ln)
		*l.out = ln.Addr().String()
		ml := &listener{id: l.kind, addr: ln.Addr().String(), ln: newNBListener(ln, bt, g.outLimits()), guard: g, log: b.log}
		if l.ws {
			// Under TLS, so that the HTTP server still sees a *tls.Conn.
			ml.ln = newCapListener(ml.ln, wsConnCap(opts.Limits))
		}
		if l.tls {
			cfg := tlsCfg.Clone()
			if l.ws {
				cfg.NextProtos = []string{"http/1.1"}
			}
			ml.ln = tls.NewListener(ml.ln, cfg)
		}
		if l.ws {
			ml.http = newWSServer(ml, g)
		}
		if err := b.srv.AddListener(ml); err != nil {
			return fmt.Errorf("broker: add %s listener: %w", l.kind, err)
		}
		url := map[bool]string{false: "mqtt://", true: "mqtts://"}[l.tls] + ml.addr
		if l.ws {
			url = map[bool]string{false: "ws://", true: "wss://"}[l.tls] + ml.addr + WebSocketPath
		}
		b.log.Info("mqtt listener open", "listener", l.kind, "url", url,
			"client_certificates", l.tls && tlsCfg.ClientAuth == tls.RequireAndVerifyClientCert)
	}
	return nil
}

// listener is a mochi listener for TCP, TLS, WS and WSS: it wraps each
// connection in a guard (connect timeout, packet size) and serves
// WebSockets at WebSocketPath only.
type listener struct {
	id, addr string
	ln       net.Listener
	http     *http.Server // WS and WSS
	guard    *guard
	log      *slog.Logger
	closed   atomic.Bool

	mu        sync.Mutex
	establish listeners.EstablishFn
	conns     map[*guardConn]struct{} // open connections
	// entering counts connections handed to mochi that it has not read
	// from yet: mochi's Close must not wait for its clients while one of
	// them is still registering (a WaitGroup Add racing the Wait).
	entering sync.WaitGroup
}

var _ listeners.Listener = (*listener)(nil)

// ID, Address, Protocol and Init complete mochi's listeners.Listener.
func (l *listener) ID() string              { return l.id }
func (l *listener) Address() string         { return l.addr }
func (l *listener) Protocol() string        { return l.id }
func (l *listener) Init(*slog.Logger) error { return nil }

// Serve accepts connections until Close.
func (l *listener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	l.establish = establish
	l.mu.Unlock()
	if l.http != nil {
		_ = l.http.Serve(l.ln)
		return
	}
	backoff := 5 * time.Millisecond
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry,
			// as net/http does.
			l.log.Warn("mqtt listener: accept", "listener", l.id, "error", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		go l.handle(conn)
	}
}

// handle runs one connection until it ends.
func (l *listener) handle(conn net.Conn) {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		conn.Close()
		return
	}
	establish := l.establish
	l.entering.Add(1)
	g := l.guard.wrap(conn, l.entering.Done)
	if l.conns == nil {
		l.conns = map[*guardConn]struct{}{}
	}
	l.conns[g] = struct{}{}
	l.mu.Unlock()
	defer func() {
		g.enter() // if mochi never read
		l.mu.Lock()
		delete(l.conns, g)
		l.mu.Unlock()
	}()
	err := establish(l.id, g)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	if g.cl == nil { // never got as far as a CONNECT
		l.log.Info("mqtt connection refused", "listener", l.id, "remote", conn.RemoteAddr().String(), "error", err)
	} else {
		l.log.Debug("mqtt connection ended", "listener", l.id, "client", g.cl.ID, "error", err)
	}
}

// The WS and WSS listeners' HTTP servers: a connection has the connect
// timeout to complete its TLS handshake and its upgrade request (headers
// and all), and to read its answer if it is not upgraded; a keep-alive
// connection that is not upgraded is closed after as long idle. The
// upgrade clears these deadlines (gorilla's Upgrade does), and from then
// on the guard's connect timeout and the MQTT keep alive apply. Each
// listener takes at most wsConnCap connections at once; more wait in the
// kernel's accept queue until one closes.
const (
	wsMaxHeaderBytes = 64 << 10
	// wsMaxConns caps a WS listener's connections when the broker has no
	// MaxConnections.
	wsMaxConns = 4096
	// wsConnSlack is how many connections a WS listener takes beyond
	// MaxConnections, so that clients over it are still answered CONNACK
	// server busy rather than wait.
	wsConnSlack = 64
)

func newWSServer(l *listener, g *guard) *http.Server {
	t := cmp.Or(g.connectTimeout, 10*time.Second)
	return &http.Server{
		Handler:           http.HandlerFunc(l.serveWS),
		ReadHeaderTimeout: t,
		ReadTimeout:       t,
		WriteTimeout:      t,
		IdleTimeout:       t,
		MaxHeaderBytes:    wsMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
	}
}

// wsConnCap is the connection cap of a WS listener under lim.
func wsConnCap(lim *Limits) int {
	if lim == nil || lim.MaxConnections <= 0 {
		return wsMaxConns
	}
	return lim.MaxConnections + wsConnSlack
}

// upgrader accepts any origin, as mosquitto does: browsers' MQTT clients
// are usually served from another origin, and clients authenticate in
// CONNECT. Nor is the Host header checked: a page can open a websocket to
// any address anyway, so a DNS-rebound name gains it nothing; what guards
// the broker is its users and ACL (docs/security.md).
var upgrader = websocket.Upgrader{
	Subprotocols:    []string{"mqtt", "mqttv3.1"},
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  2048,
	WriteBufferSize: 2048,
}

// serveWS upgrades requests for WebSocketPath and serves MQTT over them.
func (l *listener) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != WebSocketPath {
		http.Error(w, "MQTT over WebSocket is served at "+WebSocketPath, http.StatusNotFound)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	l.handle(&wsConn{ws: ws})
}

// Close stops accepting, disconnects the listener's clients, and closes
// the connections that have not completed CONNECT yet.
func (l *listener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if !l.closed.CompareAndSwap(false, true) {
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	if l.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = l.http.Shutdown(ctx)
		cancel()
	} else {
		_ = l.ln.Close()
	}
	closeClients(l.id)
	l.mu.Lock()
	for g := range l.conns {
		_ = g.Conn.Close()
	}
	l.mu.Unlock()
	l.entering.Wait()
}

// wsConn is a WebSocket as a net.Conn carrying MQTT in binary messages; a
// message may hold several packets or part of one.
type wsConn struct {
	ws   *websocket.Conn
	r    io.Reader
	wmu  sync.Mutex
	wdl  atomic.Int64 // write deadline, Unix nanoseconds; 0: none
	shut atomic.Bool  // a close frame was sent
}

// Read reads the stream of binary messages.
func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				return 0, errors.New("websocket: MQTT needs binary messages, got a text message")
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// gorilla's SetWriteDeadline must not run during a write: the
	// deadline is applied here, by the one writer.
	var dl time.Time
	if n := c.wdl.Load(); n != 0 {
		dl = time.Unix(0, n)
	}
	_ = c.ws.SetWriteDeadline(dl)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite sends a close frame (gorilla allows that during a Write).
func (c *wsConn) CloseWrite() error {
	if !c.shut.CompareAndSwap(false, true) {
		return nil
	}
	return c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
}

// Close sends a close frame if none was sent and closes the connection.
func (c *wsConn) Close() error {
	_ = c.CloseWrite()
	return c.ws.Close()
}

// LocalAddr, RemoteAddr and the deadlines complete net.Conn.
func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }
func (c *wsConn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.SetWriteDeadline(t))
}
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	}
	c.wdl.Store(n)
	return nil
}
