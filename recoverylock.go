package baldur

import (
	"context"
	"errors"
	"time"
)

// ErrLockNotHeld: the session does not hold the lock (it lapsed or another
// session took it).
var ErrLockNotHeld = errors.New("baldur: recovery lock not held")

// DistributedRecoveryLock serializes automated recovery across a fleet: one
// session per namespace (a runbook, a breaker, a rollout) at a time. Locks
// expire (30 min by default) unless extended, so a crashed holder cannot
// block recovery for ever. It is not a registry slot: a service that runs
// recovery takes one as a dependency, and NoOpRecoveryLock, which always
// grants, stands in where none is given.
//
// Fail mode is open: with no lock configured, or when Acquire returns an
// error (backend unreachable), callers proceed unlocked and log it. A false
// held with a nil error means another session holds the lock, and the
// caller skips its run.
//
// Implementations must be safe for concurrent use.
type DistributedRecoveryLock interface {
	// Acquire takes the lock of namespace for sessionID. Re-acquiring a
	// lock the session holds succeeds. Without blocking it tries once; with
	// blocking it retries until the lock is free, its retry budget is spent
	// (held false) or ctx is done (ctx.Err()).
	Acquire(ctx context.Context, namespace, sessionID string, blocking bool) (held bool, err error)
	// Release gives the lock back. It never releases another session's
	// lock: releasing a lock the session does not hold is a no-op.
	Release(ctx context.Context, namespace, sessionID string) error
	// Extend pushes the lock's expiry to ttl from now (zero: the default
	// timeout); ErrLockNotHeld when the session lost it.
	Extend(ctx context.Context, namespace, sessionID string, ttl time.Duration) error
}

// NoOpRecoveryLock grants every lock and holds nothing: with it every caller
// runs, as if unlocked (fail-open), which suits a single process. Safe for
// concurrent use.
type NoOpRecoveryLock struct{}

var _ DistributedRecoveryLock = NoOpRecoveryLock{}

// Acquire grants.
func (NoOpRecoveryLock) Acquire(context.Context, string, string, bool) (bool, error) {
	return true, nil
}

// Release does nothing.
func (NoOpRecoveryLock) Release(context.Context, string, string) error { return nil }

// Extend does nothing.
func (NoOpRecoveryLock) Extend(context.Context, string, string, time.Duration) error { return nil }
