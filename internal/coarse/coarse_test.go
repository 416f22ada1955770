package coarse

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNowIsRecentAndMonotonic checks that a read is never ahead of the
// system clock and, on an unloaded machine, not far behind it. The bound is
// generous (the ticking goroutine may wait to be scheduled under -race on a
// shared machine); the test asserts the order, which holds always.
func TestNowIsRecentAndMonotonic(t *testing.T) {
	prev := Now()
	require.True(t, Running(), "the first read starts the clock")
	for range 1000 {
		before := time.Now()
		got := Now()
		assert.False(t, got.After(time.Now()), "coarse time ahead of the system clock")
		assert.Less(t, before.Sub(got), time.Second, "coarse time more than a second stale")
		assert.False(t, got.Before(prev), "coarse time went backwards")
		prev = got
	}
}

func TestNowAllocatesNothing(t *testing.T) {
	Now()
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = Now() }))
}
