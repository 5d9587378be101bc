package broker

import (
	"encoding/binary"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A client that stops reading must cost only itself. mochi writes to a
// client while it holds the client's lock, and every publisher to the
// client takes that lock for a packet id, so the writes must never wait
// for the client's socket: nbConn keeps what the socket does not take
// pending and writes it out from a goroutine of its own. What is pending
// is bounded in bytes (Limits.MaxQueuedBytes): the flows' own messages
// check it as they queue (nbConn.queue), and mochi's deliveries as they
// are written (outPolicy), where a message to a client that is that far
// behind is dropped and counted, as mosquitto drops what passes its
// max_queued_messages and max_queued_bytes:
//   - QoS 0: dropped.
//   - QoS 1 and 2: dropped, and taken out of the client's inflight
//     messages (and its stored session), as mochi does when its own queue
//     of writes is full, so that the slot is free again once the client
//     reads.
//   - A resend of a stored QoS 1 or 2 message (DUP, sent when a
//     persistent session reconnects) is not dropped: it stays stored and
//     is sent again at the session's next connection.
//   - A message to an MQTT 5 client that maps a topic alias (mapsAlias)
//     is not dropped either, however far behind the client is.

// backlogger is a connection that reports the bytes of output it holds
// that its socket has not taken yet.
type backlogger interface{ backlog() int }

// outLimits bound the output pending on one connection (see nbConn).
type outLimits struct {
	// soft: messages to a client with this many bytes pending are
	// dropped (Limits.MaxQueuedBytes).
	soft int
	// hard: a connection whose pending output would pass it is closed.
	hard int
}

// hardPacketRoom is the most room the hard bound leaves for packets let
// through past the soft bound: output that starts below the soft bound
// passes whatever its size (nbConn.overLocked), so a larger
// max_packet_size, or none (0), needs no more.
const hardPacketRoom = 1 << 20

// newOutLimits derives the bounds from Limits: the hard bound leaves room
// over the soft one for a batch of mochi's (clientWriteBuffer), messages
// that map topic aliases, resends, and the control packets of a client
// that sends while it does not read.
func newOutLimits(l *Limits) *outLimits {
	soft := int(min(l.MaxQueuedBytes, math.MaxInt32/4))
	pk := hardPacketRoom
	if l.MaxPacketSize > 0 && l.MaxPacketSize < hardPacketRoom {
		pk = int(l.MaxPacketSize)
	}
	return &outLimits{soft: soft, hard: 2*soft + 2*pk + clientWriteBuffer + 1<<20}
}

// outPolicy applies the bound to what mochi writes to a client.
type outPolicy struct {
	srv *mqtt.Server
	lim *outLimits
	log *slog.Logger
	// qosDropped, if not nil, is told of a QoS 1 or 2 message dropped
	// (the persistence hook, which deletes its stored copy).
	qosDropped func(*mqtt.Client, packets.Packet)
}

// outState is a guardConn's part of the policy; only the writer (under
// the client's lock) uses it.
type outState struct {
	resolved bool
	bl       backlogger // nil: writes wait for the socket (not Linux)
	dropped  int        // messages dropped since the last warning
	warned   time.Time  // when the last warning was logged
}

// warnEvery spaces the warnings about one client's drops.
const warnEvery = 10 * time.Second

// write writes p, whole packets encoded by mochi, to c's connection,
// without the PUBLISH packets the bound drops. It reports all of p
// written unless the connection fails.
func (o *outPolicy) write(c *guardConn, p []byte) (int, error) {
	s := &c.out
	if !s.resolved {
		s.bl, s.resolved = backlogOf(c.Conn), true
	}
	if s.bl == nil || s.bl.backlog() < o.lim.soft {
		return c.Conn.Write(p)
	}
	kept := 0 // start of the bytes not yet written
	for i := 0; i < len(p); {
		rem, n, err := uvarint(p[i+1:])
		end := i + 1 + n + rem
		if err != nil || end > len(p) {
			break // not whole packets (never from mochi): write as is
		}
		if p[i]>>4 != packets.Publish || mapsAlias(c.cl, p[i], p[i+1+n:end]) {
			i = end
			continue
		}
		if kept < i {
			if _, err := c.Conn.Write(p[kept:i]); err != nil {
				return kept, err
			}
		}
		o.skip(c, p[i], p[i+1+n:end], end-i)
		i, kept = end, end
	}
	if kept < len(p) {
		if _, err := c.Conn.Write(p[kept:]); err != nil {
			return kept, err
		}
	}
	return len(p), nil
}

// mapsAlias reports whether a PUBLISH packet to an MQTT 5 client (flags
// in first, body after its fixed header) carries both a topic name and a
// Topic Alias. mochi gives a client's outbound topic an alias once, in
// the first message on it, and sends later ones with the alias only; if
// that first one were dropped, the client could not resolve any of them
// (an unknown alias is a protocol error), so it is written whatever the
// bound. It costs one message per topic and client.
func mapsAlias(cl *mqtt.Client, first byte, body []byte) bool {
	if cl == nil || cl.Properties.ProtocolVersion != 5 || cl.Properties.Props.TopicAliasMaximum == 0 || len(body) < 2 {
		return false
	}
	tl := int(binary.BigEndian.Uint16(body))
	if tl == 0 {
		return false // alias only
	}
	at := 2 + tl
	if (first>>1)&3 > 0 {
		at += 2 // packet id
	}
	if at >= len(body) {
		return false
	}
	plen, n, err := uvarint(body[at:])
	if err != nil || at+n+plen > len(body) {
		return false
	}
	props := body[at+n : at+n+plen]
	str := func(j int) int { // the index after a string or binary value at j
		if j+2 > len(props) {
			return len(props)
		}
		return j + 2 + int(binary.BigEndian.Uint16(props[j:]))
	}
	for j := 0; j < len(props); {
		id := props[j]
		j++
		switch id {
		case 0x23: // Topic Alias
			return true
		case 0x01: // Payload Format Indicator
			j++
		case 0x02: // Message Expiry Interval
			j += 4
		case 0x03, 0x08, 0x09: // Content Type, Response Topic, Correlation Data
			j = str(j)
		case 0x26: // User Property
			j = str(str(j))
		case 0x0B: // Subscription Identifier
			_, m, err := uvarint(props[j:])
			if err != nil {
				return false
			}
			j += m
		default:
			return false // not a PUBLISH property
		}
	}
	return false
}

// skip leaves out one PUBLISH packet of size bytes (flags in its first
// byte, body after its fixed header), which mochi has counted as sent.
func (o *outPolicy) skip(c *guardConn, first byte, body []byte, size int) {
	info := o.srv.Info
	atomic.AddInt64(&info.MessagesSent, -1)
	atomic.AddInt64(&info.PacketsSent, -1)
	atomic.AddInt64(&info.BytesSent, -int64(size))
	qos := (first >> 1) & 3
	dup := first&0x08 != 0
	cl := c.cl
	if qos > 0 && dup {
		return // stays stored: see above
	}
	atomic.AddInt64(&info.MessagesDropped, 1)
	if qos > 0 && cl != nil && len(body) >= 2 {
		if tl := int(binary.BigEndian.Uint16(body)); len(body) >= 2+tl+2 {
			id := binary.BigEndian.Uint16(body[2+tl:])
			if cl.State.Inflight.Delete(id) {
				atomic.AddInt64(&info.Inflight, -1)
				cl.State.Inflight.IncreaseSendQuota()
				if o.qosDropped != nil {
					o.qosDropped(cl, packets.Packet{
						FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
						PacketID:    id,
					})
				}
			}
		}
	}
	s := &c.out
	s.dropped++
	if now := time.Now(); now.Sub(s.warned) >= warnEvery {
		id := ""
		if cl != nil {
			id = cl.ID
		}
		o.log.Warn("mqtt client does not keep up: dropping messages to it while its output is over max_queued_bytes",
			"client", id, "dropped", s.dropped, "pending_bytes", s.bl.backlog(), "max_queued_bytes", o.lim.soft)
		s.warned, s.dropped = now, 0
	}
}

// outLimits returns the bounds of the guarded connections' output.
func (g *guard) outLimits() *outLimits {
	if g.out != nil {
		return g.out.lim
	}
	l := DefaultLimits()
	return newOutLimits(&l)
}
