// Package outbox is the store-and-forward queue of mqtt-out nodes that
// publish to a remote broker: the messages (QoS 1 and 2) that wait for the
// broker to become reachable again, oldest first, bounded by count, bytes
// and age. SQLite keeps a queue on disk, so that a restart during an outage
// loses nothing; Memory keeps one in the process when there is no data
// directory.
//
// When a bound is hit the oldest messages are dropped, counted and logged:
// an edge gateway that cannot reach its broker for a long time keeps the
// most recent data.
package outbox

import (
	"log/slog"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine/config/defaults"
)

// Default bounds.
const (
	DefaultMaxMessages = defaults.EdgeQueueMaxMessages
	DefaultMaxBytes    = defaults.EdgeQueueMaxBytes
	DefaultMaxAge      = defaults.EdgeQueueMaxAge
)

// Limits bound a queue. A zero field takes its default; a negative one
// means no bound.
type Limits struct {
	MaxMessages int
	MaxBytes    int64
	MaxAge      time.Duration
}

// withDefaults returns l with zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxMessages == 0 {
		l.MaxMessages = DefaultMaxMessages
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxAge == 0 {
		l.MaxAge = DefaultMaxAge
	}
	return l
}

// Message is a queued MQTT message.
type Message struct {
	// Seq orders the queue; it is set by the queue.
	Seq     int64
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// Time is when the message was queued (Append sets it when zero).
	Time time.Time
}

// size is what a message counts against MaxBytes.
func (m *Message) size() int64 { return int64(len(m.Topic) + len(m.Payload)) }

// Queue is an ordered, bounded message queue. Its methods are safe for
// concurrent use.
type Queue interface {
	// Append adds messages at the tail, dropping the oldest ones when a
	// bound is exceeded.
	Append(ms ...Message) error
	// Prepend puts messages, in their order, before every queued message
	// (messages that were taken for sending and must be sent first).
	Prepend(ms []Message) error
	// Peek returns up to n messages with a Seq above after, oldest first,
	// after dropping the ones older than MaxAge. math.MinInt64 reads from
	// the head.
	Peek(after int64, n int) ([]Message, error)
	// Remove removes the messages at the head up to and including seq.
	Remove(seq int64) error
	// Stats returns the queue's size and drop counters.
	Stats() Stats
	// Close releases the queue; a SQLite queue keeps its messages.
	Close() error
}

// Stats describe a queue.
type Stats struct {
	// Messages and Bytes are what the queue holds.
	Messages int
	Bytes    int64
	// Dropped counts the messages dropped because a bound was hit, since
	// the queue was opened.
	Dropped uint64
}

// dropLog logs drops, at most once a second, with running totals.
type dropLog struct {
	mu    sync.Mutex
	log   *slog.Logger
	name  string
	last  time.Time
	since uint64 // drops not yet logged
}

func (d *dropLog) dropped(n int, reason string, total uint64) {
	if n <= 0 || d.log == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.since += uint64(n)
	if now := time.Now(); now.Sub(d.last) >= time.Second {
		d.log.Warn("store-and-forward queue full: dropped the oldest messages",
			slog.String("queue", d.name), slog.String("bound", reason),
			slog.Uint64("dropped", d.since), slog.Uint64("dropped_total", total))
		d.last, d.since = now, 0
	}
}
