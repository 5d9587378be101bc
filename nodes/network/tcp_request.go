package network

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// TCPRequestConfig is the configuration of a tcp-request node (Node-RED's
// "tcp request").
type TCPRequestConfig struct {
	Server  string `json:"server" label:"Server" help:"Host to connect to; empty: msg.host"`
	Port    int    `json:"port" label:"Port" min:"0" max:"65535" help:"Empty: msg.port"`
	Out     string `json:"out" label:"Return" default:"time" options:"time=after a fixed timeout of (ms),char=when character received is,count=a fixed number of bytes,sit=never - keep connection open,immed=immediately - don't wait for reply"`
	Splitc  string `json:"splitc" label:"Timeout, character or count" default:"0" showif:"out=time,char,count" help:"ms for time; a character, \\n-style escape or 0xNN for char; bytes for count"`
	Ret     string `json:"ret" label:"Output" default:"buffer" options:"buffer=Buffer,string=String"`
	Newline string `json:"newline" label:"Split string at" showif:"out=sit;ret=string"`
	Trim    bool   `json:"trim" label:"Re-attach delimiter" showif:"out=sit;ret=string"`
	TLS     string `json:"tls" label:"TLS configuration" node:"tls-config"`
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "tcp-request",
		Category: "network",
		Label:    "tcp request",
		Inputs:   1,
		Outputs:  1,
		Color:    "Silver",
		Icon:     "bridge-dash.svg",
		Labels:   []engine.LabelRule{{Text: "tcp:{server}:{port}"}},
		Help: `Sends msg.payload to a TCP server (the configured host and port, else msg.host and msg.port) and
returns its answer as msg.payload, the rest of the message kept: after a fixed time from the first byte
(ms), when a given character arrives (included), after a number of bytes, or, with "keep connection open",
every chunk as it arrives (split into lines when returned as a string with a delimiter); "immediately"
sends and closes without waiting. One connection per host:port, reused while it is open; messages that
arrive while it connects are queued (1000 at most, the oldest dropped). In "keep connection open" mode
msg.reset = true closes every connection, msg.reset = "host:port" one.

Differs from Node-RED: an answer is at most 1 MiB (what has arrived is sent and the connection closed);
a character to wait for above 0xFF never matches (Node-RED compares a UTF-16 code to a byte too).`,
	}, newTCPRequest))
}

// tcpRequest is a tcp-request node.
type tcpRequest struct {
	h       *engine.Host
	cfg     TCPRequestConfig
	out     string // time, char, count, sit ("immed" is time with splitc -1)
	splitc  int    // ms, byte or count
	newline string
	tls     *tls.Config

	mu      sync.Mutex
	clients map[string]*reqClient
	closed  bool
	wg      sync.WaitGroup
}

// reqClient is one connection of a tcp-request node, by host:port.
type reqClient struct {
	key       string
	conn      *tcpConn // nil while connecting
	pending   [][]byte // payloads waiting for the connection
	last      *engine.Message
	output    engine.Output
	buf       []byte
	timer     *time.Timer
	chunk     []byte // sit mode: text waiting for its delimiter
	cancelled bool
}

// tcpRequestQueue is Node-RED's tcpMsgQueueSize.
const tcpRequestQueue = 1000

func newTCPRequest(cfg *TCPRequestConfig, h *engine.Host) (engine.Node, error) {
	n := &tcpRequest{h: h, cfg: *cfg, out: cfg.Out, clients: map[string]*reqClient{},
		newline: unescapeNewline(cfg.Newline)}
	tc, err := tlsFor(h, cfg.TLS, false)
	if err != nil {
		return nil, err
	}
	n.tls = tc
	s := strings.TrimSpace(cfg.Splitc)
	switch cfg.Out {
	case "immed":
		n.out, n.splitc = "time", -1
	case "char":
		switch {
		case strings.HasPrefix(s, `\`):
			esc := map[string]int{`\n`: 0x0a, `\r`: 0x0d, `\t`: 0x09, `\e`: 0x1b, `\f`: 0x0c, `\0`: 0}
			v, ok := esc[s]
			if !ok {
				return nil, engine.ErrFieldf("splitc", "unknown escape %q: want \\n, \\r, \\t, \\e, \\f or \\0", s)
			}
			n.splitc = v
		case strings.HasPrefix(s, "0x"):
			v, err := strconv.ParseInt(s[2:], 16, 32)
			if err != nil {
				return nil, engine.ErrFieldf("splitc", "invalid character code %q", s)
			}
			n.splitc = int(v)
		case cfg.Splitc == "":
			return nil, engine.ErrFieldf("splitc", "the character to wait for is missing")
		default:
			r := []rune(cfg.Splitc)
			n.splitc = int(r[0])
		}
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			return nil, engine.ErrFieldf("splitc", "want a number, got %q", cfg.Splitc)
		}
		n.splitc = int(v)
		if cfg.Out == "count" {
			if n.splitc > tcpMaxMessage {
				return nil, engine.ErrFieldf("splitc", "at most %d bytes", tcpMaxMessage)
			}
			n.splitc = max(n.splitc, 1) // Node-RED's count of 0 returns one byte
		}
	}
	return n, nil
}

// Close closes every connection and waits for their goroutines.
func (n *tcpRequest) Close(context.Context) error {
	n.mu.Lock()
	n.closed = true
	for k, c := range n.clients {
		n.dropLocked(k, c)
	}
	n.mu.Unlock()
	n.wg.Wait()
	n.h.Status(engine.Status{})
	return nil
}

// dropLocked forgets client c and closes its connection.
func (n *tcpRequest) dropLocked(key string, c *reqClient) {
	if n.clients[key] == c {
		delete(n.clients, key)
	}
	c.cancelled = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.conn != nil {
		c.conn.close()
	}
}

// Receive sends the payload on the connection to host:port, opening it
// if need be.
func (n *tcpRequest) Receive(ctx context.Context, m *engine.Message, out engine.Output) error {
	host := n.cfg.Server
	if host == "" {
		if v, ok := m.Prop("host"); ok && v != nil {
			host = engine.ToString(v)
		}
	}
	port := n.cfg.Port
	if port == 0 {
		if v, ok := m.Prop("port"); ok && v != nil {
			p, err := strconv.Atoi(engine.ToString(v))
			if err != nil || p < 1 || p > 65535 {
				return fmt.Errorf("tcp request: invalid msg.port %q", engine.ToString(v))
			}
			port = p
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	if n.out == "sit" {
		if r, ok := m.Prop("reset"); ok {
			switch rv := r.(type) {
			case bool:
				if rv {
					for k, c := range n.clients {
						n.dropLocked(k, c)
					}
				}
			case string:
				if c, ok := n.clients[rv]; ok && strings.Contains(rv, ":") {
					n.dropLocked(rv, c)
				}
			}
			cc := len(n.clients)
			shape := "dot"
			if cc == 0 {
				shape = "ring"
			}
			n.h.Status(engine.Status{Fill: "green", Shape: shape, Text: fmt.Sprintf("%d connections", cc)})
			if _, has := m.Prop("payload"); !has || m.Payload == nil {
				return nil
			}
		}
	}
	if host == "" || port == 0 {
		n.h.Logger().Warn("tcp request: no host or port: set them in the node or in msg.host and msg.port")
		return nil
	}
	var payload []byte
	if m.Payload != nil {
		payload = tcpPayload(m.Payload, false)
	}
	key := host + ":" + strconv.Itoa(port)
	c := n.clients[key]
	if c == nil {
		c = &reqClient{key: key}
		n.clients[key] = c
		n.wg.Add(1)
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		n.h.Go(func() {
			defer n.wg.Done()
			n.run(ctx, c, addr)
		})
	}
	c.last, c.output = m, out
	switch {
	case c.conn == nil:
		if payload != nil {
			if len(c.pending) == tcpRequestQueue {
				c.pending = c.pending[1:]
			}
			c.pending = append(c.pending, payload)
		}
	case payload != nil:
		c.conn.write(payload, false)
	}
	return nil
}

// run connects c, writes what waited, and reads the answers.
func (n *tcpRequest) run(ctx context.Context, c *reqClient, addr string) {
	conn, err := dial(ctx, addr, n.tls)
	n.mu.Lock()
	if err != nil || c.cancelled {
		last := c.last
		n.dropLocked(c.key, c)
		n.mu.Unlock()
		if err == nil {
			conn.Close()
			return
		}
		// Not under n.mu: a catch flow runs on this goroutine and may
		// send to this node again.
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "error"})
		n.h.Error(fmt.Errorf("tcp request: cannot connect to %s: %w", addr, err), last)
		return
	}
	t := newTCPConn(conn, n.h.Logger().Warn, n.h.Go)
	c.conn = t
	for _, p := range c.pending {
		t.write(p, false)
	}
	c.pending = nil
	n.h.Status(engine.Status{Fill: "green", Shape: "dot", Text: fmt.Sprintf("%d connections", len(n.clients))})
	if n.out == "time" && n.splitc < 0 { // immed: send and close
		t.closeAfterWrites()
		if n.clients[c.key] == c {
			delete(n.clients, c.key)
		}
		n.h.Status(engine.Status{})
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	buf := make([]byte, 64<<10)
	for {
		k, err := conn.Read(buf)
		if k > 0 {
			n.mu.Lock()
			if !c.cancelled {
				n.data(c, buf[:k])
			}
			n.mu.Unlock()
		}
		if err != nil {
			n.mu.Lock()
			if n.clients[c.key] == c && c.timer == nil {
				delete(n.clients, c.key) // the next message connects again
			}
			n.mu.Unlock()
			t.close()
			return
		}
	}
}

// data handles bytes read for c, with n.mu held.
func (n *tcpRequest) data(c *reqClient, b []byte) {
	if n.out == "sit" {
		if n.cfg.Ret == "string" && n.newline != "" {
			c.chunk = append(c.chunk, b...)
			for {
				i := bytes.Index(c.chunk, []byte(n.newline))
				if i < 0 {
					break
				}
				s := jsutf8.Decode(c.chunk[:i])
				if n.cfg.Trim {
					s += n.newline
				}
				n.reply(c, s)
				c.chunk = c.chunk[i+len(n.newline):]
			}
			if len(c.chunk) > tcpMaxMessage {
				n.h.Logger().Warn("tcp request: line too long: connection closed", "addr", c.key, "max", tcpMaxMessage)
				n.dropLocked(c.key, c)
			}
			return
		}
		n.reply(c, n.convert(bytes.Clone(b)))
		return
	}
	for _, x := range b {
		switch n.out {
		case "time":
			c.buf = append(c.buf, x)
			if c.timer == nil {
				c.timer = time.AfterFunc(time.Duration(n.splitc)*time.Millisecond, func() {
					defer func() {
						if v := recover(); v != nil {
							n.h.ReportPanic(v)
						}
					}()
					n.mu.Lock()
					defer n.mu.Unlock()
					if !c.cancelled {
						n.finish(c)
					}
				})
			}
		case "count":
			c.buf = append(c.buf, x)
			if len(c.buf) >= n.splitc {
				n.finish(c)
				return
			}
		default: // char
			c.buf = append(c.buf, x)
			if int(x) == n.splitc {
				n.finish(c)
				return
			}
		}
		if len(c.buf) >= tcpMaxMessage {
			n.h.Logger().Warn("tcp request: answer too large: sent as it is, connection closed", "addr", c.key, "max", tcpMaxMessage)
			n.finish(c)
			return
		}
	}
}

// finish sends the answer gathered for c and closes its connection, with
// n.mu held.
func (n *tcpRequest) finish(c *reqClient) {
	b := c.buf
	c.buf = nil
	n.reply(c, n.convert(b))
	n.dropLocked(c.key, c)
	n.h.Status(engine.Status{})
}

// reply sends a copy of the last message sent to c with payload p. It
// runs with n.mu held; sending is synchronous, so the flow downstream
// must not come back to this node (the graph is a DAG).
func (n *tcpRequest) reply(c *reqClient, p any) {
	if c.last == nil {
		return
	}
	m := c.last.Copy()
	m.SetProp("payload", p)
	c.output.Send(0, m)
}

func (n *tcpRequest) convert(b []byte) any {
	if n.cfg.Ret == "string" {
		return jsutf8.Decode(b)
	}
	return b
}
