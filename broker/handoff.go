package broker

import (
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// handOff runs one flow subscription on a goroutine of its own for what
// network clients publish in bulk (Options.HandOff). A connection's reader
// then only reads and decodes packets and queues them here; the
// subscription's goroutine takes everything queued at once and hands it
// to the flow in order. On one thread that trades a switch per message
// for one per batch, and the flows' output is written a batch at a time;
// with more, reading the next packets and running the flow on the
// previous ones go on at the same time.
//
// Each subscription (each mqtt-in node) has its own queue and goroutine,
// so a flow that blocks holds up only the messages for it, as when every
// message ran on its publisher's reader. The queue is bounded in messages
// and in bytes: a reader that finds it full waits, and so its client is
// slowed down through TCP. Messages keep their order: one queue, one
// goroutine, and a message runs on its reader only when nothing is queued
// or running here. A QoS 1 or 2 message that has to be queued is waited
// for, so that its publisher is acknowledged only once the flow has run
// it, as without the hand-off (a store-and-forward queue may have written
// it by then). Messages the flows publish themselves are delivered on the
// publishing goroutine, so a flow that publishes to itself never waits for
// its own queue.
type handOff struct {
	s *flowSub
	b *batcher

	mu        sync.Mutex
	ready     sync.Cond // the goroutine waits here for messages
	room      sync.Cond // readers wait here for room
	delivered sync.Cond // readers of QoS 1 and 2 messages wait here
	q         []queuedPub
	spare     []queuedPub
	bytes     int    // payload bytes queued
	pushed    uint64 // messages queued so far
	done      uint64 // messages handed to the flow so far
	running   bool   // the goroutine was started
	waiting   bool   // the goroutine waits for messages
	busy      bool   // the goroutine hands a batch to the flow
	stopped   bool
	finished  chan struct{}
}

// queuedPub is what the flow needs of a queued PUBLISH.
type queuedPub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

const (
	// handOffQueue is how many messages a queue holds before readers
	// wait.
	handOffQueue = 4096
	// handOffBytes is how many payload bytes a queue holds before
	// readers wait (a message larger than that alone is still taken).
	handOffBytes = 4 << 20
)

func newHandOff(s *flowSub, b *batcher) *handOff {
	h := &handOff{s: s, b: b, finished: make(chan struct{})}
	h.ready.L, h.room.L, h.delivered.L = &h.mu, &h.mu, &h.mu
	return h
}

// bulk reports whether cl sends in bulk: its last read returned many
// bytes, so that its reader has more packets to decode.
func bulk(cl *mqtt.Client) bool {
	g, ok := cl.Net.Conn.(*guardConn)
	return ok && g.bulk.Load()
}

// route queues a network client's message for the flow and reports true,
// or reports false when the reader should run the flow itself: when the
// queue is empty and the goroutine idle, for a client that does not send
// in bulk (inBulk false) or for a QoS 1 or 2 message, and once the
// hand-off is stopped, when nothing is queued; behind what is queued a
// stopped hand-off drops it. A QoS 1 or 2 message that is queued is
// waited for, until the hand-off stops.
func (h *handOff) route(name string, payload []byte, qos byte, retain, inBulk bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.q) == 0 && !h.busy && (!inBulk || qos > 0) {
		return false
	}
	for !h.stopped && len(h.q) > 0 && (len(h.q) >= handOffQueue || h.bytes+len(payload) > handOffBytes) {
		h.room.Wait()
	}
	if h.stopped {
		// Unsubscribed or closing: behind what is queued the message is
		// dropped (running it now would pass those), else its reader
		// runs it.
		return len(h.q) > 0 || h.busy
	}
	h.q = append(h.q, queuedPub{topic: name, payload: payload, qos: qos, retain: retain})
	h.bytes += len(payload)
	h.pushed++
	seq := h.pushed
	switch {
	case !h.running:
		h.running = true
		go h.run()
	case h.waiting:
		h.waiting = false
		h.ready.Signal()
	}
	for qos > 0 && h.done < seq && !h.stopped {
		h.delivered.Wait()
	}
	return true
}

// run is the subscription's goroutine.
func (h *handOff) run() {
	defer close(h.finished)
	h.mu.Lock()
	for {
		h.busy = false
		h.delivered.Broadcast()
		for len(h.q) == 0 && !h.stopped {
			h.waiting = true
			h.ready.Wait()
		}
		if len(h.q) == 0 {
			h.mu.Unlock()
			return
		}
		batch, base := h.q, h.done
		h.q, h.spare = h.spare[:0], nil
		h.bytes = 0
		h.busy = true
		h.mu.Unlock()
		h.room.Broadcast()
		h.b.enter()
		for i := range batch {
			p := &batch[i]
			h.s.send(p.topic, p.payload, p.qos, p.retain, false, false)
			if p.qos > 0 { // its reader waits for it
				h.mu.Lock()
				h.done = base + uint64(i+1)
				h.delivered.Broadcast()
				h.mu.Unlock()
			}
			batch[i] = queuedPub{}
		}
		h.b.leave()
		h.b.flushIfDirty()
		h.mu.Lock()
		h.done = base + uint64(len(batch))
		if h.spare == nil && cap(batch) <= 2*handOffQueue {
			h.spare = batch[:0]
		}
	}
}

// queued returns how many messages and payload bytes wait in the queue,
// and how many messages were queued so far.
func (h *handOff) queued() (waiting, bytes int, pushed uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.q), h.bytes, h.pushed
}

// stop refuses further messages and has the goroutine end once it has
// handed what is queued to the flow. The channel it returns is closed
// then.
func (h *handOff) stop() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.ready.Broadcast()
	h.room.Broadcast()
	h.delivered.Broadcast()
	if !h.running {
		h.running = true
		close(h.finished)
	}
	return h.finished
}

// waitAll stops every hand-off in hs and waits until their goroutines
// have handed what was queued to the flows, or until limit has passed;
// false if they had not by then.
func waitAll(hs []*handOff, limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	for _, h := range hs {
		select {
		case <-h.stop():
		case <-t.C:
			return false
		}
	}
	return true
}
