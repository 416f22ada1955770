package clock_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur/clock"
)

func TestFakeAdvanceFiresDueTimersOnly(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(time.Unix(100, 0))
	var fired atomic.Int32
	done := make(chan int, 3)
	c.AfterFunc(time.Second, func() { fired.Add(1); done <- 1 })
	c.AfterFunc(3*time.Second, func() { fired.Add(1); done <- 3 })
	stopped := c.AfterFunc(2*time.Second, func() { t.Error("stopped timer fired") })
	if !stopped.Stop() {
		t.Fatal("Stop on a pending timer = false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop = true")
	}
	c.Advance(2 * time.Second)
	if got := <-done; got != 1 {
		t.Fatalf("first fired = %d, want 1", got)
	}
	if c.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", c.Pending())
	}
	if !c.Now().Equal(time.Unix(102, 0)) {
		t.Fatalf("Now = %v", c.Now())
	}
	c.Advance(time.Second)
	if got := <-done; got != 3 {
		t.Fatalf("second fired = %d, want 3", got)
	}
	c.Advance(-time.Hour)
	if !c.Now().Equal(time.Unix(103, 0)) {
		t.Fatalf("negative Advance moved time: %v", c.Now())
	}
}
