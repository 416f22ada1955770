package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
)

var (
	//go:embed lock_acquire.lua
	lockAcquireSource string
	//go:embed lock_extend.lua
	lockExtendSource string
	//go:embed lock_release.lua
	lockReleaseSource string
)

// The scripts of Lock. Pass LockScripts in Config.Scripts (or to OnConnect)
// to have them loaded before the first call.
var (
	LockAcquireScript = NewScript(lockAcquireSource)
	LockExtendScript  = NewScript(lockExtendSource)
	LockReleaseScript = NewScript(lockReleaseSource)
	LockScripts       = []*Script{LockAcquireScript, LockExtendScript, LockReleaseScript}
)

// DefaultPrefix starts every key the stores of this package write.
const DefaultPrefix = "bd:"

// LockConfig configures a Lock. The zero value is valid.
type LockConfig struct {
	// Prefix starts the lock's keys. Empty means DefaultPrefix.
	Prefix string
	// TTL is the lease of Acquire and of calls given a zero TTL. Zero means
	// lock.DefaultTTL (30 min); use lock.Hold, with its 30 s renewed lease,
	// for work that can renew.
	TTL time.Duration
	// Clock dates Lease.Until (the local send time plus the TTL) and times
	// blocking retries. Nil means baldur.SystemClock(). Expiry itself is
	// the server's.
	Clock baldur.Clock
	// Retry is how a blocking acquire waits; its Clock defaults to Clock.
	Retry lock.Retry
	// Server is checked by NewLock. Leave AllowEviction false: an evicted
	// lock reads as free.
	Server ServerPolicy
}

// Lock is a lock.Fenced on one Redis primary: the Redis documentation's
// single-instance algorithm (an owner-checked key with a TTL) with fencing
// tokens. Each call is one script, one round trip, under the guard "lock"
// (ClassControl deadline, the breaker on Redis):
//
//   - acquire grants when the key is absent, with a token from the
//     namespace's counter INCR'd in the same script and floored at the
//     server's TIME in microseconds, so tokens keep rising when the server
//     restarts without persistence; the holder's re-acquire keeps its token;
//   - extend pushes the expiry only while the session (and token) holds the
//     key: an expired key is gone and is never resurrected;
//   - release deletes the key only while the session (and token) holds it.
//
// The keys of namespace ns are <prefix>{lock:ns} (a hash of owner and token,
// with the lease as its TTL) and <prefix>{lock:ns}:fence (the counter, kept
// for ever); they share a hash tag, so a cluster serves both from one slot.
//
// Fail mode: errors are returned (matching ErrUnavailable when Redis could
// not be reached in time, ErrMalformed when our keys hold data we did not
// write); by the lock.Locker contract the caller proceeds unlocked, and
// resources the lock protects reject the stale tokens that may result.
//
// Lock is safe for concurrent use.
type Lock struct {
	guard  *Guard
	prefix string
	ttl    time.Duration
	clock  baldur.Clock
	retry  lock.Retry
}

var _ lock.Fenced = (*Lock)(nil)

// NewLock returns a Lock on b, after checking the server (an evicting
// maxmemory-policy is a *baldur.ConfigError).
func NewLock(ctx context.Context, b *Backend, cfg LockConfig) (*Lock, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if cfg.TTL < 0 {
		return nil, &baldur.ConfigError{Field: "TTL", Value: cfg.TTL.String(), Reason: "must not be negative (zero means 30m)"}
	}
	if err := cfg.Retry.Validate(); err != nil {
		return nil, err
	}
	if _, err := b.CheckServer(ctx, cfg.Server); err != nil {
		return nil, err
	}
	l := &Lock{guard: b.Guard("lock", ClassControl), prefix: cfg.Prefix, ttl: cfg.TTL, clock: cfg.Clock, retry: cfg.Retry}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.ttl == 0 {
		l.ttl = lock.DefaultTTL
	}
	if l.clock == nil {
		l.clock = baldur.SystemClock()
	}
	if l.retry.Clock == nil {
		l.retry.Clock = l.clock
	}
	return l, nil
}

// Key returns the key of namespace's lock (its token counter is Key + ":fence").
func (l *Lock) Key(namespace string) string { return l.prefix + "{lock:" + namespace + "}" }

func (l *Lock) ms(ttl time.Duration) string {
	if ttl <= 0 {
		ttl = l.ttl
	}
	return strconv.FormatInt(max(ttl.Milliseconds(), 1), 10)
}

func (l *Lock) lease(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return l.ttl
	}
	return max(ttl, time.Millisecond)
}

// Acquire takes the lock for the default TTL.
func (l *Lock) Acquire(ctx context.Context, namespace, sessionID string, blocking bool) (bool, error) {
	_, held, err := l.AcquireFenced(ctx, namespace, sessionID, 0, blocking)
	return held, err
}

// AcquireFenced takes the lock for ttl (zero: the default) and returns its
// lease; with blocking it retries as l's Retry says.
func (l *Lock) AcquireFenced(ctx context.Context, namespace, sessionID string, ttl time.Duration, blocking bool) (lock.Lease, bool, error) {
	if !blocking {
		return l.try(ctx, namespace, sessionID, ttl)
	}
	return l.retry.Do(ctx, func(ctx context.Context) (lock.Lease, bool, error) {
		return l.try(ctx, namespace, sessionID, ttl)
	})
}

func (l *Lock) try(ctx context.Context, namespace, sessionID string, ttl time.Duration) (lock.Lease, bool, error) {
	key := l.Key(namespace)
	sent := l.clock.Now()
	v, err := l.guard.Run(ctx, LockAcquireScript, []string{key, key + ":fence"}, sessionID, l.ms(ttl))
	if err != nil {
		return lock.Lease{}, false, lockErr(err, key)
	}
	granted, token, err := parseAcquire(v)
	if err != nil {
		return lock.Lease{}, false, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	if !granted {
		return lock.Lease{}, false, nil
	}
	return lock.Lease{Token: token, Until: sent.Add(l.lease(ttl))}, true, nil
}

// parseAcquire reads the acquire script's reply: {1, token} or {0, pttl}.
func parseAcquire(v any) (granted bool, token uint64, err error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return false, 0, fmt.Errorf("acquire reply %T %v", v, v)
	}
	g, ok1 := a[0].(int64)
	n, ok2 := a[1].(int64)
	switch {
	case !ok1 || !ok2 || (g != 0 && g != 1):
		return false, 0, fmt.Errorf("acquire reply %v", a)
	case g == 1 && n <= 0:
		return false, 0, fmt.Errorf("acquire granted token %d", n)
	}
	return g == 1, uint64(max(n, 0)), nil
}

// Extend pushes the expiry of the session's lock; lock.ErrNotHeld when the
// session does not hold it.
func (l *Lock) Extend(ctx context.Context, namespace, sessionID string, ttl time.Duration) error {
	_, err := l.ExtendFenced(ctx, namespace, sessionID, 0, ttl)
	return err
}

// ExtendFenced pushes the expiry of the session's lease of token (0: any).
func (l *Lock) ExtendFenced(ctx context.Context, namespace, sessionID string, token uint64, ttl time.Duration) (lock.Lease, error) {
	key := l.Key(namespace)
	sent := l.clock.Now()
	v, err := l.guard.Run(ctx, LockExtendScript, []string{key}, sessionID, l.ms(ttl), strconv.FormatUint(token, 10))
	if err != nil {
		return lock.Lease{}, lockErr(err, key)
	}
	if n, ok := v.(int64); !ok || n != 1 {
		return lock.Lease{}, lock.ErrNotHeld
	}
	return lock.Lease{Token: token, Until: sent.Add(l.lease(ttl))}, nil
}

// Release deletes the session's lock; a no-op when it does not hold it.
func (l *Lock) Release(ctx context.Context, namespace, sessionID string) error {
	return l.ReleaseFenced(ctx, namespace, sessionID, 0)
}

// ReleaseFenced deletes the session's lock while it carries token (0: any).
func (l *Lock) ReleaseFenced(ctx context.Context, namespace, sessionID string, token uint64) error {
	key := l.Key(namespace)
	_, err := l.guard.Run(ctx, LockReleaseScript, []string{key}, sessionID, strconv.FormatUint(token, 10))
	return lockErr(err, key)
}

// lockErr maps an error reply that means our key holds foreign data to
// ErrMalformed.
func lockErr(err error, key string) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !isReply(err) {
		return err
	}
	if foreignData(err) {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	return err
}

// foreignData reports whether an error reply says a key holds data of the
// wrong shape: a wrong type, a counter that is not an integer, or a
// script's own "malformed" check.
func foreignData(err error) bool {
	s := err.Error()
	return strings.Contains(s, "WRONGTYPE") || strings.Contains(s, "not an integer") || strings.Contains(s, "malformed")
}
