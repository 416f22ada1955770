package baldur

import "time"

// Clock is the source of time for every gate. Inject a fake one in tests so
// that no test sleeps to let time pass (see package clock for one).
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time. Gates compute durations with Sub, so a
	// monotonic reading (as time.Now gives) is preferred.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed and returns
	// a Timer that can stop it. It has the semantics of time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the handle of a Clock.AfterFunc call.
type Timer interface {
	// Stop prevents the function from running. It reports whether it
	// stopped it, as time.Timer.Stop does.
	Stop() bool
}

// SystemClock returns the Clock backed by package time. It is safe for
// concurrent use.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
