// Package loadgen drives a call function in a closed loop (a fixed number of
// workers, each waiting for its previous call) or an open loop (arrivals at a
// fixed rate, whatever the server does). Both are bounded in calls and in
// time, so that a run always stops by itself.
//
// Open-loop latencies are measured from each call's scheduled arrival, not
// from when a goroutine got round to sending it, so that a stalled sender
// shows up as latency instead of hiding it (no coordinated omission).
package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/bench/internal/latency"
)

// MaxPhase is the hard cap on one measured phase, whatever is asked.
const MaxPhase = 10 * time.Second

// Status classifies one call.
type Status int

const (
	// OK is a successful call (HTTP 200, gRPC OK).
	OK Status = iota
	// Rejected is a call the server shed on purpose (HTTP 429/503, gRPC
	// RESOURCE_EXHAUSTED/UNAVAILABLE).
	Rejected
	// TimedOut is a call that outlived the client's timeout.
	TimedOut
	// Failed is any other error.
	Failed
)

// Func makes one call and classifies it. It must honor ctx.
type Func func(ctx context.Context) Status

// Result is what one phase measured.
type Result struct {
	Sent, OK, Rejected, TimedOut, Failed int64
	// InWindow counts the OK calls that completed before the phase ended;
	// Throughput is based on it, so that an open loop's backlog draining
	// after the phase does not count as goodput of the phase.
	InWindow int64
	// Dropped counts open-loop arrivals that were never sent because
	// MaxInFlight calls were already outstanding.
	Dropped int64
	Elapsed time.Duration
	// Accepted is the latency of OK calls.
	Accepted latency.Summary
}

// Throughput is OK calls completed within the phase, per second of the phase.
func (r Result) Throughput() float64 { return float64(r.InWindow) / r.Elapsed.Seconds() }

// Limits bound a phase.
type Limits struct {
	// Duration of the measured phase; capped at MaxPhase.
	Duration time.Duration
	// MaxCalls stops the phase early once this many calls were sent.
	MaxCalls int64
	// Timeout bounds each call (context deadline); zero means 2 s.
	Timeout time.Duration
}

func (l Limits) norm() Limits {
	if l.Duration <= 0 || l.Duration > MaxPhase {
		l.Duration = MaxPhase
	}
	if l.MaxCalls <= 0 {
		l.MaxCalls = 1 << 62
	}
	if l.Timeout <= 0 {
		l.Timeout = 2 * time.Second
	}
	return l
}

type tally struct {
	sent, ok, inWindow, rejected, timedOut, failed, dropped atomic.Int64
	accepted                                                *latency.Sample
	end                                                     time.Time
}

func newTally(n int64, end time.Time) *tally {
	if n > 1<<20 {
		n = 1 << 20
	}
	return &tally{accepted: latency.NewSample(int(n)), end: end}
}

func (t *tally) record(s Status, d time.Duration) {
	switch s {
	case OK:
		t.ok.Add(1)
		if time.Now().Before(t.end) {
			t.inWindow.Add(1)
		}
		t.accepted.Add(d)
	case Rejected:
		t.rejected.Add(1)
	case TimedOut:
		t.timedOut.Add(1)
	default:
		t.failed.Add(1)
	}
}

func (t *tally) result(elapsed time.Duration) Result {
	return Result{
		Sent: t.sent.Load(), OK: t.ok.Load(), InWindow: t.inWindow.Load(), Rejected: t.rejected.Load(),
		TimedOut: t.timedOut.Load(), Failed: t.failed.Load(), Dropped: t.dropped.Load(),
		Elapsed: elapsed, Accepted: t.accepted.Summarize(),
	}
}

// call makes one call bounded by timeout. A failed call is TimedOut when its
// deadline has passed, judged by the clock rather than ctx.Err(): on a busy
// machine a client library may see the deadline pass before the context's
// timer has fired.
func call(ctx context.Context, f Func, timeout time.Duration) Status {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := f(ctx)
	if s != OK {
		if dl, _ := ctx.Deadline(); !time.Now().Before(dl) {
			return TimedOut
		}
	}
	return s
}

// Closed runs workers goroutines, each calling f back to back, until the
// duration or the call budget is spent.
func Closed(ctx context.Context, f Func, workers int, lim Limits) Result {
	lim = lim.norm()
	start := time.Now()
	end := start.Add(lim.Duration)
	t := newTally(lim.MaxCalls, end)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil && t.sent.Add(1) <= lim.MaxCalls {
				begin := time.Now()
				s := call(ctx, f, lim.Timeout)
				if s != OK && !time.Now().Before(end) {
					t.sent.Add(-1) // cut off by the end of the phase: not a result
					return
				}
				t.record(s, time.Since(begin))
			}
		}()
	}
	wg.Wait()
	if n := t.sent.Load(); n > lim.MaxCalls {
		t.sent.Store(lim.MaxCalls)
	}
	return t.result(time.Since(start))
}

// Open sends calls at rate per second, each in its own goroutine, until the
// duration or the call budget is spent, then waits (at most the call
// timeout) for the calls in flight. An arrival finding maxInFlight calls
// outstanding is dropped and counted, so that a collapsing server cannot
// make the generator grow without bound.
func Open(ctx context.Context, f Func, rate float64, maxInFlight int, lim Limits) Result {
	lim = lim.norm()
	interval := time.Duration(float64(time.Second) / rate)
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(lim.Duration)
	t := newTally(lim.MaxCalls, end)
	for i := int64(0); i < lim.MaxCalls; {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			break
		}
		// Launch every arrival whose time has come, then sleep to the next.
		for ; i < lim.MaxCalls; i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.After(now) {
				time.Sleep(at.Sub(now))
				break
			}
			if inFlight.Load() >= int64(maxInFlight) {
				t.dropped.Add(1)
				continue
			}
			t.sent.Add(1)
			inFlight.Add(1)
			wg.Add(1)
			go func(at time.Time) {
				defer wg.Done()
				defer inFlight.Add(-1)
				s := call(ctx, f, lim.Timeout)
				t.record(s, time.Since(at))
			}(at)
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	return t.result(elapsed)
}
