package clock

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// Coarse is a baldur.Clock whose Now is a time read at most one resolution
// ago, refreshed by a background goroutine. Reading it is one atomic load,
// where time.Now is a system call on some virtual machines (about 50 ns on
// the 2-core machines the benchmarks run on), so a hot path that reads the
// clock once per call gets cheaper.
//
// The price is resolution: calls within one tick see the same time. Token
// buckets still hold their rate on average (a bucket refills in steps of
// one tick), breaker windows and timeouts move by up to one tick, and
// latencies shorter than a tick read as zero. AfterFunc is exact: it uses
// real timers.
//
// Coarse is safe for concurrent use. Stop it when done to end its goroutine.
type Coarse struct {
	now  atomic.Pointer[time.Time]
	stop chan struct{}
	once sync.Once
}

var _ baldur.Clock = (*Coarse)(nil)

// NewCoarse starts a Coarse clock refreshed every resolution, which must be
// at least 100 µs (a finer one costs more than it saves); 1 ms is typical.
func NewCoarse(resolution time.Duration) (*Coarse, error) {
	if resolution < 100*time.Microsecond {
		return nil, &baldur.ConfigError{Field: "resolution", Value: resolution.String(), Reason: "must be at least 100µs"}
	}
	c := &Coarse{stop: make(chan struct{})}
	c.tick()
	go c.run(resolution)
	return c, nil
}

func (c *Coarse) tick() {
	t := time.Now()
	c.now.Store(&t)
}

func (c *Coarse) run(resolution time.Duration) {
	tk := time.NewTicker(resolution)
	defer tk.Stop()
	for {
		select {
		case <-tk.C:
			c.tick()
		case <-c.stop:
			return
		}
	}
}

// Now returns the time of the last tick.
func (c *Coarse) Now() time.Time { return *c.now.Load() }

// AfterFunc is time.AfterFunc.
func (c *Coarse) AfterFunc(d time.Duration, f func()) baldur.Timer { return time.AfterFunc(d, f) }

// Stop ends the refreshing goroutine; Now keeps returning the last reading.
// Stop is idempotent.
func (c *Coarse) Stop() { c.once.Do(func() { close(c.stop) }) }
