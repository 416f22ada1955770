package clock_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
)

func TestFakeAdvanceFiresDueTimersOnly(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(time.Unix(100, 0))
	var fired atomic.Int32
	done := make(chan int, 3)
	c.AfterFunc(time.Second, func() { fired.Add(1); done <- 1 })
	c.AfterFunc(3*time.Second, func() { fired.Add(1); done <- 3 })
	stopped := c.AfterFunc(2*time.Second, func() { assert.Fail(t, "stopped timer fired") })
	require.True(t, stopped.Stop(), "Stop on a pending timer")
	require.False(t, stopped.Stop(), "second Stop")
	c.Advance(2 * time.Second)
	require.Equal(t, 1, <-done, "first fired")
	require.Equal(t, 1, c.Pending(), "Pending")
	now := c.Now()
	require.True(t, now.Equal(time.Unix(102, 0)), "Now = %v", now)
	c.Advance(time.Second)
	require.Equal(t, 3, <-done, "second fired")
	c.Advance(-time.Hour)
	now = c.Now()
	require.True(t, now.Equal(time.Unix(103, 0)), "negative Advance moved time: %v", now)
}
