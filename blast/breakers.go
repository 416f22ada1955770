package blast

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/proc"
)

// Breakers is a set of circuit breakers, one per partition, that a Policy
// uses as a gate: a failing partition (an upstream host, a route, a tenant)
// is cut off by its own breaker while the others keep serving.
//
// Breakers implements baldur.Gate with stage baldur.StageBlast and is safe for
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

	shardMax  int          // partitions one shard may hold
	count     atomic.Int64 // partitions held, all shards
	forced    atomic.Int64 // partitions holding a force slot (breaker.counted)
	maxForced int64
	shards    []breakerShard
	mask      uint64
	okMask    int // the stripes of a breaker's success count that calls write, minus one (proc.Stripes)
}

// breakerShard is one shard of the partitions. Lookups read its table
// without a lock; mu serializes the writers (creation, eviction).
type breakerShard struct {
	mu sync.Mutex
	tableShard
	_ [32]byte // shards do not share cache lines
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
		probes:    uint32(cfg.HalfOpenProbes),
		maxForced: int64(max(1, cfg.MaxPartitions/2)),
		buckets:   int(bucketCount(cfg.Window.D(), cfg.BucketPeriod.D())),
		period:    int64(cfg.BucketPeriod),
		timeout:   int64(cfg.OpenTimeout),
		cfg:       cfg,
		clock:     cfg.Clock,
		hook:      cfg.OnStateChange,
		okMask:    proc.Stripes(okStripes) - 1,
	}
	if b.clock == nil {
		b.clock = baldur.SystemClock()
	}
	n := numShards(cfg.MaxPartitions)
	b.shards = make([]breakerShard, n)
	b.mask = uint64(n - 1)
	// Keys never hash evenly: a shard may hold twice its share, and the
	// total is what keeps the bound, so 10,000 live keys fit in the default
	// 10,000 partitions without evicting one another.
	b.shardMax = 2 * ((cfg.MaxPartitions + n - 1) / n)
	for i := range b.shards {
		b.shards[i].init()
	}
	return b, nil
}

// numShards picks a power of two, at most 64, that leaves at least 16
// entries per shard.
func numShards(max int) int {
	n := 1
	for n < 64 && n*2*16 <= max {
		n *= 2
	}
	return n
}

// Stage returns baldur.StageBlast.
func (b *Breakers) Stage() baldur.Stage { return baldur.StageBlast }

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

func (b *Breakers) lookup(h uint64) *breaker { return b.shard(h).tab.Load().get(h) }

// create returns the partition's breaker, adding it if absent. When
// MaxPartitions are held, or the shard holds twice its share, it first
// evicts from the shard: idle partitions among a sample, else the least
// recently used closed one of the sample.
//
// An evicted breaker is dropped, not reused for the new partition: a
// lookup that found it just before may still admit through it and release
// into it, and must not reach another partition's counts.
func (b *Breakers) create(h uint64, key, op string, now int64) *breaker {
	s := b.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	return b.createLocked(s, h, key, op, now)
}

// createLocked is create with s.mu held.
func (b *Breakers) createLocked(s *breakerShard, h uint64, key, op string, now int64) *breaker {
	if br := s.tab.Load().get(h); br != nil {
		return br
	}
	if s.live >= b.shardMax || b.count.Load() >= int64(b.cfg.MaxPartitions) {
		b.evict(s, now)
	}
	p := b.hasher.partition(strings.Clone(key), strings.Clone(op))
	br := newBreaker(b, p, h, now)
	s.put(br)
	b.count.Add(1)
	return br
}

const evictSample = 8

// evict removes up to evictSample idle partitions, or failing that the least
// recently used one that holds no state worth keeping (closed before
// half-open before open). Forced partitions stay. The sample is the entries
// that follow a random slot: O(1) instead of an LRU list on the hot path.
// When the sample holds no candidate (every entry forced, say), the scan
// goes on through the shard until it finds one, so that forced partitions
// cannot make the shard grow without bound. Called with s.mu held.
func (b *Breakers) evict(s *breakerShard, now int64) {
	idle := satAdd(now, -int64(b.cfg.IdleTimeout))
	var (
		victim  uint64
		vb      *breaker
		vrank   State
		vused   int64
		sampled int
		evicted int
	)
	s.each(rand.Uint64(), func(i uint64, br *breaker) bool {
		sampled++
		if st, ok := br.evictRank(now); ok {
			used := br.lastUsed.Load()
			if used < idle {
				s.removeAt(i)
				b.dropped(br)
				evicted++
			} else if vb == nil || st < vrank || (st == vrank && used < vused) {
				victim, vb, vrank, vused = i, br, st, used
			}
		}
		return sampled < evictSample || (evicted == 0 && vb == nil)
	})
	if evicted == 0 && vb != nil {
		s.removeAt(victim)
		b.dropped(vb)
		evicted = 1
	}
	b.count.Add(int64(-evicted))
}

// dropped gives back the force slot of an evicted breaker whose force had
// expired unnoticed (a live force is never evicted).
func (b *Breakers) dropped(br *breaker) {
	if br.counted.CompareAndSwap(true, false) {
		b.forced.Add(-1)
	}
}

// reserveForce takes one of the maxForced slots, or reports false.
func (b *Breakers) reserveForce() bool {
	for {
		n := b.forced.Load()
		if n >= b.maxForced {
			return false
		}
		if b.forced.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// expireForces ends every force that has expired but was not yet noticed
// (nothing touched its partition since), freeing their slots. It walks
// every partition, so it runs only when the slots are all taken.
func (b *Breakers) expireForces(now int64) {
	var due []*breaker
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		s.each(0, func(_ uint64, br *breaker) bool {
			if br.counted.Load() && now >= br.untilNs.Load() {
				due = append(due, br)
			}
			return true
		})
		s.mu.Unlock()
	}
	for _, br := range due {
		var t transitions
		br.mu.Lock()
		br.current(now, &t)
		br.mu.Unlock()
		br.fire(&t)
	}
}

// Partitions returns how many partitions are held in memory.
func (b *Breakers) Partitions() int { return int(b.count.Load()) }

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
// the partition is half-open, so traffic resumes through probes. Forcing a
// partition that is not forced yet returns ErrTooManyForced, changing
// nothing, when half of MaxPartitions are forced already (see
// BreakerConfig.MaxPartitions); re-forcing a forced one always succeeds.
func (b *Breakers) ForceOpen(p Partition, ttl time.Duration) error {
	return b.force(p, StateForcedOpen, ttl)
}

// ForceClosed admits every call of p for ttl (ForceTTL when ttl <= 0); the
// breaker neither counts nor trips meanwhile. When it expires the partition
// is closed with fresh counts. It returns ErrTooManyForced as ForceOpen
// does.
func (b *Breakers) ForceClosed(p Partition, ttl time.Duration) error {
	return b.force(p, StateForcedClosed, ttl)
}

// Unforce lifts a force on p at once, as if it had expired. It is a no-op
// when p is not forced.
func (b *Breakers) Unforce(p Partition) {
	br := b.lookup(b.hasher.hash(p.Key, p.Operation))
	if br != nil {
		br.unforce(b.clock.Now().UnixNano())
	}
}

// force runs under the shard's lock, so that eviction (which also holds
// it) cannot drop the partition between the lookup and the force, and a
// partition's force slot is taken at most once.
func (b *Breakers) force(p Partition, st State, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = b.cfg.ForceTTL.D()
	}
	now := b.clock.Now().UnixNano()
	h := b.hasher.hash(p.Key, p.Operation)
	s := b.shard(h)
	for retried := false; ; retried = true {
		s.mu.Lock()
		br := s.tab.Load().get(h)
		// counted changes from false to true only here, under s.mu, so it
		// cannot change between this test and forceTo.
		if br == nil || !br.counted.Load() {
			if !b.reserveForce() {
				s.mu.Unlock()
				if retried {
					return ErrTooManyForced
				}
				b.expireForces(now)
				continue
			}
			if br == nil {
				br = b.createLocked(s, h, p.Key, p.Operation, now)
			}
			br.counted.Store(true)
		}
		var t transitions
		br.forceTo(st, now, int64(ttl), &t)
		s.mu.Unlock()
		br.fire(&t)
		return nil
	}
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
		s.mu.Lock()
		s.each(0, func(_ uint64, br *breaker) bool {
			all = append(all, br)
			return true
		})
		s.mu.Unlock()
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

// maxRetryAfter caps advised waits at the longest one baldur.Reject
// interns, so that no rejection allocates, in the breaker or in an adapter
// that renders it; a client told to wait an hour and rejected again is told
// the rest.
const maxRetryAfter = int64(baldur.MaxInternedRetryAfter * time.Second)

// rejectFor is the rejection of an open (or half-open, d = 0) partition
// whose open state ends in d ns: at least 1 s, at most the open timeout.
func (b *Breakers) rejectFor(d int64) *baldur.Rejection {
	return baldur.RejectAtLeast(baldur.ReasonBreakerOpen, time.Duration(min(d, b.timeout, maxRetryAfter)), time.Second)
}

// rejectForced is the rejection of a forced-open partition whose force ends
// in d ns: the time left of the force, however it compares with the open
// timeout, at least 1 s.
func rejectForced(d int64) *baldur.Rejection {
	return baldur.RejectAtLeast(baldur.ReasonBreakerOpen, time.Duration(min(d, maxRetryAfter)), time.Second)
}
