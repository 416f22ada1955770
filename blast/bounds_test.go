package blast

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestBreakerHugeDurationsSaturate: an open timeout or force TTL so long
// that now + it overflows int64 nanoseconds must hold (until the end of
// time), not wrap into the past and let the breaker half-open at once.
func TestBreakerHugeDurationsSaturate(t *testing.T) {
	t.Parallel()
	const huge = time.Duration(math.MaxInt64)
	tests := []struct {
		name  string
		cfg   BreakerConfig
		setup func(h *breakerHarness)
		want  State
	}{
		{"open_timeout", BreakerConfig{OpenTimeout: baldur.Duration(huge)}, func(h *breakerHarness) {
			for range 5 {
				require.NoError(h.t, h.call("a", baldur.Failure))
			}
		}, StateOpen},
		{"force_ttl open", BreakerConfig{ForceTTL: baldur.Duration(huge)}, func(h *breakerHarness) {
			h.b.ForceOpen(Partition{Key: "a"}, 0)
		}, StateForcedOpen},
		{"force_ttl closed", BreakerConfig{ForceTTL: baldur.Duration(huge)}, func(h *breakerHarness) {
			h.b.ForceClosed(Partition{Key: "a"}, 0)
		}, StateForcedClosed},
		{"ttl argument", BreakerConfig{}, func(h *breakerHarness) {
			h.b.ForceOpen(Partition{Key: "a"}, huge)
		}, StateForcedOpen},
		{"idle_timeout", BreakerConfig{IdleTimeout: baldur.Duration(huge), OpenTimeout: baldur.Duration(huge)}, func(h *breakerHarness) {
			for range 5 {
				require.NoError(h.t, h.call("a", baldur.Failure))
			}
		}, StateOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.cfg)
			tc.setup(h)
			require.Equal(t, tc.want, h.state("a"))
			h.clk.Advance(100 * 365 * 24 * time.Hour)
			require.Equal(t, tc.want, h.state("a"), "still %v a century later", tc.want)
			_, err := h.admit("a")
			if tc.want == StateForcedClosed {
				require.NoError(t, err)
			} else {
				requireBreakerOpen(t, err, baldur.MaxInternedRetryAfter*time.Second)
			}
		})
	}
}

// TestBreakerHugeWindow: a window near the int64 limit must not overflow
// the bucket count (which let a negative count through validation).
func TestBreakerHugeWindow(t *testing.T) {
	t.Parallel()
	const huge = time.Duration(math.MaxInt64)
	for _, cfg := range []BreakerConfig{
		{Window: baldur.Duration(huge)},
		{Window: baldur.Duration(huge), BucketPeriod: baldur.Duration(huge / 10)},
		{Window: baldur.Duration(huge), BucketPeriod: baldur.Duration(huge)},
		{Window: baldur.Duration(huge), BucketPeriod: baldur.Duration(huge/100 - 1)},
	} {
		b, err := NewBreakers(cfg)
		if err != nil {
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "BucketPeriod", ce.Field)
			continue
		}
		_, err = b.Admit(t.Context(), baldur.Call{Key: "a", Now: t0})
		require.NoError(t, err, "%+v", cfg)
	}
}

// TestBreakerForcedOpenRetryAfterIsRemainingForce: a forced-open partition
// advises the time left of the force, not the open timeout, up to
// baldur.MaxInternedRetryAfter (so the rejection stays interned).
func TestBreakerForcedOpenRetryAfterIsRemainingForce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ttl, after time.Duration
		want       time.Duration
	}{
		{"ten minutes", 10 * time.Minute, 0, 10 * time.Minute},
		{"partly elapsed", 10 * time.Minute, 7 * time.Minute, 3 * time.Minute},
		{"last second", 10 * time.Minute, 10*time.Minute - time.Second, time.Second},
		{"beyond the interned range", 3 * time.Hour, time.Hour, baldur.MaxInternedRetryAfter * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, BreakerConfig{OpenTimeout: baldur.Duration(time.Minute)})
			h.b.ForceOpen(Partition{Key: "a"}, tc.ttl)
			h.clk.Advance(tc.after)
			_, err := h.admit("a")
			requireBreakerOpen(t, err, tc.want)
		})
	}
}

// TestBreakerRejectForcedOpenAllocs: rejecting through a long force
// allocates nothing either.
func TestBreakerRejectForcedOpenAllocs(t *testing.T) {
	h := newHarness(t, BreakerConfig{})
	h.b.ForceOpen(Partition{Key: "a"}, 3*time.Hour)
	call := baldur.Call{Key: "a", Now: t0}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := h.b.Admit(t.Context(), call); err == nil {
			panic("admitted")
		}
	})
	require.Zero(t, allocs)
}

// TestBreakersForcedPartitionsBounded: forces count toward MaxPartitions
// and may hold at most half of it, so operator state cannot grow the table
// past its bound or crowd out the automatic breakers.
func TestBreakersForcedPartitionsBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{MaxPartitions: 16}) // one shard
	forced := func(i int) Partition { return Partition{Key: "forced" + strconv.Itoa(i)} }
	for i := range 64 {
		err := h.b.ForceOpen(forced(i), time.Hour)
		if i < 8 {
			require.NoError(t, err, "force %d", i)
		} else {
			require.ErrorIs(t, err, ErrTooManyForced, "force %d", i)
			require.Equal(t, StateClosed, h.state(forced(i).Key), "a refused force changes nothing")
		}
		require.LessOrEqual(t, h.b.Partitions(), 16, "after %d forces", i+1)
	}
	require.NoError(t, h.b.ForceClosed(forced(3), time.Hour), "re-forcing a forced partition needs no new slot")
	for i := range 1000 {
		require.NoError(t, h.call("k"+strconv.Itoa(i), baldur.Success))
		require.LessOrEqual(t, h.b.Partitions(), 16, "after %d calls", i+1)
	}
	for i := range 8 {
		require.True(t, h.state(forced(i).Key).Forced(), "a live force is never evicted")
	}

	// Unforce frees a slot at once; an expired force frees its slot when
	// the next force needs it, even if nothing touched the partition.
	h.b.Unforce(forced(0))
	require.NoError(t, h.b.ForceOpen(forced(100), time.Hour))
	require.ErrorIs(t, h.b.ForceOpen(forced(101), time.Hour), ErrTooManyForced)
	h.clk.Advance(time.Hour)
	for i := range 8 {
		require.NoError(t, h.b.ForceOpen(forced(200+i), time.Minute), "expired forces give their slots back")
	}
	require.ErrorIs(t, h.b.ForceOpen(forced(300), time.Minute), ErrTooManyForced)
	require.LessOrEqual(t, h.b.Partitions(), 16)
	n := 0
	for _, ps := range h.b.Open() {
		if ps.State.Forced() {
			n++
		}
	}
	require.Equal(t, 8, n, "the eight new forces; the expired ones resumed half-open")
}

// TestBreakersForceSlotsConcurrent forces, unforces, expires and evicts
// partitions from several goroutines and requires the force slots to stay
// consistent: within the limit, and each held by a partition in the table.
func TestBreakersForceSlotsConcurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{MaxPartitions: 32, OpenTimeout: baldur.Duration(time.Millisecond)})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				p := Partition{Key: "k" + strconv.Itoa((g*13+i)%80)}
				switch i % 4 {
				case 0:
					err := h.b.ForceOpen(p, time.Duration(i%3)*time.Millisecond)
					if err != nil && !errors.Is(err, ErrTooManyForced) {
						panic(err)
					}
				case 1:
					h.b.Unforce(p)
				case 2:
					h.clk.Advance(time.Millisecond)
				}
				if pm, err := h.admit(p.Key); err == nil {
					pm.Release(baldur.Outcome{Result: baldur.Result(i % 3)})
				}
			}
		}()
	}
	wg.Wait()
	held := 0
	for i := range h.b.shards {
		h.b.shards[i].each(0, func(_ uint64, br *breaker) bool {
			if br.counted.Load() {
				held++
			}
			return true
		})
	}
	require.Equal(t, int64(held), h.b.forced.Load())
	require.LessOrEqual(t, h.b.forced.Load(), h.b.maxForced)
	require.LessOrEqual(t, h.b.Partitions(), 32+4)
}

// TestShareCapBoundsCounts: a capacity or per-key limit beyond what any
// bulkhead can hold is a ConfigError, not a float conversion that wraps
// (Capacity 2^63-1 with Share 1 used to give a limit of one call).
func TestShareCapBoundsCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   ShareCapConfig
		field string
	}{
		{ShareCapConfig{Capacity: math.MaxInt, Share: 1}, "Capacity"},
		{ShareCapConfig{Capacity: 1 << 31, Share: 0.5}, "Capacity"},
		{ShareCapConfig{MaxPerKey: math.MaxInt}, "MaxPerKey"},
		{ShareCapConfig{MaxPerKey: 1, MaxKeys: math.MaxInt}, "MaxKeys"},
	}
	for _, tc := range tests {
		_, err := NewShareCap(tc.cfg)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, "%+v", tc.cfg)
		require.Equal(t, tc.field, ce.Field)
	}
	s, err := NewShareCap(ShareCapConfig{Capacity: 1<<31 - 1, Share: 1})
	require.NoError(t, err)
	require.Equal(t, 1<<31-1, s.Limit())
}
