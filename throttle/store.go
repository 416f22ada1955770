package throttle

import (
	"context"
	"time"

	"github.com/baldur-go/baldur"
)

// Key names one bucket. Hash is what the in-memory store indexes by; the
// strings are there for stores that need a key that is stable across
// processes (a Redis store builds its own from them). Hash is seeded per
// Throttle (a random seed) and means nothing outside this process.
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

// LocalTaker is implemented by a Store that answers some calls from
// process-local state it finds by the key hash and tier alone (a fleet
// store's leased tokens and cached denies). Throttle.Admit asks it first,
// without building the Key; when it reports no hit, Admit calls Take as
// usual. Wait never uses it.
type LocalTaker interface {
	// TakeLocal decides the call of the bucket with this hash and tier at
	// now, as Take would with maxWait 0, when local state alone decides it,
	// and reports hit. after is the Decision's Reset when the call is
	// allowed, its RetryAfter when it is denied. With hit false nothing was
	// taken and Take decides the call. TakeLocal must not block.
	TakeLocal(hash uint64, tier baldur.Tier, now time.Time, l Limit) (allowed bool, after time.Duration, hit bool)
}
