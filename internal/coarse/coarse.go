// Package coarse is the process-wide coarse clock of the adapters: the time
// of the last tick of a goroutine that refreshes it every Resolution, read
// with one atomic load instead of a clock read (tens of nanoseconds on
// virtual machines, the largest single cost of a guarded call).
//
// The goroutine runs only while the clock is read: it starts on the first
// read and exits after IdleTicks ticks without one, so an idle process
// pays nothing and a process that never guards a call never starts it. A
// read while it is stopped reads the system clock and starts it again.
//
// What the gates need of Call.Now, and why a tick of 1 ms is enough: the
// throttle refills its buckets from the elapsed time, so a coarse clock
// refills in steps of one tick and holds the rate on average (a late tick
// under load refills late, never more than the rate allows); governance
// caches its snapshot for seconds and counts the error budget in buckets of
// a second or more; breakers count in buckets of seconds and open for
// seconds; the bulkhead does not read the time (its waits use timers). A
// latency needs the system clock: adapters asked to measure latency read it
// at the start and the end of the call instead.
package coarse

import (
	"sync"
	"sync/atomic"
	"time"
)

// Resolution is the tick of the clock.
const Resolution = time.Millisecond

// IdleTicks is how many ticks without a read stop the goroutine.
const IdleTicks = 1000

var (
	now  atomic.Pointer[time.Time] // nil while the goroutine is stopped
	used atomic.Bool               // read since the last tick
	mu   sync.Mutex                // serializes starting and stopping
)

// Now returns the time of the last tick, at most about one Resolution ago
// (more when the process is so loaded that the ticking goroutine waits to
// run). It is safe for concurrent use and allocates nothing.
func Now() time.Time {
	if p := now.Load(); p != nil {
		if !used.Load() { // a load, not a store, on the hot path
			used.Store(true)
		}
		return *p
	}
	return start()
}

// start reads the system clock and starts the goroutine unless another
// read just did.
func start() time.Time {
	t := time.Now()
	mu.Lock()
	defer mu.Unlock()
	if now.Load() == nil {
		now.Store(&t)
		used.Store(true)
		go run()
	}
	return t
}

func run() {
	tk := time.NewTicker(Resolution)
	defer tk.Stop()
	idle := 0
	for range tk.C {
		t := time.Now()
		if used.Swap(false) {
			idle = 0
		} else if idle++; idle >= IdleTicks {
			mu.Lock()
			if !used.Load() {
				now.Store(nil)
				mu.Unlock()
				return
			}
			mu.Unlock()
			idle = 0
		}
		now.Store(&t)
	}
}

// Running reports whether the ticking goroutine runs (for tests).
func Running() bool { return now.Load() != nil }
