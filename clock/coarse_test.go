package clock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func TestCoarseRejectsTooFineResolution(t *testing.T) {
	t.Parallel()
	_, err := clock.NewCoarse(time.Microsecond)
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce, "NewCoarse(1µs) error, want a ConfigError on resolution")
	require.Equal(t, "resolution", ce.Field, "NewCoarse(1µs) ConfigError field")
}

// The coarse clock never runs ahead of the system clock and never goes
// backwards. The test waits on the clock's own ticks (it cannot inject time
// into a real-time clock), bounded by a deadline.
func TestCoarseIsMonotonicAndNeverAhead(t *testing.T) {
	t.Parallel()
	c, err := clock.NewCoarse(time.Millisecond)
	require.NoError(t, err)
	defer c.Stop()
	first := c.Now()
	require.False(t, first.After(time.Now()), "coarse clock ahead of the system clock")
	prev := first
	deadline := time.Now().Add(5 * time.Second)
	for !c.Now().After(first) {
		require.False(t, time.Now().After(deadline), "coarse clock did not advance within 5s")
		now := c.Now()
		require.False(t, now.Before(prev), "coarse clock went backwards")
		prev = now
	}
	c.Stop()
	c.Stop() // idempotent
}

func TestCoarseNowAllocatesNothing(t *testing.T) {
	c, err := clock.NewCoarse(time.Millisecond)
	require.NoError(t, err)
	defer c.Stop()
	n := testing.AllocsPerRun(1000, func() { _ = c.Now() })
	assert.Zero(t, n, "Now allocates")
}

func BenchmarkClockNow(b *testing.B) {
	c, err := clock.NewCoarse(time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	sys := baldur.SystemClock()
	b.Run("clock=system", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = sys.Now()
			}
		})
	})
	b.Run("clock=coarse", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = c.Now()
			}
		})
	})
}
