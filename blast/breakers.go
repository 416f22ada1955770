package blast

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Breakers is a set of circuit breakers, one per partition, that a Policy
// uses as a gate: a failing partition (an upstream host, a route, a tenant)
// is cut off by its own breaker while the others keep serving.
//
// Breakers implements baldur.Gate with Kind baldur.GateBlast and is safe for
// concurrent use.
type Breakers struct {
	hasher  hasher
	rule    tripRule
	probes  uint32
	buckets int
	period  int64 // bucket period, ns
	timeout int64 // open timeout, ns
	cfg     BreakerConfig
	clock   baldur.Clock
	hook    func(Partition, State, State)

	shardMax int // partitions per shard before eviction
	shards   []breakerShard
	mask     uint64
}

type breakerShard struct {
	mu sync.RWMutex
	m  map[uint64]*breaker
	_  [32]byte // 64 bytes a shard: shards do not share cache lines
}

var _ baldur.Gate = (*Breakers)(nil)

// NewBreakers validates cfg and returns an empty set of breakers; partitions
// are created on first use.
func NewBreakers(cfg BreakerConfig) (*Breakers, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Breakers{
		hasher: newHasher(cfg.PartitionBy),
		rule: tripRule{
			consecutive: uint32(cfg.ConsecutiveFailures),
			ratio:       cfg.FailureRatio,
			minRequests: uint32(cfg.MinRequests),
		},
		probes:  uint32(cfg.HalfOpenProbes),
		buckets: int((cfg.Window + cfg.BucketPeriod - 1) / cfg.BucketPeriod),
		period:  int64(cfg.BucketPeriod),
		timeout: int64(cfg.OpenTimeout),
		cfg:     cfg,
		clock:   cfg.Clock,
		hook:    cfg.OnStateChange,
	}
	if b.clock == nil {
		b.clock = baldur.SystemClock()
	}
	n := numShards(cfg.MaxPartitions)
	b.shards = make([]breakerShard, n)
	b.mask = uint64(n - 1)
	b.shardMax = cfg.MaxPartitions / n
	for i := range b.shards {
		b.shards[i].m = make(map[uint64]*breaker)
	}
	return b, nil
}

// numShards picks a power of two, at most 64, that leaves at least 16
// entries per shard, so that the per-shard bounds add up to at most max.
func numShards(max int) int {
	n := 1
	for n < 64 && n*2*16 <= max {
		n *= 2
	}
	return n
}

// Kind returns baldur.GateBlast.
func (b *Breakers) Kind() string { return baldur.GateBlast }

// Admit admits c unless its partition's breaker is open (or half-open with
// every probe taken), in which case it returns a rejection with reason
// breaker_open and a Retry-After of the remaining open time, at least 1 s.
// It never waits, so ctx is not consulted.
func (b *Breakers) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	now := c.Now
	if now.IsZero() {
		now = b.clock.Now()
	}
	ns := now.UnixNano()
	h := b.hasher.call(&c)
	br := b.lookup(h)
	if br == nil {
		br = b.create(h, c.Key, c.Operation, ns)
	}
	return br.admit(ns)
}

func (b *Breakers) shard(h uint64) *breakerShard { return &b.shards[h&b.mask] }

func (b *Breakers) lookup(h uint64) *breaker {
	s := b.shard(h)
	s.mu.RLock()
	br := s.m[h]
	s.mu.RUnlock()
	return br
}

// create returns the partition's breaker, adding it if absent. When the
// shard is full it first evicts: idle partitions among a sample, else the
// least recently used closed one of the sample.
func (b *Breakers) create(h uint64, key, op string, now int64) *breaker {
	s := b.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if br := s.m[h]; br != nil {
		return br
	}
	if len(s.m) >= b.shardMax {
		b.evict(s, now)
	}
	p := b.hasher.partition(strings.Clone(key), strings.Clone(op))
	br := newBreaker(b, p, now)
	s.m[h] = br
	return br
}

const evictSample = 8

// evict removes up to evictSample idle partitions, or failing that the least
// recently used one that holds no state worth keeping (closed before
// half-open before open). Forced partitions stay. Go's randomized map
// iteration makes the sample random: O(1) instead of an LRU list on the hot
// path.
func (b *Breakers) evict(s *breakerShard, now int64) {
	idle := now - int64(b.cfg.IdleTimeout)
	var (
		victim  uint64
		vb      *breaker
		vrank   State
		vused   int64
		sampled int
		evicted bool
	)
	for h, br := range s.m {
		if sampled == evictSample {
			break
		}
		sampled++
		st, ok := br.evictRank(now)
		if !ok {
			continue
		}
		used := br.lastUsed.Load()
		if used < idle {
			delete(s.m, h)
			evicted = true
			continue
		}
		if vb == nil || st < vrank || (st == vrank && used < vused) {
			victim, vb, vrank, vused = h, br, st, used
		}
	}
	if !evicted && vb != nil {
		delete(s.m, victim)
	}
}

// Partitions returns how many partitions are held in memory.
func (b *Breakers) Partitions() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// State returns the partition's current state. A partition never seen (or
// evicted) is closed.
func (b *Breakers) State(p Partition) State {
	br := b.lookup(b.hasher.hash(p.Key, p.Operation))
	if br == nil {
		return StateClosed
	}
	st, _ := br.view(b.clock.Now().UnixNano())
	return st
}

// ForceOpen rejects every call of p for ttl (ForceTTL when ttl <= 0),
// whatever the outcomes; it outranks automatic transitions. When it expires
// the partition is half-open, so traffic resumes through probes.
func (b *Breakers) ForceOpen(p Partition, ttl time.Duration) { b.force(p, StateForcedOpen, ttl) }

// ForceClosed admits every call of p for ttl (ForceTTL when ttl <= 0); the
// breaker neither counts nor trips meanwhile. When it expires the partition
// is closed with fresh counts.
func (b *Breakers) ForceClosed(p Partition, ttl time.Duration) { b.force(p, StateForcedClosed, ttl) }

// Unforce lifts a force on p at once, as if it had expired. It is a no-op
// when p is not forced.
func (b *Breakers) Unforce(p Partition) {
	br := b.lookup(b.hasher.hash(p.Key, p.Operation))
	if br != nil {
		br.unforce(b.clock.Now().UnixNano())
	}
}

func (b *Breakers) force(p Partition, st State, ttl time.Duration) {
	if ttl <= 0 {
		ttl = b.cfg.ForceTTL
	}
	now := b.clock.Now().UnixNano()
	h := b.hasher.hash(p.Key, p.Operation)
	br := b.lookup(h)
	if br == nil {
		br = b.create(h, p.Key, p.Operation, now)
	}
	br.forceTo(st, now, int64(ttl))
}

// PartitionStatus describes one partition that is not plainly closed.
type PartitionStatus struct {
	Partition Partition
	State     State
	// Until is when an open state or a force ends; zero for half-open.
	Until time.Time
}

// Open returns a snapshot of the partitions that are open, half-open or
// forced (either way), ordered by key then operation. It is meant for admin
// views and takes each shard's lock briefly.
func (b *Breakers) Open() []PartitionStatus {
	var all []*breaker
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.RLock()
		for _, br := range s.m {
			all = append(all, br)
		}
		s.mu.RUnlock()
	}
	now := b.clock.Now().UnixNano()
	var out []PartitionStatus
	for _, br := range all {
		st, until := br.view(now)
		if st == StateClosed {
			continue
		}
		ps := PartitionStatus{Partition: br.part, State: st}
		if until != 0 {
			ps.Until = time.Unix(0, until).UTC()
		}
		out = append(out, ps)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition.Key != out[j].Partition.Key {
			return out[i].Partition.Key < out[j].Partition.Key
		}
		return out[i].Partition.Operation < out[j].Partition.Operation
	})
	return out
}

func (b *Breakers) rejectFor(d int64) *baldur.Rejection {
	if d > b.timeout {
		d = b.timeout
	}
	return baldur.RejectAtLeast(baldur.ReasonBreakerOpen, time.Duration(d), time.Second)
}
