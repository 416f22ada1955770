package throttle

import (
	"context"
	"time"

	"github.com/baldur-go/baldur"
)

// Key names one bucket. Hash is what the in-memory store indexes by; the
// strings are there for stores that need a key that is stable across
// processes (a Redis store builds its own from them). Hash is seeded per
// Throttle (hash/maphash) and means nothing outside this process.
type Key struct {
	Hash      uint64
	Partition string // empty unless the throttle keys by partition
	Operation string // empty unless the throttle keys by operation
	Tier      baldur.Tier
}

// Store keeps bucket states and applies Decide to them atomically. Memory
// is the in-process store; a Redis GCRA store can implement the same two
// methods with one script each.
//
// Implementations must be safe for concurrent use.
type Store interface {
	// Take applies Decide(state, now, l, maxWait) to the bucket of k and
	// stores the new state when the call is allowed.
	Take(ctx context.Context, k Key, now time.Time, l Limit, maxWait time.Duration) (Decision, error)
	// Refund gives back one call of cost l.Cost that was allowed but not
	// used (a waiting call whose context ended).
	Refund(ctx context.Context, k Key, l Limit) error
}

// FallbackCounter is implemented by a Store that, when its backend cannot
// be reached, decides calls itself by a documented fail mode (admit,
// reject, or decide locally) instead of returning an error. Such decisions
// are not store errors: Throttle.StoreFallbacks reports their count.
type FallbackCounter interface {
	// Fallbacks returns how many decisions the fail mode made.
	Fallbacks() uint64
}
