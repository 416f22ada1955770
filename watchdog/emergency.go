package watchdog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
)

// DefaultEmergencyStuckAfter is how long a level raised by automation may
// stay before Emergency steps it down.
const DefaultEmergencyStuckAfter = 30 * time.Minute

// EmergencyConfig configures Emergency.
type EmergencyConfig struct {
	// Manager holds the level. Manager or ManagerFunc is required.
	Manager baldur.EmergencyManager
	// ManagerFunc is read at every pass instead, for a manager a reload
	// may replace (reg.Emergency.Get); a nil answer skips the pass.
	ManagerFunc func() baldur.EmergencyManager
	// After is how long an automated level may stay. Zero means
	// DefaultEmergencyStuckAfter.
	After time.Duration
	// Actor is the actor of the watchdog's step-downs. Empty means
	// "watchdog".
	Actor string
	// Local runs the check on every replica, for a manager whose state is
	// per process (governance's memory store). False (the default) leads
	// it from one replica, as a shared store needs: several replicas
	// stepping down at once would drop several levels.
	Local bool
}

// Emergency is the built-in check "emergency_stuck": an emergency level
// raised by automation (EmergencyState.Auto) that nobody stepped down
// within After, or whose end passed without it being lowered, is stepped
// down by one level and paged HIGH. A level the watchdog itself stepped
// down to counts as automation's, so a stuck LEVEL_3 comes down one level
// per After. A level set by hand is the operator's and is never touched,
// whatever its age.
//
// Safe for concurrent use.
type Emergency struct {
	m     func() baldur.EmergencyManager
	after time.Duration
	actor string
	local bool
}

var _ LocalCheck = (*Emergency)(nil)

// NewEmergency returns the stuck-emergency check.
func NewEmergency(cfg EmergencyConfig) (*Emergency, error) {
	if cfg.Manager == nil && cfg.ManagerFunc == nil {
		return nil, &baldur.ConfigError{Field: "Manager", Reason: "is required (or ManagerFunc)"}
	}
	if cfg.After < 0 {
		return nil, &baldur.ConfigError{Field: "After", Value: cfg.After.String(), Reason: "must not be negative (zero means 30m)"}
	}
	e := &Emergency{m: cfg.ManagerFunc, after: cfg.After, actor: cfg.Actor, local: cfg.Local}
	if m := cfg.Manager; e.m == nil {
		e.m = func() baldur.EmergencyManager { return m }
	}
	if e.after == 0 {
		e.after = DefaultEmergencyStuckAfter
	}
	if e.actor == "" {
		e.actor = "watchdog"
	}
	return e, nil
}

// Name implements Check.
func (e *Emergency) Name() string { return "emergency_stuck" }

// Local implements LocalCheck.
func (e *Emergency) Local() bool { return e.local }

// automated reports whether st was set by automation or by this check.
func (e *Emergency) automated(st baldur.EmergencyState) bool {
	return st.Auto || st.Actor == e.actor
}

// stuck reports whether st is an automated level due to come down at now.
func (e *Emergency) stuck(st baldur.EmergencyState, now time.Time) bool {
	if st.Level <= baldur.LevelNormal || !e.automated(st) {
		return false
	}
	if !st.ExpiresAt.IsZero() {
		return !now.Before(st.ExpiresAt) // its end passed, yet it is raised
	}
	return now.Sub(st.Since) >= e.after
}

// Observe reports a stuck automated level.
func (e *Emergency) Observe(ctx context.Context, now time.Time) ([]Observation, error) {
	m := e.m()
	if m == nil {
		return nil, nil
	}
	st, err := m.State(ctx)
	if err != nil {
		return nil, err
	}
	if !e.stuck(st, now) {
		return nil, nil
	}
	return []Observation{{Subject: "level", Action: "step_down", Page: true, Priority: notify.PriorityHigh,
		Detail: fmt.Sprintf("%s raised by %s since %s (%s) was never stepped down", st.Level, st.Actor, st.Since.Format(time.RFC3339), st.Reason),
		Apply: func(ctx context.Context, _ uint64) error {
			// Read again: an operator who took the level over since the
			// observation wins.
			cur, err := m.State(ctx)
			if err != nil {
				return err
			}
			if cur.Level != st.Level || !cur.Since.Equal(st.Since) || !e.automated(cur) {
				return errSuperseded
			}
			_, err = m.StepDown(ctx, e.actor, "watchdog: "+st.Level.String()+" raised by automation was stuck")
			return err
		}}}, nil
}

var errSuperseded = errors.New("watchdog: the emergency level changed since it was observed; nothing done")
