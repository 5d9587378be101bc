package remote

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBackoff: with the default options the reconnect delay grows from
// 250–500 ms to 1–2 s and stays there, however many attempts failed (a
// broker back after a long outage is tried again within 2 s), with jitter
// that spreads a fleet over the last second; the same seed gives the same
// sequence.
func TestBackoff(t *testing.T) {
	o := Options{}.withDefaults()
	if o.MinBackoff != 500*time.Millisecond || o.MaxBackoff != 2*time.Second {
		t.Fatalf("default backoff %v..%v, want 500ms..2s", o.MinBackoff, o.MaxBackoff)
	}
	seq := func(seed uint64) []time.Duration {
		r := rand.New(rand.NewPCG(seed, 1))
		var out []time.Duration
		for n := 0; n <= 200; n++ {
			out = append(out, backoff(n, o.MinBackoff, o.MaxBackoff, r))
		}
		return out
	}
	a := seq(1)
	if !slices.Equal(a, seq(1)) {
		t.Fatal("the same seed gave two sequences")
	}
	if slices.Equal(a, seq(2)) {
		t.Fatal("two seeds gave the same sequence: no jitter")
	}
	steps := map[int]time.Duration{0: 0, 1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second}
	for n, d := range a {
		step, ok := steps[n]
		if !ok {
			step = 2 * time.Second
		}
		if d < step/2 || d > step {
			t.Fatalf("attempt %d: %v, want within [%v, %v]", n, d, step/2, step)
		}
	}
	// A fleet: the delays at the cap spread over [1 s, 2 s].
	r := rand.New(rand.NewPCG(7, 7))
	var lo, hi int
	for range 1000 {
		d := backoff(100, o.MinBackoff, o.MaxBackoff, r)
		if d < 1250*time.Millisecond {
			lo++
		}
		if d > 1750*time.Millisecond {
			hi++
		}
	}
	if lo < 150 || hi < 150 {
		t.Fatalf("1,000 delays at the cap: %d below 1.25 s, %d above 1.75 s; want them spread over 1–2 s", lo, hi)
	}
}
