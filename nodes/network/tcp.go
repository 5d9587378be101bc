package network

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// TCPInConfig is the configuration of a tcp-in node (Node-RED's "tcp in").
type TCPInConfig struct {
	Server   string `json:"server" label:"Type" default:"server" options:"server=Listen on port,client=Connect to port"`
	Host     string `json:"host" label:"Host" showif:"server=client" help:"The host to connect to (localhost when empty)"`
	Port     int    `json:"port" label:"Port" required:"true" min:"0" max:"65535" help:"0: any free port (the log line names it)"`
	Datamode string `json:"datamode" label:"Output" default:"stream" options:"stream=a stream of messages,single=a single message per connection"`
	Datatype string `json:"datatype" label:"Payload" default:"buffer" options:"buffer=Buffer,utf8=String,base64=Base64 string"`
	Newline  string `json:"newline" label:"Delimited by" showif:"datatype=utf8" help:"Split a string stream at this text (\\n, \\r and \\t are escapes); empty: one message per chunk read"`
	Trim     bool   `json:"trim" label:"Re-attach delimiter" showif:"datatype=utf8"`
	Topic    string `json:"topic" label:"Topic"`
	Base64   bool   `json:"base64" label:"Base64" kind:"hidden"`
	TLS      string `json:"tls" label:"TLS configuration" node:"tls-config" help:"As a server, the tls-config's certificate and key are served"`
}

// TCPOutConfig is the configuration of a tcp-out node (Node-RED's "tcp
// out").
type TCPOutConfig struct {
	Beserver string `json:"beserver" label:"Type" default:"client" options:"client=Connect to port,server=Listen on port,reply=Reply to TCP"`
	Host     string `json:"host" label:"Host" showif:"beserver=client" help:"The host to connect to (localhost when empty)"`
	Port     int    `json:"port" label:"Port" showif:"beserver=client,server" min:"0" max:"65535"`
	Base64   bool   `json:"base64" label:"Decode Base64 message"`
	End      bool   `json:"end" label:"Close connection after each message is sent" showif:"beserver=client,server"`
	TLS      string `json:"tls" label:"TLS configuration" node:"tls-config" showif:"beserver=client,server"`
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "tcp-in",
		Category: "network",
		Label:    "tcp in",
		Outputs:  1,
		Color:    "Silver",
		Icon:     "bridge-dash.svg",
		Labels:   []engine.LabelRule{{Text: "tcp:{port}"}},
		Help: `Listens on a TCP port, or connects to one, and sends a message for what arrives: a stream of
messages (each chunk read, or each line when a string is delimited), or one message per connection when
it closes. Messages carry msg._session {type:"tcp", id}, through which a tcp out node in reply mode answers
that connection; as a server also msg.ip and msg.port of the client.

Differs from Node-RED: a listener binds 127.0.0.1 unless [nodes] listen_all = true in runnel.toml
(Node-RED binds every interface), and may not use the port of Runnel's broker or editor (refused at
deploy); at most 256 connections at once; a delimited line or a single-mode message is at most 1 MiB (the
connection is closed past it); a string is split into lines before it is decoded, so a character split
across two reads stays whole; a base64 stream is not split at the delimiter.`,
	}, newTCPIn))
	engine.Register(engine.NewType(engine.Meta{
		Type:     "tcp-out",
		Category: "network",
		Label:    "tcp out",
		Inputs:   1,
		Color:    "Silver",
		Icon:     "bridge-dash.svg",
		Labels:   []engine.LabelRule{{Text: "tcp:{port}"}},
		Help: `Writes msg.payload to a TCP connection: as a client to host:port (reconnecting when the
connection drops), as a server to every client connected to its port, or, in reply mode, to the
connection of a tcp in node that msg._session names (every tcp in connection when the message has none;
msg.reset = true closes it instead). A Buffer is written as is, a string as UTF-8 (or decoded from base64
when asked), anything else as its string form.

Differs from Node-RED: a listener binds 127.0.0.1 unless [nodes] listen_all = true in runnel.toml, and
may not use the port of Runnel's broker or editor; writes to a client that does not read queue up to 256
messages, then that client is disconnected, so it never holds up the flow or other clients.`,
	}, newTCPOut))
}

// tcpIn is a tcp-in node.
type tcpIn struct {
	h        *engine.Host
	cfg      TCPInConfig
	newline  string
	stream   bool
	tls      *tls.Config
	listener *tcpListener // server mode

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// unescapeNewline turns the \n, \r and \t that Node-RED's editor stores
// into the characters.
func unescapeNewline(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t").Replace(s)
}

func newTCPIn(cfg *TCPInConfig, h *engine.Host) (engine.Node, error) {
	n := &tcpIn{h: h, cfg: *cfg, newline: unescapeNewline(cfg.Newline), stream: cfg.Datamode != "single"}
	server := cfg.Server == "server"
	tc, err := tlsFor(h, cfg.TLS, server)
	if err != nil {
		return nil, err
	}
	n.tls = tc
	if server {
		l, err := newTCPListener(h, "tcp in", cfg.Port, tc)
		if err != nil {
			return nil, err
		}
		l.serve = func(ctx context.Context, c *tcpConn) { n.read(ctx, c, true) }
		n.listener = l
	}
	return n, nil
}

// Start listens, or starts connecting.
func (n *tcpIn) Start(ctx context.Context) error {
	ctx, n.cancel = context.WithCancel(ctx)
	if n.listener != nil {
		n.listener.start(ctx)
		return nil
	}
	n.wg.Add(1)
	n.h.Go(func() {
		defer n.wg.Done()
		n.client(ctx)
	})
	return nil
}

// Close stops listening or connecting and closes every connection.
func (n *tcpIn) Close(context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	if n.listener != nil {
		n.listener.close()
	}
	n.wg.Wait()
	return nil
}

// client connects to host:port and reads, reconnecting after a drop.
func (n *tcpIn) client(ctx context.Context) {
	host := n.cfg.Host
	if host == "" {
		host = "localhost"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(n.cfg.Port))
	for ctx.Err() == nil {
		n.h.Status(engine.Status{Fill: "grey", Shape: "dot", Text: "connecting"})
		c, err := dial(ctx, addr, n.tls)
		if err != nil {
			n.h.Logger().Info("tcp in: cannot connect", "addr", addr, "err", err)
			n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "disconnected"})
			if !sleepCtx(ctx, tcpReconnect) {
				return
			}
			continue
		}
		n.h.Logger().Info("tcp in: connected", "addr", addr)
		n.h.Status(engine.Status{Fill: "green", Shape: "dot", Text: "connected"})
		t := newTCPConn(c, n.h.Logger().Warn, n.h.Go)
		stop := context.AfterFunc(ctx, t.close)
		sentAtEnd := n.read(ctx, t, false)
		stop()
		t.close()
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "disconnected"})
		wait := tcpReconnect
		if sentAtEnd {
			wait = 20 * time.Millisecond // the server ended a message: connect again at once
		}
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

// read reads one connection until it ends and sends its messages. It
// reports whether a message was sent when the peer ended it.
func (n *tcpIn) read(ctx context.Context, t *tcpConn, server bool) bool {
	tcpSessions.Store(t.id, t)
	defer tcpSessions.Delete(t.id)
	var ip string
	var port int
	if a, ok := t.conn.RemoteAddr().(*net.TCPAddr); ok {
		ip, port = a.IP.String(), a.Port
	}
	send := func(payload any) {
		m := engine.NewMessage(n.cfg.Topic, payload)
		if server {
			m.SetProp("ip", ip)
			m.SetProp("port", float64(port))
		}
		m.SetProp("_session", map[string]any{"type": "tcp", "id": t.id})
		n.h.Send(0, m)
	}
	delimited := n.stream && n.cfg.Datatype == "utf8" && n.newline != ""
	buf := make([]byte, 64<<10)
	var acc []byte
	for {
		k, err := t.conn.Read(buf)
		if k > 0 && ctx.Err() == nil {
			switch {
			case delimited:
				acc = append(acc, buf[:k]...)
				for {
					i := bytes.Index(acc, []byte(n.newline))
					if i < 0 {
						break
					}
					s := jsutf8.Decode(acc[:i])
					if n.cfg.Trim {
						s += n.newline
					}
					send(s)
					acc = acc[i+len(n.newline):]
				}
			case n.stream:
				send(n.convert(bytes.Clone(buf[:k])))
			default:
				acc = append(acc, buf[:k]...)
			}
			if len(acc) > tcpMaxMessage {
				n.h.Logger().Warn("tcp in: message too large: connection closed", "remote", t.conn.RemoteAddr().String(), "max", tcpMaxMessage)
				return false
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && ctx.Err() == nil && (!n.stream || delimited) && len(acc) > 0 {
				send(n.convert(acc))
				return true
			}
			return false
		}
	}
}

// convert makes a payload of the node's data type from bytes.
func (n *tcpIn) convert(b []byte) any {
	switch n.cfg.Datatype {
	case "utf8":
		return jsutf8.Decode(b)
	case "base64":
		return base64.StdEncoding.EncodeToString(b)
	}
	return b
}

// tcpOut is a tcp-out node.
type tcpOut struct {
	h        *engine.Host
	cfg      TCPOutConfig
	tls      *tls.Config
	listener *tcpListener // server mode

	mu   sync.Mutex
	conn *tcpConn // client mode: the connection, nil while there is none

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTCPOut(cfg *TCPOutConfig, h *engine.Host) (engine.Node, error) {
	n := &tcpOut{h: h, cfg: *cfg}
	switch cfg.Beserver {
	case "client", "server":
		if cfg.Port == 0 {
			return nil, engine.ErrFieldf("port", "required")
		}
		tc, err := tlsFor(h, cfg.TLS, cfg.Beserver == "server")
		if err != nil {
			return nil, err
		}
		n.tls = tc
	}
	if cfg.Beserver == "server" {
		l, err := newTCPListener(h, "tcp out", cfg.Port, n.tls)
		if err != nil {
			return nil, err
		}
		// Node-RED's tcp out server reads nothing it is sent.
		l.serve = func(_ context.Context, c *tcpConn) { _, _ = io.Copy(io.Discard, c.conn) }
		n.listener = l
	}
	return n, nil
}

// Start listens (server) or starts connecting (client).
func (n *tcpOut) Start(ctx context.Context) error {
	ctx, n.cancel = context.WithCancel(ctx)
	switch n.cfg.Beserver {
	case "server":
		n.listener.start(ctx)
	case "client":
		n.wg.Add(1)
		n.h.Go(func() {
			defer n.wg.Done()
			n.client(ctx)
		})
	}
	return nil
}

// Close closes the node's connections and listener.
func (n *tcpOut) Close(context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	if n.listener != nil {
		n.listener.close()
	}
	n.mu.Lock()
	if n.conn != nil {
		n.conn.close()
	}
	n.mu.Unlock()
	n.wg.Wait()
	return nil
}

// client keeps a connection to host:port, reconnecting after a drop.
func (n *tcpOut) client(ctx context.Context) {
	host := n.cfg.Host
	if host == "" {
		host = "localhost"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(n.cfg.Port))
	for ctx.Err() == nil {
		n.h.Status(engine.Status{Fill: "grey", Shape: "dot", Text: "connecting"})
		c, err := dial(ctx, addr, n.tls)
		if err != nil {
			n.h.Logger().Info("tcp out: cannot connect", "addr", addr, "err", err)
			n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "disconnected"})
			if !sleepCtx(ctx, tcpReconnect) {
				return
			}
			continue
		}
		n.h.Logger().Info("tcp out: connected", "addr", addr)
		n.h.Status(engine.Status{Fill: "green", Shape: "dot", Text: "connected"})
		t := newTCPConn(c, n.h.Logger().Warn, n.h.Go)
		n.mu.Lock()
		n.conn = t
		n.mu.Unlock()
		stop := context.AfterFunc(ctx, t.close)
		_, _ = io.Copy(io.Discard, c) // until the connection ends
		stop()
		t.close()
		n.mu.Lock()
		ended := n.conn != t // Receive closed it after a message (end)
		if !ended {
			n.conn = nil
		}
		n.mu.Unlock()
		wait := tcpReconnect
		if ended {
			wait = 20 * time.Millisecond
		} else {
			n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "disconnected"})
		}
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

var (
	pathSessionType = mustPath("_session.type")
	pathSessionID   = mustPath("_session.id")
)

// Receive writes the payload.
func (n *tcpOut) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	switch n.cfg.Beserver {
	case "reply":
		reset := false
		if r, ok := m.Prop("reset"); ok {
			reset = r == true
		}
		do := func(c *tcpConn) {
			if reset {
				c.close()
			} else {
				c.write(tcpPayload(m.Payload, n.cfg.Base64), false)
			}
		}
		if typ, _ := m.Get(pathSessionType); typ == "tcp" {
			id, _ := m.Get(pathSessionID)
			if s, ok := id.(string); ok {
				if c, ok := tcpSessions.Load(s); ok {
					do(c.(*tcpConn))
				}
			}
			return nil
		}
		tcpSessions.Range(func(_, c any) bool {
			do(c.(*tcpConn))
			return true
		})
	case "server":
		if m.Payload == nil {
			return nil
		}
		b := tcpPayload(m.Payload, n.cfg.Base64)
		n.listener.each(func(c *tcpConn) { c.write(b, n.cfg.End) })
	default:
		if m.Payload == nil {
			return nil
		}
		n.mu.Lock()
		c := n.conn
		if c != nil && n.cfg.End {
			n.conn = nil // the next message waits for a new connection
		}
		n.mu.Unlock()
		if c == nil {
			return nil // not connected: dropped, as in Node-RED
		}
		c.write(tcpPayload(m.Payload, n.cfg.Base64), false)
		if n.cfg.End {
			c.closeAfterWrites()
		}
	}
	return nil
}
