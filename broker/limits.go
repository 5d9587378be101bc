package broker

import (
	"fmt"
	"math"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/engine/config/defaults"
)

// Limits bound what clients may do. Start from DefaultLimits; in every
// field 0 means no limit, except where a field says otherwise.
type Limits struct {
	// MaxPacketSize is the largest packet a client may send, in bytes, as
	// the whole packet on the wire. A client that sends a bigger one is
	// disconnected (MQTT 5: DISCONNECT 0x95 packet too large). MQTT 5
	// clients are told the limit in CONNACK.
	MaxPacketSize uint32
	// MaxConnections is the most clients connected at once. Over it a
	// client gets CONNACK 0x89 server busy (MQTT 3.1.1: 0x03 server
	// unavailable), as mochi answers.
	MaxConnections int
	// MaxInflight is the most QoS 1 and 2 messages a client may have in
	// flight towards the broker (MQTT 5 Receive Maximum); must not be 0.
	MaxInflight uint16
	// MaxQueued is the most messages waiting for one client: packets not
	// yet written (any QoS), and QoS 1 and 2 messages not yet acknowledged,
	// also while a persistent session is offline (at most 65,535 of
	// those). More are dropped and counted; must not be 0. Each
	// connection reserves 8 bytes per slot (mochi's outbound channel):
	// 4,096 is 32 KiB. At 1,024 a subscriber fed 2,000 messages in a burst
	// (runnel bench's default window) lost about 1,000 of them.
	MaxQueued int32
	// MaxQueuedBytes bounds, in bytes, the output waiting for one client
	// that its socket has not taken (on Linux; elsewhere writes wait for
	// the socket): a message to a client with this much waiting is
	// dropped and counted (QoS 1 and 2 ones also leave its inflight
	// messages), so that a client that reads slowly or not at all holds
	// at most about this much, and nobody else waits for it. A message is
	// let through whatever its size while less is waiting. Must not be 0.
	MaxQueuedBytes int64
	// KeepaliveMin and KeepaliveMax bound the keep alive, in seconds. An
	// MQTT 5 client that asks for less than the minimum, more than the
	// maximum, or 0 (no keep alive) while the maximum is below 65535, is
	// given the bound in CONNACK (Server Keep Alive). An MQTT 3.1.1 client
	// cannot be told, so it is refused with CONNACK 0x02 (identifier
	// rejected), as mosquitto does for max_keepalive.
	KeepaliveMin, KeepaliveMax uint16
	// ConnectTimeout is how long a new connection may take to complete
	// its TLS handshake and send CONNECT; then it is closed.
	ConnectTimeout time.Duration
	// MessageExpiryMax caps how long a queued or retained message lives,
	// whatever expiry the publisher asked for.
	MessageExpiryMax time.Duration
	// SessionExpiryMax caps how long a disconnected persistent session is
	// kept, whatever the client asked for.
	SessionExpiryMax time.Duration
}

// DefaultMaxQueuedBytes is the default Limits.MaxQueuedBytes: at 8 MiB a
// gateway with a few stuck subscribers holds tens of MiB for them, and a
// subscriber that keeps up on average has room for bursts of thousands of
// small messages or 32 of 256 KiB.
const DefaultMaxQueuedBytes = defaults.BrokerMaxQueuedBytes

// DefaultLimits are the limits a broker has unless Options say otherwise:
// 1 MiB packets, any number of connections, 1,024 messages in flight and
// 4,096 or 8 MiB queued per client, keep alive unbounded, 10 s to send CONNECT,
// messages expire after at most 24 hours, sessions as long as clients ask
// (the values are in package defaults, which config starts from too).
func DefaultLimits() Limits {
	return Limits{
		MaxPacketSize:    defaults.BrokerMaxPacketSize,
		MaxInflight:      defaults.BrokerMaxInflight,
		MaxQueued:        defaults.BrokerMaxQueued,
		MaxQueuedBytes:   defaults.BrokerMaxQueuedBytes,
		KeepaliveMax:     defaults.BrokerKeepaliveMax,
		ConnectTimeout:   defaults.BrokerConnectTimeout,
		MessageExpiryMax: defaults.BrokerMessageExpiryMax,
	}
}

func (l *Limits) check() error {
	if l.MaxInflight == 0 {
		return fmt.Errorf("broker: MaxInflight must not be 0")
	}
	if l.MaxQueued <= 0 {
		return fmt.Errorf("broker: MaxQueued must be above 0")
	}
	if l.MaxQueuedBytes <= 0 {
		return fmt.Errorf("broker: MaxQueuedBytes must be above 0")
	}
	if l.KeepaliveMax == 0 {
		l.KeepaliveMax = 65535
	}
	if l.KeepaliveMin > l.KeepaliveMax {
		return fmt.Errorf("broker: KeepaliveMin %d is above KeepaliveMax %d", l.KeepaliveMin, l.KeepaliveMax)
	}
	return nil
}

// capabilities maps the limits onto mochi's.
func (l *Limits) capabilities() *mqtt.Capabilities {
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = l.MaxPacketSize
	if l.MaxConnections > 0 {
		caps.MaximumClients = int64(l.MaxConnections)
	}
	caps.ReceiveMaximum = l.MaxInflight
	caps.MaximumClientWritesPending = l.MaxQueued
	caps.MaximumInflight = uint16(min(l.MaxQueued, math.MaxUint16))
	caps.MaximumMessageExpiryInterval = int64(l.MessageExpiryMax / time.Second)
	caps.MaximumSessionExpiryInterval = math.MaxUint32
	if s := l.SessionExpiryMax / time.Second; s > 0 && s < math.MaxUint32 {
		caps.MaximumSessionExpiryInterval = uint32(s)
	}
	return caps
}

// limitHook applies the keep alive bounds, which mochi's capabilities do
// not cover, and hands each connection's guard its client.
type limitHook struct {
	mqtt.HookBase
	srv *mqtt.Server
	lim Limits
}

// ID and Provides complete mochi's Hook.
func (h *limitHook) ID() string { return "runnel-limits" }

func (h *limitHook) Provides(b byte) bool {
	return b == mqtt.OnConnect
}

// OnConnect runs after CONNECT is read, on the client's reading goroutine.
func (h *limitHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if g, ok := cl.Net.Conn.(*guardConn); ok {
		g.cl = cl
	}
	ka := pk.Connect.Keepalive
	want := ka
	switch {
	case ka == 0 && h.lim.KeepaliveMax < 65535, ka > h.lim.KeepaliveMax:
		want = h.lim.KeepaliveMax
	case ka != 0 && ka < h.lim.KeepaliveMin:
		want = h.lim.KeepaliveMin
	}
	if want == ka {
		return nil
	}
	if cl.Properties.ProtocolVersion >= 5 {
		cl.State.Keepalive = want
		cl.State.ServerKeepalive = true
		return nil
	}
	// 0x85 becomes 0x02 identifier rejected for MQTT 3.
	_ = h.srv.SendConnack(cl, packets.ErrClientIdentifierNotValid, false, nil)
	return fmt.Errorf("keep alive %d s outside [%d, %d]: refused (MQTT 3 clients cannot be told another)",
		ka, h.lim.KeepaliveMin, h.lim.KeepaliveMax)
}

// v3ReturnCode maps an MQTT 5 CONNACK reason code to the nearest MQTT
// 3.1.1 return code.
func v3ReturnCode(code byte) byte {
	switch code {
	case 0x80, 0x81, 0x82, 0x84: // unspecified, malformed, protocol error, version
		return 0x01 // unacceptable protocol version
	case 0x85: // client identifier not valid
		return 0x02
	case 0x86, 0x8C: // bad user name or password, bad authentication method
		return 0x04
	case 0x87, 0x8A: // not authorized, banned
		return 0x05
	default:
		return 0x03 // server unavailable
	}
}
