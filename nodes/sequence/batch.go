package sequence

import (
	"context"
	"math"

	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// BatchTopic is one topic of a batch node's concat mode.
type BatchTopic struct {
	Topic string `json:"topic" label:"Topic"`
}

// BatchConfig is the configuration of a batch node, with Node-RED's
// property names.
type BatchConfig struct {
	Mode               string       `json:"mode" label:"Mode" default:"count" options:"count=Group by number of messages,interval=Group by time interval,concat=Concatenate sequences"`
	Count              string       `json:"count" label:"Number of messages" default:"10" showif:"mode=count"`
	Overlap            string       `json:"overlap" label:"Overlap" default:"0" showif:"mode=count"`
	Interval           string       `json:"interval" label:"Interval (seconds)" default:"10" showif:"mode=interval"`
	AllowEmptySequence bool         `json:"allowEmptySequence" label:"Send an empty message when nothing came" showif:"mode=interval"`
	HonourParts        bool         `json:"honourParts" kind:"hidden"`
	Topics             []BatchTopic `json:"topics" label:"Topics" showif:"mode=concat"`
}

// BatchType is Node-RED's batch node.
var BatchType = engine.NewType(engine.Meta{
	Type:     "batch",
	Category: "sequence",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Icon:     "batch.svg",
	Labels:   []engine.LabelRule{{Text: "batch"}},
	Help: `Groups messages into sequences: Node-RED's **batch** node.

**mode**:
- **count**: every **count** messages are sent as a sequence; with **overlap**, the last overlap messages of a sequence start the next one (they are sent again, as copies).
- **interval**: every **interval** seconds the messages that came are sent as a sequence; with **allowEmptySequence**, an interval without messages sends one message with a null payload.
- **concat**: the sequences (msg.parts) on the **topics** are sent one after another, in the order of the topics, once a complete sequence has come on each; messages on other topics are dropped, and one without msg.parts id, index and count is an error.

Each message sent gets msg.parts.id (the _msgid of the sequence's first message), index and count, written over any msg.parts it had. **msg.reset** drops what the node holds.

Bounds (Node-RED has none by default): a batch holds at most 10000 messages; in count mode this limits count. Beyond it, interval mode sends what it holds early, and concat mode drops what it holds with the error "too many pending messages in batch node".

**Deploy and stop** (Node-RED drops what it holds): when a deploy replaces the node or the flows stop, interval mode sends the messages it holds as a last sequence, count mode sends its partial batch as a sequence of what it holds, and concat drops its incomplete sequences. A kept node keeps them. The interval timer stops on close.

Differences from Node-RED: a count under 1, a count not above the overlap, or an interval that is not a number is a deploy error (Node-RED logs it and the node does nothing).`,
}, newBatch)

func init() { engine.Register(BatchType) }

const batchMax = 10000

type batchNode struct {
	h          *engine.Host
	mode       string
	count      int
	overlap    int
	interval   time.Duration
	allowEmpty bool
	topics     []string

	mu      sync.Mutex
	closed  bool
	pending []send
	ticker  *time.Ticker
	stop    chan struct{}
	concat  map[string]*concatTopic
	held    int
}

type concatTopic struct {
	gids   []string
	groups map[string]*concatGroup
}

type concatGroup struct {
	count any
	msgs  []send
}

func newBatch(cfg *BatchConfig, h *engine.Host) (engine.Node, error) {
	n := &batchNode{h: h, mode: cfg.Mode, allowEmpty: cfg.AllowEmptySequence}
	switch cfg.Mode {
	case "count":
		c := jsv.StringToNumber(cfg.Count)
		o := jsv.StringToNumber(cfg.Overlap)
		if math.IsNaN(c) || math.IsNaN(o) || c < 1 || o < 0 || c <= o {
			return nil, engine.ErrFieldf("count", "invalid count %q with overlap %q: count must be at least 1 and more than overlap", cfg.Count, cfg.Overlap)
		}
		if c > batchMax {
			return nil, engine.ErrFieldf("count", "at most %d", batchMax)
		}
		n.count, n.overlap = int(math.Ceil(c)), int(math.Ceil(o))
	case "interval":
		s := jsv.StringToNumber(cfg.Interval)
		if math.IsNaN(s) || s < 0 {
			return nil, engine.ErrFieldf("interval", "invalid interval %q", cfg.Interval)
		}
		n.interval = time.Duration(math.Min(s, 1e8) * float64(time.Second))
	case "concat":
		n.concat = map[string]*concatTopic{}
		for _, t := range cfg.Topics {
			n.topics = append(n.topics, t.Topic)
		}
	default:
		return nil, engine.ErrFieldf("mode", "%q is not one of count, interval, concat", cfg.Mode)
	}
	return n, nil
}

// Start starts the interval timer.
func (n *batchNode) Start(context.Context) error {
	if n.mode != "interval" || n.interval <= 0 {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.startTicker()
	return nil
}

func (n *batchNode) startTicker() {
	if n.closed {
		return
	}
	if n.stop != nil {
		close(n.stop)
		n.ticker.Stop()
	}
	t, stop := time.NewTicker(n.interval), make(chan struct{})
	n.ticker, n.stop = t, stop
	n.h.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n.tick(stop)
			}
		}
	})
}

// tick sends what came during the interval.
func (n *batchNode) tick(stop chan struct{}) {
	n.mu.Lock()
	select {
	case <-stop:
		n.mu.Unlock()
		return
	default:
	}
	msgs := n.pending
	n.pending, n.held = nil, 0
	n.mu.Unlock()
	if len(msgs) > 0 {
		sendSeq(msgs, false)
	} else if n.allowEmpty {
		m := engine.NewMessage("", nil)
		m.SetProp("payload", nil)
		m.SetProp("parts", ordered{{"id", newID()}, {"index", 0.0}, {"count", 1.0}}.raw())
		n.h.Send(0, m)
	}
}

// sendSeq sends msgs as one sequence, with Node-RED's parts.
func sendSeq(msgs []send, copies bool) {
	id := msgs[0].m.ID()
	for i, s := range msgs {
		m := s.m
		if copies {
			m = m.Copy()
		}
		p, ok := m.Prop("parts")
		var o ordered
		if ok {
			o = members(p)
			if !isObject(p) {
				o = nil
			}
		}
		o.set("id", id)
		o.set("index", float64(i))
		o.set("count", float64(len(msgs)))
		m.SetProp("parts", o.raw())
		s.out.Send(0, m)
	}
}

// Receive batches m.
func (n *batchNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	n.mu.Lock()
	if has(m, "reset") {
		n.pending, n.held = nil, 0
		if n.concat != nil {
			clear(n.concat)
		}
		if n.mode == "interval" && n.interval > 0 {
			n.startTicker()
		}
		n.mu.Unlock()
		return nil
	}
	switch n.mode {
	case "count":
		n.pending = append(n.pending, send{out, m})
		if len(n.pending) < n.count {
			n.mu.Unlock()
			return nil
		}
		batch := n.pending
		n.pending = nil
		if n.overlap > 0 {
			for _, s := range batch[len(batch)-n.overlap:] {
				n.pending = append(n.pending, send{s.out, s.m.Copy()})
			}
		}
		n.mu.Unlock()
		sendSeq(batch, n.overlap > 0)
		return nil
	case "interval":
		n.pending = append(n.pending, send{out, m})
		var early []send
		if len(n.pending) > batchMax {
			early, n.pending = n.pending, nil
		}
		n.mu.Unlock()
		if early != nil {
			n.h.Logger().Warn("batch: over 10000 messages held: sent early")
			sendSeq(early, false)
		}
		return nil
	}
	defer n.mu.Unlock()
	return n.concatMsg(m, out)
}

func (n *batchNode) concatMsg(m *engine.Message, out engine.Output) error {
	found := false
	for _, t := range n.topics {
		if t == m.Topic {
			found = true
		}
	}
	if !found {
		return nil
	}
	p, ok := partsOf(m)
	if !ok || !hasKey(p, "id") || !hasKey(p, "index") || !hasKey(p, "count") {
		return errNoParts
	}
	gid := jsv.ToString(p["id"])
	ct := n.concat[m.Topic]
	if ct == nil {
		ct = &concatTopic{groups: map[string]*concatGroup{}}
		n.concat[m.Topic] = ct
	}
	g := ct.groups[gid]
	if g == nil {
		g = &concatGroup{count: p["count"]}
		ct.groups[gid] = g
		ct.gids = append(ct.gids, gid)
	}
	g.msgs = append(g.msgs, send{out, m})
	n.held++
	if n.held > batchMax {
		clear(n.concat)
		n.held = 0
		return errTooManyBatch
	}
	for _, t := range n.topics {
		ct := n.concat[t]
		if ct == nil || len(ct.gids) == 0 {
			return nil
		}
		g := ct.groups[ct.gids[0]]
		if c, ok := g.count.(float64); !ok || c != float64(len(g.msgs)) {
			return nil
		}
	}
	var all []send
	for _, t := range n.topics {
		ct := n.concat[t]
		all = append(all, ct.groups[ct.gids[0]].msgs...)
	}
	for _, t := range n.topics {
		ct := n.concat[t]
		if len(ct.gids) > 0 {
			delete(ct.groups, ct.gids[0])
			ct.gids = ct.gids[1:]
		}
	}
	n.held -= len(all)
	n.mu.Unlock()
	sendSeq(all, true)
	n.mu.Lock()
	return nil
}

var (
	errNoParts      = errorString("msg.parts property missing")
	errTooManyBatch = errorString("too many pending messages in batch node")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// Close stops the timer and sends what count and interval mode hold.
func (n *batchNode) Close(context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	if n.stop != nil {
		close(n.stop)
		n.ticker.Stop()
		n.stop = nil
	}
	msgs := n.pending
	n.pending = nil
	if n.mode == "count" && len(msgs) <= n.overlap {
		msgs = nil // only the overlap, sent already
	}
	if n.concat != nil {
		clear(n.concat)
	}
	n.mu.Unlock()
	if len(msgs) > 0 {
		sendSeq(msgs, false)
	}
	return nil
}

// Metrics reports the messages held for the next batch, as runnel_node_queued_messages: with the
// delay node's, back-pressure shows in /metrics.
func (n *batchNode) Metrics() []engine.Metric {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []engine.Metric{{Name: "runnel_node_queued_messages", Value: float64(len(n.pending) + n.held)}}
}
