package network

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"github.com/runnel-io/runnel/broker/topic"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
	"github.com/runnel-io/runnel/nodes/internal/remote"
)

// MQTTInConfig is the configuration of an mqtt-in node (Node-RED's "mqtt in").
type MQTTInConfig struct {
	Topic    string `json:"topic" label:"Topic" required:"true" help:"Topic filter: + matches one level, # the rest; $share/group/filter for shared subscriptions"`
	QoS      string `json:"qos" label:"QoS" default:"2" options:"0,1,2"`
	Datatype string `json:"datatype" label:"Output" default:"auto-detect" options:"auto-detect=auto-detect (parsed JSON object; string or buffer),auto=auto-detect (string or buffer),buffer=a Buffer,utf8=a String,json=a parsed JSON object,base64=a Base64 encoded string"`
	Broker   string `json:"broker" label:"Server" node:"mqtt-broker" help:"Empty: the embedded broker"`
	Inputs   int    `json:"inputs" label:"Dynamic subscription" options:"0,1" kind:"hidden"`
	// RAP is Node-RED's "retain as published" subscription option, which
	// it sends only with MQTT 5 (a missing property is false).
	RAP bool `json:"rap" label:"Retain as published" help:"MQTT 5 only (a broker config with protocol 5): keep the retain flag of messages published while subscribed. Otherwise only retained messages sent on subscribing have msg.retain true"`
}

// A network publisher's message runs through the flow on the publisher's
// own goroutine, under the node's lock: that keeps one subscription's
// messages in order, slows a publisher down when the flow is slower than
// its input (TCP back-pressure), and costs no goroutine hand-off. Messages
// the flows publish to themselves go through a bounded queue and a worker
// goroutine instead, since running them inline could recurse into the same
// lock; when that queue is full they are dropped and counted.
const queueSize = 1024

// mqttIn subscribes to a topic filter and injects each message into the
// flow, in order, from one goroutine.
type mqttIn struct {
	h        *engine.Host
	cfg      MQTTInConfig
	qos      byte
	rap      bool        // retain-as-published applies: MQTT 5 and the node asks for it
	remote   *MQTTBroker // the remote broker's config node; nil: the embedded broker
	unwatch  func()      // stops following the remote connection's state
	queue    chan engine.Delivery
	done     chan struct{}
	finished chan struct{}
	sub      *inSubscription // this node's broker subscription, perhaps inherited
	inherit  *inSubscription // set by TakeOver: the predecessor's subscription to take
	once     sync.Once
	dropped  atomic.Uint64
	mu       sync.Mutex // held while a message runs through the flow
	closed   bool       // guarded by mu
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "mqtt-in",
		Category: "network",
		Label:    "mqtt in",
		Outputs:  1,
		Color:    "#d8bfd8",
		Icon:     "bridge.svg",
		Labels:   []engine.LabelRule{{Text: "{topic}"}},
		Help: `Subscribes to a topic filter and sends each matching message.

Sets msg.topic, msg.payload, msg.qos and msg.retain. The output type: auto-detect parses JSON and
otherwise gives a string, or bytes when the payload is not text (not UTF-8, or holding control
characters other than tab, CR and LF, as Node-RED's test has it); utf8 gives a string, with each
invalid UTF-8 sequence replaced by U+FFFD as Node.js does; buffer the raw bytes; json a parsed value
(an error when it is not JSON text); base64 a base64 string.
Messages from one subscription keep their order through the flow.`,
	}, newMQTTIn))
}

func newMQTTIn(cfg *MQTTInConfig, h *engine.Host) (engine.Node, error) {
	// Every field is checked, so that a deploy names each that is wrong.
	var errs []error
	if cfg.Inputs != 0 {
		errs = append(errs, engine.ErrFieldf("inputs", "dynamic subscriptions are not supported yet"))
	}
	filter := cfg.Topic
	if f, ok := cutShare(filter); ok {
		filter = f
	}
	if err := topic.ValidFilter(filter); err != nil {
		errs = append(errs, engine.ErrField("topic", err))
	}
	ref, err := brokerRef(h, cfg.Broker)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Node-RED sends the rap option only on an MQTT 5 connection; the
	// embedded broker without a config node stands for Node-RED's default
	// connection, MQTT 3.1.1.
	rap := cfg.RAP && brokerV5(h, cfg.Broker)
	return &mqttIn{h: h, cfg: *cfg, qos: cfg.QoS[0] - '0', rap: rap, remote: ref}, nil
}

// brokerV5 reports whether the mqtt-broker config node id (remote, or
// pointing at the embedded broker) asks for MQTT 5.
func brokerV5(h *engine.Host, id string) bool {
	if id == "" {
		return false
	}
	n, err := h.ConfigNode(id, "mqtt-broker")
	if err != nil {
		return false
	}
	b, ok := n.(*MQTTBroker)
	return ok && b.V5
}

func cutShare(filter string) (string, bool) {
	const p = "$share/"
	if len(filter) < len(p) || filter[:len(p)] != p {
		return "", false
	}
	rest := filter[len(p):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			if i == 0 {
				return "", false
			}
			return rest[i+1:], true
		}
	}
	return "", false
}

// inSubscription is a broker subscription that hands its messages to the
// mqtt-in node that currently owns it. A deploy that replaces an mqtt-in
// node with one of the same topic and QoS moves the subscription to the new
// node in one atomic step, so that every message goes to exactly one of
// the two and none is lost in between.
type inSubscription struct {
	owner  atomic.Pointer[mqttIn]
	cancel func()
	topic  string
	qos    byte
	broker engine.Broker
}

func (s *inSubscription) deliver(d engine.Delivery) {
	if n := s.owner.Load(); n != nil {
		n.enqueue(d)
	}
}

// TakeOver adopts the predecessor's subscription when it is to the same
// broker, topic filter and QoS (engine.Successor).
func (n *mqttIn) TakeOver(prev engine.Node) bool {
	p, ok := prev.(*mqttIn)
	if !ok || p.sub == nil || p.sub.owner.Load() != p {
		return false
	}
	if b, _ := pickBroker(n.h, n.remote); p.sub.topic != n.cfg.Topic || p.sub.qos != n.qos || p.rap != n.rap || b == nil || p.sub.broker != b {
		return false
	}
	n.inherit = p.sub
	return true
}

// Start subscribes (or takes over the predecessor's subscription) and
// starts the goroutine that runs the flow.
func (n *mqttIn) Start(ctx context.Context) error {
	b, rc := pickBroker(n.h, n.remote)
	if b == nil {
		return errors.New("no broker")
	}
	subscribed := engine.Status{Fill: "green", Shape: "dot", Text: "subscribed"}
	if rc != nil {
		// A remote broker: show the connection's state.
		defer func() { n.unwatch = rc.Watch(func(s remote.State) { n.h.Status(s.Status()) }) }()
	}
	n.queue = make(chan engine.Delivery, queueSize)
	n.done = make(chan struct{})
	n.finished = make(chan struct{})
	n.h.Go(n.run)
	if n.inherit != nil {
		n.sub, n.inherit = n.inherit, nil
		n.sub.owner.Store(n)
		if rc == nil {
			n.h.Status(subscribed)
		}
		return nil
	}
	sub := &inSubscription{topic: n.cfg.Topic, qos: n.qos, broker: b}
	sub.owner.Store(n)
	var cancel func()
	var err error
	if rb, ok := b.(*remote.Conn); ok && n.rap {
		cancel, err = rb.SubscribeOptions(n.cfg.Topic, n.qos, remote.SubOptions{RetainAsPublished: true}, sub.deliver)
	} else {
		cancel, err = b.Subscribe(n.cfg.Topic, n.qos, sub.deliver)
	}
	if err != nil {
		n.once.Do(func() { close(n.done) }) // so that Close does not close it again
		<-n.finished
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "subscribe failed"})
		return fmt.Errorf("subscribe to %q: %w", n.cfg.Topic, err)
	}
	sub.cancel = cancel
	n.sub = sub
	if rc == nil {
		n.h.Status(subscribed)
	}
	return nil
}

// enqueue runs on the publisher's goroutine.
func (n *mqttIn) enqueue(d engine.Delivery) {
	if !d.Internal {
		if n.handleLocked(d, true) {
			return
		}
		// Closed between the subscription's choice of this node and now:
		// a successor that took the subscription over gets the message.
		if o := n.sub.owner.Load(); o != nil && o != n {
			o.enqueue(d)
		}
		return
	}
	select {
	case n.queue <- d:
	case <-n.done:
		if o := n.sub.owner.Load(); o != nil && o != n {
			o.enqueue(d) // see above
		}
	default:
		if n.dropped.Add(1) == 1 {
			n.h.Error(fmt.Errorf("queue full: dropped a message the flows published to %q (counted in Dropped)", d.Topic), nil)
		}
	}
}

// handleLocked runs d through the flow under n.mu; when ifOpen is set it
// does not once the node is closed, and reports whether it ran. A panic
// (one that got past the engine's recovery of the nodes' Receive, say in
// a callback of the runtime's host) is reported against this node here,
// with the lock released: it neither reaches the publisher's goroutine
// (the embedded broker's, which does not recover) nor leaves n.mu held,
// which would block the next message and Close for ever. The deferred
// calls are open-coded: they cost no allocation on this hot path.
func (n *mqttIn) handleLocked(d engine.Delivery, ifOpen bool) (ran bool) {
	defer func() {
		if v := recover(); v != nil {
			n.h.ReportPanic(v)
		}
	}()
	n.mu.Lock()
	defer n.mu.Unlock()
	if ifOpen && n.closed {
		return false
	}
	ran = true
	n.handle(d)
	return ran
}

// run handles the messages the flows published to this subscription.
func (n *mqttIn) run() {
	defer close(n.finished)
	for {
		select {
		case d := <-n.queue:
			n.handleLocked(d, false)
		case <-n.done:
			for {
				select {
				case d := <-n.queue:
					n.handleLocked(d, false)
				default:
					return
				}
			}
		}
	}
}

// text returns the payload as text, as Buffer.toString('utf8') makes it.
// A stable payload (a network client's, see Delivery.Stable) is read in
// place, a string over its bytes; any other is copied. valid says that
// the payload is known to be UTF-8 (jsutf8.IsUTF8 passed).
func (n *mqttIn) text(d engine.Delivery, valid bool) string {
	if d.Stable && (valid || utf8.Valid(d.Payload)) {
		return unsafe.String(unsafe.SliceData(d.Payload), len(d.Payload))
	}
	return jsutf8.Decode(d.Payload)
}

// handle turns a delivery into a message and sends it into the flow.
func (n *mqttIn) handle(d engine.Delivery) {
	var payload any
	switch n.cfg.Datatype {
	case "buffer":
		payload = d.Payload
	case "base64":
		payload = base64.StdEncoding.EncodeToString(d.Payload)
	case "utf8":
		payload = n.text(d, false) // Buffer.toString('utf8')
	case "json":
		if !jsutf8.IsUTF8(d.Payload) {
			n.h.Error(errors.New("the payload is not a UTF-8 string, so it cannot be parsed as JSON"), nil)
			return
		}
		v, err := engine.ParseJSON(d.Payload)
		if err != nil {
			n.h.Error(fmt.Errorf("failed to parse JSON payload from %q: %w", d.Topic, err), nil)
			return
		}
		payload = v
	default: // auto-detect and auto
		// Node-RED's is-utf8 test: text is well-formed UTF-8 without
		// control characters other than tab, CR and LF; anything else
		// stays a buffer.
		if !jsutf8.IsUTF8(d.Payload) {
			payload = d.Payload
		} else if n.cfg.Datatype == "auto-detect" {
			if v, err := engine.ParseJSON(d.Payload); err == nil {
				payload = v
			} else {
				payload = n.text(d, true)
			}
		} else {
			payload = n.text(d, true)
		}
	}
	m := engine.NewMessage(d.Topic, payload)
	if payload == nil {
		m.SetProp("payload", nil) // JSON null: a payload that is there, unlike undefined
	}
	m.SetProp("qos", float64(d.QoS))
	retain := d.Retain
	if n.rap {
		retain = d.PublishedRetain
	}
	m.SetProp("retain", retain)
	n.h.Send(0, m)
}

// Dropped returns how many messages the flows published to this node's
// topic were dropped because its queue was full.
func (n *mqttIn) Dropped() uint64 { return n.dropped.Load() }

// Close unsubscribes, lets the queued messages finish, and stops.
func (n *mqttIn) Close(ctx context.Context) error {
	if n.done == nil {
		return nil
	}
	n.once.Do(func() {
		if n.unwatch != nil {
			n.unwatch()
		}
		// Unsubscribe unless a successor took the subscription over. The
		// node keeps the subscription until the broker has confirmed
		// (a remote broker may send messages until then), then lets go.
		if n.sub != nil && n.sub.owner.Load() == n {
			if n.sub.cancel != nil {
				n.sub.cancel()
			}
			n.sub.owner.CompareAndSwap(n, nil)
		}
		// Wait for a message running on a publisher's goroutine to
		// finish, and refuse the ones that were about to start.
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(n.done)
	})
	select {
	case <-n.finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("in-flight messages did not finish: %w", ctx.Err())
	}
}
