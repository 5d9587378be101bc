package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/runnel-io/runnel/flows/sqlitedb"
)

// schema is the outbox's own table in the shared database file. One table
// holds every queue; a queue is named after its mqtt-broker config node.
const schema = `CREATE TABLE IF NOT EXISTS outbox (
	queue   TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	topic   TEXT    NOT NULL,
	payload BLOB    NOT NULL,
	qos     INTEGER NOT NULL,
	retain  INTEGER NOT NULL,
	ts      INTEGER NOT NULL, -- queued at, Unix nanoseconds
	PRIMARY KEY (queue, seq)
) WITHOUT ROWID`

// SQLite is a queue in a SQLite database file, so that it survives a
// restart. It uses its own connection in WAL mode with synchronous=NORMAL:
// a committed message survives the process being killed; only a power
// failure may lose the last ones.
type SQLite struct {
	db   *sql.DB
	name string

	mu       sync.Mutex // serialises writes and guards the fields below
	lim      Limits
	count    int
	bytes    int64
	min, max int64 // seq range; valid when count > 0
	oldest   int64 // ts of the head message; valid when count > 0
	dropped  uint64
	dl       dropLog
}

// OpenSQLite opens (creating if needed) the queue named name in the SQLite
// file at path, which other parts of Runnel may share.
func OpenSQLite(ctx context.Context, path, name string, lim Limits, log *slog.Logger) (*SQLite, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Synchronous: "NORMAL", BusyTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	q := &SQLite{db: db, name: name, lim: lim.withDefaults(), dl: dropLog{log: log, name: name}}
	if err := q.load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return q, nil
}

func (q *SQLite) load(ctx context.Context) error {
	if _, err := q.db.ExecContext(ctx, schema); err != nil {
		return err
	}
	var mn, mx, bytes, oldest sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT count(*), min(seq), max(seq), sum(length(topic)+length(payload)) FROM outbox WHERE queue = ?`, q.name).
		Scan(&q.count, &mn, &mx, &bytes)
	if err != nil {
		return err
	}
	q.min, q.max, q.bytes = mn.Int64, mx.Int64, bytes.Int64
	if q.count > 0 {
		if err := q.db.QueryRowContext(ctx, `SELECT ts FROM outbox WHERE queue = ? AND seq = ?`, q.name, q.min).Scan(&oldest); err != nil {
			return err
		}
		q.oldest = oldest.Int64
	}
	return nil
}

// Append implements Queue.
func (q *SQLite) Append(ms ...Message) error {
	if len(ms) == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	next := q.max + 1
	if q.count == 0 && next < 1 {
		next = 1
	}
	return q.insert(ms, next)
}

// Prepend implements Queue.
func (q *SQLite) Prepend(ms []Message) error {
	if len(ms) == 0 {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	first := q.min - int64(len(ms))
	if q.count == 0 {
		first = q.max + 1 // keeps sequence numbers increasing
	}
	return q.insert(ms, first)
}

// insert writes ms with consecutive sequence numbers from first, in one
// transaction, then enforces the bounds; q.mu is held.
func (q *SQLite) insert(ms []Message, first int64) error {
	ctx := context.Background()
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO outbox (queue, seq, topic, payload, qos, retain, ts) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer st.Close()
	now := time.Now()
	var bytes int64
	oldest := int64(0)
	for i := range ms {
		m := &ms[i]
		if m.Time.IsZero() {
			m.Time = now
		}
		p := m.Payload
		if p == nil {
			p = []byte{}
		}
		if _, err := st.ExecContext(ctx, q.name, first+int64(i), m.Topic, p, int(m.QoS), m.Retain, m.Time.UnixNano()); err != nil {
			return fmt.Errorf("outbox: queue a message to %q: %w", m.Topic, err)
		}
		bytes += m.size()
		if i == 0 {
			oldest = m.Time.UnixNano()
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	last := first + int64(len(ms)) - 1
	if q.count == 0 {
		q.min, q.max, q.oldest = first, last, oldest
	} else if first < q.min {
		q.min, q.oldest = first, oldest
	} else {
		q.max = last
	}
	q.count += len(ms)
	q.bytes += bytes
	return q.enforce(now)
}

// enforce drops the oldest messages beyond the bounds; q.mu is held.
func (q *SQLite) enforce(now time.Time) error {
	over := func() string {
		switch {
		case q.count == 0:
			return ""
		case q.lim.MaxMessages > 0 && q.count > q.lim.MaxMessages:
			return "max_messages"
		case q.lim.MaxBytes > 0 && q.bytes > q.lim.MaxBytes:
			return "max_bytes"
		case q.lim.MaxAge > 0 && now.UnixNano()-q.oldest > int64(q.lim.MaxAge):
			return "max_age"
		}
		return ""
	}
	reason := over()
	if reason == "" {
		return nil
	}
	ctx := context.Background()
	total := 0
	for reason != "" {
		// Drop a batch: the messages beyond the count bound, else at
		// least one, reading their sizes and times to keep the totals.
		n := 1
		if reason == "max_messages" {
			n = q.count - q.lim.MaxMessages
		}
		if reason == "max_bytes" || reason == "max_age" {
			n = 64
		}
		rows, err := q.db.QueryContext(ctx, `SELECT seq, length(topic)+length(payload), ts FROM outbox WHERE queue = ? ORDER BY seq LIMIT ?`, q.name, n)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		var upTo int64
		dropped := 0
		var bytes int64
		cutoff := now.UnixNano() - int64(q.lim.MaxAge)
		for rows.Next() {
			var seq, size, ts int64
			if err := rows.Scan(&seq, &size, &ts); err != nil {
				rows.Close()
				return fmt.Errorf("outbox: %w", err)
			}
			// Drop only as much as the bound needs.
			if dropped > 0 && (reason == "max_bytes" && q.bytes-bytes <= q.lim.MaxBytes || reason == "max_age" && ts >= cutoff) {
				break
			}
			upTo, bytes = seq, bytes+size
			dropped++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if dropped == 0 {
			break
		}
		if _, err := q.db.ExecContext(ctx, `DELETE FROM outbox WHERE queue = ? AND seq <= ?`, q.name, upTo); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		q.count -= dropped
		q.bytes -= bytes
		q.min = upTo + 1
		total += dropped
		q.dropped += uint64(dropped)
		if err := q.refreshHead(ctx); err != nil {
			return err
		}
		q.dl.dropped(dropped, reason, q.dropped)
		reason = over()
	}
	return nil
}

// refreshHead reads the head's seq and time after a removal; q.mu is held.
func (q *SQLite) refreshHead(ctx context.Context) error {
	if q.count <= 0 {
		q.count, q.bytes = 0, 0
		return nil
	}
	err := q.db.QueryRowContext(ctx, `SELECT seq, ts FROM outbox WHERE queue = ? ORDER BY seq LIMIT 1`, q.name).Scan(&q.min, &q.oldest)
	if errors.Is(err, sql.ErrNoRows) {
		q.count, q.bytes = 0, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Peek implements Queue.
func (q *SQLite) Peek(after int64, n int) ([]Message, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.enforce(time.Now()); err != nil {
		return nil, err
	}
	if q.count == 0 {
		return nil, nil
	}
	rows, err := q.db.Query(`SELECT seq, topic, payload, qos, retain, ts FROM outbox WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?`, q.name, after, n)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		var ts int64
		if err := rows.Scan(&m.Seq, &m.Topic, &m.Payload, &m.QoS, &m.Retain, &ts); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		m.Time = time.Unix(0, ts)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Remove implements Queue.
func (q *SQLite) Remove(seq int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.count == 0 || seq < q.min {
		return nil
	}
	ctx := context.Background()
	var n int
	var bytes sql.NullInt64
	if err := q.db.QueryRowContext(ctx, `SELECT count(*), sum(length(topic)+length(payload)) FROM outbox WHERE queue = ? AND seq <= ?`, q.name, seq).Scan(&n, &bytes); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := q.db.ExecContext(ctx, `DELETE FROM outbox WHERE queue = ? AND seq <= ?`, q.name, seq); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	q.count -= n
	q.bytes -= bytes.Int64
	return q.refreshHead(ctx)
}

// Stats implements Queue.
func (q *SQLite) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Messages: q.count, Bytes: q.bytes, Dropped: q.dropped}
}

// Close implements Queue; the queued messages stay in the file.
func (q *SQLite) Close() error { return q.db.Close() }
