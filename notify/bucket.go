package notify

import (
	"sync"
	"time"
)

// bucket is a token bucket of capacity limit refilled limit per period,
// on the caller's clock. A nil *bucket is unlimited.
type bucket struct {
	limit  float64
	per    float64 // tokens per nanosecond
	tokens float64
	last   int64
}

func newBucket(limit int, period time.Duration) *bucket {
	if limit <= 0 {
		return nil
	}
	return &bucket{limit: float64(limit), per: float64(limit) / float64(period), tokens: float64(limit)}
}

func (b *bucket) refill(now int64) {
	if b.last == 0 {
		b.last = now
	}
	if now > b.last {
		b.tokens = min(b.limit, b.tokens+float64(now-b.last)*b.per)
		b.last = now
	}
}

// rate is the global limit: a minute and an hour bucket, taken together.
type rate struct {
	mu           sync.Mutex
	minute, hour *bucket
}

// take takes one token of both buckets, or none.
func (r *rate) take(now int64) bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range []*bucket{r.minute, r.hour} {
		if b != nil {
			b.refill(now)
			if b.tokens < 1 {
				return false
			}
		}
	}
	for _, b := range []*bucket{r.minute, r.hour} {
		if b != nil {
			b.tokens--
		}
	}
	return true
}
