package function

import (
	"math"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// outbox keeps the sends and status changes of a node that acts from
// timers (delay, trigger) in the order the node decided them, and makes
// them outside the node's lock: a message sent downstream may come back to
// the node on the same goroutine (mqtt-out publishing to the embedded
// broker, whose subscribers run on the publisher's goroutine), so holding
// the lock while sending would deadlock. Whoever finds the outbox idle
// delivers everything queued, including what other goroutines add
// meanwhile; the others return at once.
//
// Every method but deliver is called with the node's lock held; deliver is
// called without it.
type outbox struct {
	h    *engine.Host
	mu   *sync.Mutex // the node's lock
	idle sync.Cond   // signalled when a delivery ends

	out    engine.Output // the Output of the last message received
	hasOut bool
	items  []outItem
	busy   bool // a goroutine is delivering

	last    engine.Status // the last status queued, to skip repeats
	hasLast bool
}

type outItem struct {
	port   int
	m      *engine.Message
	status *engine.Status
}

func newOutbox(h *engine.Host, mu *sync.Mutex) *outbox {
	o := &outbox{h: h, mu: mu}
	o.idle.L = mu
	return o
}

// use records the Output through which later sends go. Any of the node's
// Outputs routes through the graph the node is in when it sends.
func (o *outbox) use(out engine.Output) { o.out, o.hasOut = out, true }

// send queues m for port.
func (o *outbox) send(port int, m *engine.Message) {
	o.items = append(o.items, outItem{port: port, m: m})
}

// status queues a status change, unless it repeats the last one.
func (o *outbox) status(s engine.Status) {
	if o.hasLast && o.last == s {
		return
	}
	o.last, o.hasLast = s, true
	o.items = append(o.items, outItem{status: &s})
}

// deliver makes what is queued, unless another goroutine is doing so.
func (o *outbox) deliver() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy {
		return
	}
	o.busy = true
	defer func() {
		o.busy = false
		o.idle.Broadcast()
	}()
	for len(o.items) > 0 {
		batch := o.items
		o.items = nil
		out, ok := o.out, o.hasOut
		o.mu.Unlock()
		o.make(batch, out, ok)
		o.mu.Lock()
	}
}

func (o *outbox) make(batch []outItem, out engine.Output, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			o.h.ReportPanic(v)
		}
	}()
	for _, it := range batch {
		switch {
		case it.status != nil:
			o.h.Status(*it.status)
		case ok:
			out.Send(it.port, it.m)
		default:
			// Nothing received yet: a timer of state inherited from the
			// node this one replaced (see triggerNode.Inherit).
			o.h.Send(it.port, it.m)
		}
	}
}

// wait waits, with the lock held, until no goroutine is delivering and
// nothing is queued.
func (o *outbox) wait() {
	for o.busy || len(o.items) > 0 {
		if !o.busy {
			o.mu.Unlock()
			o.deliver()
			o.mu.Lock()
			continue
		}
		o.idle.Wait()
	}
}

// afterFunc is time.AfterFunc whose fn cannot take the process down: a
// panic is reported as an error of the node.
func afterFunc(h *engine.Host, d time.Duration, fn func()) *time.Timer {
	return time.AfterFunc(d, func() {
		defer func() {
			if v := recover(); v != nil {
				h.ReportPanic(v)
			}
		}()
		fn()
	})
}

// msDuration converts milliseconds to a Duration: NaN and negative values
// are 0, values beyond what a Duration holds (about 292 years) are the
// longest Duration.
func msDuration(ms float64) time.Duration {
	switch {
	case math.IsNaN(ms) || ms <= 0:
		return 0
	case ms >= float64(math.MaxInt64/int64(time.Millisecond)):
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// nrKeyCount is Object.keys(msg).length as Node-RED sees m: _msgid, topic
// when not empty, payload when present, and every other property.
func nrKeyCount(m *engine.Message) int {
	n := len(m.Keys()) - 2 // _msgid and the others
	if m.Topic != "" {
		n++
	}
	if _, ok := m.Lookup(payloadPath); ok {
		n++
	}
	return n
}
