package outbox

import (
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Memory is a queue in the process's memory: it survives reconnects but
// not a restart.
type Memory struct {
	mu      sync.Mutex
	lim     Limits
	ms      []Message // ms[head:] are queued
	head    int
	bytes   int64
	next    int64 // Seq of the next appended message
	dropped uint64
	dl      dropLog
}

// NewMemory returns an empty in-memory queue named name (for log lines).
func NewMemory(name string, lim Limits, log *slog.Logger) *Memory {
	return &Memory{lim: lim.withDefaults(), next: 1, dl: dropLog{log: log, name: name}}
}

// Append implements Queue.
func (q *Memory) Append(ms ...Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, m := range ms {
		m.Seq = q.next
		q.next++
		if m.Time.IsZero() {
			m.Time = now
		}
		q.ms = append(q.ms, m)
		q.bytes += m.size()
	}
	q.enforce(now)
	return nil
}

// Prepend implements Queue.
func (q *Memory) Prepend(ms []Message) error {
	if len(ms) == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	first := int64(1)
	if q.head < len(q.ms) {
		first = q.ms[q.head].Seq
	} else {
		first = q.next
	}
	rest := q.ms[q.head:]
	out := make([]Message, 0, len(ms)+len(rest))
	for i, m := range ms {
		m.Seq = first - int64(len(ms)-i)
		if m.Time.IsZero() {
			m.Time = time.Now()
		}
		q.bytes += m.size()
		out = append(out, m)
	}
	q.ms, q.head = append(out, rest...), 0
	q.enforce(time.Now())
	return nil
}

// enforce drops the oldest messages beyond the bounds; q.mu is held.
func (q *Memory) enforce(now time.Time) {
	var n int
	var reason string
	for q.head < len(q.ms) {
		m := &q.ms[q.head]
		switch {
		case q.lim.MaxMessages > 0 && len(q.ms)-q.head > q.lim.MaxMessages:
			reason = "max_messages"
		case q.lim.MaxBytes > 0 && q.bytes > q.lim.MaxBytes:
			reason = "max_bytes"
		case q.lim.MaxAge > 0 && now.Sub(m.Time) > q.lim.MaxAge:
			reason = "max_age"
		default:
			q.dropped += uint64(n)
			q.dl.dropped(n, reason, q.dropped)
			q.compact()
			return
		}
		q.bytes -= m.size()
		*m = Message{}
		q.head++
		n++
	}
	q.dropped += uint64(n)
	q.dl.dropped(n, reason, q.dropped)
	q.compact()
}

// compact reuses the slice's front once half of it is consumed.
func (q *Memory) compact() {
	if q.head > 0 && q.head >= len(q.ms)/2 {
		n := copy(q.ms, q.ms[q.head:])
		clear(q.ms[n:])
		q.ms, q.head = q.ms[:n], 0
	}
}

// Peek implements Queue.
func (q *Memory) Peek(after int64, n int) ([]Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.enforce(time.Now())
	rest := q.ms[q.head:]
	rest = rest[sort.Search(len(rest), func(i int) bool { return rest[i].Seq > after }):]
	if n > len(rest) {
		n = len(rest)
	}
	return append([]Message(nil), rest[:n]...), nil
}

// Remove implements Queue.
func (q *Memory) Remove(seq int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head < len(q.ms) && q.ms[q.head].Seq <= seq {
		q.bytes -= q.ms[q.head].size()
		q.ms[q.head] = Message{}
		q.head++
	}
	q.compact()
	return nil
}

// Stats implements Queue.
func (q *Memory) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Messages: len(q.ms) - q.head, Bytes: q.bytes, Dropped: q.dropped}
}

// Close implements Queue; the messages are lost.
func (q *Memory) Close() error { return nil }
