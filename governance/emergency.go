package governance

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// ErrAlreadyNormal is returned by StepDown at level NORMAL.
var ErrAlreadyNormal = errors.New("governance: emergency level already NORMAL")

// Emergency is the emergency manager: it holds the level (NORMAL..LEVEL_3)
// in the Store and mirrors it in an atomic for the hot path. It implements
// baldur.EmergencyManager and the throttle's level source
// (interface{ Level() baldur.EmergencyLevel }). Safe for concurrent use.
//
// Raising is manual (Trigger, with a reason and an optional duration);
// lowering goes one level at a time (StepDown), or back to NORMAL when a
// triggered duration runs out. Stepping down a timed level keeps its end.
//
// It also implements the throttle's throttle.Level3Source: the level that
// LEVEL_3 was raised from is stored with the state (EmergencyState.From),
// so every throttle, however recently built, applies that level's factor.
type Emergency struct {
	store     Store
	clock     baldur.Clock
	fractions [baldur.MaxEmergencyLevel + 1][baldur.NumTiers]float64
	// reportChange reports a change of the stored state to the owner (the
	// Checker rebuilds its snapshot); it is never called with mu held.
	reportChange func()

	level atomic.Int32
	from  atomic.Int32 // EmergencyState.From of the state in level

	mu    sync.Mutex // serializes read-modify-write of the stored state
	timer baldur.Timer
}

var _ baldur.EmergencyManager = (*Emergency)(nil)

// newEmergency returns the manager of the level held in store; changed is
// called after every change it makes (a trigger, a step down, an expiry
// it applies), outside its lock.
func newEmergency(store Store, clock baldur.Clock, fractions [baldur.MaxEmergencyLevel + 1][baldur.NumTiers]float64, changed func()) *Emergency {
	return &Emergency{store: store, clock: clock, fractions: fractions, reportChange: changed}
}

// Level returns the last known level with one atomic load. It follows
// every change made through this process at once; changes made by another
// process sharing the store are seen within the Checker's CacheTTL.
func (e *Emergency) Level() baldur.EmergencyLevel { return baldur.EmergencyLevel(e.level.Load()) }

// Level3From returns the level in force when the current LEVEL_3 began,
// with two atomic loads; false when the level is not LEVEL_3 or the stored
// state does not say (an invalid From).
func (e *Emergency) Level3From() (baldur.EmergencyLevel, bool) {
	if e.Level() != baldur.Level3 {
		return baldur.LevelNormal, false
	}
	f := baldur.EmergencyLevel(e.from.Load())
	if !f.Valid() || f >= baldur.Level3 {
		return baldur.LevelNormal, false
	}
	return f, true
}

// publishLocked mirrors st for the hot path; From first, so that a reader
// that sees the new level sees its From. The caller holds mu. It reports
// whether the level changed.
func (e *Emergency) publishLocked(st baldur.EmergencyState) bool {
	e.from.Store(int32(st.From))
	return e.level.Swap(int32(st.Level)) != int32(st.Level)
}

// AdmitFraction returns the share (0..1) of tier admitted at level; 1 for
// an unknown level, the standard tier's share for an unknown tier.
func (e *Emergency) AdmitFraction(level baldur.EmergencyLevel, tier baldur.Tier) float64 {
	if !level.Valid() {
		return 1
	}
	if !tier.Valid() {
		tier = baldur.TierStandard
	}
	return e.fractions[level][tier]
}

// State reads the stored state, applying an expired duration (back to
// NORMAL) first.
func (e *Emergency) State(ctx context.Context) (baldur.EmergencyState, error) {
	st, changed, err := e.load(ctx, e.clock.Now())
	if changed {
		e.reportChange()
	}
	return st, err
}

// load reads the state and expires it, and reports whether the level it
// publishes changed; the caller reports the change.
func (e *Emergency) load(ctx context.Context, now time.Time) (baldur.EmergencyState, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.store.Emergency(ctx)
	if err != nil {
		return baldur.EmergencyState{Level: e.Level()}, false, err
	}
	if !st.Level.Valid() {
		st.Level = baldur.LevelNormal
	}
	changed := false
	if expired(st, now) {
		if u, ok := e.store.(EmergencyUpdater); ok {
			// Another process may have raised the level since the read:
			// expire only the state that is still stored.
			st, err = u.UpdateEmergency(ctx, func(cur baldur.EmergencyState) (baldur.EmergencyState, error) {
				if !cur.Level.Valid() {
					cur.Level = baldur.LevelNormal
				}
				if !expired(cur, now) {
					return cur, errUnchanged
				}
				return expiredState(cur, now), nil
			})
			if errors.Is(err, errUnchanged) {
				err = nil
			}
		} else {
			st = expiredState(st, now)
			err = e.store.PutEmergency(ctx, st)
		}
		if err != nil {
			return st, false, err
		}
		changed = true
	}
	if e.publishLocked(st) {
		changed = true
	}
	return st, changed, nil
}

// errUnchanged makes UpdateEmergency store nothing.
var errUnchanged = errors.New("governance: emergency state unchanged")

// expired reports whether st is a timed level whose time ran out at now.
func expired(st baldur.EmergencyState, now time.Time) bool {
	return st.Level != baldur.LevelNormal && !st.ExpiresAt.IsZero() && !now.Before(st.ExpiresAt)
}

// expiredState is NORMAL after st ran out.
func expiredState(st baldur.EmergencyState, now time.Time) baldur.EmergencyState {
	return baldur.EmergencyState{Level: baldur.LevelNormal, Reason: "expired: " + st.Reason, Actor: st.Actor, Since: now, From: st.Level}
}

// Trigger raises (or keeps, refreshing reason and duration) the level.
// A missing reason, an invalid level, a negative duration or a level below
// the current one (use StepDown) is a *baldur.ConfigError naming the field.
//
// A positive t.Duration makes the level temporary: when it runs out the
// level goes straight back to NORMAL, not one step down and not to the
// level it was raised from (LEVEL_1, then LEVEL_3 for 10 minutes, is
// NORMAL 10 minutes later). A zero Duration holds the level until StepDown.
func (e *Emergency) Trigger(ctx context.Context, t baldur.EmergencyTrigger) (baldur.EmergencyState, error) {
	if !t.Level.Valid() {
		return baldur.EmergencyState{}, cfgErr("Level", strconv.Itoa(int(t.Level)), "must be 0..3")
	}
	if t.Reason == "" {
		return baldur.EmergencyState{}, cfgErr("Reason", "", "is required")
	}
	if t.Duration < 0 {
		return baldur.EmergencyState{}, cfgErr("Duration", t.Duration.String(), "must not be negative")
	}
	now := e.clock.Now()
	st, err := e.set(ctx, now, func(cur baldur.EmergencyState) (baldur.EmergencyState, error) {
		if t.Level < cur.Level {
			return cur, cfgErr("Level", t.Level.String(), "is below the current "+cur.Level.String()+": step down one level at a time")
		}
		next := baldur.EmergencyState{Level: t.Level, Reason: t.Reason, Actor: actorOr(t.Actor), Since: now, From: cur.Level}
		if t.Level == cur.Level {
			next.From = cur.From // a refresh: the incident began where it began
		}
		if t.Duration > 0 && t.Level != baldur.LevelNormal {
			next.ExpiresAt = now.Add(t.Duration)
		}
		return next, nil
	})
	return st, err
}

// StepDown lowers the level by exactly one. At NORMAL it returns
// ErrAlreadyNormal. A timed level keeps its end: LEVEL_3 triggered for 10
// minutes and stepped down after 4 is LEVEL_2 for the remaining 6, then
// NORMAL (the returned state's ExpiresAt says so). Stepping down to NORMAL
// ends it.
func (e *Emergency) StepDown(ctx context.Context, actor, reason string) (baldur.EmergencyState, error) {
	now := e.clock.Now()
	if reason == "" {
		reason = "step down"
	}
	return e.set(ctx, now, func(cur baldur.EmergencyState) (baldur.EmergencyState, error) {
		if cur.Level <= baldur.LevelNormal {
			return cur, ErrAlreadyNormal
		}
		next := baldur.EmergencyState{Level: cur.Level - 1, Reason: reason, Actor: actorOr(actor), Since: now, From: cur.Level}
		if next.Level != baldur.LevelNormal {
			next.ExpiresAt = cur.ExpiresAt // set treated an expired one as NORMAL
		}
		return next, nil
	})
}

// set applies next to the current state (an expired or invalid one reads
// as NORMAL) under mu, through the store's compare-and-set when it is an
// EmergencyUpdater, stores it, arms the expiry timer and reports the change
// (outside the lock).
func (e *Emergency) set(ctx context.Context, now time.Time, next func(baldur.EmergencyState) (baldur.EmergencyState, error)) (baldur.EmergencyState, error) {
	apply := func(cur baldur.EmergencyState) (baldur.EmergencyState, error) {
		if !cur.Level.Valid() || (!cur.ExpiresAt.IsZero() && !now.Before(cur.ExpiresAt)) {
			cur = baldur.EmergencyState{Level: baldur.LevelNormal}
		}
		st, err := next(cur)
		if err != nil {
			return cur, err
		}
		return st, nil
	}
	e.mu.Lock()
	var st baldur.EmergencyState
	if u, ok := e.store.(EmergencyUpdater); ok {
		var err error
		if st, err = u.UpdateEmergency(ctx, apply); err != nil {
			e.mu.Unlock()
			return st, err
		}
	} else {
		cur, err := e.store.Emergency(ctx)
		if err != nil {
			e.mu.Unlock()
			return cur, err
		}
		if st, err = apply(cur); err != nil {
			e.mu.Unlock()
			return st, err
		}
		if err := e.store.PutEmergency(ctx, st); err != nil {
			e.mu.Unlock()
			return cur, err
		}
	}
	e.publishLocked(st)
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	if !st.ExpiresAt.IsZero() {
		// The snapshot already expires the level exactly at ExpiresAt; the
		// timer also brings Level() back without waiting for a check.
		e.timer = e.clock.AfterFunc(st.ExpiresAt.Sub(now), func() { _, _ = e.State(context.Background()) })
	}
	e.mu.Unlock()
	e.reportChange()
	return st, nil
}

// actorOr returns a, or baldur.AnonymousActor when a is empty.
func actorOr(a string) string {
	if a == "" {
		return baldur.AnonymousActor
	}
	return a
}
