package broker

import (
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
}

// wrap prepares an accepted connection for mochi: it must send CONNECT
// within the connect timeout (mochi itself waits forever for the first
// packet; it replaces this deadline with the keep alive one once CONNECT
// is read), and its packets are measured as they arrive so that an
// oversized one is refused before mochi reads it.
func (g *guard) wrap(c net.Conn) *guardConn {
	if g.connectTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(g.connectTimeout))
	}
	return &guardConn{Conn: c, g: g}
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

	// framing state, used only by Read
	inLength bool   // reading the remaining length's bytes
	lenBytes uint32 // bytes of the remaining length read so far
	length   uint32 // remaining length so far
	mult     uint32
	skip     uint32 // body bytes still to pass
	tooLarge atomic.Bool
}

// Read reads from the connection and checks the packet sizes.
func (c *guardConn) Read(p []byte) (int, error) {
	if c.tooLarge.Load() {
		return 0, errTooLarge
	}
	n, err := c.Conn.Read(p)
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

// scan follows the framing through b and reports a packet whose total
// size is over the limit.
func (c *guardConn) scan(b []byte) bool {
	for len(b) > 0 {
		if c.skip > 0 {
			k := uint32(min(int64(c.skip), int64(len(b))))
			c.skip -= k
			b = b[k:]
			continue
		}
		if !c.inLength { // the type byte
			c.inLength, c.lenBytes, c.length, c.mult = true, 0, 0, 1
			b = b[1:]
			continue
		}
		x := b[0]
		b = b[1:]
		c.length += uint32(x&0x7f) * c.mult
		c.mult <<= 7
		c.lenBytes++
		if x&0x80 != 0 && c.lenBytes < 4 {
			continue
		}
		// A fifth length byte is malformed; mochi refuses that itself.
		c.inLength = false
		if 1+c.lenBytes+c.length > c.g.maxPacket {
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
