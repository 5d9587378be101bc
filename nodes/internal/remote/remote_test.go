package remote

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	min, max := 500*time.Millisecond, 30*time.Second
	if d := backoff(0, min, max); d != 0 {
		t.Fatalf("attempt 0: %v, want 0", d)
	}
	for n, step := range map[int]time.Duration{1: min, 2: 2 * min, 3: 4 * min, 7: max, 50: max} {
		for range 100 {
			if d := backoff(n, min, max); d < step/2 || d > step {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", n, d, step/2, step)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[backoff(5, min, max)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("backoff has no jitter: %d distinct delays in 50", len(seen))
	}
}
