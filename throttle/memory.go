package throttle

import (
	"context"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ways is the associativity of the key table: a key may live in one of the
// seven slots of its set. Seven slots plus the set's mutex fill exactly two
// cache lines.
const ways = 7

// set is one lock's worth of buckets, 128 bytes. Each slot keeps its hash
// next to its state and free slots are taken first, so a lookup in a
// lightly loaded set touches only the first cache line.
type set struct {
	mu sync.Mutex
	// latest is the latest time any call of this set was decided at. A call
	// whose clock reading is older (its goroutine was preempted between
	// reading the clock and taking the lock) is decided at latest instead,
	// so a late arrival is never charged for time that already passed, as
	// x/time/rate treats a time before its last update.
	latest int64
	slot   [ways]slot
}

// slot is one bucket: its key hash (0: free) and its GCRA state.
type slot struct {
	hash uint64
	tat  int64
}

const setsPerPage = 64

type page [setsPerPage]set

// BytesPerKey is the memory one tracked key costs in Memory: its share of a
// 128-byte set holding seven keys, a mutex and counters.
const BytesPerKey = int(unsafe.Sizeof(set{})) / ways

// Memory is the in-process Store: a fixed-capacity, set-associative table
// of bucket states keyed by the 64-bit key hash. It is safe for concurrent
// use.
//
// A key hashes to one set of seven slots guarded by the set's own mutex, so
// calls for different keys almost never contend. Capacity is exact and fixed
// at construction (MaxKeys), so memory never grows with the number of
// distinct keys seen: a new key takes a free slot of its set, else the slot
// of the bucket closest to full. A full bucket (TAT <= now) is identical to
// a fresh one, so evicting it loses nothing; only when all seven buckets of
// a set are still refilling does eviction give a key back its burst early,
// and Memory counts those (LossyEvictions). Every insert scans seven slots:
// there is no sweep and no latency spike.
//
// Sets are allocated lazily in 8 KiB pages of 64 sets, so a throttle that
// sees few keys stays small; fully used, Memory costs BytesPerKey (18) bytes
// per key of capacity.
type Memory struct {
	base       time.Time
	nsets      uint64
	per, extra uint64 // sets below extra hold per+1 keys, the others per
	pages      []atomic.Pointer[page]
	lossy      [16]paddedCounter // striped by set, so eviction storms do not contend
}

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// NewMemory returns a Memory tracking at most maxKeys buckets (at least 1).
// Times passed to Take are measured from base.
func NewMemory(maxKeys int, base time.Time) *Memory {
	if maxKeys < 1 {
		maxKeys = 1
	}
	nsets := uint64((maxKeys + ways - 1) / ways)
	per := uint64(maxKeys) / nsets
	extra := uint64(maxKeys) % nsets
	return &Memory{
		base:  base,
		nsets: nsets,
		per:   per,
		extra: extra,
		pages: make([]atomic.Pointer[page], (nsets+setsPerPage-1)/setsPerPage),
	}
}

// caps returns how many slots set i may use.
func (m *Memory) caps(i uint64) int {
	if i < m.extra {
		return int(m.per + 1)
	}
	return int(m.per)
}

// Cap returns the number of buckets Memory can hold.
func (m *Memory) Cap() int {
	n := 0
	for i := uint64(0); i < m.nsets; i++ {
		n += m.caps(i)
	}
	return n
}

// set returns the set of hash h, its index and its capacity.
func (m *Memory) set(h uint64) (*set, uint64, int) {
	i, _ := bits.Mul64(h, m.nsets)
	pi := i / setsPerPage
	p := m.pages[pi].Load()
	if p == nil {
		p = m.newPage(pi)
	}
	return &p[i%setsPerPage], i, m.caps(i)
}

func (m *Memory) newPage(pi uint64) *page {
	p := new(page)
	for j := range p {
		p[j].latest = math.MinInt64
	}
	if m.pages[pi].CompareAndSwap(nil, p) {
		return p
	}
	return m.pages[pi].Load()
}

// take applies Decide to the bucket of hash h at now (ns since base).
func (m *Memory) take(h uint64, now int64, l Limit, maxWait int64) Decision {
	if h == 0 {
		h = 1
	}
	s, si, n := m.set(h)
	s.mu.Lock()
	if now < s.latest {
		now = s.latest
	} else {
		s.latest = now
	}
	i := s.find(h, n)
	tat := Fresh
	if i >= 0 {
		tat = s.slot[i].tat
	}
	d, next := Decide(tat, now, l, maxWait)
	if d.Allowed {
		if i < 0 {
			var lossy bool
			i, lossy = s.victim(now, n)
			if lossy {
				m.lossy[si%16].n.Add(1)
			}
			s.slot[i].hash = h
		}
		s.slot[i].tat = next
	}
	s.mu.Unlock()
	return d
}

// admit is take with maxWait 0 for the Admit hot path, without a Decision:
// it reports whether the call conforms and, as conform does, the time until
// the bucket is full (allowed) or until the next token (denied). l must be
// normalized.
func (m *Memory) admit(h uint64, now int64, l Limit) (bool, int64) {
	if h == 0 {
		h = 1
	}
	s, si, n := m.set(h)
	s.mu.Lock()
	if now < s.latest {
		now = s.latest
	} else {
		s.latest = now
	}
	i := s.find(h, n)
	tat := Fresh
	if i >= 0 {
		tat = s.slot[i].tat
	}
	ok, next, v := conform(tat, now, l)
	if ok {
		if i < 0 {
			var lossy bool
			i, lossy = s.victim(now, n)
			if lossy {
				m.lossy[si%16].n.Add(1)
			}
			s.slot[i].hash = h
		}
		s.slot[i].tat = next
	}
	s.mu.Unlock()
	return ok, v
}

func (m *Memory) refund(h uint64, cost int64) {
	if h == 0 {
		h = 1
	}
	s, _, n := m.set(h)
	s.mu.Lock()
	if i := s.find(h, n); i >= 0 {
		s.slot[i].tat = satSub(s.slot[i].tat, cost)
	}
	s.mu.Unlock()
}

func (s *set) find(h uint64, n int) int {
	for i := 0; i < n && i < ways; i++ {
		if s.slot[i].hash == h {
			return i
		}
	}
	return -1
}

// victim returns the slot a new key takes: a free one, else the bucket
// closest to full (the smallest TAT), whose loss gives away the least.
// It reports whether the evicted bucket was still refilling.
func (s *set) victim(now int64, n int) (int, bool) {
	best := 0
	for i := 0; i < n && i < ways; i++ {
		if s.slot[i].hash == 0 {
			return i, false
		}
		if s.slot[i].tat < s.slot[best].tat {
			best = i
		}
	}
	return best, s.slot[best].tat > now
}

func (m *Memory) nanos(now time.Time) int64 { return int64(now.Sub(m.base)) }

// Take implements Store.
func (m *Memory) Take(_ context.Context, k Key, now time.Time, l Limit, maxWait time.Duration) (Decision, error) {
	return m.take(k.Hash, m.nanos(now), l, int64(maxWait)), nil
}

// Refund implements Store.
func (m *Memory) Refund(_ context.Context, k Key, l Limit) error {
	m.refund(k.Hash, l.norm().Cost)
	return nil
}

// Stats describes a Memory's occupancy at one moment.
type Stats struct {
	// Keys is the number of tracked buckets (at most Cap).
	Keys int
	// Refilling is the number of tracked buckets that are not full at now;
	// the others could be dropped without changing any decision.
	Refilling int
	// Cap is the capacity (MaxKeys).
	Cap int
	// LossyEvictions counts buckets evicted before they were full.
	LossyEvictions uint64
}

// Stats counts the tracked buckets, taking each set's lock in turn. It is
// meant for metrics and tests, not for the hot path.
func (m *Memory) Stats(now time.Time) Stats {
	ns := m.nanos(now)
	st := Stats{Cap: m.Cap()}
	for pi := range m.pages {
		p := m.pages[pi].Load()
		if p == nil {
			continue
		}
		for j := range p {
			s := &p[j]
			s.mu.Lock()
			for i := 0; i < ways; i++ {
				if s.slot[i].hash != 0 {
					st.Keys++
					if s.slot[i].tat > ns {
						st.Refilling++
					}
				}
			}
			s.mu.Unlock()
		}
	}
	for i := range m.lossy {
		st.LossyEvictions += m.lossy[i].n.Load()
	}
	return st
}
