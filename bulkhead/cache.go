package bulkhead

import "sync/atomic"

// The free permits of a compartment live in its state word, which every
// admission and release would otherwise write: on several cores that word's
// cache line moves between them on every call, and a compartment shared by
// a route costs more on two cores than on one. So a released permit stays,
// up to cacheCap, in the cache of the P that released it, and the next
// admission on that P takes it from there: a call admitted and released on
// one core writes only that core's line.
//
// A cached permit is still counted as taken in the state word, so the
// limit holds whatever the caches hold: the permits in calls are the
// state's taken count minus the caches' (held). A caller whose own cache
// and the state word are empty takes from the other caches before it is
// rejected or waits, so a compartment refuses a call only when every
// permit is in a call, as an uncached one does.
//
// Waiters keep their order: while anyone waits, admissions skip the caches
// and releases go to the state word, which hands them on. A release that
// cached its permit just before the first waiter queued re-reads the state
// word after caching; the waiter drains every cache after queuing. Whichever
// of the two comes second sees the other, so no permit stays cached while
// a waiter waits for it.

// cacheStripes is the number of caches of a compartment, a power of two:
// calls on P p use cache p mod cacheStripes.
const cacheStripes = 4

// cache holds free permits taken from the state word, alone on its cache
// line.
type cache struct {
	free atomic.Int64
	_    [56]byte
}

// takeCached takes a permit from c when it holds one and nobody waits.
func (s *Semaphore) takeCached(c *cache) bool {
	for {
		n := c.free.Load()
		if n <= 0 || s.state.Load()>>32 != 0 {
			return false
		}
		if c.free.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// cacheRelease keeps a released permit in the cache of P p, and reports
// whether it did: not when the caches are off, somebody waits or the cache
// is full.
func (s *Semaphore) cacheRelease(p int) bool {
	limit := s.cacheCap.Load()
	if limit == 0 || s.state.Load()>>32 != 0 {
		return false
	}
	c := &s.caches[p&(cacheStripes-1)]
	for {
		n := c.free.Load()
		if n >= limit {
			return false
		}
		if c.free.CompareAndSwap(n, n+1) {
			break
		}
	}
	if s.state.Load()>>32 != 0 {
		// A waiter queued meanwhile and may have drained the caches before
		// this permit arrived: give the cache's permits to the waiters.
		if n := c.free.Swap(0); n > 0 {
			s.put(uint64(n))
		}
	}
	return true
}

// drain moves every cached permit back to the state word, without handing
// it to a waiter: the caller dispatches.
func (s *Semaphore) drain() {
	for i := range s.caches {
		if n := s.caches[i].free.Swap(0); n > 0 {
			s.state.Add(-uint64(n))
		}
	}
}

// held is the number of permits in calls: the state word's taken count st
// less the cached ones. The caches are read one by one after st, so the
// result is a moment's estimate, never below zero.
func (s *Semaphore) held(st uint64) int {
	n := int64(st & activeMask)
	for i := range s.caches {
		n -= s.caches[i].free.Load()
	}
	return int(max(n, 0))
}
