// Package remote connects the mqtt-in and mqtt-out nodes of one
// mqtt-broker config node to a remote MQTT broker: one connection, shared
// by those nodes, kept up with reconnects (exponential backoff with
// jitter), with every subscription renewed after a reconnect and a
// store-and-forward queue for the QoS 1 and 2 messages published while the
// broker is unreachable.
//
// MQTT 3.1.1 (and 3.1) go through github.com/eclipse/paho.mqtt.golang,
// MQTT 5 through github.com/eclipse/paho.golang's autopaho.
//
// Flow control: at most MaxInflight QoS 2 messages (default 10) are in
// flight at once over MQTT 3.1.1, below mosquitto's default
// max_inflight_messages of 20 (a broker that is sent more refuses the
// excess, which 3.1.1 cannot tell the client: they would be lost); MQTT 5
// messages go one at a time, within any Receive Maximum. A message leaves
// the queue only when its exchange completed with success (PUBACK, or
// PUBCOMP after a PUBREC, with a reason code below 0x80); a publish that
// failed is logged, counted and sent again, over a new connection.
//
// Publishing keeps order: a QoS 1 or 2 message goes straight to the broker
// when it is connected and nothing waits in the queue; otherwise it goes
// to the back of the queue, which is sent, oldest first, after the next
// connect. Messages that were sent but not acknowledged when the
// connection dropped go back to the front of the queue, so that QoS 1's
// at-least-once holds across reconnects and restarts (a broker may then
// see such a message twice). QoS 0 messages are never queued: while the
// broker is unreachable they are dropped and counted.
package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	mqtttopic "github.com/runnel-io/runnel/broker/topic"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/nodes/internal/outbox"
)

// State is a connection's state.
type State int

// The states, as the nodes show them.
const (
	Connecting   State = iota // yellow ring "connecting"
	Connected                 // green dot "connected"
	Disconnected              // red ring "disconnected"
)

// Status returns how a node using the connection shows the state, as
// Node-RED does.
func (s State) Status() engine.Status {
	switch s {
	case Connected:
		return engine.Status{Fill: "green", Shape: "dot", Text: "connected"}
	case Disconnected:
		return engine.Status{Fill: "red", Shape: "ring", Text: "disconnected"}
	}
	return engine.Status{Fill: "yellow", Shape: "ring", Text: "connecting"}
}

func (s State) String() string { return s.Status().Text }

// Message is a message the connection publishes on (dis)connect: birth,
// close and will.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Options configure a connection.
type Options struct {
	// Name identifies the connection in log lines (the config node's id).
	Name string
	// URL is the broker's address: mqtt://host:port or mqtts://host:port
	// (ws:// and wss:// for MQTT over WebSocket with MQTT 3.1.1).
	URL string
	// TLS is used for mqtts:// and wss://.
	TLS *tls.Config
	// Version is 3 (MQTT 3.1), 4 (3.1.1) or 5.
	Version int
	// ClientID is the client identifier; a random one when empty.
	ClientID     string
	KeepAlive    time.Duration
	CleanSession bool
	// Username and Password authenticate; never logged.
	Username, Password string
	// Birth is published after each connect, Close before a clean
	// disconnect, and Will is the broker's last will; each may be nil.
	Birth, Close, Will *Message
	// Queue keeps the messages waiting for the broker; an in-memory queue
	// with default bounds when nil. The connection closes it.
	Queue outbox.Queue
	// Backoff is the reconnect delay: exponential from MinBackoff to
	// MaxBackoff with jitter (defaults 500 ms and 2 s), so that a broker
	// that comes back is used within MaxBackoff however long it was away.
	MinBackoff, MaxBackoff time.Duration
	// MaxInflight bounds the QoS 2 messages sent and not yet completed
	// over MQTT 3 and 3.1.1, which have no flow control (default 10).
	MaxInflight int
	// Logger receives the connection's log lines.
	Logger *slog.Logger
	// Go starts the connection's goroutines (a go statement when nil);
	// the mqtt-broker node passes engine.Host.Go, so that a panic in one
	// is reported against the node instead of ending the process.
	Go func(fn func())
	// OnPanic receives a panic recovered from a subscription's handler,
	// which runs on the MQTT client's goroutines (the panic is dropped
	// when nil); the mqtt-broker node passes engine.Host.ReportPanic.
	OnPanic func(v any)
}

// session is one protocol's client, connected or reconnecting.
type session interface {
	// publish sends a message and returns a function that waits for its
	// acknowledgement. rejected reports a message the broker refused,
	// which should not be retried.
	publish(ctx context.Context, m *outbox.Message) (wait func(context.Context) (rejected bool, err error))
	// subscribe subscribes to filters (filter to QoS).
	subscribe(ctx context.Context, filters map[string]byte) error
	unsubscribe(ctx context.Context, filter string) error
	// close publishes the close message if connected, disconnects, and
	// stops reconnecting.
	close(ctx context.Context)
	// drop ends the connection after a publish failed on it, so that
	// what was in flight is sent again on a new one (a QoS 2 message
	// sent again on the same connection would be a new message).
	drop(err error)
}

// client is one protocol's client across its connections; it reconnects
// by itself until closed. Each connection is a session (Conn.cur).
type client interface {
	// close publishes the close message if connected, disconnects, and
	// stops reconnecting.
	close(ctx context.Context)
}

// Conn is a connection to a remote broker shared by the nodes of one
// mqtt-broker config node. It implements engine.Broker.
type Conn struct {
	opts   Options
	log    *slog.Logger
	jitter *jitter
	sess   client

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // the sender stopped

	// sending
	mu      sync.Mutex
	online  bool
	cur     session // set while online
	curCtx  context.Context
	curStop context.CancelFunc // cancels curCtx when the connection drops
	gen     uint64             // bumped on every connect and disconnect
	mem     []outbox.Message
	memSent int   // mem[:memSent] are published and wait for acknowledgement
	qSent   int64 // the queue's messages up to this seq are published (this gen)
	q2      int   // QoS 2 messages published and not completed (this gen)
	closing bool
	q       outbox.Queue
	wake    chan struct{}
	idle    chan struct{} // closed and replaced when the backlog empties

	droppedQoS0 atomic.Uint64
	rejected    atomic.Uint64
	sent        atomic.Uint64
	failures    atomic.Uint64
	failLog     atomic.Int64 // when a failure was last logged, Unix nanoseconds

	// subscriptions and status
	smu      sync.RWMutex
	subs     map[*sub]struct{}
	filters  map[string]*filterRef
	state    State
	stateSeq uint64 // how many times state changed (see watcher.deliver)
	// watchGap, when set (tests), runs in Watch between reading the state
	// and handing it to the new watcher: where a state change can slip in.
	watchGap func()
	watchers map[*watcher]struct{}
}

type sub struct {
	filter string // as subscribed, maybe $share/group/...
	match  []string
	qos    byte
	rap    bool // asks for retain-as-published (MQTT 5)
	fn     func(engine.Delivery)
	last   atomic.Int64 // when a message last came, Unix nanoseconds
}

type filterRef struct {
	n   int
	qos byte
	rap int // how many of the n ask for retain-as-published
}

// SubOptions are MQTT 5 subscription options; an MQTT 3.1.1 connection
// ignores them.
type SubOptions struct {
	// RetainAsPublished asks the broker to keep the retain flag of
	// messages published while the subscription exists (Node-RED's rap).
	// The broker holds one subscription per filter: it has the option
	// when any subscriber of the filter asks for it.
	RetainAsPublished bool
}

// watcher is one Watch: fn gets the states in the order they were set,
// each once at most, never an older one after a newer (see deliver).
type watcher struct {
	fn   func(State)
	mu   sync.Mutex
	last uint64 // the change number of the last state fn got
}

// deliver calls fn with s, the state of change number seq, unless fn has
// had a later one: Watch's first call and setState's calls run on
// different goroutines, so without this a watcher could end on a state
// older than the connection's ("connecting" after "connected").
func (w *watcher) deliver(seq uint64, s State) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq <= w.last && w.last != 0 {
		return
	}
	w.last = seq
	w.fn(s)
}

// DefaultMaxInflight is Options.MaxInflight's default: half of mosquitto's
// default max_inflight_messages.
const DefaultMaxInflight = 10

// DefaultMaxBackoff is Options.MaxBackoff's default.
const DefaultMaxBackoff = 2 * time.Second

// memMax bounds the messages sent but not yet acknowledged outside the
// queue; beyond it new messages go to the queue.
const memMax = 1024

// batch is how many messages the sender has in flight at most.
const batch = 128

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, 2*o.MinBackoff)
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = DefaultMaxInflight
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 60 * time.Second
	}
	if o.Queue == nil {
		o.Queue = outbox.NewMemory(o.Name, outbox.Limits{}, o.Logger)
	}
	return o
}

// Dial starts connecting to the broker in the background and returns the
// connection, which reconnects until Close.
func Dial(opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	c := &Conn{
		opts:     opts,
		jitter:   newJitter(),
		log:      opts.Logger,
		q:        opts.Queue,
		qSent:    math.MinInt64,
		wake:     make(chan struct{}, 1),
		idle:     make(chan struct{}),
		done:     make(chan struct{}),
		subs:     make(map[*sub]struct{}),
		filters:  make(map[string]*filterRef),
		watchers: make(map[*watcher]struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	var err error
	switch opts.Version {
	case 5:
		c.sess, err = dialV5(c)
	case 3, 4, 0:
		c.sess, err = dialV3(c)
	default:
		err = fmt.Errorf("unsupported MQTT protocol version %d (want 3, 4 or 5)", opts.Version)
	}
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.goroutine(c.sender)
	return c, nil
}

// Watch calls fn with the connection's state now and on every change,
// until cancel is called. fn must not block.
func (c *Conn) Watch(fn func(State)) (cancel func()) {
	w := &watcher{fn: fn}
	c.smu.Lock()
	c.watchers[w] = struct{}{}
	st, seq := c.state, c.stateSeq
	c.smu.Unlock()
	if c.watchGap != nil {
		c.watchGap()
	}
	w.deliver(seq, st)
	return func() {
		c.smu.Lock()
		delete(c.watchers, w)
		c.smu.Unlock()
	}
}

// State returns the connection's state.
func (c *Conn) State() State {
	c.smu.RLock()
	defer c.smu.RUnlock()
	return c.state
}

func (c *Conn) setState(s State) {
	c.smu.Lock()
	if c.state == s {
		c.smu.Unlock()
		return
	}
	c.state = s
	c.stateSeq++
	seq := c.stateSeq
	ws := make([]*watcher, 0, len(c.watchers))
	for w := range c.watchers {
		ws = append(ws, w)
	}
	c.smu.Unlock()
	for _, w := range ws {
		w.deliver(seq, s)
	}
}

// up is called by a session when it has connected: it renews the
// subscriptions, publishes the birth message and starts sending. alive, if
// not nil, reports whether that connection is still up (it may have dropped
// while up was subscribing).
func (c *Conn) up(s session, alive func() bool) {
	if b := c.opts.Birth; b != nil && b.Topic != "" {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		if _, err := s.publish(ctx, &outbox.Message{Topic: b.Topic, Payload: b.Payload, QoS: b.QoS, Retain: b.Retain})(ctx); err != nil {
			c.log.Warn("remote broker: birth message not sent", slog.String("broker", c.opts.Name), slog.String("error", err.Error()))
		}
		cancel()
	}
	c.mu.Lock()
	if alive != nil && !alive() {
		c.mu.Unlock()
		return
	}
	c.online, c.cur = true, s
	c.curCtx, c.curStop = context.WithCancel(c.ctx)
	sctx := c.curCtx
	c.gen++
	c.mu.Unlock()
	c.log.Info("remote broker connected", slog.String("broker", c.opts.Name), slog.String("url", c.opts.URL))
	c.setState(Connected)
	c.signal()
	// Renew the subscriptions. A node that subscribes from now on sees
	// the connection and subscribes itself; one that subscribed before
	// is in the filter set read here.
	if f := c.filterSet(); len(f) > 0 {
		ctx, cancel := context.WithTimeout(sctx, 10*time.Second)
		if err := s.subscribe(ctx, f); err != nil && sctx.Err() == nil {
			c.log.Warn("remote broker: resubscribe failed", slog.String("broker", c.opts.Name), slog.String("error", err.Error()))
		}
		cancel()
	}
}

// down is called by a session when the connection dropped: the messages
// sent but not acknowledged go back to the front of the queue.
func (c *Conn) down(err error) {
	c.mu.Lock()
	was := c.online
	c.online, c.cur = false, nil
	if c.curStop != nil {
		// Publishes waiting for an acknowledgement give up at once.
		c.curStop()
		c.curStop = nil
	}
	c.gen++
	c.memSent, c.qSent, c.q2 = 0, math.MinInt64, 0
	if len(c.mem) > 0 {
		if qerr := c.q.Prepend(c.mem); qerr != nil {
			c.log.Error("remote broker: cannot queue unacknowledged messages", slog.String("broker", c.opts.Name), slog.Int("messages", len(c.mem)), slog.String("error", qerr.Error()))
		}
		c.mem = nil
	}
	c.mu.Unlock()
	if was {
		attrs := []any{slog.String("broker", c.opts.Name), slog.String("url", c.opts.URL)}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		c.log.Warn("remote broker disconnected", attrs...)
	}
	if c.ctx.Err() == nil {
		c.setState(Disconnected)
	}
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Publish publishes a message (engine.Broker): QoS 0 at once or not at all,
// QoS 1 and 2 in order, through the queue when the broker is unreachable.
func (c *Conn) Publish(topic string, payload []byte, qos byte, retain bool) error {
	m := outbox.Message{Topic: topic, Payload: append([]byte(nil), payload...), QoS: qos, Retain: retain}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return errors.New("the connection to the remote broker is closed")
	}
	if qos == 0 {
		s := c.cur
		c.mu.Unlock()
		if s == nil {
			if c.droppedQoS0.Add(1) == 1 {
				c.log.Warn("remote broker unreachable: QoS 0 messages are dropped (counted) until it is back; use QoS 1 or 2 to queue them",
					slog.String("broker", c.opts.Name))
			}
			return nil
		}
		s.publish(c.ctx, &m)
		return nil
	}
	var err error
	if c.online && c.q.Stats().Messages == 0 && len(c.mem) < memMax {
		m.Time = time.Now()
		c.mem = append(c.mem, m)
	} else {
		err = c.q.Append(m)
	}
	c.mu.Unlock()
	c.signal()
	return err
}

// inflight is a batch the sender has published and the acker waits for.
type inflight struct {
	gen     uint64 // c.gen when it was sent: a newer one voids it
	fromMem bool
	ms      []outbox.Message
	waits   []func(context.Context) (rejected bool, err error)
	sess    session
	sctx    context.Context
}

// window is how many batches may wait for their acknowledgements at once.
const window = 8

// take returns how many of ms the sender may publish now: all of them up
// to the first QoS 2 message beyond the QoS 2 window. c.mu is held.
func (c *Conn) take(ms []outbox.Message) int {
	room := c.opts.MaxInflight - c.q2
	for i := range ms {
		if ms[i].QoS == 2 {
			if room == 0 {
				return i
			}
			room--
		}
	}
	return len(ms)
}

// qos2 counts the QoS 2 messages of ms.
func qos2(ms []outbox.Message) int {
	n := 0
	for i := range ms {
		if ms[i].QoS == 2 {
			n++
		}
	}
	return n
}

// sender publishes the messages of mem, then of the queue, oldest first,
// while the broker is connected, without waiting for acknowledgements (up
// to window batches, and at most MaxInflight QoS 2 messages); the acker
// waits for them in order and removes what was acknowledged. When a
// publish fails, the connection is dropped and everything not yet
// acknowledged is sent again from the oldest over the next one, so order
// holds (a broker may see some messages twice, as QoS 1 allows).
func (c *Conn) sender() {
	defer close(c.done)
	acks := make(chan inflight, window)
	ackerDone := make(chan struct{})
	c.goroutine(func() { c.acker(acks, ackerDone) })
	defer func() {
		close(acks)
		<-ackerDone
	}()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-c.wake:
		case <-retry.C:
		case <-c.ctx.Done():
			return
		}
		for c.ctx.Err() == nil {
			c.mu.Lock()
			if !c.online {
				c.mu.Unlock()
				break
			}
			s, gen, sctx, after := c.cur, c.gen, c.curCtx, c.qSent
			var ms []outbox.Message
			fromMem := c.memSent < len(c.mem)
			if fromMem {
				k := min(len(c.mem)-c.memSent, batch)
				k = c.take(c.mem[c.memSent : c.memSent+k])
				ms = append(ms, c.mem[c.memSent:c.memSent+k]...)
				c.memSent += k
				c.q2 += qos2(ms)
			}
			c.mu.Unlock()
			if fromMem && len(ms) == 0 {
				break // the QoS 2 window is full: the acker wakes us
			}
			if !fromMem {
				var err error
				ms, err = c.q.Peek(after, batch)
				if err != nil {
					if c.ctx.Err() != nil {
						return // Close closed the queue
					}
					c.log.Error("remote broker: read the queue", slog.String("broker", c.opts.Name), slog.String("error", err.Error()))
					retry.Reset(time.Second)
					break
				}
				if len(ms) == 0 {
					c.checkIdle()
					break
				}
				c.mu.Lock()
				if c.gen != gen {
					c.mu.Unlock()
					continue
				}
				ms = ms[:c.take(ms)]
				if len(ms) == 0 {
					c.mu.Unlock()
					break // the QoS 2 window is full: the acker wakes us
				}
				c.qSent = ms[len(ms)-1].Seq
				c.q2 += qos2(ms)
				c.mu.Unlock()
			}
			b := inflight{gen: gen, fromMem: fromMem, ms: ms, sess: s, sctx: sctx, waits: make([]func(context.Context) (bool, error), len(ms))}
			for i := range ms {
				if sctx.Err() != nil {
					break // the connection dropped: the acker finds a nil wait
				}
				b.waits[i] = s.publish(sctx, &ms[i])
			}
			select {
			case acks <- b:
			case <-c.ctx.Done():
				return
			}
		}
	}
}

// acker waits for the acknowledgements of the batches the sender
// published, in order, and removes the acknowledged messages.
func (c *Conn) acker(acks <-chan inflight, done chan<- struct{}) {
	defer close(done)
	for b := range acks {
		err := c.await(b)
		c.mu.Lock()
		current := b.gen == c.gen
		switch {
		case err != nil:
			if current {
				// Send again from the oldest unacknowledged message, over a
				// new connection; the batches behind this one are void.
				c.memSent, c.qSent, c.q2 = 0, math.MinInt64, 0
				c.gen++
				if c.online {
					// The session did not drop the connection (MQTT 5: a
					// message refused for its quota): try again shortly.
					time.AfterFunc(100*time.Millisecond, c.signal)
				}
			}
		case !current:
			// Sent over a connection that has dropped since: it is in the
			// queue again and will be sent again.
		case b.fromMem:
			c.mem = c.mem[len(b.ms):]
			c.memSent -= len(b.ms)
			if len(c.mem) == 0 {
				c.mem = nil
			}
		default:
			// Under c.mu, so that no Prepend slips in below the seq.
			if err := c.q.Remove(b.ms[len(b.ms)-1].Seq); err != nil {
				c.log.Error("remote broker: remove sent messages from the queue", slog.String("broker", c.opts.Name), slog.String("error", err.Error()))
			}
		}
		c.mu.Unlock()
		if err != nil && current {
			c.failed(b.sess, err)
		}
		if err == nil && current {
			c.sent.Add(uint64(len(b.ms)))
			c.checkIdle()
		}
	}
}

// failed counts and logs (at most once a second) a publish that failed on
// a live connection, and drops that connection: its messages are sent
// again, oldest first, after the reconnect.
func (c *Conn) failed(s session, err error) {
	n := c.failures.Add(1)
	now := time.Now().UnixNano()
	if last := c.failLog.Load(); now-last >= int64(time.Second) && c.failLog.CompareAndSwap(last, now) {
		c.log.Warn("remote broker: publish failed, reconnecting to send it again",
			slog.String("broker", c.opts.Name), slog.String("error", err.Error()), slog.Uint64("failures_total", n))
	}
	if s != nil && c.ctx.Err() == nil {
		s.drop(err)
	}
}

var errNotSent = errors.New("not sent: the connection dropped")

// await waits for every acknowledgement of a batch, in order, freeing a
// place in the QoS 2 window as each QoS 2 exchange completes.
func (c *Conn) await(b inflight) error {
	ctx, cancel := context.WithTimeout(b.sctx, 30*time.Second)
	defer cancel()
	for i, w := range b.waits {
		if w == nil {
			return errNotSent
		}
		rejected, err := w(ctx)
		if err != nil && !rejected {
			return err
		}
		if rejected {
			c.rejected.Add(1)
			c.log.Error("remote broker refused a message: dropped", slog.String("broker", c.opts.Name), slog.String("topic", b.ms[i].Topic), slog.String("error", err.Error()))
		}
		if b.ms[i].QoS == 2 {
			c.mu.Lock()
			if b.gen == c.gen {
				c.q2--
			}
			c.mu.Unlock()
			c.signal()
		}
	}
	return nil
}

// checkIdle wakes Flush callers when nothing is waiting to be sent.
func (c *Conn) checkIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mem) == 0 && c.q.Stats().Messages == 0 {
		close(c.idle)
		c.idle = make(chan struct{})
	}
}

// Flush waits until every queued message has been sent and acknowledged,
// or ctx ends.
func (c *Conn) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		empty := len(c.mem) == 0 && c.q.Stats().Messages == 0
		idle := c.idle
		c.mu.Unlock()
		if empty {
			return nil
		}
		c.signal()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stats count a connection's messages.
type Stats struct {
	// Queue is the store-and-forward queue.
	Queue outbox.Stats
	// InFlight are the messages sent but not yet acknowledged.
	InFlight int
	// Sent counts QoS 1 and 2 messages acknowledged by the broker.
	Sent uint64
	// DroppedQoS0 counts QoS 0 messages dropped while disconnected.
	DroppedQoS0 uint64
	// Rejected counts messages the broker refused (MQTT 5), dropped.
	Rejected uint64
	// Failures counts publishes that failed (no acknowledgement, the
	// connection dropped while sending, MQTT 5's quota exceeded); their
	// messages stayed queued and were sent again.
	Failures uint64
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	inflight := len(c.mem)
	c.mu.Unlock()
	return Stats{Queue: c.q.Stats(), InFlight: inflight, Sent: c.sent.Load(),
		DroppedQoS0: c.droppedQoS0.Load(), Rejected: c.rejected.Load(), Failures: c.failures.Load()}
}

// FlushTimeout is how long Close tries to send what waits for the broker.
const FlushTimeout = 2 * time.Second

// closeTimeout bounds what Close does after flushing: the close message,
// the disconnect, and stopping the sender.
const closeTimeout = time.Second

// Close sends what it can while ctx allows, for FlushTimeout at most,
// keeps the rest in the queue, publishes the close message, disconnects
// and closes the queue: it returns within FlushTimeout + 1 s.
func (c *Conn) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	online := c.online
	c.mu.Unlock()
	if online {
		fctx, cancel := context.WithTimeout(ctx, FlushTimeout)
		c.Flush(fctx)
		cancel()
	}
	// The close message, the disconnect and the sender's stop share one
	// more bound: a publish stuck in the client on a stalled connection
	// (paho.mqtt.golang waits up to its write timeout, 10 s) must not hold
	// up the shutdown. What it was sending stays queued: the acker's
	// late answers are void (c.gen).
	cctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	c.sess.close(cctx)
	c.cancel()
	select {
	case <-c.done:
	case <-cctx.Done():
		c.log.Debug("remote broker: the sender is still blocked in a publish; closing without it", slog.String("broker", c.opts.Name))
	}
	c.mu.Lock()
	c.online, c.cur = false, nil
	c.gen++
	c.memSent, c.qSent, c.q2 = 0, math.MinInt64, 0
	if len(c.mem) > 0 {
		if err := c.q.Prepend(c.mem); err != nil {
			c.log.Error("remote broker: cannot queue unacknowledged messages", slog.String("broker", c.opts.Name), slog.String("error", err.Error()))
		}
		c.mem = nil
	}
	st := c.q.Stats()
	c.mu.Unlock()
	if st.Messages > 0 {
		if _, mem := c.q.(*outbox.Memory); mem {
			c.log.Warn("remote broker: queued messages lost on close (no data directory)", slog.String("broker", c.opts.Name), slog.Int("messages", st.Messages))
		} else {
			c.log.Info("remote broker: messages kept in the queue for the next start", slog.String("broker", c.opts.Name), slog.Int("messages", st.Messages))
		}
	}
	return c.q.Close()
}

// Subscribe calls fn for every message matching filter (engine.Broker).
// The subscription is renewed after every reconnect.
func (c *Conn) Subscribe(filter string, qos byte, fn func(engine.Delivery)) (func(), error) {
	return c.SubscribeOptions(filter, qos, SubOptions{}, fn)
}

// SubscribeOptions is Subscribe with MQTT 5 subscription options.
func (c *Conn) SubscribeOptions(filter string, qos byte, o SubOptions, fn func(engine.Delivery)) (func(), error) {
	s := &sub{filter: filter, match: mqtttopic.Levels(filter), qos: qos, rap: o.RetainAsPublished, fn: fn}
	c.smu.Lock()
	c.subs[s] = struct{}{}
	f := c.filters[filter]
	renew := f == nil || qos > f.qos || (s.rap && f.rap == 0)
	if f == nil {
		f = &filterRef{qos: qos}
		c.filters[filter] = f
	}
	f.n++
	if s.rap {
		f.rap++
	}
	f.qos = max(f.qos, qos)
	q := f.qos
	c.smu.Unlock()
	if renew {
		c.mu.Lock()
		sess := c.cur
		c.mu.Unlock()
		if sess != nil {
			c.goroutine(func() {
				ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
				defer cancel()
				if err := sess.subscribe(ctx, map[string]byte{filter: q}); err != nil && c.ctx.Err() == nil {
					c.log.Warn("remote broker: subscribe failed", slog.String("broker", c.opts.Name), slog.String("topic", filter), slog.String("error", err.Error()))
				}
			})
		}
	}
	var once sync.Once
	return func() { once.Do(func() { c.unsubscribe(s) }) }, nil
}

// unsubscribe removes a subscription. When it is the filter's last, the
// broker is told first and answers before the handler goes, so that the
// messages the broker sent until then are still handled (and acknowledged
// only then): a runner that stops hands its share of a shared
// subscription to the others without dropping what was on its way.
func (c *Conn) unsubscribe(s *sub) {
	c.smu.Lock()
	f := c.filters[s.filter]
	last := false
	if f != nil {
		f.n--
		if s.rap {
			f.rap--
		}
		if f.n <= 0 {
			delete(c.filters, s.filter)
			last = true
		}
	}
	c.smu.Unlock()
	if last {
		c.mu.Lock()
		sess, sctx := c.cur, c.curCtx
		c.mu.Unlock()
		if sess != nil {
			ctx, cancel := context.WithTimeout(sctx, 5*time.Second)
			if err := sess.unsubscribe(ctx, s.filter); err != nil && sctx.Err() == nil {
				c.log.Warn("remote broker: unsubscribe failed", slog.String("broker", c.opts.Name), slog.String("topic", s.filter), slog.String("error", err.Error()))
			}
			cancel()
			// Messages the broker sent before the unsubscribe may still be
			// on their way through the client (paho.golang hands them over
			// after the UNSUBACK): keep handling them until the
			// subscription has been quiet for a moment.
			const quiet, most = 100 * time.Millisecond, 2 * time.Second
			for end := time.Now().Add(most); time.Now().Before(end); {
				idle := time.Since(time.Unix(0, s.last.Load()))
				if idle >= quiet || sctx.Err() != nil {
					break
				}
				time.Sleep(quiet - idle)
			}
		}
	}
	c.smu.Lock()
	delete(c.subs, s)
	c.smu.Unlock()
}

// retainAsPublished reports whether the subscription to filter asks for
// retain-as-published.
func (c *Conn) retainAsPublished(filter string) bool {
	c.smu.RLock()
	defer c.smu.RUnlock()
	f := c.filters[filter]
	return f != nil && f.rap > 0
}

func (c *Conn) filterSet() map[string]byte {
	c.smu.RLock()
	defer c.smu.RUnlock()
	out := make(map[string]byte, len(c.filters))
	for f, r := range c.filters {
		out[f] = r.qos
	}
	return out
}

// deliver hands an incoming message to every matching subscription.
func (c *Conn) deliver(topic string, payload []byte, qos byte, retain bool) {
	c.smu.RLock()
	var fns []func(engine.Delivery)
	var now int64
	for s := range c.subs {
		if mqtttopic.Match(s.match, topic) {
			fns = append(fns, s.fn)
			if now == 0 {
				now = time.Now().UnixNano()
			}
			s.last.Store(now)
		}
	}
	c.smu.RUnlock()
	// The broker applied the subscription's retain-as-published option
	// (MQTT 5) already: its flag is what Node-RED's mqtt-in reports.
	d := engine.Delivery{Topic: topic, Payload: payload, QoS: qos, Retain: retain, PublishedRetain: retain}
	for _, fn := range fns {
		c.handle(fn, d)
	}
}

// handle runs a subscription's handler; a panic in it is reported (see
// Options.OnPanic), not passed to the MQTT client's goroutine.
func (c *Conn) handle(fn func(engine.Delivery), d engine.Delivery) {
	defer func() {
		if v := recover(); v != nil && c.opts.OnPanic != nil {
			c.opts.OnPanic(v)
		}
	}()
	fn(d)
}

// goroutine runs fn on a new goroutine started by Options.Go.
func (c *Conn) goroutine(fn func()) {
	if c.opts.Go != nil {
		c.opts.Go(fn)
		return
	}
	go fn()
}
