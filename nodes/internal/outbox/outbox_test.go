package outbox

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func msgs(from, to int) []Message {
	var out []Message
	for i := from; i <= to; i++ {
		out = append(out, Message{Topic: "t", Payload: []byte(fmt.Sprint(i)), QoS: 1})
	}
	return out
}

func payloads(ms []Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, string(m.Payload))
	}
	return strings.Join(s, ",")
}

// queues runs f on a memory queue and on a SQLite queue in a fresh file.
func queues(t *testing.T, lim Limits, f func(t *testing.T, q Queue, log *bytes.Buffer)) {
	t.Run("memory", func(t *testing.T) {
		var log bytes.Buffer
		f(t, NewMemory("b1", lim, slog.New(slog.NewTextHandler(&log, nil))), &log)
	})
	t.Run("sqlite", func(t *testing.T) {
		var log bytes.Buffer
		q, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "runnel.db"), "b1", lim, slog.New(slog.NewTextHandler(&log, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		f(t, q, &log)
	})
}

func TestOrderPrependRemove(t *testing.T) {
	queues(t, Limits{}, func(t *testing.T, q Queue, _ *bytes.Buffer) {
		if err := q.Append(msgs(4, 6)...); err != nil {
			t.Fatal(err)
		}
		if err := q.Prepend(msgs(1, 3)); err != nil {
			t.Fatal(err)
		}
		q.Append(msgs(7, 7)...)
		got, err := q.Peek(math.MinInt64, 100)
		if err != nil {
			t.Fatal(err)
		}
		if p := payloads(got); p != "1,2,3,4,5,6,7" {
			t.Fatalf("queue = %s, want 1..7", p)
		}
		if err := q.Remove(got[2].Seq); err != nil {
			t.Fatal(err)
		}
		got, _ = q.Peek(math.MinInt64, 2)
		if p := payloads(got); p != "4,5" {
			t.Fatalf("after Remove: head = %s, want 4,5", p)
		}
		if rest, _ := q.Peek(got[0].Seq, 10); payloads(rest) != "5,6,7" {
			t.Fatalf("Peek after 4 = %s, want 5,6,7", payloads(rest))
		}
		if st := q.Stats(); st.Messages != 4 || st.Bytes != 4*2 {
			t.Fatalf("stats = %+v, want 4 messages of 2 bytes", st)
		}
		q.Remove(1 << 40)
		q.Prepend(msgs(8, 8))
		q.Append(msgs(9, 9)...)
		got, _ = q.Peek(math.MinInt64, 10)
		if p := payloads(got); p != "8,9" {
			t.Fatalf("after emptying: %s, want 8,9", p)
		}
	})
}

func TestBoundsDropOldest(t *testing.T) {
	queues(t, Limits{MaxMessages: 5}, func(t *testing.T, q Queue, log *bytes.Buffer) {
		for _, m := range msgs(1, 12) {
			if err := q.Append(m); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := q.Peek(math.MinInt64, 100)
		if p := payloads(got); p != "8,9,10,11,12" {
			t.Fatalf("queue = %s, want 8..12", p)
		}
		if st := q.Stats(); st.Dropped != 7 || st.Messages != 5 {
			t.Fatalf("stats = %+v, want 7 dropped, 5 kept", st)
		}
		if !strings.Contains(log.String(), "dropped the oldest messages") || !strings.Contains(log.String(), "bound=max_messages") {
			t.Fatalf("no drop warning in the log: %s", log.String())
		}
	})
	queues(t, Limits{MaxBytes: 10}, func(t *testing.T, q Queue, _ *bytes.Buffer) {
		q.Append(msgs(10, 16)...) // 3 bytes each ("t" + 2 digits)
		got, _ := q.Peek(math.MinInt64, 100)
		if p := payloads(got); p != "14,15,16" {
			t.Fatalf("queue = %s, want 14..16 (9 bytes)", p)
		}
		if st := q.Stats(); st.Bytes != 9 || st.Dropped != 4 {
			t.Fatalf("stats = %+v", st)
		}
	})
	queues(t, Limits{MaxAge: time.Hour}, func(t *testing.T, q Queue, _ *bytes.Buffer) {
		old := msgs(1, 2)
		for i := range old {
			old[i].Time = time.Now().Add(-2 * time.Hour)
		}
		q.Append(old...)
		q.Append(msgs(3, 4)...)
		got, _ := q.Peek(math.MinInt64, 100)
		if p := payloads(got); p != "3,4" {
			t.Fatalf("queue = %s, want 3,4", p)
		}
		if st := q.Stats(); st.Dropped != 2 {
			t.Fatalf("stats = %+v, want 2 dropped", st)
		}
	})
}

func TestSQLiteSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runnel.db")
	q, err := OpenSQLite(context.Background(), path, "b1", Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.Append(msgs(3, 5)...)
	q.Prepend(msgs(1, 2))
	other, err := OpenSQLite(context.Background(), path, "b2", Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.Append(msgs(100, 100)...)
	q.Close()
	other.Close()

	q, err = OpenSQLite(context.Background(), path, "b1", Limits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if st := q.Stats(); st.Messages != 5 || st.Bytes != 10 {
		t.Fatalf("reopened stats = %+v, want 5 messages, 10 bytes", st)
	}
	q.Append(msgs(6, 6)...)
	got, _ := q.Peek(math.MinInt64, 100)
	if p := payloads(got); p != "1,2,3,4,5,6" {
		t.Fatalf("reopened queue = %s, want 1..6", p)
	}
}

// BenchmarkSQLiteAppend measures queueing one message on disk.
//
//	go test -run '^$' -bench SQLiteAppend -benchmem ./nodes/internal/outbox/
func BenchmarkSQLiteAppend(b *testing.B) {
	q, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "runnel.db"), "b1", Limits{MaxMessages: -1, MaxBytes: -1, MaxAge: -1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	m := Message{Topic: "alerts/temperature", Payload: []byte(`{"temperature":21.5,"humidity":40}`), QoS: 1}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Append(m); err != nil {
			b.Fatal(err)
		}
	}
}
