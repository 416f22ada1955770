package watchdog

import (
	"context"
	"time"
)

// Finding is one thing a watchdog pass found or did.
type Finding struct {
	// Kind is "canary_stalled", "canary_lock_renewed", "canary_paused",
	// "canary_rolled_back", "paged", or another name of the implementation.
	Kind string
	// Subject is what it concerns (a rollout ID, a breaker name).
	Subject string
	Detail  string
}

// Report is the result of one watchdog pass.
type Report struct {
	At       time.Time
	Findings []Finding
}

// Status shows whether the watchdog is alive, so that "configured
// but not running" is visible rather than silent.
type Status struct {
	Running bool
	// Interval is the time between passes.
	Interval time.Duration
	// Passes counts completed passes; LastPass is when the last one ended.
	Passes   uint64
	LastPass time.Time
	// LastError is the last pass's error message; empty when it succeeded.
	LastError string
}

// Watchdog periodically checks the self-healing machinery: it renews the
// locks of active canary rollouts, detects stalled rollouts
// (canary.Stalled), applies the emergency interlock (pause at level 2, roll
// back at level 3) and pages once per incident. There is no NoOp: a
// watchdog that silently does nothing would let rollout locks lapse
// unnoticed.
//
// Implementations must be safe for concurrent use.
type Watchdog interface {
	// Start runs passes every interval in a goroutine until Stop or until
	// ctx is done. Starting a running watchdog is a no-op.
	Start(ctx context.Context) error
	// Stop ends the loop and waits for a pass in progress, or for ctx.
	// Stopping a stopped watchdog is a no-op.
	Stop(ctx context.Context) error
	// Tick runs one pass now, in the caller's goroutine; tests drive the
	// watchdog with it and a fake clock.
	Tick(ctx context.Context) (Report, error)
	Status() Status
}
