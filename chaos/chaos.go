package chaos

import (
	"context"
	"errors"
	"time"
)

// Errors of chaos implementations, matched with errors.Is.
var (
	// ErrDisabled: chaos experiments are turned off (the default), or
	// no scheduler is configured.
	ErrDisabled = errors.New("chaos: chaos experiments disabled")
	// ErrBlocked: the SafetyGuard denied the experiment. The wrapping
	// error lists SafetyDecision.Reasons.
	ErrBlocked = errors.New("chaos: chaos experiment blocked by safety guard")
	// ErrNotFound: no experiment has the ID.
	ErrNotFound = errors.New("chaos: chaos experiment not found")
)

// Experiment is a fault injection to run against one service.
type Experiment struct {
	// ID identifies the experiment; required.
	ID string
	// TargetService is the service faults are injected into; required.
	TargetService string
	// Fault names the injected fault ("latency", "error", "abort", ...).
	Fault string
	// InjectionRate is the fraction of calls affected, 0..1. Zero means the
	// implementation's default (0.001).
	InjectionRate float64
	// Duration bounds the run. Zero means the default (300 s).
	Duration time.Duration
	// StartAt is when to start; zero means now.
	StartAt time.Time
	// DryRun evaluates and reports without injecting anything.
	DryRun bool
	// Force asks the SafetyGuard to waive the checks it allows waiving.
	Force bool
}

// Run is a scheduled or running experiment.
type Run struct {
	Experiment
	// ScheduledAt is when Schedule accepted it.
	ScheduledAt time.Time
	// StartedAt is when injection began; zero while waiting for StartAt.
	StartedAt time.Time
}

// Scheduler runs chaos experiments: each passes the SafetyGuard when it
// starts, is stopped by the stop conditions (error rate, latency, error
// budget), and is never retried. Where none is configured, NoOpScheduler
// stands in: it schedules nothing (chaos is off unless configured) while
// KillAll still answers.
//
// Implementations must be safe for concurrent use.
type Scheduler interface {
	// Schedule accepts e. A denial by the SafetyGuard wraps ErrBlocked.
	Schedule(ctx context.Context, e Experiment) (Run, error)
	// Cancel stops the experiment with id, before or during its run.
	// Cancelling an unknown or finished experiment is a no-op.
	Cancel(ctx context.Context, id string) error
	// Running lists the scheduled and running experiments.
	Running(ctx context.Context) ([]Run, error)
	// KillAll stops every experiment and reports how many it stopped.
	KillAll(ctx context.Context, reason string) (stopped int, err error)
}

// NoOpScheduler stands in where no Scheduler is configured: chaos disabled.
// Schedule returns ErrDisabled, so no fault is ever injected (fail-closed);
// Cancel, Running and KillAll succeed with nothing to do, so emergency controls
// work unconditionally. Safe for concurrent use.
type NoOpScheduler struct{}

var _ Scheduler = NoOpScheduler{}

// Schedule returns ErrDisabled.
func (NoOpScheduler) Schedule(context.Context, Experiment) (Run, error) {
	return Run{}, ErrDisabled
}

// Cancel does nothing.
func (NoOpScheduler) Cancel(context.Context, string) error { return nil }

// Running returns no experiments.
func (NoOpScheduler) Running(context.Context) ([]Run, error) { return nil, nil }

// KillAll stops nothing.
func (NoOpScheduler) KillAll(context.Context, string) (int, error) { return 0, nil }

// Report summarizes one finished (or stopped) experiment.
type Report struct {
	ExperimentID  string
	TargetService string
	DryRun        bool
	StartedAt     time.Time
	EndedAt       time.Time
	// StopReason is why the run ended early ("error_rate", "p99_latency",
	// "error_budget", "cancelled", "kill_all"); empty when it ran its
	// full duration.
	StopReason string
	// Requests and Errors count the target's calls during the run.
	Requests, Errors uint64
	// P95 and P99 are the target's latency percentiles during the run.
	P95, P99 time.Duration
	// BudgetBeforePct and BudgetAfterPct are the remaining error budget,
	// 0..100, at start and end.
	BudgetBeforePct, BudgetAfterPct float64
}

// ReportGenerator builds experiment reports. There is no NoOp: an empty
// report would read as a clean run.
//
// Implementations must be safe for concurrent use.
type ReportGenerator interface {
	// Generate returns the report of experimentID, or ErrNotFound.
	Generate(ctx context.Context, experimentID string) (Report, error)
}

// SafetyDecision is the SafetyGuard's answer. The zero value denies.
type SafetyDecision struct {
	Allowed bool
	// Reasons lists every failed check when denied; when allowed it may
	// list the checks that Force waived.
	Reasons []string
}

// SafetyGuard decides whether a chaos experiment may start: enough error budget
// (≥ 20 %), the cooldown since the last experiment (30 min), a healthy system,
// no incident or deploy freeze, the kill switch off. Where none is configured,
// NoOpSafetyGuard stands in, and denies. The guard fails closed: a check that
// cannot be evaluated denies, which is why Check returns no error (a caller
// cannot ignore one into an allow). A done ctx denies too.
//
// Implementations must be safe for concurrent use.
type SafetyGuard interface {
	Check(ctx context.Context, experimentID, targetService string, force bool) SafetyDecision
}

// SafetyReasonNoGuard is NoOpSafetyGuard's denial reason.
const SafetyReasonNoGuard = "no chaos safety guard configured"

// NoOpSafetyGuard stands in where no SafetyGuard is configured: it denies every
// experiment, force or not, since nothing was checked (fail-closed). Safe for
// concurrent use.
type NoOpSafetyGuard struct{}

var _ SafetyGuard = NoOpSafetyGuard{}

// Check denies with SafetyReasonNoGuard.
func (NoOpSafetyGuard) Check(context.Context, string, string, bool) SafetyDecision {
	return SafetyDecision{Reasons: []string{SafetyReasonNoGuard}}
}
