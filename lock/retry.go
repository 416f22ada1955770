package lock

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// Defaults of Retry.
const (
	DefaultRetryInterval = 100 * time.Millisecond
	DefaultRetryAttempts = 100
)

// Retry is how a blocking acquire waits for a lock that is held: up to
// Attempts tries, Interval apart (±20 % jitter, so that waiters spread out).
// The zero value retries 100 times every 100 ms on the system clock.
// Implementations of Fenced use it; it is exported for other backends.
type Retry struct {
	// Interval between tries. Zero means 100 ms.
	Interval time.Duration
	// Attempts is the number of tries, the first included. Zero means 100.
	Attempts int
	// Clock times the waits. Nil means baldur.SystemClock().
	Clock baldur.Clock
}

// Validate returns a *baldur.ConfigError (field "Retry.Interval" or
// "Retry.Attempts") for a negative setting.
func (r Retry) Validate() error {
	const field = "Retry"
	if r.Interval < 0 {
		return &baldur.ConfigError{Field: field + ".Interval", Value: r.Interval.String(), Reason: "must not be negative (zero means 100ms)"}
	}
	if r.Attempts < 0 {
		return &baldur.ConfigError{Field: field + ".Attempts", Value: strconv.Itoa(r.Attempts), Reason: "must not be negative (zero means 100)"}
	}
	return nil
}

// Do calls try until it grants, fails, or Attempts tries were refused
// (held false), waiting Interval between tries; it returns ctx.Err() when
// ctx ends during a wait.
func (r Retry) Do(ctx context.Context, try func(context.Context) (Lease, bool, error)) (Lease, bool, error) {
	interval, attempts, clk := r.Interval, r.Attempts, r.Clock
	if interval == 0 {
		interval = DefaultRetryInterval
	}
	if attempts == 0 {
		attempts = DefaultRetryAttempts
	}
	if clk == nil {
		clk = baldur.SystemClock()
	}
	for i := 1; ; i++ {
		l, held, err := try(ctx)
		if held || err != nil || i >= attempts {
			return l, held, err
		}
		wait := interval + time.Duration((rand.Float64()*0.4-0.2)*float64(interval))
		woke := make(chan struct{})
		t := clk.AfterFunc(wait, func() { close(woke) })
		select {
		case <-woke:
		case <-ctx.Done():
			t.Stop()
			return Lease{}, false, ctx.Err()
		}
	}
}
