package idempotency

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// MemoryConfig configures a Memory ledger. The zero value is valid outside
// production.
type MemoryConfig struct {
	// Production says the process is one replica of a fleet. A memory
	// ledger is then refused (ErrMemoryInProduction): its records are per
	// process, so a retry that lands on another replica runs the work
	// again.
	Production bool
	// AllowInProduction builds the ledger in production anyway, with a
	// warning logged at construction (a single-replica deployment).
	AllowInProduction bool
	// Clock dates leases and expiries. Nil means baldur.SystemClock().
	Clock baldur.Clock
	// Lease and TTL are the defaults of claims that give none. Zero means
	// DefaultLease and TTL.
	Lease, TTL time.Duration
	// Logger receives the production warning. Nil means slog.Default().
	Logger *slog.Logger
}

const memoryShards = 32

// Memory is a Ledger in process memory: per replica, so only for tests,
// single-replica services and automation whose actions all run in one
// process. Expired records are swept as claims arrive (a few per insert),
// by Sweep, and by the watchdog check ExpiredClaimsCheck, so many distinct
// keys do not grow memory past what their TTLs keep alive.
//
// Records are compact entries (times kept as offsets from the ledger's
// creation, which preserves the clock's monotonic reading) handed out from
// per-shard slabs and reused once deleted, so a claim allocates nothing
// (but for a new slab every memSlab keys) and updates its entry in place; a
// completion allocates its stored copy of the response (two allocations:
// the response with up to storedInline header lines, and the body).
//
// Memory is safe for concurrent use.
type Memory struct {
	clock      baldur.Clock
	base       time.Time // times are stored as offsets from base
	lease, ttl time.Duration
	seed       maphash.Seed
	tokens     atomic.Uint64
	shards     [memoryShards]memShard
}

type memShard struct {
	mu      sync.Mutex
	m       map[Key]*memEntry
	free    []*memEntry // deleted entries, for reuse
	slab    []memEntry  // the rest of the slab entries are cut from
	inserts uint32
	_       [40]byte // keep shards on their own cache lines
}

// memSlab is how many entries one slab allocation holds.
const memSlab = 64

// alloc returns a zero entry; s.mu is held.
func (s *memShard) alloc() *memEntry {
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free = s.free[:n-1]
		return e
	}
	if len(s.slab) == 0 {
		s.slab = make([]memEntry, memSlab)
	}
	e := &s.slab[0]
	s.slab = s.slab[1:]
	return e
}

// remove deletes k's entry e and keeps it for reuse; s.mu is held.
func (s *memShard) remove(k Key, e *memEntry) {
	delete(s.m, k)
	*e = memEntry{} // drops the stored response
	if len(s.free) < 4*memSlab {
		s.free = append(s.free, e)
	}
}

// memEntry is one record; its times are offsets from Memory.base.
type memEntry struct {
	token       uint64
	fp          Fingerprint
	claimedAt   time.Duration
	completedAt time.Duration // 0 while in progress
	expires     time.Duration
	resp        *Response // immutable once stored: readers share it
	stored      int32
	status      Status
	replayable  bool
}

var _ Ledger = (*Memory)(nil)

// NewMemory returns a memory ledger; ErrMemoryInProduction (wrapped in a
// *baldur.ConfigError naming Production) when cfg.Production is set
// without cfg.AllowInProduction.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.Lease < 0 || cfg.TTL < 0 {
		return nil, &baldur.ConfigError{Field: "Lease/TTL", Reason: "must not be negative"}
	}
	if cfg.Production {
		if !cfg.AllowInProduction {
			return nil, fmt.Errorf("%w (%w)", &baldur.ConfigError{Field: "Production", Value: "true", Reason: "refuses a memory idempotency ledger"}, ErrMemoryInProduction)
		}
		log := cfg.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("idempotency: MEMORY LEDGER IN PRODUCTION: records are per process; a retry that reaches another replica runs the work again")
	}
	m := &Memory{clock: cfg.Clock, lease: cfg.Lease, ttl: cfg.TTL, seed: maphash.MakeSeed()}
	if m.clock == nil {
		m.clock = baldur.SystemClock()
	}
	// One hour back, so that no stored offset is zero (zero means "not
	// completed") and a clock that steps back a little stays positive.
	m.base = m.clock.Now().Add(-time.Hour)
	if m.lease == 0 {
		m.lease = DefaultLease
	}
	if m.ttl == 0 {
		m.ttl = TTL
	}
	m.tokens.Store(rand.Uint64() >> 1)
	for i := range m.shards {
		m.shards[i].m = map[Key]*memEntry{}
	}
	return m, nil
}

// now is the clock's time as an offset from m.base.
func (m *Memory) now() time.Duration { return m.clock.Now().Sub(m.base) }

func (m *Memory) at(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return m.base.Add(d)
}

func (m *Memory) shard(k *Key) *memShard {
	return &m.shards[maphash.String(m.seed, k.Key)%memoryShards]
}

// Claim implements Ledger. It does not allocate.
func (m *Memory) Claim(_ context.Context, req ClaimRequest) (Claim, error) {
	if err := ValidKey(req.Key.Key); err != nil {
		return Claim{}, err
	}
	c := Claim{Key: req.Key, Lease: req.Lease, TTL: req.TTL}
	if c.Lease <= 0 {
		c.Lease = m.lease
	}
	if c.TTL <= 0 {
		c.TTL = m.ttl
	}
	now := m.now()
	s := m.shard(&req.Key)
	s.mu.Lock()
	e, ok := s.m[req.Key]
	if ok && now < e.expires {
		switch {
		case e.fp != req.Fingerprint:
			c.Outcome = Mismatch
		case e.status == InProgress:
			c.Outcome = Busy
		default:
			c.Outcome = Done
			c.Response = e.resp
		}
		c.Record = m.record(req.Key, e)
		s.mu.Unlock()
		return c, nil
	}
	c.Token = m.tokens.Add(1)
	if !ok {
		e = s.alloc()
		s.m[req.Key] = e
	}
	*e = memEntry{token: c.Token, fp: req.Fingerprint, status: InProgress, claimedAt: now, expires: now + c.Lease}
	c.Outcome = Claimed
	c.Record = m.record(req.Key, e)
	if !ok {
		if s.inserts++; s.inserts%16 == 0 {
			s.sweep(now, 8)
		}
	}
	s.mu.Unlock()
	return c, nil
}

func (m *Memory) record(k Key, e *memEntry) Record {
	return Record{Key: k, Status: e.status, Fingerprint: e.fp, ClaimedAt: m.at(e.claimedAt), CompletedAt: m.at(e.completedAt),
		ExpiresAt: m.at(e.expires), Replayable: e.replayable, StoredBytes: int(e.stored)}
}

// sweep deletes up to n expired entries (map iteration starts at random).
func (s *memShard) sweep(now time.Duration, n int) int {
	deleted := 0
	for k, e := range s.m {
		if n == 0 {
			break
		}
		n--
		if now >= e.expires {
			s.remove(k, e)
			deleted++
		}
	}
	return deleted
}

// Sweep deletes every expired record and returns how many it deleted.
func (m *Memory) Sweep() int {
	now := m.now()
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.sweep(now, len(s.m))
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of records held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// held returns the claim's entry, with its shard locked, while the claim
// still holds it; the caller changes the entry (or removes it) and
// unlocks.
func (m *Memory) held(c *Claim) (*memShard, *memEntry, time.Duration, error) {
	now := m.now()
	s := m.shard(&c.Key)
	s.mu.Lock()
	e, ok := s.m[c.Key]
	if !ok || c.Outcome != Claimed || e.token != c.Token || e.status != InProgress || now >= e.expires {
		s.mu.Unlock()
		return nil, nil, 0, ErrLeaseLost
	}
	return s, e, now, nil
}

// Heartbeat implements Ledger.
func (m *Memory) Heartbeat(_ context.Context, c *Claim, lease time.Duration) error {
	if lease <= 0 {
		lease = c.Lease
	}
	s, e, now, err := m.held(c)
	if err != nil {
		return err
	}
	e.expires = now + lease
	s.mu.Unlock()
	return nil
}

// storedInline is how many header lines a stored response keeps without
// a second allocation.
const storedInline = 3

// storedResponse is a completion's copy of its response, allocated once
// with room for a few header lines.
type storedResponse struct {
	resp   Response
	inline [storedInline]HeaderField
}

// storeCopy copies r for keeping: the header lines (their strings are
// immutable and shared) and the body.
func storeCopy(r *Response) *Response {
	s := &storedResponse{resp: Response{Status: r.Status}}
	if n := len(r.Header); n <= storedInline {
		s.resp.Header = s.inline[:n:n]
		copy(s.resp.Header, r.Header)
	} else {
		s.resp.Header = append([]HeaderField(nil), r.Header...)
	}
	if len(r.Body) > 0 {
		s.resp.Body = append([]byte(nil), r.Body...)
	}
	return &s.resp
}

// Complete implements Ledger. It copies resp (two allocations).
func (m *Memory) Complete(_ context.Context, c *Claim, resp *Response) error {
	var stored *Response
	size := 0
	if resp != nil {
		stored = storeCopy(resp)
		size = resp.Size()
	}
	s, e, now, err := m.held(c)
	if err != nil {
		return err
	}
	e.status, e.completedAt, e.expires = Completed, now, now+c.TTL
	e.resp, e.stored, e.replayable = stored, int32(min(size, 1<<31-1)), stored != nil
	s.mu.Unlock()
	return nil
}

// Release implements Ledger.
func (m *Memory) Release(_ context.Context, c *Claim) error {
	s, e, _, err := m.held(c)
	if err != nil {
		return err
	}
	s.remove(c.Key, e)
	s.mu.Unlock()
	return nil
}

// Lookup implements Ledger.
func (m *Memory) Lookup(_ context.Context, k Key) (Record, bool, error) {
	now := m.now()
	s := m.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || now >= e.expires {
		return Record{}, false, nil
	}
	return m.record(k, e), true, nil
}

// ForceRelease implements Ledger.
func (m *Memory) ForceRelease(_ context.Context, k Key) (bool, error) {
	now := m.now()
	s := m.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || now >= e.expires || e.status != InProgress {
		return false, nil
	}
	s.remove(k, e)
	return true, nil
}
