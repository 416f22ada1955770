package watchdog

import (
	"context"
	"time"
)

// Finding is one thing a watchdog pass found or did.
type Finding struct {
	// Check is the check that found it; empty for a finding of the pass
	// itself (a heartbeat that failed).
	Check string
	// Kind is what happened: one of the Kind constants ("acted",
	// "paged", "standby", ...), or another name of an implementation.
	Kind string
	// Subject is what it concerns (a rollout ID, a breaker name).
	Subject string
	// Action is the observation's action ("renew_lock"), when it had one.
	Action string
	Detail string
}

// Report is the result of one watchdog pass.
type Report struct {
	At time.Time
	// DryRun is true for a pass that only observed.
	DryRun bool
	// Duration is how long the pass took on the watchdog's clock.
	Duration time.Duration
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
	// DryRun is true when scheduled passes only observe.
	DryRun bool
	// Session is the identity under which this watchdog takes its locks.
	Session string
	// Checks describes each check, in the order the watchdog runs them.
	Checks []CheckStatus
}

// Role is a watchdog's part in one check.
type Role string

// Roles of CheckStatus.
const (
	// RoleLeader: this watchdog holds the check's lock and acts.
	RoleLeader Role = "leader"
	// RoleStandby: another watchdog holds the lock; this one observes.
	RoleStandby Role = "standby"
	// RoleLocal: the check watches this process only and needs no lock.
	RoleLocal Role = "local"
	// RoleUnknown: no pass has settled the role yet, or the lock could not
	// be reached (the watchdog then does not act).
	RoleUnknown Role = "unknown"
)

// CheckStatus is one check's state as the watchdog last saw it.
type CheckStatus struct {
	Name string
	Role Role
	// Token is the fencing token of the lease while leader.
	Token uint64
	// Brake is true while the remediation brake holds the check's actions;
	// BrakeSince is when it engaged.
	Brake      bool
	BrakeSince time.Time
	// ActionsLastHour counts the actions of the last rolling hour, out of
	// MaxActionsPerHour.
	ActionsLastHour   int
	MaxActionsPerHour int
	// Observed is how many observations the last pass returned.
	Observed int
	// OpenIncidents is how many incidents of the check were open at the
	// last pass.
	OpenIncidents int
	// LastError is the last pass's error for this check; empty when none.
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
