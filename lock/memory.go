package lock

import (
	"context"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// MemoryConfig configures a Memory lock. The zero value is valid.
type MemoryConfig struct {
	// TTL is the lease of Acquire, and of the other calls given a zero TTL.
	// Zero means DefaultTTL (30 min).
	TTL time.Duration
	// Clock dates leases and times blocking retries. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock
	// Retry is how a blocking acquire waits. Its Clock defaults to Clock.
	Retry Retry
}

// Memory is a Fenced lock for one process. Tokens are the largest of the
// previous token plus one and the clock's Unix time in microseconds, so they
// keep rising across a restart of the process while its clock does not go
// back. An expired lock is deleted when its namespace is next touched, and
// expired locks of other namespaces when the table has doubled since the
// last sweep, so memory is bounded by the namespaces held at once.
//
// Memory is safe for concurrent use.
type Memory struct {
	clock baldur.Clock
	ttl   time.Duration
	retry Retry

	mu    sync.Mutex
	locks map[string]memLock
	token uint64
	sweep int // table size that triggers the next sweep
}

type memLock struct {
	session string
	token   uint64
	until   time.Time
}

var _ Fenced = (*Memory)(nil)

// NewMemory returns a Memory lock; a negative TTL or retry setting is a
// *baldur.ConfigError.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.TTL < 0 {
		return nil, &baldur.ConfigError{Field: "TTL", Value: cfg.TTL.String(), Reason: "must not be negative (zero means 30m)"}
	}
	if err := cfg.Retry.Validate(); err != nil {
		return nil, err
	}
	m := &Memory{clock: cfg.Clock, ttl: cfg.TTL, retry: cfg.Retry, locks: map[string]memLock{}, sweep: 64}
	if m.clock == nil {
		m.clock = baldur.SystemClock()
	}
	if m.ttl == 0 {
		m.ttl = DefaultTTL
	}
	if m.retry.Clock == nil {
		m.retry.Clock = m.clock
	}
	return m, nil
}

func (m *Memory) lease(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return m.ttl
	}
	return ttl
}

// Acquire takes the lock for the default TTL.
func (m *Memory) Acquire(ctx context.Context, namespace, sessionID string, blocking bool) (bool, error) {
	_, held, err := m.AcquireFenced(ctx, namespace, sessionID, 0, blocking)
	return held, err
}

// AcquireFenced takes the lock for ttl and returns its lease.
func (m *Memory) AcquireFenced(ctx context.Context, namespace, sessionID string, ttl time.Duration, blocking bool) (Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, false, err
	}
	ttl = m.lease(ttl)
	if !blocking {
		l, held := m.try(namespace, sessionID, ttl)
		return l, held, nil
	}
	return m.retry.Do(ctx, func(context.Context) (Lease, bool, error) {
		l, held := m.try(namespace, sessionID, ttl)
		return l, held, nil
	})
}

func (m *Memory) try(namespace, sessionID string, ttl time.Duration) (Lease, bool) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.live(namespace, now)
	switch {
	case ok && l.session != sessionID:
		return Lease{}, false
	case ok: // the holder again: same token, pushed expiry
		l.until = now.Add(ttl)
	default:
		m.token = max(m.token+1, uint64(max(now.UnixMicro(), 0)))
		l = memLock{session: sessionID, token: m.token, until: now.Add(ttl)}
		if len(m.locks) >= m.sweep {
			m.sweepLocked(now)
		}
	}
	m.locks[namespace] = l
	return Lease{Token: l.token, Until: l.until}, true
}

// live returns the unexpired lock of namespace, deleting an expired one.
func (m *Memory) live(namespace string, now time.Time) (memLock, bool) {
	l, ok := m.locks[namespace]
	if ok && !now.Before(l.until) {
		delete(m.locks, namespace)
		return memLock{}, false
	}
	return l, ok
}

func (m *Memory) sweepLocked(now time.Time) {
	for ns, l := range m.locks {
		if !now.Before(l.until) {
			delete(m.locks, ns)
		}
	}
	m.sweep = max(64, 2*len(m.locks))
}

// Extend pushes the expiry of the session's lock; ErrNotHeld when it lapsed
// or another session holds it.
func (m *Memory) Extend(ctx context.Context, namespace, sessionID string, ttl time.Duration) error {
	_, err := m.ExtendFenced(ctx, namespace, sessionID, 0, ttl)
	return err
}

// ExtendFenced pushes the expiry of the session's lease of token (0: any).
func (m *Memory) ExtendFenced(ctx context.Context, namespace, sessionID string, token uint64, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.live(namespace, now)
	if !ok || l.session != sessionID || (token != 0 && l.token != token) {
		return Lease{}, ErrNotHeld
	}
	l.until = now.Add(m.lease(ttl))
	m.locks[namespace] = l
	return Lease{Token: l.token, Until: l.until}, nil
}

// Release deletes the session's lock; a no-op when it does not hold it.
func (m *Memory) Release(ctx context.Context, namespace, sessionID string) error {
	return m.ReleaseFenced(ctx, namespace, sessionID, 0)
}

// ReleaseFenced deletes the session's lock while it carries token (0: any).
func (m *Memory) ReleaseFenced(_ context.Context, namespace, sessionID string, token uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[namespace]; ok && l.session == sessionID && (token == 0 || l.token == token) {
		delete(m.locks, namespace)
	}
	return nil
}
