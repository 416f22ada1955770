package blast

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// counted folds the lock-free successes of key's breaker and returns its
// window totals.
func (h *breakerHarness) counted(key string) counts {
	h.t.Helper()
	br := h.b.lookup(h.b.hasher.hash(key, ""))
	require.NotNil(h.t, br)
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.state == StateClosed && br.force == 0 {
		br.fold(br.epoch)
	}
	return br.win.counts
}

// TestBreakerLockFreeSuccessesCounted releases successes from many
// goroutines, some admitted in a bucket that has rolled since, and requires
// every one of them in the window.
func TestBreakerLockFreeSuccessesCounted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{Window: baldur.Duration(time.Minute), BucketPeriod: baldur.Duration(6 * time.Second)})
	const perBucket = 500
	var old, cur []baldur.Permit
	for i := 0; i < perBucket; i++ {
		p, err := h.admit("a")
		require.NoError(t, err)
		old = append(old, p)
	}
	h.clk.Advance(7 * time.Second) // the next admission rolls the window
	for i := 0; i < perBucket; i++ {
		p, err := h.admit("a")
		require.NoError(t, err)
		cur = append(cur, p)
	}
	var wg sync.WaitGroup
	for _, ps := range [][]baldur.Permit{old, cur, old[perBucket/2:], cur[perBucket/2:]} {
		ps := ps
		if len(ps) == perBucket {
			ps = ps[:perBucket/2]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ps {
				ps[i].Release(baldur.Outcome{Result: baldur.Success})
			}
		}()
	}
	wg.Wait()
	c := h.counted("a")
	require.Equal(t, uint32(2*perBucket), c.totalSuccesses)
	require.Zero(t, c.totalFailures)

	// The older bucket leaves the window first, with its own successes.
	h.clk.Advance(54 * time.Second)
	require.NoError(t, h.call("a", baldur.Failure))
	c = h.counted("a")
	require.Equal(t, uint32(perBucket), c.totalSuccesses)
	require.Equal(t, uint32(1), c.totalFailures)
}

// TestBreakerLockFreeSuccessResetsConsecutiveFailures interleaves lock-free
// successes with failures: a success between failures breaks the run.
func TestBreakerLockFreeSuccessResetsConsecutiveFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{ConsecutiveFailures: 3, MinRequests: 1000})
	for round := 0; round < 10; round++ {
		require.NoError(t, h.call("a", baldur.Failure))
		require.NoError(t, h.call("a", baldur.Failure))
		require.NoError(t, h.call("a", baldur.Success), "round %d", round)
	}
	require.Equal(t, StateClosed, h.state("a"))
	require.NoError(t, h.call("a", baldur.Failure))
	require.NoError(t, h.call("a", baldur.Failure))
	require.NoError(t, h.call("a", baldur.Failure))
	require.Equal(t, StateOpen, h.state("a"))
}

// TestBreakerStaleSuccessAfterTripIgnored: a success admitted before a trip
// and released after it does not count in the new generation.
func TestBreakerStaleSuccessAfterTripIgnored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: baldur.Duration(time.Second), HalfOpenProbes: 2})
	stale := make([]baldur.Permit, 5)
	for i := range stale {
		p, err := h.admit("a")
		require.NoError(t, err)
		stale[i] = p
	}
	require.NoError(t, h.call("a", baldur.Failure))
	require.Equal(t, StateOpen, h.state("a"))
	h.clk.Advance(2 * time.Second)
	require.Equal(t, StateHalfOpen, h.state("a"))
	probe, err := h.admit("a")
	require.NoError(t, err)
	for i := range stale {
		stale[i].Release(baldur.Outcome{Result: baldur.Success})
	}
	require.Equal(t, StateHalfOpen, h.state("a"), "stale successes must not close the breaker")
	probe.Release(baldur.Outcome{Result: baldur.Success})
	require.NoError(t, h.call("a", baldur.Success))
	require.Equal(t, StateClosed, h.state("a"))
}

// TestBreakerFoldsEveryStripe puts lock-free successes in every stripe of
// the pending count, as calls ending on different Ps do, and requires the
// fold to count them all once.
func TestBreakerFoldsEveryStripe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	require.NoError(t, h.call("a", baldur.Success)) // the partition exists
	br := h.b.lookup(h.b.hasher.hash("a", ""))
	require.NotNil(t, br)
	want := h.counted("a").totalSuccesses
	for i := range br.ok {
		br.ok[i].v.Add(uint64(i + 1))
		want += uint32(i + 1)
	}
	require.Equal(t, want, h.counted("a").totalSuccesses)
	require.Equal(t, want, h.counted("a").totalSuccesses, "a second fold counted the stripes again")
}
