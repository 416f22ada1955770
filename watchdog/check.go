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

// LocalCheck is a Check that watches state of its own process only (its
// breakers, its bulkheads, the leases of the actions it runs). When Local
// returns true every replica runs it without taking the check's lock, acts
// with token 0, and keys its incidents by the check and the replica. The watchdog finds it by type
// assertion; a check without it is led by one replica of the fleet.
// Its incidents are kept in this process (Config.Replica names them), not
// in the fleet's store.
type LocalCheck interface {
	Check
	Local() bool
}

// Kinds of Finding, in the order a pass may produce them for one
// observation.
const (
	// KindObserved: reported, nothing to apply.
	KindObserved = "observed"
	// KindOperatorHeld: an operator holds the subject; never applied.
	KindOperatorHeld = "operator_held"
	// KindStandby: another replica leads the check.
	KindStandby = "standby"
	// KindBraked: the check's remediation brake holds its actions.
	KindBraked = "braked"
	// KindBackoff: the subject was acted on recently; retried later.
	KindBackoff = "backoff"
	// KindWouldAct: a dry run found an action it would apply.
	KindWouldAct = "would_act"
	// KindActed: the action was applied.
	KindActed = "acted"
	// KindActionFailed: the action returned an error (retried after
	// backoff).
	KindActionFailed = "action_failed"
	// KindFenced: the store refused the action's fencing token: another
	// replica took the check's lock; this one stops acting.
	KindFenced = "fenced"
	// KindBrakeEngaged: the action budget was spent; the brake engaged.
	KindBrakeEngaged = "brake_engaged"
	// KindPaged and KindResolved: an incident opened (paged once) or
	// resolved by key; KindWouldPage for a dry run.
	KindPaged     = "paged"
	KindWouldPage = "would_page"
	KindResolved  = "resolved"
	// KindCheckError: Observe failed; open incidents stay open.
	KindCheckError = "check_error"
	// KindInvalid: an observation the watchdog refuses (empty or oversized
	// subject).
	KindInvalid = "invalid_observation"
	// KindLockError, KindIncidentError, KindNotifyError: a dependency
	// failed; the pass goes on without it.
	KindLockError     = "lock_error"
	KindIncidentError = "incident_error"
	KindNotifyError   = "notify_error"
	// KindDeadline: the check did not finish within the pass deadline;
	// KindStillRunning: a check abandoned by an earlier pass has not
	// returned yet, so it is skipped.
	KindDeadline     = "deadline_exceeded"
	KindStillRunning = "still_running"
	// KindHeartbeatFailed: the heartbeat URL did not answer 2xx.
	KindHeartbeatFailed = "heartbeat_failed"
)

// BudgetedCheck is a Check that declares its own action budget per rolling
// hour, for a check whose actions are routine upkeep rather than
// remediation (lease renewals). Config.PerCheck overrides it.
type BudgetedCheck interface {
	Check
	MaxActionsPerHour() int
}
