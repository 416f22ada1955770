package throttle

import (
	"context"
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

// set is one lock's worth of buckets. hash 0 marks a free slot.
type set struct {
	mu    sync.Mutex
	hash  [ways]uint64
	tat   [ways]int64
	n     uint8  // slots in use by this set's capacity share (1..ways)
	_     [3]byte
	lossy uint32 // evictions of buckets that were not full
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
	base  time.Time
	nsets uint64
	pages []atomic.Pointer[page]
	caps  func(i uint64) uint8
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
	m := &Memory{
		base:  base,
		nsets: nsets,
		pages: make([]atomic.Pointer[page], (nsets+setsPerPage-1)/setsPerPage),
	}
	m.caps = func(i uint64) uint8 {
		if i < extra {
			return uint8(per + 1)
		}
		return uint8(per)
	}
	return m
}

// Cap returns the number of buckets Memory can hold.
func (m *Memory) Cap() int {
	n := 0
	for i := uint64(0); i < m.nsets; i++ {
		n += int(m.caps(i))
	}
	return n
}

func (m *Memory) set(h uint64) *set {
	i, _ := bits.Mul64(h, m.nsets)
	pi := i / setsPerPage
	p := m.pages[pi].Load()
	if p == nil {
		p = m.newPage(pi)
	}
	return &p[i%setsPerPage]
}

func (m *Memory) newPage(pi uint64) *page {
	p := new(page)
	for j := range p {
		p[j].n = m.caps(pi*setsPerPage + uint64(j))
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
	s := m.set(h)
	s.mu.Lock()
	i := s.find(h)
	tat := Fresh
	if i >= 0 {
		tat = s.tat[i]
	}
	d, next := Decide(tat, now, l, maxWait)
	if d.Allowed {
		if i < 0 {
			i = s.victim(now)
			s.hash[i] = h
		}
		s.tat[i] = next
	}
	s.mu.Unlock()
	return d
}

func (m *Memory) refund(h uint64, cost int64) {
	if h == 0 {
		h = 1
	}
	s := m.set(h)
	s.mu.Lock()
	if i := s.find(h); i >= 0 {
		s.tat[i] = satSub(s.tat[i], cost)
	}
	s.mu.Unlock()
}

func (s *set) find(h uint64) int {
	for i := 0; i < int(s.n) && i < ways; i++ {
		if s.hash[i] == h {
			return i
		}
	}
	return -1
}

// victim returns the slot a new key takes: a free one, else the bucket
// closest to full (the smallest TAT), whose loss gives away the least.
func (s *set) victim(now int64) int {
	best := 0
	n := min(int(s.n), ways)
	for i := 0; i < n; i++ {
		if s.hash[i] == 0 {
			return i
		}
		if s.tat[i] < s.tat[best] {
			best = i
		}
	}
	if s.tat[best] > now {
		s.lossy++
	}
	return best
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
			for i := 0; i < int(s.n); i++ {
				if s.hash[i] != 0 {
					st.Keys++
					if s.tat[i] > ns {
						st.Refilling++
					}
				}
			}
			st.LossyEvictions += uint64(s.lossy)
			s.mu.Unlock()
		}
	}
	return st
}
