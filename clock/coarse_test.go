package clock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func TestCoarseRejectsTooFineResolution(t *testing.T) {
	t.Parallel()
	_, err := clock.NewCoarse(time.Microsecond)
	var ce *baldur.ConfigError
	if !errors.As(err, &ce) || ce.Field != "resolution" {
		t.Fatalf("NewCoarse(1µs) error = %v, want a ConfigError on resolution", err)
	}
}

// The coarse clock never runs ahead of the system clock and never goes
// backwards. The test waits on the clock's own ticks (it cannot inject time
// into a real-time clock), bounded by a deadline.
func TestCoarseIsMonotonicAndNeverAhead(t *testing.T) {
	t.Parallel()
	c, err := clock.NewCoarse(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	first := c.Now()
	if first.After(time.Now()) {
		t.Fatal("coarse clock ahead of the system clock")
	}
	prev := first
	deadline := time.Now().Add(5 * time.Second)
	for !c.Now().After(first) {
		if time.Now().After(deadline) {
			t.Fatal("coarse clock did not advance within 5s")
		}
		now := c.Now()
		if now.Before(prev) {
			t.Fatal("coarse clock went backwards")
		}
		prev = now
	}
	c.Stop()
	c.Stop() // idempotent
}

func TestCoarseNowAllocatesNothing(t *testing.T) {
	c, err := clock.NewCoarse(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if n := testing.AllocsPerRun(1000, func() { _ = c.Now() }); n != 0 {
		t.Fatalf("Now allocates %v", n)
	}
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
