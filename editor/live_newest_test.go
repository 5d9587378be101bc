package editor

import (
	"encoding/json"
	"testing"
	"time"
)

// A burst larger than a flush window's limit keeps its newest messages
// (as Node-RED's debug sidebar keeps the last ones), oldest first, and the
// count of the earlier ones dropped comes before them.
func TestLiveDebugBurstKeepsNewest(t *testing.T) {
	t.Parallel()
	// A long flush interval puts the whole burst into one window.
	env := newLiveEnv(t, HubOptions{FlushInterval: time.Second}, debugFlow)
	c := env.dial()
	env.waitClients(1)
	const sent = 3000
	src := env.source("src")
	for i := range sent {
		src.emit("t", float64(i))
	}
	var got []float64
	dropped := 0
	deadline := time.Now().Add(5 * time.Second)
	for len(got)+dropped < sent {
		for _, ev := range c.next(time.Until(deadline)) {
			switch ev.Topic {
			case "debug":
				if len(got) == 0 && dropped == 0 {
					t.Errorf("a debug event came before the count of the dropped ones")
				}
				var d struct{ Msg float64 }
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					t.Fatal(err)
				}
				got = append(got, d.Msg)
			case "debug/dropped":
				var n struct{ Count int }
				json.Unmarshal(ev.Data, &n)
				dropped += n.Count
			}
		}
	}
	if dropped != sent-DefaultDebugPerFlush || len(got) != DefaultDebugPerFlush {
		t.Fatalf("received %d, dropped %d; want %d and %d", len(got), dropped, DefaultDebugPerFlush, sent-DefaultDebugPerFlush)
	}
	for i, v := range got {
		if want := float64(sent - DefaultDebugPerFlush + i); v != want {
			t.Fatalf("message %d is %v, want %v (the newest, in order): %v", i, v, want, got)
		}
	}
}

// The intake's ring gives its events oldest first however often it
// wrapped, each with its time, and starts each window empty.
func TestIntakeRing(t *testing.T) {
	var in intake[int]
	in.limit = 3
	var spare []stamped[int]
	for n := range 8 {
		for i := range n {
			in.add(i)
		}
		got, dropped := in.take(spare)
		var vals []int
		for _, s := range got {
			vals = append(vals, s.ev)
		}
		first := max(0, n-3)
		if int(dropped) != first || len(vals) != n-first {
			t.Fatalf("%d added: %v, dropped %d", n, vals, dropped)
		}
		for i, v := range vals {
			if v != first+i {
				t.Fatalf("%d added: %v, want %d.. in order", n, vals, first)
			}
		}
		// Every event is stamped, those of the full window when taken.
		for i, s := range got {
			if s.ts == 0 || i > 0 && s.ts < got[i-1].ts {
				t.Fatalf("%d added: times %+v", n, got)
			}
		}
		spare = got
	}
}

// BenchmarkIntakeAdd measures OnDebug's cost on a full window (the case of
// a flood), from several goroutines at once.
func BenchmarkIntakeAdd(b *testing.B) {
	var in intake[int]
	in.limit = DefaultDebugPerFlush
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			in.add(1)
		}
	})
}

// BenchmarkIntakeAddOne is BenchmarkIntakeAdd from one goroutine.
func BenchmarkIntakeAddOne(b *testing.B) {
	var in intake[int]
	in.limit = DefaultDebugPerFlush
	for b.Loop() {
		in.add(1)
	}
}
