package remote

import (
	"math/rand/v2"
	"sync"
	"time"
)

// backoff returns the delay before reconnect attempt n (1 for the first
// retry): exponential from min, doubling up to max, with "equal jitter"
// (half the step fixed, half drawn from r) so that many gateways that lost
// the same broker do not all come back at the same instant. Once the step
// reaches max it stays there: however long the broker was away, it is
// tried again within max of its return.
func backoff(n int, min, max time.Duration, r *rand.Rand) time.Duration {
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
	return half + time.Duration(r.Int64N(int64(d-half)+1))
}

// jitter is a connection's source of backoff jitter, safe for concurrent
// use.
type jitter struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newJitter() *jitter {
	return &jitter{r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (j *jitter) backoff(n int, min, max time.Duration) time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return backoff(n, min, max, j.r)
}
