// Package engine is Runnel's flow runtime: messages, the node contract, the
// registry of node types, graph compilation and message dispatch.
//
// A flow document compiles into a Graph, an immutable value: its nodes and
// the wires between them, checked as a whole (unknown types, bad config,
// wires to missing nodes, cycles). A Runtime runs one graph at a time and
// replaces it on deploy by switching a pointer, so the broker and its
// clients never notice. Nodes never hold pointers to their neighbours: they
// pass messages to an Output and the graph routes them, synchronously, on
// the goroutine of the source that injected the message.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
)

// Node is a running node instance, the value a Type's constructor returns.
// A node with an input implements Receiver; a node may also implement
// Starter and Closer. Node instances must be safe for concurrent use: several
// sources may feed one node at the same time.
type Node interface{}

// Receiver is implemented by nodes with an input.
type Receiver interface {
	// Receive handles one message. It passes messages on with out.Send (zero
	// or more times, on any port) and may change m, which it owns. A
	// returned error is reported against the node and the message, and
	// does not stop other messages.
	//
	// ctx is the node's context: it is cancelled once the node has been
	// closed (replaced by a deploy, or stopped), so that work bounded by a
	// timeout, or left running when the node goes, can derive from it. out
	// may be kept and used after Receive returns, from any goroutine (a
	// delay's timer): a message sent later goes into the graph that is
	// running then, even when a deploy has kept the node since.
	Receive(ctx context.Context, m *Message, out Output) error
}

// Starter is implemented by nodes that do something when their flow starts,
// such as subscribing to a topic or starting a timer.
type Starter interface {
	// Start begins the node's work. ctx is the node's context, cancelled
	// once the node has been closed.
	Start(ctx context.Context) error
}

// Closer is implemented by nodes that hold resources. Close must finish the
// node's in-flight work, release what Start acquired, and be safe to call
// after a failed or missing Start.
type Closer interface {
	Close(ctx context.Context) error
}

// Successor is implemented by nodes that can take over the running work of
// the node they replace in a deploy, such as mqtt-in taking over its
// predecessor's subscription so that no message falls between the two.
// The runtime calls TakeOver on the new node, before starting it, with the
// running node of the same id and type. When it returns true the runtime
// starts the new node first and closes the old one after; otherwise it
// closes the old one first. Config nodes (such as mqtt-broker, which hands
// over its broker connection) are offered their predecessor too; they
// always start before it closes, whatever TakeOver returns.
type Successor interface {
	TakeOver(prev Node) bool
}

// Inheritor is implemented by nodes with inputs that can take over the
// state of the node they replace in a deploy, such as a trigger's pending
// second messages, which would otherwise be lost with it. The runtime
// calls Inherit on the new node, already running, with the node of the
// same id and type it replaces, once the deploy has switched to the new
// flows and no message is left in the old ones, and before it closes the
// old node. What Inherit leaves in prev is closed with it.
type Inheritor interface {
	Inherit(prev Node)
}

// Metric is one figure a node reports for GET /metrics, beyond the
// messages in and out and the errors that the runtime counts for every
// node.
type Metric struct {
	// Name is the Prometheus metric name, such as
	// runnel_outbox_dropped_total; the node's id, type and flow are added
	// as labels.
	Name string
	// Counter is set for a figure that only grows; otherwise it is a gauge.
	Counter bool
	Value   float64
}

// Measurer is implemented by nodes with figures of their own, such as a
// remote broker's connection and store-and-forward queue. Metrics is
// called on the metrics endpoint's goroutine, concurrently with the
// node's work.
type Measurer interface {
	Metrics() []Metric
}

// Status is a node's status as the editor shows it under the node.
type Status struct {
	Fill  string `json:"fill,omitempty"`  // red, green, yellow, blue, grey
	Shape string `json:"shape,omitempty"` // dot, ring
	Text  string `json:"text,omitempty"`
}

// Broker is the MQTT broker that mqtt-in and mqtt-out nodes use. The
// embedded broker implements it without a network hop.
type Broker interface {
	// Publish publishes a message.
	Publish(topic string, payload []byte, qos byte, retain bool) error
	// Subscribe calls fn for each message matching filter until cancel is
	// called. fn runs on the publisher's goroutine and must not block for
	// long.
	Subscribe(filter string, qos byte, fn func(Delivery)) (cancel func(), err error)
}

// Delivery is a message the broker hands to a subscription.
type Delivery struct {
	Topic   string
	Payload []byte // shared with other subscribers: do not modify
	QoS     byte
	// Retain is the retain flag as an MQTT 3.1.1 subscriber receives it:
	// set on a message sent from the retained store when the
	// subscription is made, not on one published while it exists.
	Retain bool
	// PublishedRetain is the retain flag the publisher set, which a
	// subscription with MQTT 5's retain-as-published option reports.
	PublishedRetain bool
	// Internal is set when the message was published by the flows
	// themselves (mqtt-out) rather than by a network client.
	Internal bool
	// Stable says that nobody modifies Payload's bytes ever, not only
	// during the call: a subscription may keep them, or a string over
	// them, without a copy. The embedded broker decodes each packet of a
	// network client into bytes of its own, and sets it for those.
	Stable bool
}

// Output passes messages from a node to the nodes wired to its ports.
type Output struct {
	g    *Graph
	idx  int
	done *doneState // set while a node that complete nodes watch handles a message
}

// Send passes m to every node wired to port (0-based). The first wire gets
// m itself; further wires get copies, so that no node sees another's
// changes. m must not be used by the caller after Send.
//
// It routes through the graph the node is in when Send is called (see
// Host.Send), and counts m as in flight there until the nodes downstream
// are done with it, so a deploy does not close them under it. A node that
// kept out and sends later (a timer's callback) so sends into the graph
// that runs then; a message that reaches a node while a deploy moves it
// to the new graph goes on in the new graph's wires.
func (o Output) Send(port int, m *Message) {
	if o.g == nil || m == nil {
		return
	}
	if o.done != nil {
		o.done.sent(m)
	}
	o.g.slots[o.idx].host.Send(port, m)
}

// Host is a node's link to the runtime: its identity, its logger, the
// broker, and the channels for status, errors and debug output. The runtime
// gives each node its own Host when it builds the node.
type Host struct {
	id, typ, name, z string
	hasName          bool // the node has a "name" property, empty or not
	rt               *Runtime
	c                *compiler // set while the graph is being compiled
	at               atomic.Pointer[binding]
	log              *slog.Logger
	creds            map[string]string // the node's credentials; never changed after build
	env              *envScope         // the node's group's or tab's environment (see Env)
	path             string            // NR_NODE_PATH of a node of a subflow instance, else ""

	// ctx is the node's context, given to Start and Receive; cancel is
	// called once the node has been closed.
	ctx    context.Context
	cancel context.CancelFunc

	// counters for live rates and metrics; they follow the node instance,
	// so a node that a deploy keeps keeps its counts.
	in, out, errs atomic.Uint64
}

// binding places a node in a graph: the graph that routes its messages and
// its index there. A deploy that keeps the node moves it to the new graph.
type binding struct {
	g   *Graph
	idx int
}

func (h *Host) bind(g *Graph, idx int) { h.at.Store(&binding{g: g, idx: idx}) }

// ID returns the node's id.
func (h *Host) ID() string { return h.id }

// Type returns the node's type name.
func (h *Host) Type() string { return h.typ }

// Name returns the node's name, which may be empty.
func (h *Host) Name() string { return h.name }

// Flow returns the id of the tab the node is on.
func (h *Host) Flow() string { return h.z }

// Logger returns a logger that tags each line with the node's id and type.
func (h *Host) Logger() *slog.Logger { return h.log }

// Broker returns the embedded broker, or nil when the runtime has none
// (as when a flow is only being validated).
func (h *Host) Broker() Broker { return h.rt.opts.Broker }

// BrokerAddr returns the network address of the embedded broker's TCP
// listener, so that a broker config node can tell whether it points at it.
func (h *Host) BrokerAddr() string { return h.rt.opts.BrokerAddr }

// Outbox returns where and how mqtt-out keeps messages for unreachable
// remote brokers.
func (h *Host) Outbox() OutboxOptions { return h.rt.opts.Outbox }

// Send passes m from this node's output port to the nodes wired to it. It
// is how source nodes (mqtt-in, inject) inject messages; it runs the flow
// synchronously on the caller's goroutine.
//
// During a deploy the message goes wholly through either the old graph or
// the new one: the graph counts it as active until Send returns, and the
// deploy waits for the old graph's active messages before it closes the
// nodes it replaced.
func (h *Host) Send(port int, m *Message) {
	b := h.acquire()
	if b == nil {
		return
	}
	b.g.send(b.idx, port, m)
	b.g.active.Add(-1)
}

// acquire returns the node's binding with its graph's active count
// raised, so that a deploy does not close the nodes a message is going
// to; the caller lowers it when done. nil when the node is in no graph.
func (h *Host) acquire() *binding {
	b := h.at.Load()
	for {
		if b == nil {
			return nil
		}
		b.g.active.Add(1)
		now := h.at.Load()
		if now == b {
			return b
		}
		// A deploy moved the node in between: route through the new graph.
		b.g.active.Add(-1)
		b = now
	}
}

// Status sets the node's status, and hands it to the status nodes of the
// node's tab that watch it (see Watcher).
func (h *Host) Status(s Status) {
	if h.rt.opts.OnStatus != nil {
		h.rt.opts.OnStatus(StatusEvent{NodeID: h.id, Status: s})
	}
	h.rt.routeStatus(h, s)
}

// Error reports an error of this node; m is the message being handled, or
// nil. An error with a message reaches the catch nodes that watch the
// node (see Watcher); reported against the very message the node is
// handling, it also means the node failed on it, so complete nodes do not
// see that message finish.
func (h *Host) Error(err error, m *Message) {
	h.rt.reportError(h, err, m)
}

// Go runs fn on a new goroutine, as a node's timers, connection loops and
// other background work must: a panic in fn is recovered and reported as
// an error of the node, as a panic in Receive is (see ReportPanic), instead
// of taking the process down.
func (h *Host) Go(fn func()) {
	go func() {
		defer func() {
			if v := recover(); v != nil {
				h.ReportPanic(v)
			}
		}()
		fn()
	}()
}

// ReportPanic reports v, a value recovered from a panic in the node's
// code, as an error of the node, with the stack in the log, and shows it
// in the node's status. Code that runs on goroutines the node does not
// start with Go (a library's callbacks) recovers and calls it:
//
//	defer func() {
//		if v := recover(); v != nil {
//			h.ReportPanic(v)
//		}
//	}()
func (h *Host) ReportPanic(v any) {
	h.errs.Add(1)
	h.Status(Status{Fill: "red", Shape: "ring", Text: "internal error"})
	h.rt.reportPanic(h, v, nil)
}

// Debug sends a value to the debug sink (the editor's debug sidebar and
// anyone else who listens).
func (h *Host) Debug(ev DebugEvent) {
	ev.NodeID = h.id
	if ev.Name == "" {
		ev.Name = h.name
	}
	if h.rt.opts.OnDebug != nil {
		h.rt.opts.OnDebug(ev)
	}
}

// ConfigNode returns the built config node with the given id (such as an
// mqtt-broker), for use in a constructor. It fails when there is no such
// node, or when it is not a config node of type wantType.
func (h *Host) ConfigNode(id, wantType string) (Node, error) {
	if h.c == nil {
		return nil, errors.New("config nodes can only be looked up while building")
	}
	return h.c.configNode(id, wantType)
}

// Credentials returns the node's credentials (Node-RED's node
// credentials, such as an mqtt-broker's "user" and "password"), decrypted,
// as a new map the caller may keep; empty when the node has none. They come
// from the flow document's credentials (flows.Document.Credentials), never
// from its properties, and a deploy that changes them replaces the node.
// Never log them.
func (h *Host) Credentials() map[string]string {
	out := make(map[string]string, len(h.creds))
	for k, v := range h.creds {
		out[k] = v
	}
	return out
}

// StatusEvent is a status change of a node.
type StatusEvent struct {
	NodeID string `json:"id"`
	Status Status `json:"status"`
}

// ErrorEvent is an error a node reported.
type ErrorEvent struct {
	NodeID string `json:"id"`
	Type   string `json:"type"`
	Name   string `json:"name,omitempty"`
	MsgID  string `json:"msgid,omitempty"`
	Err    error  `json:"-"`
}

// DebugEvent is what a debug node shows.
type DebugEvent struct {
	NodeID   string `json:"id"`
	Name     string `json:"name,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Property string `json:"property"` // the property shown, or "msg" for the whole message
	MsgID    string `json:"msgid"`
	Value    any    `json:"-"` // the value shown
}
