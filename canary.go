package baldur

import (
	"context"
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// CanaryState is where a canary rollout is in its life cycle:
//
//	created → canary ⇄ paused → completed | rolled_back
//	created → cancelled
//
// The zero CanaryState is CanaryCreated: a rollout nobody started applies no
// configuration anywhere.
type CanaryState uint8

const (
	// CanaryCreated: the rollout exists and its rollback snapshot is taken,
	// but no stage is applied yet.
	CanaryCreated CanaryState = iota
	// CanaryRunning: a stage is applied and under observation.
	CanaryRunning
	// CanaryPaused: the rollout is held at its current stage, by hand or by
	// the emergency interlock (level 2). It never resumes on its own.
	CanaryPaused
	// CanaryCompleted: every stage passed; the configuration is live
	// everywhere.
	CanaryCompleted
	// CanaryRolledBack: the rollback snapshot was restored.
	CanaryRolledBack
	// CanaryCancelled: the rollout was withdrawn before its first stage.
	CanaryCancelled

	// NumCanaryStates is the number of canary states.
	NumCanaryStates = 6
)

var canaryStateNames = enum.New[CanaryState]("canary state", "created", "canary", "paused", "completed", "rolled_back", "cancelled")

// String returns the state's canonical name: "created", "canary", "paused",
// "completed", "rolled_back" or "cancelled".
func (s CanaryState) String() string { return canaryStateNames.String(s) }

// Valid reports whether s is one of the defined states.
func (s CanaryState) Valid() bool { return canaryStateNames.Valid(s) }

// Active reports whether a rollout in state s holds its config type's lock:
// CanaryRunning or CanaryPaused.
func (s CanaryState) Active() bool { return s == CanaryRunning || s == CanaryPaused }

// Terminal reports whether s is final: completed, rolled back or cancelled.
func (s CanaryState) Terminal() bool {
	return s == CanaryCompleted || s == CanaryRolledBack || s == CanaryCancelled
}

// ParseCanaryState returns the state named s (a String value). Any other
// input is an error naming it; ParseCanaryState never panics.
func ParseCanaryState(s string) (CanaryState, error) { return canaryStateNames.Parse(s) }

// Errors of CanaryRolloutService implementations, matched with errors.Is.
// Implementations wrap them with the detail (which gate, which state).
var (
	// ErrCanaryNotFound: no rollout has the ID.
	ErrCanaryNotFound = errors.New("baldur: canary rollout not found")
	// ErrCanaryConflict: another rollout of the config type is active, or
	// the rollout changed since it was read (optimistic version check).
	ErrCanaryConflict = errors.New("baldur: canary rollout conflict")
	// ErrCanaryTransition: the action is not allowed from the current state.
	ErrCanaryTransition = errors.New("baldur: canary state transition not allowed")
	// ErrCanaryBlocked: a gate (kill switch, emergency level, error budget,
	// pass criteria) denied the action, or could not be evaluated. Canary
	// gates fail closed.
	ErrCanaryBlocked = errors.New("baldur: canary action blocked")
)

// CanaryMinBypassReason is the shortest accepted CanaryOp.BypassReason.
const CanaryMinBypassReason = 10

// CanaryStage is one step of a rollout.
type CanaryStage struct {
	// Clusters receive the new configuration at this stage.
	Clusters []string
	// Duration is the observation window before the stage may be promoted.
	// Zero means the implementation's default (5 min).
	Duration time.Duration
}

// CanaryPlan is what a rollout applies, stage by stage.
type CanaryPlan struct {
	// ConfigType names the configuration; at most one rollout per config
	// type is active at a time.
	ConfigType string
	// Values is the new configuration.
	Values map[string]string
	// Stages run in order; at least one is required.
	Stages []CanaryStage
}

// CanaryOp attributes an operator action on a rollout. The zero value is an
// anonymous action with every gate enforced.
type CanaryOp struct {
	// Actor is who acts; empty is audited as AnonymousActor.
	Actor string
	// Reason is why, for the audit record.
	Reason string
	// BypassReason, when not empty, skips the action's gates. It must be at
	// least CanaryMinBypassReason characters, and the bypass is audited.
	BypassReason string
}

// CanaryRollout is a read-only view of one rollout. Rollouts are built by a
// CanaryRolloutService, never by callers; a value may be a snapshot, so
// re-read it with CanaryRolloutService.Get to observe later changes.
//
// Implementations must be safe for concurrent use.
type CanaryRollout interface {
	ID() string
	// ConfigType is the plan's config type.
	ConfigType() string
	State() CanaryState
	// Stage is the index of the current stage in the plan, from 0.
	Stage() int
	CreatedAt() time.Time
	// PausedAt is when the rollout last entered CanaryPaused; zero if never.
	PausedAt() time.Time
	// StageStartedAt is when the current stage was applied; zero before the
	// first stage (and for rollouts recorded before it was tracked).
	StageStartedAt() time.Time
}

// CanaryStallSince returns when r's stall clock started: PausedAt for a
// paused rollout, StageStartedAt for a running one, CreatedAt when that is
// zero. It is zero for rollouts that cannot stall (created or terminal).
func CanaryStallSince(r CanaryRollout) time.Time {
	var t time.Time
	switch r.State() {
	case CanaryRunning:
		t = r.StageStartedAt()
	case CanaryPaused:
		t = r.PausedAt()
	default:
		return time.Time{}
	}
	if t.IsZero() {
		t = r.CreatedAt()
	}
	return t
}

// CanaryStalled reports whether r is stalled at now: running for more than
// twice stage (its stage's duration), or paused for more than maxPaused
// (30 min is the usual bound). A non-positive bound never
// reports a stall of that kind.
func CanaryStalled(r CanaryRollout, now time.Time, stage, maxPaused time.Duration) bool {
	since := CanaryStallSince(r)
	if since.IsZero() {
		return false
	}
	age := now.Sub(since)
	if r.State() == CanaryRunning {
		return stage > 0 && age > 2*stage
	}
	return maxPaused > 0 && age > maxPaused
}

// CanaryRolloutService orchestrates canary rollouts. It is the registry's
// "canary_rollout_service" slot. There is no NoOp default: canary gates fail
// closed, so a service that pretends to roll out would be worse than none.
// SafeGet reports the slot unset and admin handlers answer that no rollout
// service is configured.
//
// Start and Promote pass the kill switch, an emergency level below 2 and the
// error budget; Resume and Rollback pass the emergency check only. A gate
// that denies, or cannot be evaluated, returns an error wrapping
// ErrCanaryBlocked unless the CanaryOp carries a bypass reason. Every action
// is audited.
//
// Implementations must be safe for concurrent use.
type CanaryRolloutService interface {
	// Start snapshots the current configuration of plan.ConfigType for
	// rollback and applies stage 0. On error nothing is applied.
	Start(ctx context.Context, plan CanaryPlan, op CanaryOp) (CanaryRollout, error)
	// Promote checks the current stage's pass criteria and applies the next
	// stage; promoting the last stage completes the rollout.
	Promote(ctx context.Context, id string, op CanaryOp) (CanaryRollout, error)
	// Pause holds a running rollout at its stage.
	Pause(ctx context.Context, id string, op CanaryOp) (CanaryRollout, error)
	// Resume continues a paused rollout at the stage it was paused in.
	Resume(ctx context.Context, id string, op CanaryOp) (CanaryRollout, error)
	// Rollback restores the snapshot of an active rollout; a rollout still
	// in CanaryCreated is cancelled instead.
	Rollback(ctx context.Context, id string, op CanaryOp) (CanaryRollout, error)
	// Get returns the rollout with id, or ErrCanaryNotFound.
	Get(ctx context.Context, id string) (CanaryRollout, error)
	// Active lists the running and paused rollouts.
	Active(ctx context.Context) ([]CanaryRollout, error)
	// PanicRollback rolls back every active rollout without gates, keeps
	// going past failures, and returns the IDs rolled back with the
	// failures joined (errors.Join).
	PanicRollback(ctx context.Context, op CanaryOp) (rolledBack []string, err error)
}
