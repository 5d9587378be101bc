package broker

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// guard holds what every accepted connection's guardConn needs.
type guard struct {
	srv            *mqtt.Server
	maxPacket      uint32
	connectTimeout time.Duration
	out            *outPolicy // nil: write everything (see outPolicy)
	// connack, if set, is called with the client as its CONNACK is
	// written: after mochi has handed it the session it takes over, if
	// any, and before mochi resends that session's queued messages.
	connack func(cl *mqtt.Client)
}

// wrap prepares an accepted connection for mochi: it must send CONNECT
// within the connect timeout (mochi itself waits forever for the first
// packet; it replaces this deadline with the keep alive one once CONNECT
// is read), and its packets are measured as they arrive so that an
// oversized one is refused before mochi reads it. entered is called once,
// when mochi first reads (or never will).
func (g *guard) wrap(c net.Conn, entered func()) *guardConn {
	if g.connectTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(g.connectTimeout))
	}
	return &guardConn{Conn: c, g: g, entered: entered}
}

// errTooLarge is what Read returns once a packet over the limit starts.
var errTooLarge = packets.ErrPacketTooLarge

// guardConn is a client connection as mochi sees it. It follows the MQTT
// framing (type byte, remaining length, body) of the bytes it reads,
// without copying them, to spot a packet over the size limit from its
// header. Then it disconnects the client (MQTT 5: DISCONNECT 0x95), and
// lingers on close so that the client can read that packet before the
// connection goes.
type guardConn struct {
	net.Conn
	g *guard
	// cl is set by limitHook.OnConnect, on the goroutine that reads.
	cl *mqtt.Client
	// entered, if not nil, is called at the first Read, then set to nil.
	entered func()
	// wrote is set by the first Write (mochi writes under the client's
	// lock, so Writes never overlap).
	wrote bool
	out   outState // used by Write only
	// v3 is set by the first Write if the client speaks MQTT 3.
	v3 bool
	// fresh says that the client must be told it has no session (CONNACK
	// session present 0) although mochi found one: it was discarded (see
	// authHook.OnSessionEstablish).
	fresh atomic.Bool

	// framing state, used only by Read
	inLength bool // reading the remaining length's bytes
	lenBytes int  // bytes of the remaining length read so far
	length   int  // remaining length so far
	mult     int
	skip     int // body bytes still to pass
	tooLarge atomic.Bool
	// bulk says that the last read returned at least bulkRead bytes: the
	// client sends faster than it is read (see handOff.route).
	bulk atomic.Bool
}

// bulkRead is the size of a read that says its client sends in bulk.
// One reading of a sensor at a time is far smaller.
const bulkRead = 512

// Read reads from the connection and checks the packet sizes.
func (c *guardConn) Read(p []byte) (int, error) {
	if c.entered != nil {
		c.enter()
	}
	if c.tooLarge.Load() {
		return 0, errTooLarge
	}
	n, err := c.Conn.Read(p)
	if bulk := n >= bulkRead; bulk != c.bulk.Load() {
		c.bulk.Store(bulk)
	}
	if c.g.maxPacket > 0 && n > 0 && c.scan(p[:n]) {
		c.tooLarge.Store(true)
		if cl := c.cl; cl != nil {
			if cl.Properties.ProtocolVersion >= 5 {
				_ = c.g.srv.DisconnectClient(cl, packets.ErrPacketTooLarge)
			} else {
				cl.Stop(packets.ErrPacketTooLarge)
			}
		}
		return 0, errTooLarge
	}
	return n, err
}

// enter calls entered once; only the reading goroutine calls it.
func (c *guardConn) enter() {
	if f := c.entered; f != nil {
		c.entered = nil
		f()
	}
}

// writeOut writes packets after CONNACK, under the slow-subscriber policy
// when there is one.
func (c *guardConn) writeOut(p []byte) (int, error) {
	if c.g.out != nil {
		return c.g.out.write(c, p)
	}
	return c.Conn.Write(p)
}

// Write writes to the connection. The first packet the server writes is
// always CONNACK, written alone: it is completed there rather than in a
// hook, which would cost every packet a copy of mochi's packet struct.
//
// MQTT 3.1.1 defines DISCONNECT only from client to server, but mochi
// sends one to every client it disconnects (a session taken over, a
// refused publish, shutting down); for MQTT 3 clients those are dropped
// here, and the connection is just closed, as mosquitto does.
func (c *guardConn) Write(p []byte) (int, error) {
	if c.wrote {
		if c.v3 {
			// A walk of the packets' headers only: payloads are not
			// scanned, nor copied unless a DISCONNECT is among them.
			if q, ok := dropDisconnects(p); ok {
				if len(q) > 0 {
					if _, err := c.writeOut(q); err != nil {
						return 0, err
					}
				}
				return len(p), nil
			}
		}
		return c.writeOut(p)
	}
	c.wrote = true
	c.v3 = len(p) == 4 && p[0] == 0x20 && p[1] == 2
	if c.cl != nil && c.g.connack != nil {
		c.g.connack(c.cl)
	}
	if c.fresh.Load() {
		p = clearSessionPresent(p)
	}
	q, ok := fixConnack(p, c.g.maxPacket)
	if !ok {
		q = p
	}
	if _, err := c.Conn.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// clearSessionPresent returns an encoded CONNACK with its session present
// flag cleared (a copy if it was set).
func clearSessionPresent(p []byte) []byte {
	if len(p) < 4 || p[0] != 0x20 {
		return p
	}
	_, n, err := uvarint(p[1:])
	if err != nil || 1+n >= len(p) || p[1+n]&1 == 0 {
		return p
	}
	q := append([]byte(nil), p...)
	q[1+n] &^= 1
	return q
}

// dropDisconnects returns the packets in p without the DISCONNECT
// packets among them; ok is false if there are none, or if p does not
// hold whole packets (then it is written as it is).
func dropDisconnects(p []byte) (q []byte, ok bool) {
	for i := 0; i < len(p); {
		rem, n, err := uvarint(p[i+1:])
		end := i + 1 + n + rem
		if err != nil || end > len(p) {
			return nil, false
		}
		if p[i]&0xF0 == 0xE0 {
			if q == nil {
				q = make([]byte, 0, len(p))
				q = append(q, p[:i]...)
			}
			ok = true
		} else if q != nil {
			q = append(q, p[i:end]...)
		}
		i = end
	}
	return q, ok
}

// fixConnack rewrites an encoded CONNACK: an MQTT 5 one that accepts the
// client gets the Maximum Packet Size property (mochi does not send it),
// and an MQTT 3 one gets a return code its protocol has (mochi passes MQTT
// 5 reason codes it has no mapping for through, such as 0x82 for a bad
// protocol name). ok is false if p needs no change.
func fixConnack(p []byte, maxPacket uint32) (q []byte, ok bool) {
	if len(p) < 4 || p[0] != 0x20 {
		return nil, false
	}
	rem, n, err := uvarint(p[1:])
	if err != nil || 1+n+rem != len(p) {
		return nil, false
	}
	body := p[1+n:]
	if rem == 2 { // MQTT 3: flags, return code
		if body[1] <= 0x05 {
			return nil, false
		}
		q = append([]byte(nil), p...)
		q[len(q)-1] = v3ReturnCode(body[1])
		return q, true
	}
	// MQTT 5: flags, reason code, properties length, properties.
	if body[1] >= 0x80 || maxPacket == 0 {
		return nil, false
	}
	plen, pn, err := uvarint(body[2:])
	if err != nil || 2+pn+plen != len(body) {
		return nil, false
	}
	props := append(body[2+pn:len(body):len(body)], 0x27, byte(maxPacket>>24), byte(maxPacket>>16), byte(maxPacket>>8), byte(maxPacket))
	nb := append([]byte{body[0], body[1]}, binary.AppendUvarint(nil, uint64(len(props)))...)
	nb = append(nb, props...)
	q = append([]byte{0x20}, binary.AppendUvarint(nil, uint64(len(nb)))...)
	return append(q, nb...), true
}

// uvarint decodes an MQTT variable byte integer (at most 4 bytes).
func uvarint(b []byte) (v, n int, err error) {
	x, n := binary.Uvarint(b)
	if n <= 0 || n > 4 {
		return 0, 0, errors.New("bad variable byte integer")
	}
	return int(x), n, nil
}

// scan follows the framing through b and reports a packet whose total
// size is over the limit.
func (c *guardConn) scan(b []byte) bool {
	i, n := 0, len(b)
	for i < n {
		if c.skip > 0 {
			if left := n - i; c.skip >= left {
				c.skip -= left
				return false
			}
			i += c.skip
			c.skip = 0
			continue
		}
		if !c.inLength { // the type byte
			c.inLength, c.lenBytes, c.length, c.mult = true, 0, 0, 1
			i++
			continue
		}
		x := b[i]
		i++
		c.length += int(x&0x7f) * c.mult
		c.mult <<= 7
		c.lenBytes++
		if x&0x80 != 0 && c.lenBytes < 4 {
			continue
		}
		// A fifth length byte is malformed; mochi refuses that itself.
		c.inLength = false
		if 1+c.lenBytes+c.length > int(c.g.maxPacket) {
			return true
		}
		c.skip = c.length
	}
	return false
}

// Close closes the connection. After an oversized packet it first shuts
// down the sending side and reads what the client still sends for a
// moment: closing with unread data would reset the connection, and the
// client could lose the DISCONNECT before reading it.
func (c *guardConn) Close() error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !c.tooLarge.Load() || !ok {
		return c.Conn.Close()
	}
	err := cw.CloseWrite()
	go func() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, 64<<20))
		c.Conn.Close()
	}()
	if errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
