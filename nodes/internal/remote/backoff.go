package remote

import (
	"math/rand/v2"
	"time"
)

// backoff returns the delay before reconnect attempt n (1 for the first
// retry): exponential from min, doubling up to max, with "equal jitter"
// (half the step fixed, half random) so that many gateways that lost the
// same broker do not all come back at the same instant.
func backoff(n int, min, max time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(half+1)
}
