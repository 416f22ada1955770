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
// process. Expired records are swept as claims arrive (a few per insert)
// and by Sweep, so many distinct keys do not grow memory past what their
// TTLs keep alive.
//
// Memory is safe for concurrent use.
type Memory struct {
	clock      baldur.Clock
	lease, ttl time.Duration
	seed       maphash.Seed
	tokens     atomic.Uint64
	shards     [memoryShards]memShard
}

type memShard struct {
	mu      sync.Mutex
	m       map[Key]*memEntry
	inserts uint32
	_       [40]byte // keep shards on their own cache lines
}

type memEntry struct {
	token       uint64
	fp          Fingerprint
	status      Status
	claimedAt   time.Time
	completedAt time.Time
	expires     time.Time
	resp        *Response
	stored      int
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

func (m *Memory) shard(k *Key) *memShard {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(k.Scope)
	h.WriteString(k.Key)
	return &m.shards[h.Sum64()%memoryShards]
}

// Claim implements Ledger.
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
	now := m.clock.Now()
	s := m.shard(&req.Key)
	s.mu.Lock()
	e, ok := s.m[req.Key]
	if ok && now.Before(e.expires) {
		c.Record = e.record(req.Key)
		switch {
		case e.fp != req.Fingerprint:
			c.Outcome = Mismatch
		case e.status == InProgress:
			c.Outcome = Busy
		default:
			c.Outcome = Done
			c.Response = e.resp
		}
		s.mu.Unlock()
		return c, nil
	}
	if !ok {
		e = &memEntry{}
		s.m[req.Key] = e
		s.inserts++
	}
	c.Token = m.tokens.Add(1)
	*e = memEntry{token: c.Token, fp: req.Fingerprint, status: InProgress, claimedAt: now, expires: now.Add(c.Lease)}
	if !ok && s.inserts%16 == 0 {
		s.sweep(now, 8)
	}
	c.Outcome = Claimed
	c.Record = e.record(req.Key)
	s.mu.Unlock()
	return c, nil
}

func (e *memEntry) record(k Key) Record {
	return Record{Key: k, Status: e.status, Fingerprint: e.fp, ClaimedAt: e.claimedAt, CompletedAt: e.completedAt,
		ExpiresAt: e.expires, Replayable: e.replayable, StoredBytes: e.stored}
}

// sweep deletes up to n expired entries (map iteration starts at random).
func (s *memShard) sweep(now time.Time, n int) int {
	deleted := 0
	for k, e := range s.m {
		if n == 0 {
			break
		}
		n--
		if !now.Before(e.expires) {
			delete(s.m, k)
			deleted++
		}
	}
	return deleted
}

// Sweep deletes every expired record and returns how many it deleted.
func (m *Memory) Sweep() int {
	now := m.clock.Now()
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

// held runs f on the claim's entry while the claim still holds it.
func (m *Memory) held(c *Claim, f func(s *memShard, e *memEntry, now time.Time)) error {
	now := m.clock.Now()
	s := m.shard(&c.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[c.Key]
	if !ok || c.Outcome != Claimed || e.token != c.Token || e.status != InProgress || !now.Before(e.expires) {
		return ErrLeaseLost
	}
	f(s, e, now)
	return nil
}

// Heartbeat implements Ledger.
func (m *Memory) Heartbeat(_ context.Context, c *Claim, lease time.Duration) error {
	if lease <= 0 {
		lease = c.Lease
	}
	return m.held(c, func(_ *memShard, e *memEntry, now time.Time) { e.expires = now.Add(lease) })
}

// Complete implements Ledger. It copies resp.
func (m *Memory) Complete(_ context.Context, c *Claim, resp *Response) error {
	var stored *Response
	size := 0
	if resp != nil {
		stored = &Response{Status: resp.Status, Header: append([]HeaderField(nil), resp.Header...), Body: append([]byte(nil), resp.Body...)}
		size = resp.Size()
	}
	return m.held(c, func(_ *memShard, e *memEntry, now time.Time) {
		e.status, e.completedAt, e.expires = Completed, now, now.Add(c.TTL)
		e.resp, e.stored, e.replayable = stored, size, stored != nil
	})
}

// Release implements Ledger.
func (m *Memory) Release(_ context.Context, c *Claim) error {
	return m.held(c, func(s *memShard, _ *memEntry, _ time.Time) { delete(s.m, c.Key) })
}

// Lookup implements Ledger.
func (m *Memory) Lookup(_ context.Context, k Key) (Record, bool, error) {
	now := m.clock.Now()
	s := m.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || !now.Before(e.expires) {
		return Record{}, false, nil
	}
	return e.record(k), true, nil
}

// ForceRelease implements Ledger.
func (m *Memory) ForceRelease(_ context.Context, k Key) (bool, error) {
	now := m.clock.Now()
	s := m.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || !now.Before(e.expires) || e.status != InProgress {
		return false, nil
	}
	delete(s.m, k)
	return true, nil
}
