package watchdog

import (
	"context"
	"time"

	"github.com/baldur-go/baldur/notify"
)

// Check is one level-triggered check of the watchdog. Each pass calls
// Observe, which compares desired with observed state and returns what it
// found; the watchdog then decides, per finding, whether to act (it leads
// the check, the brake is off, the subject's backoff has passed, the
// operator does not hold it) and whether to page. Observe must not change
// state: a dry-run pass is a pass that only observes.
//
// Because a check says what is wrong now rather than what happened, a
// missed event or a crash in the middle of a pass is harmless: the next
// pass sees the same condition and acts again, so every Apply must be
// idempotent.
//
// Built-in checks live beside the mechanism they watch (the DLQ's stuck
// replays in package dlq, stalled rollouts in package canary); applications
// add their own. Implementations must be safe for concurrent use.
type Check interface {
	// Name identifies the check: its leadership lock is "watchdog:"+Name,
	// and its brake, metrics and incidents are keyed by it. A short
	// lower_snake_case word ("dlq_stuck_replay").
	Name() string
	// Observe returns the findings of one pass, at now on the watchdog's
	// clock. A subject absent from the findings is healthy: its open
	// incident, if any, resolves.
	Observe(ctx context.Context, now time.Time) ([]Observation, error)
}

// Observation is one subject a check found in need of attention.
type Observation struct {
	// Subject is what it concerns (a rollout ID, a breaker partition, a
	// DLQ entry ID). Incidents and per-subject backoff are keyed by
	// (check, subject).
	Subject string
	// Action names what Apply does ("renew_lock", "reclaim",
	// "close_breaker"); empty for a finding that only pages.
	Action string
	// Detail is a human-readable line for reports and pages.
	Detail string
	// OperatorHeld is true when an operator set the subject's state
	// explicitly (a manual pause, a forced breaker, a manual emergency
	// level) and it has not expired: the watchdog reports the finding and
	// never applies it.
	OperatorHeld bool
	// Page opens an incident for (check, subject) at Priority, paged once
	// and resolved when the subject stops being observed.
	Page     bool
	Priority notify.Priority
	// Apply performs the action. token is the fencing token of the
	// watchdog's leadership of the check (0 without a fenced lock); a store
	// that keeps fenced state must refuse a token older than one it has
	// seen. Nil for a finding that only reports or pages.
	Apply func(ctx context.Context, token uint64) error
}
