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

// set is seven buckets and what guards them, 128 bytes. Each slot keeps
// its hash next to its state and free slots are taken first, so a lookup in
// a lightly loaded set touches only the first cache line.
//
// A call for a key the set already holds takes no lock: it reads the
// slot's state word, decides, and, when the call is allowed, installs the
// new state with one compare-and-swap (retrying if another call got there
// first); a denied call writes nothing. The mutex only serializes changes
// of which key a slot holds (insert, evict). A slot changing keys is
// hidden first (hash 0), and its word is stored XORed with a mask derived
// from the key's hash, so a call that read the old key's word cannot
// install it over the new key's (the two words would have to agree in all
// 64 bits). See load.
type set struct {
	mu sync.Mutex
	// latest is the latest time a call of this set was allowed at. A call
	// whose clock reading is older (its goroutine was preempted between
	// reading the clock and deciding) is decided at latest instead, so a
	// late arrival is never charged for time that already passed, as
	// x/time/rate treats a time before its last update. It is raised
	// before the state it explains is installed.
	latest atomic.Int64
	slot   [ways]slot
}

// slot is one bucket: its key hash (0: free) and its GCRA state, the TAT
// XORed with mask(hash).
type slot struct {
	hash atomic.Uint64
	word atomic.Int64
}

// mask spreads the key hash over the whole word: two keys of one set
// share the high bits of their hashes.
func mask(h uint64) int64 { return int64(h * 0x9e3779b97f4a7c15) }

const setsPerPage = 64

type page [setsPerPage]set

// BytesPerKey is the memory one tracked key costs in Memory: its share of a
// 128-byte set holding seven keys, a mutex and counters.
const BytesPerKey = int(unsafe.Sizeof(set{})) / ways

// Memory is the in-process Store: a fixed-capacity, set-associative table
// of bucket states keyed by the 64-bit key hash. It is safe for concurrent
// use.
//
// A key hashes to one set of seven slots. Calls for a tracked key are
// lock-free (see set); inserts take the set's own mutex, so calls for
// different keys almost never contend. Capacity is exact and fixed
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

// NewMemory returns a Memory tracking at most maxKeys buckets, clamped to
// 1..MaxKeysLimit. Times passed to Take are measured from base.
func NewMemory(maxKeys int, base time.Time) *Memory {
	maxKeys = min(max(maxKeys, 1), MaxKeysLimit)
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
		p[j].latest.Store(math.MinInt64)
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
	mk := mask(h)
	for {
		sl, w := s.load(h, n)
		if sl == nil {
			at := max(now, s.latest.Load())
			d, next := Decide(Fresh, at, l, maxWait)
			if !d.Allowed || m.claim(s, si, n, h, at, next) {
				return d
			}
			continue
		}
		at := max(now, s.latest.Load())
		d, next := Decide(w^mk, at, l, maxWait)
		if !d.Allowed {
			if sl.word.Load() == w {
				return d
			}
			continue
		}
		s.advance(at)
		if sl.word.CompareAndSwap(w, next^mk) {
			return d
		}
	}
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
	mk := mask(h)
	for {
		sl, w := s.load(h, n)
		if sl == nil {
			at := max(now, s.latest.Load())
			_, next, v := conform(Fresh, at, l) // a full bucket admits
			if m.claim(s, si, n, h, at, next) {
				return true, v
			}
			continue
		}
		at := max(now, s.latest.Load())
		ok, next, v := conform(w^mk, at, l)
		if !ok {
			if sl.word.Load() == w {
				return false, v
			}
			continue
		}
		s.advance(at)
		if sl.word.CompareAndSwap(w, next^mk) {
			return true, v
		}
	}
}

// load returns the slot holding h and its word, or nil when h has no
// slot or its slot is changing keys. The word is read between two reads of
// the hash, so it is h's unless the slot changed keys twice in between;
// then it is another key's word, which a caller's compare-and-swap or
// re-read of the word rejects.
func (s *set) load(h uint64, n int) (*slot, int64) {
	for i := 0; i < n && i < ways; i++ {
		sl := &s.slot[i]
		if sl.hash.Load() == h {
			w := sl.word.Load()
			if sl.hash.Load() != h {
				return nil, 0
			}
			return sl, w
		}
	}
	return nil, 0
}

// advance raises latest to at.
func (s *set) advance(at int64) {
	for lt := s.latest.Load(); lt < at && !s.latest.CompareAndSwap(lt, at); lt = s.latest.Load() {
	}
}

// claim gives h a slot of s holding state next, decided at now: a free
// slot, else the bucket closest to full (the smallest TAT), whose loss
// gives away the least. It reports false, changing nothing, when h got a
// slot meanwhile; the caller then decides again.
func (m *Memory) claim(s *set, si uint64, n int, h uint64, now, next int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(h, n) >= 0 {
		return false
	}
	s.advance(now)
	best, bestTat := -1, int64(0)
	for i := 0; i < n && i < ways; i++ {
		sh := s.slot[i].hash.Load()
		if sh == 0 {
			best = i
			break
		}
		if tat := s.slot[i].word.Load() ^ mask(sh); best < 0 || tat < bestTat {
			best, bestTat = i, tat
		}
	}
	sl := &s.slot[best]
	old := sl.hash.Load()
	if old != 0 {
		sl.hash.Store(0) // hidden: no call can read the word as old's or h's
	}
	w := sl.word.Swap(next ^ mask(h))
	if old != 0 && w^mask(old) > now {
		m.lossy[si%16].n.Add(1)
	}
	sl.hash.Store(h)
	return true
}

func (m *Memory) refund(h uint64, cost int64) {
	if h == 0 {
		h = 1
	}
	s, _, n := m.set(h)
	mk := mask(h)
	for {
		sl, w := s.load(h, n)
		if sl == nil || sl.word.CompareAndSwap(w, satSub(w^mk, cost)^mk) {
			return
		}
	}
}

// find returns the slot of h, under mu.
func (s *set) find(h uint64, n int) int {
	for i := 0; i < n && i < ways; i++ {
		if s.slot[i].hash.Load() == h {
			return i
		}
	}
	return -1
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
				if h := s.slot[i].hash.Load(); h != 0 {
					st.Keys++
					if s.slot[i].word.Load()^mask(h) > ns {
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
