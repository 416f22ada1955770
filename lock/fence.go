package lock

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Fence is the check a resource protected by a fenced lock makes before each
// write: it admits a token no smaller than every token it admitted before
// and remembers the largest. A writer whose lease was lost and granted to
// another session carries a smaller token than the new holder's first
// write, and is rejected from then on.
//
// The check and the write it guards must be atomic together (a stale writer
// could otherwise pass the check, then lose the race to a newer one and
// write last): take the resource's own lock around both, or use Guarded.
// When the resource is itself in Redis, compare the token inside the write's
// script instead.
//
// The zero value is ready and has seen no token. Safe for concurrent use.
type Fence struct {
	highest atomic.Uint64
}

// Admit records token and returns nil when it is at least the largest token
// admitted so far; otherwise an error matching ErrStaleToken, and nothing
// changes. Token 0 (no lease) is always stale.
func (f *Fence) Admit(token uint64) error {
	for {
		h := f.highest.Load()
		if token == 0 || token < h {
			return fmt.Errorf("%w: token %d, the resource has seen %d", ErrStaleToken, token, h)
		}
		if token == h || f.highest.CompareAndSwap(h, token) {
			return nil
		}
	}
}

// Highest returns the largest token admitted (0 for none).
func (f *Fence) Highest() uint64 { return f.highest.Load() }

// Guarded is a value whose writes are fenced: Write applies a change only
// when its token passes the fence, atomically with the check. It is the
// shape a store protected by a lock takes, and a reference for stores that
// keep their own state.
//
// The zero value holds the zero T. Safe for concurrent use; do not copy
// after first use.
type Guarded[T any] struct {
	mu    sync.Mutex
	fence Fence
	v     T
}

// Write calls fn on the value when token passes the fence, and returns the
// fence's error (matching ErrStaleToken) otherwise, without calling fn. fn
// runs under the value's lock: keep it short and do not call g from it.
func (g *Guarded[T]) Write(token uint64, fn func(*T)) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.fence.Admit(token); err != nil {
		return err
	}
	fn(&g.v)
	return nil
}

// Load returns the value and the largest token admitted.
func (g *Guarded[T]) Load() (T, uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v, g.fence.Highest()
}
