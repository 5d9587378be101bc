// Package broker is Runnel's embedded MQTT broker, built on
// mochi-mqtt/server/v2. It serves MQTT clients over TCP and hands matching
// messages to the flows in process, with no network hop.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/broker/topic"
	"github.com/runnel-io/runnel/engine"
)

// Options configure a Broker.
type Options struct {
	// Addr is the TCP listen address, such as 127.0.0.1:1883. Port 0 picks
	// a free port (see Broker.Addr). Empty means no TCP listener: only the
	// flows in process can publish and subscribe.
	Addr string
	// Logger receives the broker's log lines; client connections are
	// logged at debug level.
	Logger *slog.Logger
	// Auth says who may connect and what they may do (see AuthOptions).
	// The zero value accepts anonymous clients from loopback only and
	// allows them everything.
	Auth AuthOptions

	// TLSAddr, WSAddr and WSSAddr are the listen addresses of MQTT over
	// TLS, over WebSocket and over WebSocket with TLS (both at
	// WebSocketPath); "" means none. Port 0 picks a free port (see Addrs).
	TLSAddr, WSAddr, WSSAddr string
	// TLS names the certificate files of the TLS and WSS listeners.
	TLS TLSFiles
	// Limits bound what clients may do; nil means DefaultLimits().
	Limits *Limits

	// Persist is the SQLite database file (Runnel's DATA/runnel.db) in
	// which the broker keeps retained messages and persistent sessions
	// with their subscriptions and undelivered QoS 1 and 2 messages, so
	// that they survive a restart, also after a kill; its tables are
	// prefixed broker_. Empty: the broker keeps them in memory only.
	Persist string

	// HandOff runs the flows on a goroutine of their own for the
	// messages that network clients publish in bulk, instead of on the
	// reader of the publisher's connection (see handOff). The reader then
	// reads on while the flows take what it queued in batches: with one
	// thread (GOMAXPROCS) that is fewer switches and larger writes of the
	// flows' output, with more, reading and the flows overlap. Order is
	// kept, and a full queue slows the publishers down. A message now and
	// then still runs on its reader. Off, every message runs through the
	// flows before its publisher's next packet is read.
	HandOff bool

	// noFastOut sends the flows' messages through mochi's publish path
	// only (see fastOut), for tests that compare the two.
	noFastOut bool
}

// Broker is a running embedded broker. It implements engine.Broker.
type Broker struct {
	srv    *mqtt.Server
	flows  *flowSubs
	addrs  Addrs
	log    *slog.Logger
	closed atomic.Bool

	flowsACL *flowsACL // nil: the flows may publish and subscribe to anything
	// fast delivers the flows' QoS 0 messages in batches; nil: always
	// through mochi.
	fast *fastOut
	bt   *batcher
}

var _ engine.Broker = (*Broker)(nil)

// Start starts a broker with the given options. It returns once the
// listener is bound, so that clients can connect straight away.
func Start(opts Options) (b *Broker, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// mochi logs its own start-up chatter at info level; keep it for
	// debug runs only.
	mlog := log
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		mlog = slog.New(minLevel{log.Handler(), slog.LevelWarn})
	}
	auth, err := compileAuth(opts.Auth)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	lim := DefaultLimits()
	if opts.Limits != nil {
		lim = *opts.Limits
	}
	if err := lim.check(); err != nil {
		return nil, err
	}
	caps := lim.capabilities()
	// Clients refused by the ACL are told so (0x87 "not authorized"),
	// not given 0x80 "unspecified error" (off by default; kept off).
	caps.Compatibilities.ObscureNotAuthorized = false
	// mochi copies a PUBLISH's properties (user properties, response
	// topic, correlation data...) into its PUBACK or PUBREC, together
	// with a reason code a PUBACK does not have (0x01, "granted QoS 1"):
	// MQTT 5 allows only a reason string and user properties there, and
	// strict clients (the Eclipse Paho test client) refuse such a PUBACK.
	// Acknowledge with the packet id alone, as mosquitto does.
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	srv := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: caps,
		Logger:       mlog,
		// see clientWriteBuffer
		ClientNetWriteBufferSize: clientWriteBuffer,
	})
	if err := srv.AddHook(&limitHook{srv: srv, lim: lim}, nil); err != nil {
		return nil, fmt.Errorf("broker: add limits hook: %w", err)
	}
	ah := newAuthHook(auth, srv, log)
	if err := srv.AddHook(ah, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	if err := srv.AddHook(&connLog{log: log}, nil); err != nil {
		return nil, fmt.Errorf("broker: add log hook: %w", err)
	}
	if err := srv.AddHook(&sysAliases{srv: srv}, nil); err != nil {
		return nil, fmt.Errorf("broker: add $SYS hook: %w", err)
	}
	ns := &netSubs{srv: srv}
	if err := srv.AddHook(ns, nil); err != nil {
		return nil, fmt.Errorf("broker: add subscriptions hook: %w", err)
	}
	// Persistence goes after the hooks that may refuse a publish and
	// before the flows hook: see persistHook.OnPublish.
	out := &outPolicy{srv: srv, lim: newOutLimits(&lim), log: log}
	if opts.Persist != "" {
		ph, err := newPersistHook(opts.Persist, srv, log)
		if err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		defer func() {
			if b == nil {
				ph.Stop() // start-up failed
			}
		}()
		if err := srv.AddHook(ph, nil); err != nil {
			return nil, fmt.Errorf("broker: add persistence hook: %w", err)
		}
		out.qosDropped = ph.OnQosDropped
		ah.dropped = ph.OnQosDropped
	}
	// The flows hook goes last: see flowSubs.OnPublish.
	b = &Broker{srv: srv, log: log, flows: &flowSubs{net: ns}, flowsACL: auth.flows}
	bt := newBatcher()
	b.bt = bt
	if !opts.noFastOut {
		b.fast = &fastOut{srv: srv, subs: ns, acl: ah, flows: b.flows, b: bt, expiry: srv.Options.Capabilities.MaximumMessageExpiryInterval}
	}
	b.flows.handOff, b.flows.bt = opts.HandOff, bt
	if err := srv.AddHook(b.flows, nil); err != nil {
		return nil, fmt.Errorf("broker: add flows hook: %w", err)
	}
	if err := b.listen(&opts, &guard{srv: srv, maxPacket: lim.MaxPacketSize, connectTimeout: lim.ConnectTimeout, out: out, connack: ah.checkQueued}, bt); err != nil {
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	authNote(log, auth, b.addrs)
	return b, nil
}

// Addr returns the TCP address the broker listens on, or "" if none.
func (b *Broker) Addr() string { return b.addrs.TCP }

// Addrs returns the addresses of all the broker's listeners.
func (b *Broker) Addrs() Addrs { return b.addrs }

// Publish publishes a message as the flows' own client.
func (b *Broker) Publish(topic string, payload []byte, qos byte, retain bool) error {
	if b.closed.Load() {
		return errors.New("broker is closed")
	}
	if topic == "" {
		return errors.New("publish: empty topic")
	}
	if strings.IndexByte(topic, '+') >= 0 || strings.IndexByte(topic, '#') >= 0 {
		return fmt.Errorf("publish: topic %q must not contain + or #", topic)
	}
	if b.flowsACL != nil {
		if err := b.flowsACL.checkPublish(topic); err != nil {
			return err
		}
	}
	if qos == 0 && !retain && b.fast != nil && b.fast.publish(topic, payload) {
		return nil
	}
	return b.srv.Publish(topic, payload, retain, qos)
}

// Subscribe calls fn for every message that matches filter, on the
// publisher's goroutine, until cancel is called. A shared subscription
// ($share/group/filter) subscribes to filter: in process there is only one
// member of the group.
func (b *Broker) Subscribe(filter string, qos byte, fn func(engine.Delivery)) (func(), error) {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, f, found := strings.Cut(rest, "/")
		if !found || f == "" {
			return nil, fmt.Errorf("subscribe: invalid shared subscription %q", filter)
		}
		filter = f
	}
	if err := topic.ValidFilter(filter); err != nil {
		return nil, err
	}
	if b.flowsACL != nil {
		var err error
		if fn, err = b.flowsACL.subscribe(filter, fn); err != nil {
			return nil, err
		}
	}
	sub := &flowSub{levels: strings.Split(filter, "/"), qos: qos, fn: fn}
	if b.flows.handOff {
		sub.hand = b.flows.newHandOff(sub)
	}
	b.flows.add(sub)
	// Retained messages that match are delivered at once, as to any
	// new subscriber.
	for _, pk := range b.srv.Topics.Messages(filter) {
		sub.deliver(pk, false)
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			b.flows.remove(sub)
		}
	}, nil
}

// closeDrain bounds how long Close waits for the flows to take what was
// queued for them.
const closeDrain = time.Second

// Close disconnects every client and stops the listeners.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Write out what the flows queued last (what a subscriber's socket
	// cannot take now is dropped with its connection, as mochi drops
	// the QoS 0 messages still queued for a client).
	// What was queued for the flows reaches them first, unless a flow
	// blocks: Close waits for that at most closeDrain.
	waitAll(b.flows.handOffs(), closeDrain)
	b.bt.flush()
	// Disconnect each listener's clients first, with a walk of the
	// client list that takes its lock once: mochi's own walk
	// (Clients.GetByListener) read-locks it twice, and a client that
	// disconnects in between (Clients.Delete waits for the write lock)
	// deadlocks Close (mochi-mqtt/server#488). The listeners are then
	// closed, and mochi's Close below finds nothing left to do there.
	b.srv.Listeners.CloseAll(b.disconnectListener)
	return b.srv.Close()
}

// disconnectListener disconnects the clients of one listener, as the
// server shuts down.
func (b *Broker) disconnectListener(listener string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Listener == listener && !cl.Closed() {
			_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// ValidFilter checks an MQTT topic filter: not empty, '#' only as the last
// level, '+' only as a whole level. It is topic.ValidFilter, kept for
// callers that have not moved to package topic.
func ValidFilter(filter string) error { return topic.ValidFilter(filter) }

// connLog logs client connections at debug level.
type connLog struct {
	mqtt.HookBase
	log *slog.Logger
}

func (h *connLog) ID() string { return "runnel-connlog" }

// Provides is asked for every hook and event, on every publish: a switch,
// not a slice search.
func (h *connLog) Provides(b byte) bool {
	return b == mqtt.OnConnect || b == mqtt.OnDisconnect
}

func (h *connLog) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	h.log.Debug("client connected", slog.String("client", cl.ID), slog.String("remote", cl.Net.Remote))
	return nil
}

func (h *connLog) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	attrs := []any{slog.String("client", cl.ID)}
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()))
	}
	h.log.Debug("client disconnected", attrs...)
}

// minLevel is a slog handler that drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}

func (h minLevel) WithGroup(n string) slog.Handler {
	return minLevel{h.Handler.WithGroup(n), h.min}
}
