package canary

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// Checks returns the service's watchdog checks: the emergency interlock,
// stall detection and the renewal of the rollouts' locks.
func (s *Service) Checks() []watchdog.Check {
	return []watchdog.Check{InterlockCheck{s}, StallCheck{s}, LockCheck{s}}
}

// InterlockCheck is the emergency interlock: at emergency level 2 every
// running rollout is paused, at level 3 every active rollout is rolled
// back. Nothing resumes when the level drops: an operator resumes. A level
// the governance checker cannot tell (or no checker) counts as level 2.
type InterlockCheck struct{ S *Service }

// Name is "canary_interlock".
func (InterlockCheck) Name() string { return "canary_interlock" }

func (c InterlockCheck) level(ctx context.Context) baldur.EmergencyLevel {
	g := c.S.cfg.Governance
	if g == nil {
		return baldur.Level2
	}
	_, level := g.EmergencyBlocking(ctx, baldur.Level2)
	if level < baldur.LevelNormal {
		return baldur.Level2
	}
	return level
}

// Observe finds the rollouts the level acts on.
func (c InterlockCheck) Observe(ctx context.Context, _ time.Time) ([]watchdog.Observation, error) {
	level := c.level(ctx)
	if level < baldur.Level2 {
		return nil, nil
	}
	var out []watchdog.Observation
	for _, st := range c.S.Active(ctx) {
		id := st.RolloutID
		switch {
		case level >= baldur.Level3:
			out = append(out, watchdog.Observation{Subject: id, Action: "rollback", Page: true, Priority: notify.PriorityCritical,
				Detail: fmt.Sprintf("emergency level %v: rolling back canary %s", level, id),
				Apply:  func(ctx context.Context, _ uint64) error { return c.S.interlock(ctx, id, true) }})
		case st.Current == Running:
			out = append(out, watchdog.Observation{Subject: id, Action: "pause", Page: true, Priority: notify.PriorityHigh,
				Detail: fmt.Sprintf("emergency level %v: pausing canary %s", level, id),
				Apply:  func(ctx context.Context, _ uint64) error { return c.S.interlock(ctx, id, false) }})
		}
	}
	return out, nil
}

// interlock pauses (or rolls back) id when it is still in a state the
// action applies to; otherwise it does nothing, so a repeated Apply is
// harmless.
func (s *Service) interlock(ctx context.Context, id string, rollback bool) error {
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	op := Op{Actor: "canary-interlock", Reason: "emergency level"}
	if rollback {
		st, err := s.rollbackLocked(ctx, id, TriggerInterlock, false)
		if errors.Is(err, ErrTransition) {
			return nil
		}
		if err != nil {
			// The fence refused (the lock moved): restore regardless, the
			// safe direction.
			st, err = s.rollbackLocked(ctx, id, TriggerInterlock, true)
		}
		if err == nil {
			s.audit(st, "rollback", op, TriggerInterlock)
		}
		return err
	}
	st, err := s.pauseLocked(id, TriggerInterlock)
	if errors.Is(err, ErrTransition) {
		return nil
	}
	if err == nil {
		s.audit(st, "pause", op, TriggerInterlock)
	}
	return err
}

// StallCheck pages for rollouts running for more than twice their stage's
// duration, or paused for more than max_paused. It only pages.
type StallCheck struct{ S *Service }

// Name is "canary_stalled".
func (StallCheck) Name() string { return "canary_stalled" }

// Observe finds the stalled rollouts.
func (c StallCheck) Observe(ctx context.Context, now time.Time) ([]watchdog.Observation, error) {
	// The stalled ones are picked under the service's lock, and only what
	// a finding says is taken from them: the check runs every pass over
	// every active rollout.
	type stall struct {
		id    string
		state State
		held  bool
		stage int
		since time.Time
	}
	var stalled []stall
	c.S.mu.Lock()
	for _, r := range c.S.sortedLocked(func(r *rollout) bool {
		return r.st.Current.Active() && Stalled(&r.st, now, r.plan.duration(r.st.StageIndex, c.S.cfg.StageDuration.D()), c.S.cfg.MaxPaused.D())
	}) {
		stalled = append(stalled, stall{id: r.st.RolloutID, state: r.st.Current, held: r.st.Current == Paused && r.st.PausedBy == TriggerOperator,
			stage: r.st.StageIndex, since: StallSince(&r.st)})
	}
	c.S.mu.Unlock()
	out := make([]watchdog.Observation, 0, len(stalled))
	for _, st := range stalled {
		out = append(out, watchdog.Observation{Subject: st.id, Page: true, Priority: notify.PriorityHigh, OperatorHeld: st.held,
			Detail: "canary " + st.id + " " + st.state.String() + " since " + st.since.Format(time.RFC3339) + " (stage " + strconv.Itoa(st.stage) + ")"})
	}
	return out, nil
}

// LockCheck renews the config-type lock of every active rollout each
// pass. A renewal that fails is an incident: the rollout can no longer
// apply (its fence token is stale once another session takes the lock).
type LockCheck struct{ S *Service }

// Name is "canary_lock".
func (LockCheck) Name() string { return "canary_lock" }

var _ watchdog.BudgetedCheck = LockCheck{}

// MaxActionsPerHour implements watchdog.BudgetedCheck: renewals are
// upkeep, one per active rollout every few passes (the watchdog's backoff
// spaces them), and the watchdog's default budget of remediations would
// brake them within the first hour of one rollout, letting every lock
// lapse. The brake stays as a bound on a runaway: a million an hour.
func (LockCheck) MaxActionsPerHour() int { return 1_000_000 }

// Observe lists the leases to renew.
func (c LockCheck) Observe(ctx context.Context, _ time.Time) ([]watchdog.Observation, error) {
	// IDs and tokens only: the check runs every pass over every active
	// rollout, and needs no snapshot of them.
	type held struct {
		id    string
		token uint64
	}
	c.S.mu.Lock()
	rs := c.S.sortedLocked(func(r *rollout) bool { return r.st.Current.Active() })
	active := make([]held, len(rs))
	for i, r := range rs {
		active[i] = held{r.st.RolloutID, r.st.Token}
	}
	c.S.mu.Unlock()
	out := make([]watchdog.Observation, 0, len(active))
	for _, st := range active {
		id := st.id
		out = append(out, watchdog.Observation{Subject: id, Action: "renew_lock", Detail: "renew the lock of canary " + id,
			Apply: func(ctx context.Context, _ uint64) error {
				c.S.mu.Lock()
				r, ok := c.S.byID[id]
				c.S.mu.Unlock()
				if !ok {
					return nil
				}
				defer c.S.persist()
				c.S.op.Lock()
				defer c.S.op.Unlock()
				if c.S.adopt(ctx, id) && st.token == 0 {
					return nil // taken over just now
				}
				return c.S.renew(ctx, r)
			}})
	}
	return out, nil
}
