package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// handOff runs the flows on a goroutine of their own for what network
// clients publish in bulk (Options.HandOff). A connection's reader then
// only reads and decodes packets and queues them here; the flows'
// goroutine takes everything queued at once and hands it to the flows in
// order. On one thread that trades a switch per message for one per
// batch, and the flows' output is written a batch at a time; with more,
// reading the next packets and running the flows on the previous ones go
// on at the same time.
//
// The queue is bounded: a reader that finds it full waits, and so its
// client is slowed down through TCP, as when the flows ran on the reader.
// Messages keep their order: one queue, one goroutine. Messages the flows
// publish themselves are delivered on the publishing goroutine as before,
// so a flow that publishes to itself never waits for its own queue.
type handOff struct {
	f *flowSubs
	b *batcher

	mu       sync.Mutex
	ready    sync.Cond // the worker waits here for messages
	room     sync.Cond // readers wait here for room
	idle     sync.Cond // drain waits here for an empty queue
	q        []queuedPub
	spare    []queuedPub
	max      int
	pushed   int  // messages queued so far
	waiting  bool // the worker waits for messages
	busy     bool // the worker handles what it took
	stopped  bool
	finished chan struct{}
}

// queuedPub is what the flows need of a queued PUBLISH.
type queuedPub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// handOffQueue is how many messages the queue holds before readers wait.
const handOffQueue = 4096

func newHandOff(f *flowSubs, b *batcher) *handOff {
	h := &handOff{f: f, b: b, max: handOffQueue, finished: make(chan struct{})}
	h.ready.L, h.room.L, h.idle.L = &h.mu, &h.mu, &h.mu
	go h.run()
	return h
}

// wanted reports whether a message from cl should go through the queue.
// It should when cl sends in bulk (its last read returned many bytes), so
// that reading its next packets overlaps with the flows; and it must when
// the queue is not empty or the flows' goroutine is busy, because cl's
// earlier messages may still be there. Otherwise cl's reader runs the
// flows itself, as without the hand-off: a message now and then costs no
// wake-up of another thread.
func (h *handOff) wanted(cl *mqtt.Client) bool {
	if g, ok := cl.Net.Conn.(*guardConn); ok && g.bulk.Load() {
		return true
	}
	h.mu.Lock()
	idle := len(h.q) == 0 && !h.busy
	h.mu.Unlock()
	return !idle
}

// push queues pk, waiting while the queue is full. It reports false once
// the hand-off is stopped.
func (h *handOff) push(pk *packets.Packet) bool {
	h.mu.Lock()
	for len(h.q) >= h.max && !h.stopped {
		h.room.Wait()
	}
	if h.stopped {
		h.mu.Unlock()
		return false
	}
	h.pushed++
	h.q = append(h.q, queuedPub{topic: pk.TopicName, payload: pk.Payload, qos: pk.FixedHeader.Qos, retain: pk.FixedHeader.Retain})
	if h.waiting {
		h.waiting = false
		h.ready.Signal()
	}
	h.mu.Unlock()
	return true
}

// run is the flows' goroutine.
func (h *handOff) run() {
	defer close(h.finished)
	for {
		h.mu.Lock()
		for len(h.q) == 0 && !h.stopped {
			h.busy = false
			h.idle.Broadcast()
			h.waiting = true
			h.ready.Wait()
		}
		if len(h.q) == 0 {
			h.busy = false
			h.idle.Broadcast()
			h.mu.Unlock()
			return
		}
		batch := h.q
		h.q, h.spare = h.spare[:0], nil
		h.busy = true
		full := len(batch) >= h.max
		h.mu.Unlock()
		if full {
			h.room.Broadcast()
		}
		h.b.enter()
		for i := range batch {
			p := &batch[i]
			h.f.deliverOne(p.topic, p.payload, p.qos, p.retain, false)
			batch[i] = queuedPub{}
		}
		h.b.leave()
		h.b.flushIfDirty()
		h.mu.Lock()
		if h.spare == nil && cap(batch) <= 4*h.max {
			h.spare = batch[:0]
		}
		h.mu.Unlock()
	}
}

// queued returns how many messages wait in the queue, and how many were
// queued so far.
func (h *handOff) queued() (waiting, pushed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.q), h.pushed
}

// drain waits until everything queued so far has been handed to the
// flows.
func (h *handOff) drain() {
	h.mu.Lock()
	for len(h.q) > 0 || h.busy {
		h.idle.Wait()
	}
	h.mu.Unlock()
}

// stop refuses further messages and has the goroutine end once it has
// handed what is queued to the flows. The channel it returns is closed
// then.
func (h *handOff) stop() <-chan struct{} {
	h.mu.Lock()
	h.stopped = true
	h.ready.Broadcast()
	h.room.Broadcast()
	h.mu.Unlock()
	return h.finished
}
