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

// State is where an experiment is in its life.
type State string

// States of a Run.
const (
	// StateAwaitingApproval: the blast-radius manager requires an operator's
	// approval for the experiment's scope; Approve, then Start.
	StateAwaitingApproval State = "awaiting_approval"
	// StateScheduled: accepted, waiting for StartAt.
	StateScheduled State = "scheduled"
	// StateBefore, StateDuring, StateAfter: the phases (Phase) of a
	// running experiment.
	StateBefore State = "before"
	StateDuring State = "during"
	StateAfter  State = "after"
	// StateDone: ran its course. StateStopped: stopped by an operator or
	// kill-all. StateAborted: a stop condition or the guard ended it.
	// StateRefused: the guard refused it at its start.
	StateDone    State = "done"
	StateStopped State = "stopped"
	StateAborted State = "aborted"
	StateRefused State = "refused"
)

// Ended reports whether s is final: an experiment is never retried.
func (s State) Ended() bool {
	return s == StateDone || s == StateStopped || s == StateAborted || s == StateRefused
}

// Run is a scheduled, running or finished experiment.
type Run struct {
	Experiment Experiment `json:"experiment"`
	State      State      `json:"state"`
	// ScheduledAt is when Schedule accepted it; StartedAt when the
	// steady-state observation began; InjectAt when injection began;
	// EndedAt when it reached a final state. Zero until then.
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at,omitzero"`
	InjectAt    time.Time `json:"inject_at,omitzero"`
	InjectEnd   time.Time `json:"inject_end,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	// StopReason says why it ended early ("kill_all", "stopped",
	// "error_rate_delta", "kill_switch", "lease_lost", ...); empty when
	// it ran its course.
	StopReason string `json:"stop_reason,omitempty"`
	// Detail explains StopReason or a refusal for an operator.
	Detail string `json:"detail,omitempty"`
	// Owner is the replica whose scheduler runs it.
	Owner string `json:"owner"`
}

// Controller runs chaos experiments (Scheduler implements it): each
// passes the SafetyGuard when it starts, is stopped by the stop conditions
// (error rate, latency, error budget), and is never retried. Where none is configured, NoOpController
// stands in: it schedules nothing (chaos is off unless configured) while
// KillAll still answers.
//
// Implementations must be safe for concurrent use.
type Controller interface {
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

// NoOpController stands in where no Controller is configured: chaos disabled.
// Schedule returns ErrDisabled, so no fault is ever injected (fail-closed);
// Cancel, Running and KillAll succeed with nothing to do, so emergency controls
// work unconditionally. Safe for concurrent use.
type NoOpController struct{}

var _ Controller = NoOpController{}

// Schedule returns ErrDisabled.
func (NoOpController) Schedule(context.Context, Experiment) (Run, error) {
	return Run{}, ErrDisabled
}

// Cancel does nothing.
func (NoOpController) Cancel(context.Context, string) error { return nil }

// Running returns no experiments.
func (NoOpController) Running(context.Context) ([]Run, error) { return nil, nil }

// KillAll stops nothing.
func (NoOpController) KillAll(context.Context, string) (int, error) { return 0, nil }

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
