package lock

import (
	"context"
	"errors"
	"time"
)

// DefaultTTL is the lease of a lock whose TTL is not given: long enough for
// a recovery run that does not renew. Hold, which renews, defaults to
// DefaultHoldTTL instead, so that a crashed holder blocks recovery for
// seconds, not half an hour.
const DefaultTTL = 30 * time.Minute

// ErrNotHeld means the session does not hold the lock: its lease lapsed, or
// another session took the namespace, or (with a token) the session holds it
// under another token.
var ErrNotHeld = errors.New("lock: not held")

// ErrStaleToken is returned by a fence for a write carrying a token smaller
// than one it has already seen: the writer's lease was lost and granted to
// another session.
var ErrStaleToken = errors.New("lock: stale fencing token")

// ErrLeaseLost is the cause of a Held context cancelled because its lease
// was lost. The cause also matches ErrNotHeld when a renewal said so.
var ErrLeaseLost = errors.New("lock: lease lost")

// Locker serializes work per namespace across sessions.
//
// Implementations must be safe for concurrent use.
type Locker interface {
	// Acquire takes the lock of namespace for sessionID for the
	// implementation's default TTL. Re-acquiring a lock the session holds
	// succeeds. Without blocking it tries once; with blocking it retries
	// until the lock is free, its retry budget is spent (held false) or ctx
	// is done (ctx.Err()).
	Acquire(ctx context.Context, namespace, sessionID string, blocking bool) (held bool, err error)
	// Release gives the lock back. It never releases another session's
	// lock: releasing a lock the session does not hold is a no-op.
	Release(ctx context.Context, namespace, sessionID string) error
	// Extend pushes the lock's expiry to ttl from now (zero: the default
	// TTL); ErrNotHeld when the session lost it. It never resurrects a lock
	// that expired.
	Extend(ctx context.Context, namespace, sessionID string, ttl time.Duration) error
}

// Lease is one grant of a fenced lock.
type Lease struct {
	// Token is larger than the token of every earlier grant of the
	// namespace (a re-acquire by the holder returns its token unchanged).
	Token uint64
	// Until is when the lease ends at the latest, on the caller's clock:
	// the time the request was sent plus the TTL.
	Until time.Time
}

// Fenced is a Locker whose grants carry fencing tokens. Token 0 in
// ExtendFenced and ReleaseFenced means "whatever the token", as in Extend and
// Release.
//
// Implementations must be safe for concurrent use.
type Fenced interface {
	Locker
	// AcquireFenced is Acquire with a TTL (zero: the default) that returns
	// the lease.
	AcquireFenced(ctx context.Context, namespace, sessionID string, ttl time.Duration, blocking bool) (Lease, bool, error)
	// ExtendFenced is Extend that also requires the lease to carry token;
	// it returns the pushed lease.
	ExtendFenced(ctx context.Context, namespace, sessionID string, token uint64, ttl time.Duration) (Lease, error)
	// ReleaseFenced is Release that deletes the lock only while it carries
	// token.
	ReleaseFenced(ctx context.Context, namespace, sessionID string, token uint64) error
}

// NoOp grants every lock and holds nothing: with it every caller runs, as
// if unlocked. It is the default (fail-open), suitable for a single process
// whose runs do not overlap. Safe for concurrent use.
type NoOp struct{}

var _ Locker = NoOp{}

// Acquire grants.
func (NoOp) Acquire(context.Context, string, string, bool) (bool, error) { return true, nil }

// Release does nothing.
func (NoOp) Release(context.Context, string, string) error { return nil }

// Extend does nothing.
func (NoOp) Extend(context.Context, string, string, time.Duration) error { return nil }
