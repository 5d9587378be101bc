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
// so a flow that blocks holds up the messages for it and the publishers
// that wait for room in its queue, not other subscriptions' messages from
// other publishers: as when every message ran on its publisher's reader.
// The queue is bounded in messages and in bytes (besides the batch the
// flow is running): a reader that finds it full waits, and so its client
// is slowed down through TCP. Messages keep their order: one queue, one
// goroutine, and a message runs on its reader only when nothing is queued
// or running here. A QoS 1 or 2 message that has to be queued is waited
// for, so that its publisher is acknowledged only once the flow has run
// it, as without the hand-off (a store-and-forward queue may have written
// it by then); when the broker stops, one kept out of a full queue is
// not acknowledged at all. Messages the flows publish themselves are
// delivered on the publishing goroutine, so a flow that publishes to
// itself never waits for its own queue.
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
	stopped   bool   // no more messages are taken
	closing   bool   // stopped because the broker stops taking messages
	abandoned bool   // the wait for the goroutine gave up: its readers go
	finished  chan struct{}
	untrack   func(*handOff) // called once the goroutine has ended
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

// newHandOff returns the hand-off of s; untrack, if not nil, is called
// once it has ended.
func newHandOff(s *flowSub, b *batcher, untrack func(*handOff)) *handOff {
	h := &handOff{s: s, b: b, finished: make(chan struct{}), untrack: untrack}
	h.ready.L, h.room.L, h.delivered.L = &h.mu, &h.mu, &h.mu
	return h
}

// routed is what route did with a message.
type routed uint8

const (
	runInline routed = iota // the reader runs the flow itself
	taken                   // queued (a QoS 1 or 2 message: and run), or not owed to a removed subscription
	dropped                 // the broker stops: the message is not run
)

// bulk reports whether cl sends in bulk: its last read returned many
// bytes, so that its reader has more packets to decode.
func bulk(cl *mqtt.Client) bool {
	g, ok := cl.Net.Conn.(*guardConn)
	return ok && g.bulk.Load()
}

// route queues a network client's message for the flow, or says that
// the reader should run the flow itself: when the queue is empty and the
// goroutine idle, for a client that does not send in bulk (inBulk false)
// or for a QoS 1 or 2 message. A QoS 1 or 2 message that is queued is
// waited for. Once the hand-off is stopped, a message that would come
// behind what is queued is not run (running it would pass those): it is
// dropped when the broker stops, and taken when the subscription was
// removed; one with nothing before it runs on its reader. A waiter whose
// message had not run when the wait for the goroutine gave up (abandon)
// hears dropped.
func (h *handOff) route(name string, payload []byte, qos byte, retain, inBulk bool) routed {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.q) == 0 && !h.busy && (!inBulk || qos > 0) {
		return runInline
	}
	for !h.stopped && len(h.q) > 0 && (len(h.q) >= handOffQueue || h.bytes+len(payload) > handOffBytes) {
		h.room.Wait()
	}
	if h.stopped {
		switch {
		case len(h.q) == 0 && !h.busy:
			return runInline
		case h.closing:
			return dropped
		}
		return taken
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
	for qos > 0 && h.done < seq {
		if h.abandoned {
			return dropped
		}
		h.delivered.Wait()
	}
	return taken
}

// run is the subscription's goroutine.
func (h *handOff) run() {
	defer h.end()
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

// end marks the hand-off ended, once its goroutine has (or, never
// started, once it is stopped).
func (h *handOff) end() {
	close(h.finished)
	if h.untrack != nil {
		h.untrack(h)
	}
}

// stop refuses further messages and has the goroutine end once it has
// handed what is queued to the flow; closing says that the broker stops
// taking messages (see subs.go's OnPublish). The channel it returns is
// closed then.
func (h *handOff) stop(closing bool) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.closing = h.closing || closing
	h.ready.Broadcast()
	h.room.Broadcast()
	if !h.running {
		h.running = true
		go h.end()
	}
	return h.finished
}

// abandon lets go the readers that wait for their QoS 1 or 2 message to
// run: the goroutine is stuck in a flow.
func (h *handOff) abandon() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.abandoned = true
	h.delivered.Broadcast()
}

// waitAll stops every hand-off in hs (closing: the broker stops taking
// messages) and waits until their goroutines have handed what was queued
// to the flows, or until limit has passed; then it abandons those that
// have not, and reports false.
func waitAll(hs []*handOff, limit time.Duration) bool {
	for _, h := range hs {
		h.stop(true)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	ok := true
	for _, h := range hs {
		if ok {
			select {
			case <-h.finished:
				continue
			case <-t.C:
				ok = false
			}
		}
		select {
		case <-h.finished:
		default:
			h.abandon()
		}
	}
	return ok
}
