package bulkhead

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// cached returns the free permits the caches hold.
func cached(s *Semaphore) int64 {
	var n int64
	for i := range s.caches {
		n += s.caches[i].free.Load()
	}
	return n
}

// The caches take the P explicitly here (tryFast(p), releaseAt(p)), so that
// each case puts permits in the cache it means to, whatever P the test
// runs on.

// newCached returns the compartment cfg declares with its caches on, as a
// process with cacheStripes Ps or more makes it, whatever GOMAXPROCS the
// test runs with.
func newCached(t *testing.T, cfg Config) *Semaphore {
	t.Helper()
	s := mustNew(t, cfg)
	s.procMask = cacheStripes - 1
	s.setMax(int64(cfg.MaxConcurrent))
	return s
}

// newUncached returns the compartment cfg declares with its caches off, as
// a process with one P makes it.
func newUncached(t *testing.T, cfg Config) *Semaphore {
	t.Helper()
	s := mustNew(t, cfg)
	s.procMask = 0
	s.cacheCap.Store(0)
	return s
}

func TestCacheCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, cap int
	}{
		{1, 0}, {7, 0}, {8, 1}, {15, 1}, {16, 2}, {1024, 128},
	} {
		s := newCached(t, Config{Name: "cap", MaxConcurrent: tc.max})
		assert.EqualValues(t, tc.cap, s.cacheCap.Load(), "MaxConcurrent %d", tc.max)
	}
}

// A process with one P gets no caches: a release goes to the state word.
func TestCacheOffWithOneP(t *testing.T) {
	t.Parallel()
	s := newUncached(t, Config{Name: "one", MaxConcurrent: 1024})
	require.NoError(t, s.Resize(1024))
	assert.Zero(t, s.cacheCap.Load(), "a resize turned the caches on")
	require.True(t, s.tryFast(0))
	s.releaseAt(0)
	assert.Zero(t, cached(s))
	checkIdle(t, s)
}

// A permit released on one P stays in that P's cache, is counted free by
// State, and is taken first by the next call on that P.
func TestCacheKeepsReleasedPermit(t *testing.T) {
	t.Parallel()
	s := newCached(t, Config{Name: "keep", MaxConcurrent: 16})
	require.True(t, s.tryFast(1))
	require.True(t, s.tryFast(1))
	s.releaseAt(1)
	assert.EqualValues(t, 1, s.caches[1].free.Load(), "cache 1 after a release on P 1")
	assert.Equal(t, 1, s.State().Active, "Active counts the permits in calls, not the cached ones")
	s.releaseAt(1)
	s.releaseAt(1) // the cache's cap is 2: this one goes to the state word
	assert.EqualValues(t, 2, s.caches[1].free.Load(), "cache 1 is full at its cap")
	assert.Zero(t, s.State().Active)
	require.True(t, s.tryFast(1))
	assert.EqualValues(t, 1, s.caches[1].free.Load(), "the call on P 1 took from its cache")
	s.releaseAt(1)
	checkIdle(t, s)
}

// A compartment whose free permits sit in other P's caches admits a call
// from any P until every permit is in a call, and rejects the next: the
// limit is exact whatever the caches hold.
func TestCacheLimitIsExact(t *testing.T) {
	t.Parallel()
	const max = 16
	s := newCached(t, Config{Name: "exact", MaxConcurrent: max})
	for p := range cacheStripes { // fill every cache: take and release two on each P
		require.True(t, s.tryFast(p))
		require.True(t, s.tryFast(p))
	}
	for p := range cacheStripes {
		s.releaseAt(p)
		s.releaseAt(p)
	}
	require.EqualValues(t, 2*cacheStripes, cached(s), "every cache full")
	for i := range max { // all from P 0: its own cache, the state word, then the others'
		require.True(t, s.tryFast(0), "call %d of %d rejected", i+1, max)
	}
	assert.Zero(t, cached(s), "every cached permit taken")
	assert.False(t, s.tryFast(0), "call %d admitted", max+1)
	assert.False(t, s.tryFast(3), "call %d admitted on another P", max+1)
	assert.Equal(t, max, s.State().Active)
	for range max {
		s.releaseAt(2)
	}
	checkIdle(t, s)
	for range max { // all of them are back, wherever they were released
		require.True(t, s.tryFast(1))
	}
	require.False(t, s.tryFast(1))
}

// Shrinking moves the cached permits back to the state word, where the new
// limit counts them, and a cache that a racing release refilled after the
// shrink is still drawn from.
func TestCacheResize(t *testing.T) {
	t.Parallel()
	s := newCached(t, Config{Name: "resize", MaxConcurrent: 64})
	for range 8 {
		require.True(t, s.tryFast(2))
	}
	for range 8 {
		s.releaseAt(2)
	}
	require.EqualValues(t, 8, s.caches[2].free.Load())
	require.NoError(t, s.Resize(4))
	assert.Zero(t, cached(s), "caches drained by the resize")
	assert.Zero(t, s.cacheCap.Load(), "caches off below 2*cacheStripes permits")
	for range 4 {
		require.True(t, s.tryFast(0))
	}
	require.False(t, s.tryFast(0), "a fifth call admitted at MaxConcurrent 4")
	for range 4 {
		s.releaseAt(0)
	}
	assert.Zero(t, cached(s), "a release with the caches off goes to the state word")

	// A release that read the old cap before the resize caches its permit
	// after the drain: calls still find it.
	require.True(t, s.tryFast(0))
	s.caches[1].free.Add(1) // the late release: its permit counts as taken in the state word
	for range 3 {
		require.True(t, s.tryFast(0))
	}
	require.True(t, s.tryFast(0), "the permit a late release cached was lost")
	require.False(t, s.tryFast(0))
	for range 4 {
		s.releaseAt(0)
	}
	checkIdle(t, s)
}

// A compartment whose only free permit is cached admits its callers from
// any P, and once a waiter is queued a release goes to the state word and
// on to the waiter, never into a cache.
func TestCacheWaiterFirst(t *testing.T) {
	t.Parallel()
	const max = 16
	s := newCached(t, Config{Name: "waiter", MaxConcurrent: max, MaxWait: baldur.Duration(time.Hour)})
	require.True(t, s.tryFast(0))
	s.releaseAt(0) // one permit in cache 0
	var held []baldur.Permit
	for range max {
		p, err := s.Acquire(context.Background())
		require.NoError(t, err)
		held = append(held, p)
	}
	require.Zero(t, cached(s))
	granted := make(chan baldur.Permit, 1)
	enqueue(t, s, context.Background(), func(p baldur.Permit, err error) {
		assert.NoError(t, err)
		granted <- p
	})
	s.releaseAt(1)
	w := <-granted
	assert.Zero(t, cached(s), "a release with a waiter queued went into a cache")
	w.Release(baldur.Outcome{})
	releaseAll(held)
	checkIdle(t, s)
}

// Many callers that all wait without a deadline take and give back the
// permits of a cached compartment: if a release ever left a permit in a
// cache while a waiter waited for it, that waiter would wait forever and
// the test would hang until its guard fails it.
func TestCacheNoStrandedPermit(t *testing.T) {
	t.Parallel()
	const (
		max        = 16
		goroutines = 64
		rounds     = 2000
	)
	s := newCached(t, Config{Name: "stranded", MaxConcurrent: max, MaxWait: baldur.Duration(time.Hour)})
	var (
		occ occupancy
		wg  sync.WaitGroup
	)
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				p, err := s.Acquire(context.Background())
				if !assert.NoError(t, err) {
					return
				}
				occ.enter()
				occ.leave()
				p.Release(baldur.Outcome{})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		require.FailNow(t, "callers stuck", "state %+v, cached %d", s.State(), cached(s))
	}
	require.LessOrEqual(t, occ.peak.Load(), int64(max))
	checkIdle(t, s)
	assert.LessOrEqual(t, cached(s), int64(cacheStripes)*s.cacheCap.Load())
}
