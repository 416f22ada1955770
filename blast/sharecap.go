package blast

import (
	"context"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// ShareCapConfig configures a ShareCap. At least one of Share and MaxPerKey
// must be set; when both are, the smaller limit applies.
type ShareCapConfig struct {
	// Capacity is the policy's in-flight capacity that the keys share,
	// usually the bulkhead's size. Required with Share; at most 2^31-1, the
	// most permits a bulkhead holds.
	Capacity int `json:"capacity,omitempty"`
	// Share is the largest fraction of Capacity one key may hold, in
	// (0, 1]. The limit is floor(Share × Capacity), at least 1. Zero means
	// no share limit.
	Share float64 `json:"share,omitempty"`
	// MaxPerKey is an absolute limit of in-flight calls per key. Zero means
	// none; at most 2^31-1.
	MaxPerKey int `json:"max_per_key,omitempty"`
	// RetryAfter is advised to rejected callers; rounded up to whole
	// seconds. Default 1 s.
	RetryAfter baldur.Duration `json:"retry_after,omitempty"`
	// MaxKeys is how many keys with no call in flight are remembered before
	// they are dropped; keys with calls in flight are always kept (their
	// number is bounded by the concurrency itself). Default 4096, at most
	// 2^30.
	MaxKeys int `json:"max_keys,omitempty"`
}

const (
	defaultShareRetryAfter = time.Second
	defaultMaxKeys         = 4096
	// maxInFlight bounds Capacity and MaxPerKey: no bulkhead holds more
	// permits, and Share × Capacity stays exact in a float64.
	maxInFlight = 1<<31 - 1
)

// ShareCap bounds how many in-flight calls one partition key (Call.Key: a
// tenant, an API key, a client) may hold, so that no key fills a bulkhead
// alone. Admission is one compare-and-swap on the key's counter; the key's
// entry is found in a sharded map under a read lock of its shard. Calls
// with an empty Key are not capped.
//
// ShareCap implements baldur.Gate with stage baldur.StageBlast and is safe for
// concurrent use.
type ShareCap struct {
	seed     maphash.Seed
	limit    int64
	reject   *baldur.Rejection
	shardMax int
	shards   []capShard
	mask     uint64
}

type capShard struct {
	mu      sync.RWMutex
	m       map[uint64]*capEntry
	sweepAt int
	_       [24]byte // 64 bytes a shard: shards do not share cache lines
}

// capEntry counts one key's calls in flight; -1 marks an entry that a sweep
// removed, so that a racing admission retries with a fresh entry instead of
// counting into a dead one. It is its own baldur.Releaser: a permit needs no
// lookup to be given back.
type capEntry struct {
	n atomic.Int64
	_ [56]byte // one entry per cache line: hot keys do not share lines
}

var _ baldur.Gate = (*ShareCap)(nil)

// NewShareCap validates cfg and returns a ShareCap.
func NewShareCap(cfg ShareCapConfig) (*ShareCap, error) {
	if err := checkFraction("Share", cfg.Share); err != nil {
		return nil, err
	}
	if cfg.Capacity < 0 || cfg.Capacity > maxInFlight {
		return nil, &baldur.ConfigError{Field: "Capacity", Value: strconv.Itoa(cfg.Capacity), Reason: "must be within 0.." + strconv.Itoa(maxInFlight)}
	}
	if cfg.Share > 0 && cfg.Capacity == 0 {
		return nil, &baldur.ConfigError{Field: "Capacity", Value: "0", Reason: "is required with Share"}
	}
	if cfg.MaxPerKey < 0 || cfg.MaxPerKey > maxInFlight {
		return nil, &baldur.ConfigError{Field: "MaxPerKey", Value: strconv.Itoa(cfg.MaxPerKey), Reason: "must be within 0.." + strconv.Itoa(maxInFlight)}
	}
	if cfg.Share == 0 && cfg.MaxPerKey == 0 {
		return nil, &baldur.ConfigError{Field: "Share", Reason: "or MaxPerKey must be set"}
	}
	if err := positiveDuration("RetryAfter", &cfg.RetryAfter, defaultShareRetryAfter); err != nil {
		return nil, err
	}
	if err := positiveInt("MaxKeys", &cfg.MaxKeys, defaultMaxKeys); err != nil {
		return nil, err
	}
	limit := int64(math.MaxInt64)
	if cfg.Share > 0 {
		limit = max(1, int64(math.Floor(cfg.Share*float64(cfg.Capacity))))
	}
	if cfg.MaxPerKey > 0 {
		limit = min(limit, int64(cfg.MaxPerKey))
	}
	n := numShards(cfg.MaxKeys)
	s := &ShareCap{
		seed:     maphash.MakeSeed(),
		limit:    limit,
		reject:   baldur.Reject(baldur.ReasonShareCap, cfg.RetryAfter.D()),
		shardMax: max(1, cfg.MaxKeys/n),
		shards:   make([]capShard, n),
		mask:     uint64(n - 1),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]*capEntry)
		s.shards[i].sweepAt = s.shardMax
	}
	return s, nil
}

// Stage returns baldur.StageBlast.
func (s *ShareCap) Stage() baldur.Stage { return baldur.StageBlast }

// Limit returns the most calls one key may have in flight.
func (s *ShareCap) Limit() int { return int(min(s.limit, math.MaxInt)) }

// Admit takes one of c.Key's in-flight slots, or rejects with reason
// share_cap when the key holds its limit. It never waits.
func (s *ShareCap) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	if c.Key == "" {
		return baldur.Permit{}, nil
	}
	h := maphash.String(s.seed, c.Key)
	sh := &s.shards[h&s.mask]
	sh.mu.RLock()
	e := sh.m[h]
	sh.mu.RUnlock()
	for {
		if e == nil {
			e = s.entry(sh, h)
		}
		n := e.n.Load()
		if n < 0 {
			e = nil // swept under us: take the live entry
			continue
		}
		if n >= s.limit {
			return baldur.Permit{}, s.reject
		}
		if e.n.CompareAndSwap(n, n+1) {
			return baldur.NewPermit(e, 0), nil
		}
	}
}

// Release gives the slot back.
func (e *capEntry) Release(uint64, baldur.Outcome) { e.n.Add(-1) }

// entry returns the live entry for h, creating it (and sweeping idle entries
// when the shard has grown) under the shard's write lock.
func (s *ShareCap) entry(sh *capShard, h uint64) *capEntry {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[h]; e != nil && e.n.Load() >= 0 {
		return e
	}
	if len(sh.m) >= sh.sweepAt {
		for k, e := range sh.m {
			if e.n.Load() < 0 || e.n.CompareAndSwap(0, -1) {
				delete(sh.m, k)
			}
		}
		// Entries still in flight stay; sweep again only once the shard has
		// doubled, so sweeping stays amortized O(1) per new key.
		sh.sweepAt = max(s.shardMax, 2*len(sh.m))
	}
	e := new(capEntry)
	sh.m[h] = e
	return e
}

// InFlight returns how many calls key has in flight.
func (s *ShareCap) InFlight(key string) int {
	h := maphash.String(s.seed, key)
	sh := &s.shards[h&s.mask]
	sh.mu.RLock()
	e := sh.m[h]
	sh.mu.RUnlock()
	if e == nil {
		return 0
	}
	return int(max(0, e.n.Load()))
}

// Keys returns how many keys are remembered, idle ones included.
func (s *ShareCap) Keys() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
