package broker

import (
	"sync"
	"sync/atomic"
	"time"
)

// batcher writes the flows' queued output in batches. A connection's
// reader goroutine hands mochi what one read returned, often several
// packets at once; the flows' messages that these packets cause are queued
// on their subscribers' connections (packetQueuer) and written when the
// reader comes back for more, one write per subscriber for the whole
// batch, where mochi writes from a goroutine of its own per subscriber,
// which costs a hand-over for each batch and a copy of each message. A
// message queued while no reader is handling input (an inject node's
// timer, say) is written at once.
//
// A reader that stalls while it handles its input (a flow that blocks)
// would hold back what was queued: a timer writes it out after
// flushBackstop regardless.
type batcher struct {
	open   atomic.Int32 // readers handling what their last read returned
	ndirty atomic.Int32
	mu     sync.Mutex
	dirty  []flusher
	spare  []flusher
	// The backstop timer. armed says it is set; both change under tmu
	// only, so that a flush that stops it cannot stop one just set for
	// output it will not take.
	tmu   sync.Mutex
	armed bool
	timer *time.Timer
}

// flushBackstop is how long queued output waits at most for the reader
// whose input caused it.
const flushBackstop = time.Millisecond

// flusher is a connection with output queued.
type flusher interface {
	// flushPending writes the queued output without waiting.
	flushPending()
}

func newBatcher() *batcher {
	b := &batcher{}
	b.timer = time.AfterFunc(time.Hour, b.flush)
	b.timer.Stop()
	return b
}

// enter and leave count the readers handling input.
func (b *batcher) enter() { b.open.Add(1) }
func (b *batcher) leave() { b.open.Add(-1) }

// mark puts c, which has just got output queued, on the dirty list.
func (b *batcher) mark(c flusher) {
	b.mu.Lock()
	b.dirty = append(b.dirty, c)
	b.ndirty.Store(int32(len(b.dirty)))
	b.mu.Unlock()
}

// done ends a round of queuing: the output is written now if no reader
// handles input, else when one comes back for more (or at the backstop).
func (b *batcher) done() {
	if b.open.Load() == 0 {
		b.flush()
		return
	}
	b.tmu.Lock()
	if !b.armed {
		b.armed = true
		b.timer.Reset(flushBackstop)
	}
	b.tmu.Unlock()
}

// isArmed reports whether the backstop timer is set.
func (b *batcher) isArmed() bool {
	b.tmu.Lock()
	defer b.tmu.Unlock()
	return b.armed
}

// flushIfDirty writes the queued output, if there is any.
func (b *batcher) flushIfDirty() {
	if b.ndirty.Load() > 0 {
		b.flush()
	}
}

// flush writes the queued output of every dirty connection. It disarms
// the backstop before it takes the dirty list: output queued after that
// arms it again (done follows its queue), and output queued before is on
// the list, so nothing is left without a writer, and a reader that
// flushes at its next read spares the process a timer wake-up.
func (b *batcher) flush() {
	b.tmu.Lock()
	if b.armed {
		b.armed = false
		b.timer.Stop()
	}
	b.tmu.Unlock()
	b.mu.Lock()
	d := b.dirty
	b.dirty, b.spare = b.spare[:0], nil
	b.ndirty.Store(0)
	b.mu.Unlock()
	if len(d) == 0 {
		return
	}
	for i, c := range d {
		c.flushPending()
		d[i] = nil
	}
	b.mu.Lock()
	if b.spare == nil {
		b.spare = d[:0]
	}
	b.mu.Unlock()
}
