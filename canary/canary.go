package canary

import (
	"context"
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// State is where a canary rollout is in its life cycle:
//
//	created → canary ⇄ paused → completed | rolled_back
//	created → cancelled
//
// The zero State is Created: a rollout nobody started applies no
// configuration anywhere.
type State uint8

const (
	// Created: the rollout exists and its rollback snapshot is taken,
	// but no stage is applied yet.
	Created State = iota
	// Running: a stage is applied and under observation.
	Running
	// Paused: the rollout is held at its current stage, by hand or by
	// the emergency interlock (level 2). It never resumes on its own.
	Paused
	// Completed: every stage passed; the configuration is live
	// everywhere.
	Completed
	// RolledBack: the rollback snapshot was restored.
	RolledBack
	// Cancelled: the rollout was withdrawn before its first stage.
	Cancelled

	// NumStates is the number of canary states.
	NumStates = 6
)

var stateNames = enum.New[State]("canary state", "created", "canary", "paused", "completed", "rolled_back", "cancelled")

// String returns the state's canonical name: "created", "canary", "paused",
// "completed", "rolled_back" or "cancelled".
func (s State) String() string { return stateNames.String(s) }

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return stateNames.Valid(s) }

// Active reports whether a rollout in state s holds its config type's lock:
// Running or Paused.
func (s State) Active() bool { return s == Running || s == Paused }

// Terminal reports whether s is final: completed, rolled back or cancelled.
func (s State) Terminal() bool {
	return s == Completed || s == RolledBack || s == Cancelled
}

// ParseState returns the state named s (a String value). Any other
// input is an error naming it; ParseState never panics.
func ParseState(s string) (State, error) { return stateNames.Parse(s) }

// Errors of Service implementations, matched with errors.Is.
// Implementations wrap them with the detail (which gate, which state).
var (
	// ErrNotFound: no rollout has the ID.
	ErrNotFound = errors.New("canary: canary rollout not found")
	// ErrConflict: another rollout of the config type is active, or
	// the rollout changed since it was read (optimistic version check).
	ErrConflict = errors.New("canary: canary rollout conflict")
	// ErrTransition: the action is not allowed from the current state.
	ErrTransition = errors.New("canary: canary state transition not allowed")
	// ErrBlocked: a gate (kill switch, emergency level, error budget,
	// pass criteria) denied the action, or could not be evaluated. Canary
	// gates fail closed.
	ErrBlocked = errors.New("canary: canary action blocked")
)

// MinBypassReason is the shortest accepted Op.BypassReason.
const MinBypassReason = 10

// Stage is one step of a rollout.
type Stage struct {
	// Clusters receive the new configuration at this stage.
	Clusters []string
	// Duration is the observation window before the stage may be promoted.
	// Zero means the implementation's default (5 min).
	Duration time.Duration
}

// Plan is what a rollout applies, stage by stage.
type Plan struct {
	// ConfigType names the configuration; at most one rollout per config
	// type is active at a time.
	ConfigType string
	// Values is the new configuration.
	Values map[string]string
	// Stages run in order; at least one is required.
	Stages []Stage
}

// Op attributes an operator action on a rollout. The zero value is an
// anonymous action with every gate enforced.
type Op struct {
	// Actor is who acts; empty is audited as baldur.AnonymousActor.
	Actor string
	// Reason is why, for the audit record.
	Reason string
	// BypassReason, when not empty, skips the action's gates. It must be at
	// least MinBypassReason characters, and the bypass is audited.
	BypassReason string
}

// Rollout is a read-only view of one rollout. Rollouts are built by a Service,
// never by callers; a value may be a snapshot, so re-read it with Service.Get
// to observe later changes.
//
// Implementations must be safe for concurrent use.
type Rollout interface {
	ID() string
	// ConfigType is the plan's config type.
	ConfigType() string
	State() State
	// Stage is the index of the current stage in the plan, from 0.
	Stage() int
	CreatedAt() time.Time
	// PausedAt is when the rollout last entered Paused; zero if never.
	PausedAt() time.Time
	// StageStartedAt is when the current stage was applied; zero before the
	// first stage (and for rollouts recorded before it was tracked).
	StageStartedAt() time.Time
}

// StallSince returns when r's stall clock started: PausedAt for a
// paused rollout, StageStartedAt for a running one, CreatedAt when that is
// zero. It is zero for rollouts that cannot stall (created or terminal).
func StallSince(r Rollout) time.Time {
	var t time.Time
	switch r.State() {
	case Running:
		t = r.StageStartedAt()
	case Paused:
		t = r.PausedAt()
	default:
		return time.Time{}
	}
	if t.IsZero() {
		t = r.CreatedAt()
	}
	return t
}

// Stalled reports whether r is stalled at now: running for more than twice
// stage (its stage's duration), or paused for more than maxPaused (30 min is
// the usual bound). A non-positive bound never reports a stall of that kind.
func Stalled(r Rollout, now time.Time, stage, maxPaused time.Duration) bool {
	since := StallSince(r)
	if since.IsZero() {
		return false
	}
	age := now.Sub(since)
	if r.State() == Running {
		return stage > 0 && age > 2*stage
	}
	return maxPaused > 0 && age > maxPaused
}

// Service orchestrates canary rollouts. There is no NoOp: canary gates fail
// closed, so a service that pretends to roll out would be worse than none.
//
// Start and Promote pass the kill switch, an emergency level below 2 and the
// error budget; Resume and Rollback pass the emergency check only. A gate that
// denies, or cannot be evaluated, returns an error wrapping ErrBlocked unless
// the Op carries a bypass reason. Every action is audited.
//
// Implementations must be safe for concurrent use.
type Service interface {
	// Start snapshots the current configuration of plan.ConfigType for
	// rollback and applies stage 0. On error nothing is applied.
	Start(ctx context.Context, plan Plan, op Op) (Rollout, error)
	// Promote checks the current stage's pass criteria and applies the next
	// stage; promoting the last stage completes the rollout.
	Promote(ctx context.Context, id string, op Op) (Rollout, error)
	// Pause holds a running rollout at its stage.
	Pause(ctx context.Context, id string, op Op) (Rollout, error)
	// Resume continues a paused rollout at the stage it was paused in.
	Resume(ctx context.Context, id string, op Op) (Rollout, error)
	// Rollback restores the snapshot of an active rollout; a rollout still
	// in Created is cancelled instead.
	Rollback(ctx context.Context, id string, op Op) (Rollout, error)
	// Get returns the rollout with id, or ErrNotFound.
	Get(ctx context.Context, id string) (Rollout, error)
	// Active lists the running and paused rollouts.
	Active(ctx context.Context) ([]Rollout, error)
	// PanicRollback rolls back every active rollout without gates, keeps
	// going past failures, and returns the IDs rolled back with the
	// failures joined (errors.Join).
	PanicRollback(ctx context.Context, op Op) (rolledBack []string, err error)
}
