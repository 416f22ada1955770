package canary

import (
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

// MarshalText implements encoding.TextMarshaler with String.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseState.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

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

// Op attributes an operator action on a rollout. The zero value is an
// anonymous action with every gate enforced.
type Op struct {
	// Actor is who acts; empty is audited as baldur.AnonymousActor.
	Actor string
	// Reason is why, for the audit record.
	Reason string
	// BypassReason, when not empty, skips the action's gates (governance,
	// blast radius, the last verdict; never the acknowledgement of a
	// stage). It must be at least MinBypassReason characters, and the
	// bypass is audited.
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
