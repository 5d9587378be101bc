package remote

import (
	"strings"
	"testing"
	"time"
)

func TestMatches(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/b", "$SYS/b", false},
		{"sensors/+/data", "sensors/dev1/data", true},
		{"sensors/+/data", "sensors/dev1", false},
		{"a/b/c", "a/b", false},
		{"+", "", true},
		{"a//b", "a//b", true},
	}
	for _, c := range cases {
		if got := matches(strings.Split(c.filter, "/"), c.topic); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

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
