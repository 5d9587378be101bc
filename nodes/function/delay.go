package function

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// DelayQueueLimit is the most messages a delay node holds: messages
// waiting for their delay, in the rate limit's queue, or (queue and timed)
// topics waiting for their turn. Node-RED holds any number (its
// nodeMessageBufferMaxLength setting, off by default, bounds the rate
// limit's queue only, and empties the whole queue when it is reached);
// Runnel drops the message that would go beyond the limit and reports an
// error with it, so that a catch node sees it and the memory a flood can
// take stays bounded.
const DelayQueueLimit = 10000

// DelayConfig is the configuration of a delay node, with Node-RED's
// property names.
type DelayConfig struct {
	PauseType    string  `json:"pauseType" label:"Action" default:"delay" options:"delay=Delay each message (fixed),delayv=Delay each message (msg.delay overrides),random=Delay each message (random),rate=Rate limit all messages,queue=Rate limit: one topic in turn each interval,timed=Rate limit: all topics each interval"`
	Timeout      float64 `json:"timeout" label:"For" default:"5" min:"0" showif:"pauseType=delay,delayv"`
	TimeoutUnits string  `json:"timeoutUnits" label:"Units" default:"seconds" options:"milliseconds=Milliseconds,seconds=Seconds,minutes=Minutes,hours=Hours,days=Days" showif:"pauseType=delay,delayv"`
	RandomFirst  float64 `json:"randomFirst" label:"Between" default:"1" min:"0" showif:"pauseType=random"`
	RandomLast   float64 `json:"randomLast" label:"And" default:"5" min:"0" showif:"pauseType=random"`
	RandomUnits  string  `json:"randomUnits" label:"Units" default:"seconds" options:"milliseconds=Milliseconds,seconds=Seconds,minutes=Minutes,hours=Hours,days=Days" showif:"pauseType=random"`
	Rate         float64 `json:"rate" label:"Rate (messages)" default:"1" min:"0" showif:"pauseType=rate,queue,timed"`
	NbRateUnits  float64 `json:"nbRateUnits" label:"Per" default:"1" min:"0" showif:"pauseType=rate,queue,timed" help:"how many rate units (2 with minute: 1 message per 2 minutes)"`
	RateUnits    string  `json:"rateUnits" label:"Rate unit" default:"second" options:"second=Second,minute=Minute,hour=Hour,day=Day" showif:"pauseType=rate,queue,timed"`
	Drop         bool    `json:"drop" label:"Drop intermediate messages" showif:"pauseType=rate" help:"rate: drop what comes too early instead of queueing it"`
	Allowrate    bool    `json:"allowrate" label:"Allow msg.rate (ms) to override the rate" showif:"pauseType=rate,queue,timed"`
	Outputs      int     `json:"outputs" label:"Outputs" default:"1" min:"1" max:"2" showif:"pauseType=rate,queue,timed" help:"2: dropped messages (rate with drop) and replaced ones (queue, timed) go to the second output"`
}

// DelayType is Node-RED's delay node.
var DelayType = engine.NewType(engine.Meta{
	Type:        "delay",
	Category:    "function",
	Inputs:      1,
	Outputs:     1,
	OutputsFrom: "outputs",
	Color:       "#E6E0F8",
	Icon:        "timer.svg",
	Labels:      []engine.LabelRule{{Text: "delay"}},
	Help: `Delays each message, or limits the rate at which messages pass: Node-RED's **delay** node.

**pauseType**:
- **delay**: each message waits **timeout** **timeoutUnits**.
- **delayv**: each message waits msg.delay milliseconds (a number, or text starting with one); without it, **timeout**. A negative delay is 0.
- **random**: each message waits a random time between **randomFirst** and **randomLast** **randomUnits**.
- **rate**: at most **rate** messages per **nbRateUnits** **rateUnits** pass, evenly spaced: the first passes at once, the others queue. With **drop** the messages that come too early are dropped instead, or with **outputs** 2 sent to the second output.
- **queue**: the latest message of each topic is kept (a newer one of the same topic takes the older one's place, which goes to the second output with **outputs** 2); each interval the next topic in turn is sent.
- **timed**: as queue, but each interval the latest message of every topic is sent.

In queue and timed modes a message without a topic gets the topic "_none_" (Runnel cannot tell an empty topic from none: an empty one does too).

Control properties:
- **msg.reset**: everything held is dropped, nothing is sent (the reset message itself neither).
- **msg.flush**: what is held is sent now: all of it, or, when msg.flush is a number, that many (the oldest first). A message with nothing but msg.flush is not delayed itself; one with a payload is held, and flushed, with the others.
- **msg.toFront** (rate): true puts the message at the head of the queue.
- **msg.rate** (rate, queue, timed, with **allowrate**): milliseconds between messages from now on, until a reset.

The status shows how many messages are held, as Node-RED's does (for a fixed delay only when it is over a second; updated at most every half second when rate limiting).

Differences from Node-RED:
- The node holds at most 10000 messages (or topics, in queue and timed modes); beyond that the new message is dropped and reported as an error with the message (Node-RED holds any number).
- When a deploy replaces the node, or Runnel stops, what it holds is sent at once, in the order it would have been sent, before the node closes, so nothing is lost (Node-RED drops it). A deploy that keeps the node keeps what it holds and its timers.
- msg.rate in queue and timed modes changes the interval and keeps the mode (Node-RED switches such a node to sending one queued message per interval, and stops it for good once the queue is empty). A msg.flush count beyond what is held sends what is held (Node-RED throws in queue and timed modes).
- A delay longer than 24.8 days is honoured (Node-RED's timers fire after 1 ms instead).`,
}, newDelay)

func init() { engine.Register(DelayType) }

type delayNode struct {
	h         *engine.Host
	mode      string
	timeout   float64 // ms: delay, delayv; also chooses when random shows its status
	randFirst float64 // ms
	randDiff  float64 // ms
	fixedRate float64 // ms between messages
	drop      bool
	allowrate bool
	outputs   int

	mu     sync.Mutex
	ob     *outbox
	closed bool

	// delay, delayv, random: the waiting messages, in arrival order.
	pending []*delayed
	seq     uint64

	// rate, queue, timed.
	buffer   []*engine.Message
	rate     float64 // ms between messages, msg.rate's when allowed
	ticking  bool
	tickGen  uint64
	tick     *time.Timer
	nextTick time.Time
	origin   time.Time // queue, timed: when the interval started
	lastSent time.Time // rate with drop: zero until the first message
	depth    *time.Timer

	dropped uint64 // messages dropped at the limit
}

// delayed is a message waiting for its delay.
type delayed struct {
	m    *engine.Message
	due  time.Time
	seq  uint64
	t    *time.Timer
	sent bool // sent, flushed or dropped
}

func unitMs(units string) float64 {
	switch units {
	case "milliseconds":
		return 1
	case "minutes", "minute":
		return 60 * 1000
	case "hours", "hour":
		return 60 * 60 * 1000
	case "days", "day":
		return 24 * 60 * 60 * 1000
	}
	return 1000
}

func newDelay(cfg *DelayConfig, h *engine.Host) (engine.Node, error) {
	n := &delayNode{h: h, mode: cfg.PauseType, drop: cfg.Drop, allowrate: cfg.Allowrate, outputs: cfg.Outputs}
	n.ob = newOutbox(h, &n.mu)
	n.timeout = cfg.Timeout * unitMs(cfg.TimeoutUnits)
	n.randFirst = cfg.RandomFirst * unitMs(cfg.RandomUnits)
	n.randDiff = cfg.RandomLast*unitMs(cfg.RandomUnits) - n.randFirst
	// rate messages per nbRateUnits rateUnits: one message every so many ms.
	// A rate of 0 gives +Inf, which Node-RED's timers (and ours, see
	// interval) treat as 1 ms.
	n.fixedRate = unitMs(cfg.RateUnits) / cfg.Rate
	if cfg.NbRateUnits > 0 {
		n.fixedRate *= cfg.NbRateUnits
	}
	n.rate = n.fixedRate
	if n.outputs < 1 {
		n.outputs = 1
	}
	return n, nil
}

// Outputs is the number of output ports: 1, or 2 for dropped messages.
func (n *delayNode) Outputs() int { return n.outputs }

// Start starts the interval of queue and timed modes (it ticks only while
// topics are queued, keeping the phase it started with).
func (n *delayNode) Start(context.Context) error {
	n.mu.Lock()
	n.origin = time.Now()
	n.mu.Unlock()
	return nil
}

// interval converts a rate in ms to the interval between ticks, as
// Node's setInterval does for values below 1 ms or not finite: 1 ms.
func interval(ms float64) time.Duration {
	if math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 1 {
		return time.Millisecond
	}
	return msDuration(ms)
}

// Metrics reports how many messages the node holds and how many it
// dropped at its limit.
func (n *delayNode) Metrics() []engine.Metric {
	n.mu.Lock()
	defer n.mu.Unlock()
	return []engine.Metric{
		{Name: "runnel_node_queued_messages", Value: float64(len(n.pending) + len(n.buffer))},
		{Name: "runnel_node_queue_dropped_total", Counter: true, Value: float64(n.dropped)},
	}
}

// Receive holds, sends or drops m, or acts on its control properties.
func (n *delayNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	n.mu.Lock()
	n.ob.use(out)
	var err error
	if n.closed {
		// Nothing holds messages any more: pass it on.
		n.ob.send(0, m)
	} else {
		switch n.mode {
		case "delay", "delayv", "random":
			err = n.receiveDelay(m)
		case "rate":
			if n.drop {
				n.receiveDrop(m)
			} else {
				err = n.receiveRate(m)
			}
		default:
			err = n.receiveQueue(m)
		}
	}
	n.mu.Unlock()
	n.ob.deliver()
	return err
}

func (n *delayNode) full() error {
	n.dropped++
	return fmt.Errorf("delay: too many pending messages (the limit is %d): message dropped", DelayQueueLimit)
}

func (n *delayNode) dot(count int) {
	n.ob.status(engine.Status{Fill: "blue", Shape: "dot", Text: strconv.Itoa(count)})
}

// showsStatus reports whether a delay of this mode shows its count when a
// message arrives or leaves: a fixed delay over a second, delayv always,
// random when its (unused) timeout is at least a second, as Node-RED.
func (n *delayNode) showsStatus() bool {
	switch n.mode {
	case "delay":
		return n.timeout > 1000
	case "random":
		return n.timeout >= 1000
	}
	return true
}

// receiveDelay handles delay, delayv and random.
func (n *delayNode) receiveDelay(m *engine.Message) error {
	flush, hasFlush := m.Prop("flush")
	_, hasReset := m.Prop("reset")
	var err error
	if !(hasFlush && nrKeyCount(m) == 2) {
		var wait float64
		switch n.mode {
		case "delay":
			wait = n.timeout
		case "delayv":
			wait = n.timeout
			if d, ok := m.Prop("delay"); ok {
				if f, ok := jsv.ParseFloat(d); ok {
					wait = f
				}
			}
		case "random":
			wait = n.randFirst + n.randDiff*rand.Float64()
		}
		if len(n.pending) >= DelayQueueLimit {
			if !hasReset {
				err = n.full()
			}
		} else {
			n.seq++
			e := &delayed{m: m, due: time.Now().Add(msDuration(wait)), seq: n.seq}
			e.t = afterFunc(n.h, msDuration(wait), func() { n.expire(e) })
			n.pending = append(n.pending, e)
		}
	}
	if hasReset {
		for _, e := range n.pending {
			e.t.Stop()
			e.sent = true
		}
		n.pending = nil
		n.ob.status(engine.Status{Fill: "blue", Shape: "ring", Text: "0"})
	}
	if n.mode == "delay" {
		// Node-RED: reset, or else flush, or else the count.
		switch {
		case hasReset:
		case hasFlush:
			n.flushPending(flush)
		case n.showsStatus():
			n.dot(len(n.pending))
		}
		return err
	}
	// delayv and random: reset, then flush, then the count.
	if hasFlush {
		n.flushPending(flush)
	}
	if n.showsStatus() {
		n.dot(len(n.pending))
	}
	return err
}

// flushCount is how many of held messages msg.flush releases: all, or
// floor(flush) when it is a number.
func flushCount(flush any, held int) int {
	f, ok := flush.(float64)
	if !ok {
		return held
	}
	f = math.Floor(f)
	if f < float64(held) {
		return int(max(f, -1))
	}
	return held
}

// flushPending sends the first waiting messages now, oldest first.
func (n *delayNode) flushPending(flush any) {
	for k := flushCount(flush, len(n.pending)); k > 0 && len(n.pending) > 0; k-- {
		e := n.pending[0]
		e.t.Stop()
		n.fire(e)
	}
	n.dot(len(n.pending))
}

// expire is the timer of a waiting message. Timers run on goroutines of
// their own, so two that are due together may run in either order: expire
// sends, with e, every message due no later than e, in due order (then
// arrival order), as Node-RED's timer list does.
func (n *delayNode) expire(e *delayed) {
	n.mu.Lock()
	if !n.closed && !e.sent {
		var due []*delayed
		for _, p := range n.pending {
			if !p.due.After(e.due) {
				due = append(due, p)
			} else if n.mode == "delay" {
				break // arrival order is due order
			}
		}
		sortDue(due)
		for _, p := range due {
			p.t.Stop()
			n.fire(p)
		}
	}
	n.mu.Unlock()
	n.ob.deliver()
}

// sortDue sorts waiting messages by due time, then arrival.
func sortDue(ds []*delayed) {
	slices.SortFunc(ds, func(a, b *delayed) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// fire sends a waiting message, with the status Node-RED shows then.
func (n *delayNode) fire(e *delayed) {
	e.sent = true
	if i := slices.Index(n.pending, e); i >= 0 {
		n.pending = slices.Delete(n.pending, i, i+1)
	}
	switch n.mode {
	case "delay":
		if n.showsStatus() {
			n.dot(len(n.pending))
		}
		n.ob.send(0, e.m)
	case "delayv":
		if len(n.pending) == 0 {
			n.ob.status(engine.Status{})
		}
		n.ob.send(0, e.m)
		n.dot(len(n.pending))
	default:
		n.ob.send(0, e.m)
		if n.showsStatus() {
			n.dot(len(n.pending))
		}
	}
}

// msgRate returns msg.rate when the node allows it and it reads as a
// number, as Node-RED's parseFloat test.
func (n *delayNode) msgRate(m *engine.Message) (float64, bool) {
	if !n.allowrate {
		return 0, false
	}
	v, ok := m.Prop("rate")
	if !ok {
		return 0, false
	}
	return jsv.ParseFloat(v)
}

// startTicking starts the interval, first ticking at first.
func (n *delayNode) startTicking(first time.Time) {
	if n.tick != nil {
		n.tick.Stop()
	}
	n.tickGen++
	gen := n.tickGen
	n.ticking = true
	n.nextTick = first
	n.tick = afterFunc(n.h, time.Until(first), func() { n.onTick(gen) })
}

func (n *delayNode) stopTicking() {
	n.tickGen++
	n.ticking = false
	if n.tick != nil {
		n.tick.Stop()
		n.tick = nil
	}
}

// onTick is the interval of rate, queue and timed modes.
func (n *delayNode) onTick(gen uint64) {
	n.mu.Lock()
	defer n.ob.deliver()
	defer n.mu.Unlock()
	if n.closed || gen != n.tickGen {
		return
	}
	switch n.mode {
	case "rate":
		if len(n.buffer) == 0 {
			n.stopTicking()
			n.reportDepth()
			return
		}
		n.ob.send(0, n.buffer[0])
		n.buffer = slices.Delete(n.buffer, 0, 1)
	case "queue":
		if len(n.buffer) > 0 {
			n.ob.send(0, n.buffer[0])
			n.buffer = slices.Delete(n.buffer, 0, 1)
		}
	default: // timed
		for _, m := range n.buffer {
			n.ob.send(0, m)
		}
		n.buffer = nil
	}
	n.reportDepth()
	if n.mode != "rate" && len(n.buffer) == 0 {
		// Idle until the next message, which resumes the same phase.
		n.stopTicking()
		return
	}
	next := n.nextTick.Add(interval(n.rate))
	if now := time.Now(); next.Before(now) {
		next = now
	}
	n.nextTick = next
	n.tick = afterFunc(n.h, time.Until(next), func() { n.onTick(gen) })
}

// reportDepth shows the queue length half a second from now, as
// Node-RED's does, unless that is already planned.
func (n *delayNode) reportDepth() {
	if n.depth != nil {
		return
	}
	n.depth = afterFunc(n.h, 500*time.Millisecond, func() {
		n.mu.Lock()
		if !n.closed {
			n.depth = nil
			n.dot(len(n.buffer))
		}
		n.mu.Unlock()
		n.ob.deliver()
	})
}

// receiveRate is the rate limit that queues.
func (n *delayNode) receiveRate(m *engine.Message) error {
	flush, hasFlush := m.Prop("flush")
	_, hasReset := m.Prop("reset")
	m.DeleteProp("flush")
	var err error
	if nrKeyCount(m) > 1 {
		r, hasRate := n.msgRate(m)
		if n.ticking {
			if hasRate && r != n.rate {
				n.rate = r
				n.startTicking(time.Now().Add(interval(n.rate)))
			}
			front := false
			if v, ok := m.Prop("toFront"); ok && v == true {
				front = true
			}
			switch {
			case len(n.buffer) >= DelayQueueLimit:
				if !hasReset {
					err = n.full()
				}
			case front:
				n.buffer = slices.Insert(n.buffer, 0, m)
				n.reportDepth()
			default:
				n.buffer = append(n.buffer, m)
				n.reportDepth()
			}
		} else {
			if hasRate {
				n.rate = r
			}
			if hasReset {
				if hasFlush {
					n.buffer = append(n.buffer, m)
				}
			} else {
				n.ob.send(0, m)
			}
			n.reportDepth()
			n.startTicking(time.Now().Add(interval(n.rate)))
		}
	}
	if hasFlush {
		k := flushCount(flush, len(n.buffer))
		if k == 0 {
			n.stopTicking()
		} else {
			for ; k > 0 && len(n.buffer) > 0; k-- {
				q := n.buffer[0]
				n.buffer = slices.Delete(n.buffer, 0, 1)
				q.DeleteProp("flush")
				q.DeleteProp("reset")
				if nrKeyCount(q) > 1 {
					n.ob.send(0, q)
				}
			}
			n.startTicking(time.Now().Add(interval(n.rate)))
		}
		n.dot(len(n.buffer))
	}
	if hasReset {
		n.reset(!hasFlush)
	}
	return err
}

// reset empties the queue and goes back to the configured rate; stop
// also stops the interval and forgets when the last message passed.
func (n *delayNode) reset(stop bool) {
	if stop {
		n.stopTicking()
		n.lastSent = time.Time{}
	}
	n.buffer = nil
	n.rate = n.fixedRate
	n.ob.status(engine.Status{Fill: "blue", Shape: "ring", Text: "0"})
}

// receiveDrop is the rate limit that drops (or diverts) what comes early.
func (n *delayNode) receiveDrop(m *engine.Message) {
	_, hasReset := m.Prop("reset")
	if !hasReset {
		if r, ok := n.msgRate(m); ok {
			n.rate = r
		}
		now := time.Now()
		switch {
		case n.lastSent.IsZero() || now.Sub(n.lastSent) > msDuration(n.rate):
			n.lastSent = now
			n.ob.send(0, m)
		case n.outputs == 2:
			n.ob.send(1, m)
		}
		return
	}
	_, hasFlush := m.Prop("flush")
	n.reset(!hasFlush)
}

// receiveQueue handles queue and timed: the latest message per topic.
func (n *delayNode) receiveQueue(m *engine.Message) error {
	if r, ok := n.msgRate(m); ok && r != n.rate {
		n.rate = r
		n.origin = time.Now()
		if n.ticking {
			n.startTicking(n.origin.Add(interval(n.rate)))
		}
	}
	if m.Topic == "" {
		m.Topic = "_none_"
	}
	var err error
	if i := slices.IndexFunc(n.buffer, func(q *engine.Message) bool { return q.Topic == m.Topic }); i >= 0 {
		if n.outputs == 2 {
			n.ob.send(1, n.buffer[i])
		}
		n.buffer[i] = m
	} else if len(n.buffer) >= DelayQueueLimit {
		if _, reset := m.Prop("reset"); !reset {
			err = n.full()
		}
	} else {
		n.buffer = append(n.buffer, m)
		n.reportDepth()
		if !n.ticking {
			n.resumeTicking()
		}
	}
	if flush, ok := m.Prop("flush"); ok {
		for k := flushCount(flush, len(n.buffer)); k > 0 && len(n.buffer) > 0; k-- {
			q := n.buffer[0]
			n.buffer = slices.Delete(n.buffer, 0, 1)
			q.DeleteProp("flush")
			q.DeleteProp("reset")
			if nrKeyCount(q) > 2 {
				n.ob.send(0, q)
			}
		}
		n.ob.status(engine.Status{})
	}
	if _, ok := m.Prop("reset"); ok {
		n.buffer = nil
		n.rate = n.fixedRate
		n.ob.status(engine.Status{Text: "reset"})
	}
	return err
}

// resumeTicking restarts the idle interval of queue and timed modes at its
// next tick in the phase it started with, as if it had never stopped.
func (n *delayNode) resumeTicking() {
	iv := interval(n.rate)
	now := time.Now()
	if n.origin.IsZero() {
		n.origin = now
	}
	k := now.Sub(n.origin)/iv + 1
	n.startTicking(n.origin.Add(k * iv))
}

// Close stops the timers and sends what the node holds at once, in the
// order it would have been sent, so that a deploy that replaces the node
// (or a shutdown) loses nothing.
func (n *delayNode) Close(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.stopTicking()
	if n.depth != nil {
		n.depth.Stop()
		n.depth = nil
	}
	pend := slices.Clone(n.pending)
	sortDue(pend)
	for _, e := range pend {
		e.t.Stop()
		n.ob.send(0, e.m)
	}
	for _, m := range n.buffer {
		n.ob.send(0, m)
	}
	n.pending, n.buffer = nil, nil
	n.ob.status(engine.Status{})
	n.ob.wait()
	return nil
}
