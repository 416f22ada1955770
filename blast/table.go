package blast

import "sync/atomic"

// table is a shard's set of breakers: open addressing with linear probing
// over slots that readers load without a lock, while the shard's mutex
// serializes writers. A writer never moves an entry within a table: it
// fills an empty slot, turns a slot into a tombstone, or builds a new table
// and swaps it in whole, so a reader probing any table it loaded finds every
// entry that was there when it loaded it, or an entry since removed (whose
// breaker still works, its counts just are no longer kept). Tables are kept
// at most 3/4 full, so every probe ends at an empty slot.
type table struct {
	mask  uint64
	slots []atomic.Pointer[breaker]
}

// tombstone marks a removed entry; probes continue past it.
var tombstone = new(breaker)

const minTable = 16

func newTable(n int) *table {
	size := minTable
	for size < n {
		size *= 2
	}
	return &table{mask: uint64(size - 1), slots: make([]atomic.Pointer[breaker], size)}
}

// home is where the probe for h starts. The shard is picked by h's low bits,
// so the slot uses its high ones.
func (t *table) home(h uint64) uint64 { return (h >> 32) & t.mask }

func (t *table) get(h uint64) *breaker {
	for i := t.home(h); ; i = (i + 1) & t.mask {
		br := t.slots[i].Load()
		if br == nil {
			return nil
		}
		if br.h == h && br != tombstone {
			return br
		}
	}
}

// tableShard is the writers' view of a shard's table. Its methods are
// called with the shard's mutex held.
type tableShard struct {
	tab  atomic.Pointer[table]
	live int // entries
	used int // entries and tombstones
}

func (s *tableShard) init() { s.tab.Store(newTable(minTable)) }

// put adds br, which must be absent.
func (s *tableShard) put(br *breaker) {
	t := s.tab.Load()
	if (s.used+1)*4 > len(t.slots)*3 {
		t = s.rebuild(t)
	}
	for i := t.home(br.h); ; i = (i + 1) & t.mask {
		switch t.slots[i].Load() {
		case nil:
			s.used++
			fallthrough
		case tombstone:
			s.live++
			t.slots[i].Store(br)
			return
		}
	}
}

// rebuild moves the live entries to a new table that is at most half full
// once one more is added, dropping the tombstones.
func (s *tableShard) rebuild(old *table) *table {
	t := newTable(2 * (s.live + 1))
	for i := range old.slots {
		if br := old.slots[i].Load(); br != nil && br != tombstone {
			for j := t.home(br.h); ; j = (j + 1) & t.mask {
				if t.slots[j].Load() == nil {
					t.slots[j].Store(br)
					break
				}
			}
		}
	}
	s.used = s.live
	s.tab.Store(t)
	return t
}

// removeAt turns slot i of the current table, which holds an entry, into a
// tombstone.
func (s *tableShard) removeAt(i uint64) {
	s.tab.Load().slots[i].Store(tombstone)
	s.live--
}

// each calls f with every entry and its slot, starting at slot from, until
// f returns false.
func (s *tableShard) each(from uint64, f func(i uint64, br *breaker) bool) {
	t := s.tab.Load()
	for k := uint64(0); k <= t.mask; k++ {
		i := (from + k) & t.mask
		if br := t.slots[i].Load(); br != nil && br != tombstone {
			if !f(i, br) {
				return
			}
		}
	}
}
