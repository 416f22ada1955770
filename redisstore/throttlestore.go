package redisstore

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/throttle"
	"golang.org/x/sync/singleflight"
)

//go:embed nsmath.lua
var nsmathSource string

//go:embed lease.lua
var leaseSource string

//go:embed refund.lua
var refundSource string

// LeaseScript is the script a ThrottleStore takes tokens with (gcra.lua
// with a count of tokens), RefundScript the one it refunds with. Pass them
// in Config.Scripts (or to OnConnect) to have them loaded before the first
// call.
var (
	LeaseScript  = NewScript(nsmathSource + leaseSource)
	RefundScript = NewScript(nsmathSource + refundSource)
)

// FailMode is what a ThrottleStore decides while Redis cannot be reached
// (an error matching ErrUnavailable, the breaker on Redis open) or answers
// with an error (a malformed bucket, OOM). Every such decision is counted
// (ThrottleStoreStats.FallbackAllowed and FallbackDenied).
type FailMode uint8

const (
	// FailLocal, the default, decides on an in-process bucket of the
	// limit divided by the number of live replicas (rate and burst), so
	// an outage neither multiplies the fleet total by the replica count
	// nor drops it to zero.
	FailLocal FailMode = iota
	// FailOpen admits every call.
	FailOpen
	// FailClosed rejects every call with Retry-After
	// ThrottleStoreConfig.ClosedRetryAfter.
	FailClosed
)

var failModeNames = [...]string{"local", "open", "closed"}

func (m FailMode) String() string {
	if int(m) < len(failModeNames) {
		return failModeNames[m]
	}
	return "FailMode(" + strconv.Itoa(int(m)) + ")"
}

// ReplicaCounter reports how many replicas of the service are live now.
// FailLocal divides the limit by it. Fleet membership implements it; a
// value below 1 counts as 1. Replicas is called on every fallback decision
// and must be cheap and safe for concurrent use.
type ReplicaCounter interface {
	Replicas() int
}

// StaticReplicas is a ReplicaCounter with a fixed count: for tests, and
// for fleets of a known size until membership provides the live count.
// With a static count, a fleet that shrinks during an outage under-admits
// and one that grows over-admits, in proportion.
type StaticReplicas int

// Replicas returns n.
func (n StaticReplicas) Replicas() int { return int(n) }

// Defaults of ThrottleStoreConfig.
const (
	DefaultLease            = 50 * time.Millisecond
	DefaultMaxLease         = 1 << 16
	DefaultLocalKeys        = 4096
	DefaultClosedRetryAfter = time.Second
	maxWant                 = 1 << 20 // the lease script's bound on want
)

// ThrottleStoreConfig configures a ThrottleStore.
type ThrottleStoreConfig struct {
	// Name is the throttle's name (throttle.Config.Name): throttle.Key
	// does not carry it, and every Redis key starts with "bd:t:<Name>:".
	// Required; printable ASCII without ':' or spaces, at most 128 bytes.
	Name string
	// Lease is the longest a replica spends tokens it took from Redis
	// before asking again, and the interval of the per-key call budget
	// (3 + T/Lease takes per key per replica in any T, beyond which a key
	// under its limit gets geometrically growing leases and a key at its
	// limit is denied locally).
	// Default DefaultLease (50 ms); it enters the fleet bound
	// burst + rate·(window + Lease).
	Lease time.Duration
	// MaxLease caps the tokens one take asks for. Default
	// DefaultMaxLease (65536: 1.5 × 50 ms of 870 k calls/s); at most 2^20.
	MaxLease int
	// FailMode is the decision while Redis is unavailable. Default
	// FailLocal.
	FailMode FailMode
	// Replicas is the live replica count FailLocal divides the limit by.
	// Required for FailLocal (StaticReplicas(n) when no membership is
	// wired).
	Replicas ReplicaCounter
	// LocalKeys is the size of the table of local state (deny cache and
	// leases), rounded up to a power of two. A key whose slot another key
	// takes loses its local state, which costs round trips, never
	// correctness. Default DefaultLocalKeys.
	LocalKeys int
	// FallbackKeys is the capacity of FailLocal's in-process buckets
	// (throttle.Memory). Default throttle.DefaultMaxKeys.
	FallbackKeys int
	// ClosedRetryAfter is FailClosed's Retry-After. Default 1 s.
	ClosedRetryAfter time.Duration
	// CallerClock makes Redis decide on the caller's now (the time Take is
	// given) instead of its TIME, and refunds on the latest now a take
	// sent: for deterministic tests only, since the replicas' clocks
	// differ.
	CallerClock bool
	// KeySlack is GCRAConfig.KeySlack: extra key lifetime, for tests whose
	// caller clock does not advance with real time.
	KeySlack time.Duration
}

// ThrottleStore is a throttle.Store shared by a fleet: GCRA buckets in
// Redis (LeaseScript: the decisions of throttle.Decide, in integer
// nanoseconds on the server's clock) behind a local layer that answers most
// calls with no round trip:
//
//   - an exact deny cache: a key Redis denied with RetryAfter d is denied
//     locally until d has passed (measured from before the call was sent),
//     since other replicas only move the bucket's TAT forward and
//     conformance does not depend on the cost;
//   - token leases: a take asks for as many tokens as the key's local rate
//     needs over Lease (1.5×, at least the calls waiting on it, at most
//     MaxLease; 1 on a key's first take) and Redis grants those that
//     conform now; they are spent locally for at most Lease and then
//     dropped, never given back, so admissions trail their grants by at
//     most Lease. A take granted fewer tokens than it asked for (the
//     bucket ran short) also caches the exact deny that follows them;
//   - a per-key call budget of 3 + T/Lease takes per key in any T. A take
//     due when the budget is spent is made anyway, asking for at least
//     twice the key's last grant (an overdraft), when that grant was in
//     full and left a conforming token in the bucket: a key under its
//     limit is never denied for the budget. Otherwise (the key is at its
//     limit) the call is denied locally until the budget allows a take;
//   - coalesced misses: concurrent misses on a key wait on one take
//     (singleflight) and then spend the tokens it leased; a miss that
//     finds them spent tries the key's newest lease before taking again.
//
// Calls that may wait (maxWait > 0, throttle's Wait) use the deny cache and
// leased tokens too, but otherwise make their own exact reservation (one
// round trip each).
//
// When Redis fails, calls are decided by FailMode and counted. Leased
// tokens and cached denies are used until they end whatever Redis does.
//
// ThrottleStore is safe for concurrent use and starts no goroutines.
type ThrottleStore struct {
	guard       *Guard
	prefix      string
	lease       int64
	callTol     int64
	maxLease    int64
	mode        FailMode
	replicas    ReplicaCounter
	closedRetry time.Duration
	callerClock bool
	lastNow     atomic.Int64 // CallerClock: the latest now sent, which refunds use
	extra       string

	base     time.Time
	slots    []atomic.Pointer[entry]
	mask     uint64
	group    singleflight.Group
	fallback *throttle.Memory

	c storeCounters
}

var (
	_ throttle.Store           = (*ThrottleStore)(nil)
	_ throttle.FallbackCounter = (*ThrottleStore)(nil)
	_ throttle.LocalTaker      = (*ThrottleStore)(nil)
)

type storeCounters struct {
	denyHits, leaseHits, budgetDenies, takes, leased, coalesced, overdrafts,
	starved, reservations, fbAllowed, fbDenied, errs, refunds paddedUint64
}

type paddedUint64 struct {
	atomic.Uint64
	_ [56]byte
}

// keyState is what a key keeps across its entries: the call budget and
// the rate estimate.
type keyState struct {
	budget  atomic.Int64 // call budget TAT, local ns
	calls   atomic.Int64 // calls since the last take
	since   atomic.Int64 // local ns of the last take
	pending atomic.Int64 // calls waiting on a take
	grant   atomic.Int64 // tokens the last take granted
	failed  atomic.Bool  // the last take failed
}

// entry is a key's local state after its last take, immutable but for
// tokens. A take installs a new entry; the old one's tokens are dropped.
type entry struct {
	hash    uint64
	tier    baldur.Tier
	ks      *keyState
	cost    int64 // the limit of the take
	tol     int64
	start   int64 // local ns at which the take was sent
	granted int64 // tokens the take granted
	denied  bool  // Redis denied: no call conforms before until
	until   int64 // denied: local ns of the next conforming call; else the lease's end
	short   bool  // granted fewer than asked: once tokens are spent, no call conforms before next
	under   bool  // granted in full, and a next call conformed at the take: under its limit
	next    int64 // short: local ns of the next conforming call
	resetAt int64 // local ns at which the bucket is full, per the reply
	tokens  atomic.Int64
}

// NewThrottleStore returns the fleet store of the throttle cfg.Name on b:
// its calls run through b's guard "throttle:<Name>" (ClassThrottle: 5 ms
// per call by default, the breaker on Redis). Invalid fields are a
// *baldur.ConfigError naming them.
func NewThrottleStore(b *Backend, cfg ThrottleStoreConfig) (*ThrottleStore, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if cfg.Name == "" || len(cfg.Name) > 128 || strings.ContainsFunc(cfg.Name, func(r rune) bool { return r <= ' ' || r > '~' || r == ':' }) {
		return nil, &baldur.ConfigError{Field: "Name", Value: strconv.Quote(cfg.Name), Reason: "must be 1-128 bytes of printable ASCII without ':' or spaces"}
	}
	if cfg.Lease < 0 || (cfg.Lease > 0 && cfg.Lease < time.Millisecond) {
		return nil, &baldur.ConfigError{Field: "Lease", Value: cfg.Lease.String(), Reason: "must be at least 1ms (0 means 50ms)"}
	}
	if cfg.MaxLease < 0 || cfg.MaxLease > maxWant {
		return nil, &baldur.ConfigError{Field: "MaxLease", Value: strconv.Itoa(cfg.MaxLease), Reason: "must be in 1..1048576 (0 means 4096)"}
	}
	if cfg.FailMode > FailClosed {
		return nil, &baldur.ConfigError{Field: "FailMode", Value: cfg.FailMode.String(), Reason: "unknown fail mode"}
	}
	if cfg.FailMode == FailLocal && cfg.Replicas == nil {
		return nil, &baldur.ConfigError{Field: "Replicas", Reason: "is required for FailLocal (StaticReplicas(n) without fleet membership)"}
	}
	if cfg.LocalKeys < 0 || cfg.LocalKeys > 1<<24 {
		return nil, &baldur.ConfigError{Field: "LocalKeys", Value: strconv.Itoa(cfg.LocalKeys), Reason: "must be in 1..16777216 (0 means 4096)"}
	}
	if cfg.FallbackKeys < 0 || cfg.FallbackKeys > throttle.MaxKeysLimit {
		return nil, &baldur.ConfigError{Field: "FallbackKeys", Value: strconv.Itoa(cfg.FallbackKeys), Reason: "must be in 1.." + strconv.Itoa(throttle.MaxKeysLimit)}
	}
	if cfg.ClosedRetryAfter < 0 {
		return nil, &baldur.ConfigError{Field: "ClosedRetryAfter", Value: cfg.ClosedRetryAfter.String(), Reason: "must not be negative"}
	}
	if cfg.KeySlack < 0 {
		return nil, &baldur.ConfigError{Field: "KeySlack", Value: cfg.KeySlack.String(), Reason: "must not be negative"}
	}
	lease := cmp0(cfg.Lease, DefaultLease)
	n := 1
	for n < cmp0(cfg.LocalKeys, DefaultLocalKeys) {
		n <<= 1
	}
	s := &ThrottleStore{
		guard:       b.Guard("throttle:"+cfg.Name, ClassThrottle),
		prefix:      "bd:t:" + cfg.Name + ":",
		lease:       int64(lease),
		callTol:     2 * int64(lease),
		maxLease:    int64(cmp0(cfg.MaxLease, DefaultMaxLease)),
		mode:        cfg.FailMode,
		replicas:    cfg.Replicas,
		closedRetry: cmp0(cfg.ClosedRetryAfter, DefaultClosedRetryAfter),
		callerClock: cfg.CallerClock,
		extra:       strconv.FormatInt(cfg.KeySlack.Milliseconds(), 10),
		base:        time.Now(),
		slots:       make([]atomic.Pointer[entry], n),
		mask:        uint64(n - 1),
	}
	s.fallback = throttle.NewMemory(cmp0(cfg.FallbackKeys, throttle.DefaultMaxKeys), s.base)
	return s, nil
}

func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Guard returns the guard the store calls Redis through.
func (s *ThrottleStore) Guard() *Guard { return s.guard }

// Take implements throttle.Store. A call answered by the local layer
// allocates nothing and makes no round trip; a miss waits on a take shared
// by the concurrent misses of its key (on up to four when other calls spend
// their tokens first, then on an exact take of its own: Starved).
func (s *ThrottleStore) Take(ctx context.Context, k throttle.Key, now time.Time, l throttle.Limit, maxWait time.Duration) (throttle.Decision, error) {
	l = normLimit(l)
	mw := max(int64(maxWait), 0)
	t := int64(now.Sub(s.base))
	e := s.slots[k.Hash&s.mask].Load()
	if e != nil && e.hash == k.Hash && e.tier == k.Tier {
		if d, ok := s.local(e, t, l, mw); ok {
			return d, nil
		}
		e.ks.calls.Add(1)
	}
	return s.miss(ctx, k, now, t, l, mw, e), nil
}

// TakeLocal implements throttle.LocalTaker: Take's answer from a cached
// deny or a leased token of the key's entry, found by hash and tier with no
// Key built. Anything else (the call budget, a miss) is left to Take.
func (s *ThrottleStore) TakeLocal(hash uint64, tier baldur.Tier, now time.Time, l throttle.Limit) (allowed bool, after time.Duration, hit bool) {
	e := s.slots[hash&s.mask].Load()
	if e == nil || e.hash != hash || e.tier != tier {
		return false, 0, false
	}
	l = normLimit(l)
	t := max(int64(now.Sub(s.base)), e.start) // as in local
	if e.denied {
		if e.tol == l.Tolerance && e.until > t {
			s.c.denyHits.Add(1)
			return false, time.Duration(e.until - t), true
		}
		return false, 0, false
	}
	if t < e.until && e.cost == l.Cost && e.tol == l.Tolerance && e.tokens.Load() > 0 {
		if e.tokens.Add(-1) >= 0 {
			s.c.leaseHits.Add(1)
			return true, nonNeg(e.resetAt - t), true
		}
	}
	if e.short && e.tol == l.Tolerance && e.next > t {
		s.c.denyHits.Add(1)
		return false, time.Duration(e.next - t), true
	}
	return false, 0, false
}

// local answers from e when it can: a cached deny, or a leased token.
func (s *ThrottleStore) local(e *entry, t int64, l throttle.Limit, maxWait int64) (throttle.Decision, bool) {
	t = max(t, e.start) // a call whose clock reading predates the take counts at the take
	if e.denied {
		if e.tol == l.Tolerance && e.until-t > maxWait {
			s.c.denyHits.Add(1)
			return throttle.Decision{RetryAfter: time.Duration(e.until - t), Reset: nonNeg(e.resetAt - t)}, true
		}
		return throttle.Decision{}, false
	}
	if t < e.until && e.cost == l.Cost && e.tol == l.Tolerance && e.tokens.Load() > 0 {
		if left := e.tokens.Add(-1); left >= 0 {
			s.c.leaseHits.Add(1)
			return throttle.Decision{Allowed: true, Remaining: left, Reset: nonNeg(e.resetAt - t)}, true
		}
	}
	if e.short && e.tol == l.Tolerance && e.next-t > maxWait {
		// The take ran short and its tokens are spent: exact as the deny
		// cache until the next call conforms.
		s.c.denyHits.Add(1)
		return throttle.Decision{RetryAfter: time.Duration(e.next - t), Reset: nonNeg(e.resetAt - t)}, true
	}
	if maxWait == 0 {
		// No token and no cached deny: a take is due, unless the key's
		// call budget is spent, e is its newest entry, from a take that did
		// not leave the key under its limit (under it, the take is an
		// overdraft), and the last take did not fail.
		if wait := e.ks.budget.Load() - t - s.callTol; wait > 0 && !e.under && !e.ks.failed.Load() &&
			s.slots[e.hash&s.mask].Load() == e {
			e.ks.calls.Add(1)
			s.c.budgetDenies.Add(1)
			return throttle.Decision{RetryAfter: time.Duration(wait), Reset: nonNeg(e.resetAt - t)}, true
		}
	}
	return throttle.Decision{}, false
}

func nonNeg(ns int64) time.Duration { return time.Duration(max(ns, 0)) }

// state returns k's key state, installing an empty entry for k in its slot
// when the slot holds another key (or none).
func (s *ThrottleStore) state(k throttle.Key) *keyState {
	sl := &s.slots[k.Hash&s.mask]
	for {
		e := sl.Load()
		if e != nil && e.hash == k.Hash && e.tier == k.Tier {
			return e.ks
		}
		ks := &keyState{}
		ks.budget.Store(math.MinInt64 / 4) // far in the past, with room to subtract a now without overflow
		ks.since.Store(math.MinInt64)
		ks.calls.Store(1)
		if sl.CompareAndSwap(e, &entry{hash: k.Hash, tier: k.Tier, ks: ks, start: math.MinInt64, until: math.MinInt64}) {
			return ks
		}
	}
}

// flight is the outcome of one take, shared by the calls that waited on it.
type flight struct {
	d      throttle.Decision // the leading call's decision
	e      *entry            // the entry the take installed
	err    error             // Redis failed: each call applies the fail mode
	budget bool              // no take: the call budget was spent
	retry  bool              // no take: a newer entry was installed since the call looked
}

// maxAttempts bounds the flights a miss waits on; a miss that finds every
// one's tokens spent makes an exact take of one token (Starved).
const maxAttempts = 4

func (s *ThrottleStore) miss(ctx context.Context, k throttle.Key, now time.Time, t int64, l throttle.Limit, maxWait int64, e *entry) throttle.Decision {
	if s.breakerOpen() {
		return s.fail(ctx, k, now, l, maxWait, ErrBreakerOpen)
	}
	ks := s.state(k)
	key := s.key(k)
	if maxWait > 0 {
		return s.reserve(ctx, key, k, ks, now, t, l, maxWait)
	}
	ks.pending.Add(1)
	defer ks.pending.Add(-1)
	sl := &s.slots[k.Hash&s.mask]
	for range maxAttempts {
		// The key's newest entry first: a take another call made since
		// this one looked may have tokens left.
		seen := sl.Load()
		if seen != e && seen != nil && seen.ks == ks {
			if d, ok := s.local(seen, t, l, 0); ok {
				return d
			}
		}
		e = seen
		led := false
		v, _, _ := s.group.Do(key, func() (any, error) {
			led = true
			return s.lead(ctx, key, k, ks, now, t, l, seen), nil
		})
		f := v.(*flight)
		switch {
		case f.err != nil:
			return s.fail(ctx, k, now, l, 0, f.err)
		case f.retry:
			continue
		case f.budget:
			s.c.budgetDenies.Add(1)
			return f.d
		case led:
			return f.d
		}
		s.c.coalesced.Add(1)
		if d, ok := s.local(f.e, t, l, 0); ok {
			return d
		}
		e = f.e
	}
	// Every flight's tokens went to other calls: this one asks Redis for
	// its own token, which decides it exactly.
	s.c.starved.Add(1)
	r, _, err := s.take(ctx, key, now, l, 0, 1)
	if err != nil {
		return s.fail(ctx, k, now, l, 0, err)
	}
	return r.Decision
}

// lead makes the take that the calls waiting on key share, unless k's
// entry is no longer seen (a newer take installed one: the calls retry on
// it). It charges the call budget, sizes the lease, and installs the reply
// as k's entry. With the budget spent, a key under its limit (its last
// take granted in full, with a conforming token left) takes anyway (an
// overdraft) for at least twice that grant; another is denied.
func (s *ThrottleStore) lead(ctx context.Context, key string, k throttle.Key, ks *keyState, now time.Time, t int64, l throttle.Limit, seen *entry) *flight {
	sl := &s.slots[k.Hash&s.mask]
	if sl.Load() != seen {
		return &flight{retry: true}
	}
	overdraft := false
	if wait, ok := s.charge(ks, t); !ok {
		switch {
		case ks.failed.Load():
			// The key's last take failed: its calls are the fail mode's
			// until a take succeeds, budget or not.
			return &flight{err: ErrUnavailable}
		case seen == nil || !seen.under:
			return &flight{budget: true, d: throttle.Decision{RetryAfter: time.Duration(wait)}}
		}
		overdraft = true
	}
	want := s.want(ks, seen, t)
	if overdraft {
		s.c.overdrafts.Add(1)
		want = min(max(want, 2*ks.grant.Load()), s.maxLease)
	}
	r, granted, err := s.take(ctx, key, now, l, 0, want)
	ks.failed.Store(err != nil)
	if err != nil {
		return &flight{err: err}
	}
	s.c.takes.Add(1)
	ks.grant.Store(granted)
	ne := &entry{hash: k.Hash, tier: k.Tier, ks: ks, cost: l.Cost, tol: l.Tolerance, start: t, resetAt: t + int64(r.Decision.Reset)}
	d := r.Decision
	if d.Allowed {
		ne.until = t + s.lease
		ne.tokens.Store(granted - 1)
		ne.granted = granted
		if granted < want { // the next call does not conform: Decide's deny after the grant
			ne.short = true
			ne.next = ne.resetAt - l.Tolerance
		}
		ne.under = !ne.short && r.Decision.Remaining > 0
		s.c.leased.Add(uint64(granted - 1))
		d.Remaining += granted - 1
	} else {
		ne.denied = true
		ne.until = t + int64(d.RetryAfter)
	}
	sl.Store(ne)
	return &flight{d: d, e: ne}
}

// want sizes a take's lease: 1.5 times the calls seen on the key since its
// last take (misses, local denies of the call budget, and the tokens spent
// from e, the key's entry), scaled to Lease over the time since (at least Lease/50), and at
// least the calls waiting on the take; 1 for a key's first take.
func (s *ThrottleStore) want(ks *keyState, e *entry, t int64) int64 {
	calls := ks.calls.Swap(0)
	if e != nil && e.ks == ks && e.granted > 1 { // lease hits do not count calls: add the tokens spent
		calls += e.granted - 1 - max(e.tokens.Load(), 0)
	}
	since := ks.since.Swap(t)
	want := int64(1)
	if since != math.MinInt64 {
		want = int64(math.Ceil(1.5 * float64(calls) * float64(s.lease) / float64(max(t-since, s.lease/50))))
	}
	return min(max(want, ks.pending.Load(), 1), s.maxLease)
}

// charge spends one call of k's budget (GCRA: one call per Lease, three
// at once), or reports how long until one is free.
func (s *ThrottleStore) charge(ks *keyState, t int64) (int64, bool) {
	for {
		tat := ks.budget.Load()
		start := max(tat, t)
		if start-t > s.callTol {
			return start - s.callTol - t, false
		}
		if ks.budget.CompareAndSwap(tat, start+s.lease) {
			return 0, true
		}
	}
}

// reserve is a take that may wait: one exact round trip, not coalesced.
func (s *ThrottleStore) reserve(ctx context.Context, key string, k throttle.Key, ks *keyState, now time.Time, t int64, l throttle.Limit, maxWait int64) throttle.Decision {
	s.c.reservations.Add(1)
	r, _, err := s.take(ctx, key, now, l, maxWait, 1)
	if err != nil {
		return s.fail(ctx, k, now, l, maxWait, err)
	}
	if !r.Decision.Allowed {
		s.slots[k.Hash&s.mask].Store(&entry{hash: k.Hash, tier: k.Tier, ks: ks, tol: l.Tolerance, start: t,
			denied: true, until: t + int64(r.Decision.RetryAfter), resetAt: t + int64(r.Decision.Reset)})
	}
	return r.Decision
}

// breakerOpen reports whether the breaker on Redis would refuse a call now
// (then the fail mode decides without building a key).
func (s *ThrottleStore) breakerOpen() bool {
	st := s.guard.b.breakers.State(blast.Partition{Key: s.guard.name})
	if st == blast.StateOpen || st == blast.StateForcedOpen {
		s.guard.rejected.Add(1)
		return true
	}
	return false
}

// fail decides a call by the fail mode, after err.
func (s *ThrottleStore) fail(ctx context.Context, k throttle.Key, now time.Time, l throttle.Limit, maxWait int64, err error) throttle.Decision {
	if !errors.Is(err, ErrUnavailable) {
		s.c.errs.Add(1)
	}
	var d throttle.Decision
	switch s.mode {
	case FailOpen:
		d = throttle.Decision{Allowed: true, Remaining: l.Burst() - 1}
	case FailClosed:
		d = throttle.Decision{RetryAfter: s.closedRetry}
	default:
		d, _ = s.fallback.Take(ctx, k, now, shareOf(l, s.replicas.Replicas()), time.Duration(maxWait))
	}
	if d.Allowed {
		s.c.fbAllowed.Add(1)
	} else {
		s.c.fbDenied.Add(1)
	}
	return d
}

// shareOf returns one replica's share of l among n: rate/n and burst/n
// (at least 1).
func shareOf(l throttle.Limit, n int) throttle.Limit {
	if n <= 1 {
		return l
	}
	burst := max(l.Burst()/int64(n), 1)
	cost := l.Cost
	if cost > math.MaxInt64/int64(n) {
		cost = math.MaxInt64
	} else {
		cost *= int64(n)
	}
	tol := burst - 1
	if tol > 0 && cost > math.MaxInt64/tol {
		return throttle.Limit{Cost: cost, Tolerance: math.MaxInt64}
	}
	return throttle.Limit{Cost: cost, Tolerance: tol * cost}
}

// take runs LeaseScript on key for want tokens.
func (s *ThrottleStore) take(ctx context.Context, key string, now time.Time, l throttle.Limit, maxWait, want int64) (GCRAResult, int64, error) {
	nowArg, err := s.nowArg(now)
	if err != nil {
		return GCRAResult{}, 0, err
	}
	at := now.UnixNano()
	if !s.callerClock {
		at = time.Now().UnixNano() + int64(time.Hour)
	}
	if want > 1 && l.Cost > math.MaxInt64/want || !fits(at, l.Tolerance, maxWait, l.Cost*want) {
		return GCRAResult{}, 0, errDomain
	}
	v, err := s.guard.Run(ctx, LeaseScript, []string{key},
		strconv.FormatInt(l.Cost, 10), strconv.FormatInt(l.Tolerance, 10),
		strconv.FormatInt(maxWait, 10), nowArg, s.extra, strconv.FormatInt(want, 10))
	if err != nil {
		return GCRAResult{}, 0, malformed(key, err)
	}
	return parseLease(v, l)
}

func (s *ThrottleStore) nowArg(now time.Time) (string, error) {
	if !s.callerClock {
		return "", nil
	}
	ns := now.UnixNano()
	if ns < 0 {
		return "", fmt.Errorf("redisstore: throttle: now %v is before 1970", now)
	}
	for last := s.lastNow.Load(); ns > last && !s.lastNow.CompareAndSwap(last, ns); last = s.lastNow.Load() {
	}
	return strconv.FormatInt(ns, 10), nil
}

// malformed maps the error replies that mean someone else's data under key
// to ErrMalformed.
func malformed(key string, err error) error {
	if isReply(err) && (strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "WRONGTYPE")) {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	return err
}

// parseLease parses LeaseScript's reply: gcra.lua's six fields and the
// tokens granted.
func parseLease(v any, l throttle.Limit) (GCRAResult, int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 7 {
		return GCRAResult{}, 0, fmt.Errorf("redisstore: lease: unexpected reply %v", v)
	}
	r, err := parseGCRA(a[:6], l)
	if err != nil {
		return GCRAResult{}, 0, err
	}
	n, ok := a[6].(int64)
	if !ok || n < 0 || n > maxWant || (n > 0) != r.Decision.Allowed {
		return GCRAResult{}, 0, fmt.Errorf("redisstore: lease: unexpected reply %v", v)
	}
	return r, n, nil
}

// Refund implements throttle.Store: one round trip (RefundScript) that
// moves k's TAT back by l.Cost, and drops k's cached deny (with the
// tokens left of a lease that ran short, if any). A refund of a
// reservation made while Redis was unavailable is applied to Redis all
// the same (at most one call's cost early per cancelled wait).
func (s *ThrottleStore) Refund(ctx context.Context, k throttle.Key, l throttle.Limit) error {
	l = normLimit(l)
	sl := &s.slots[k.Hash&s.mask]
	if e := sl.Load(); e != nil && e.hash == k.Hash && e.tier == k.Tier && (e.denied || e.short) {
		sl.CompareAndSwap(e, &entry{hash: k.Hash, tier: k.Tier, ks: e.ks, start: math.MinInt64, until: math.MinInt64})
	}
	nowArg, err := s.nowArg(time.Unix(0, s.lastNow.Load()))
	if err != nil {
		return err
	}
	s.c.refunds.Add(1)
	_, err = s.guard.Run(ctx, RefundScript, []string{s.key(k)}, strconv.FormatInt(l.Cost, 10), nowArg, s.extra)
	return malformed(s.key(k), err)
}

// Key returns the Redis key of k's bucket: "bd:t:<name>:<tier>:" then the
// partition and the operation separated by 0x1F, each as is when it is at
// most 64 bytes without 0x1E or 0x1F, else 0x1E and 22 base64 characters
// of its SHA-256 (Partition is client-controlled).
func (s *ThrottleStore) Key(k throttle.Key) string { return s.key(k) }

func (s *ThrottleStore) key(k throttle.Key) string {
	return s.prefix + k.Tier.String() + ":" + keyPart(k.Partition) + "\x1f" + keyPart(k.Operation)
}

func keyPart(p string) string {
	if len(p) <= 64 && !strings.ContainsAny(p, "\x1e\x1f") {
		return p
	}
	sum := sha256.Sum256([]byte(p))
	return "\x1e" + base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// ThrottleStoreStats are a ThrottleStore's counters since it was built.
type ThrottleStoreStats struct {
	// DenyHits counts calls denied by the deny cache (no round trip).
	DenyHits uint64
	// LeaseHits counts calls admitted with a leased token (no round trip).
	LeaseHits uint64
	// BudgetDenies counts calls denied locally by the per-key call budget
	// (never for a key under its limit: see Overdrafts).
	BudgetDenies uint64
	// Takes counts lease takes Redis answered.
	Takes uint64
	// Leased counts the tokens takes granted beyond the one of the call
	// that made them.
	Leased uint64
	// Coalesced counts calls that waited on another call's take.
	Coalesced uint64
	// Overdrafts counts takes made with the call budget spent, for a key
	// under its limit (its last take granted in full, with a conforming
	// token left in the bucket): each asks for at least twice that grant,
	// up to MaxLease.
	Overdrafts uint64
	// Starved counts calls that found every one of four flights' tokens
	// spent by other calls and made an exact take of one token.
	Starved uint64
	// Reservations counts takes of calls that may wait (one round trip
	// each).
	Reservations uint64
	// FallbackAllowed and FallbackDenied count the decisions of the fail
	// mode.
	FallbackAllowed, FallbackDenied uint64
	// Errors counts takes that failed with an error reply (a malformed
	// bucket, OOM) rather than an unavailable Redis; the fail mode decided
	// them too.
	Errors uint64
	// Refunds counts refunds sent.
	Refunds uint64
	// Mode is the fail mode.
	Mode FailMode
	// Guard is the guard's counters (round trips, timeouts, breaker).
	Guard Stats
}

// Stats returns the store's counters.
func (s *ThrottleStore) Stats() ThrottleStoreStats {
	return ThrottleStoreStats{
		DenyHits:        s.c.denyHits.Load(),
		LeaseHits:       s.c.leaseHits.Load(),
		BudgetDenies:    s.c.budgetDenies.Load(),
		Takes:           s.c.takes.Load(),
		Leased:          s.c.leased.Load(),
		Coalesced:       s.c.coalesced.Load(),
		Overdrafts:      s.c.overdrafts.Load(),
		Starved:         s.c.starved.Load(),
		Reservations:    s.c.reservations.Load(),
		FallbackAllowed: s.c.fbAllowed.Load(),
		FallbackDenied:  s.c.fbDenied.Load(),
		Errors:          s.c.errs.Load(),
		Refunds:         s.c.refunds.Load(),
		Mode:            s.mode,
		Guard:           s.guard.Stats(),
	}
}

// Fallbacks implements throttle.FallbackCounter: the decisions made by the
// fail mode.
func (s *ThrottleStore) Fallbacks() uint64 { return s.c.fbAllowed.Load() + s.c.fbDenied.Load() }
