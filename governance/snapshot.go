package governance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// snapshot is one immutable evaluation of the governance state: everything
// the per-call gate and the checks need, so that a check is one atomic
// pointer load and no lock. It is rebuilt on every transition made through
// the Checker and once it expires (CacheTTL, or earlier when a kill switch,
// break glass or the emergency level expires, or after a store error).
type snapshot struct {
	validUntil int64       // unix ns; a check at or after it rebuilds
	stale      atomic.Bool // set by an invalidation that raced a rebuild
	// restrictive is false when nothing can reject or audit a call: the
	// per-call fast path tests only this.
	restrictive bool

	breakGlass BreakGlass // On only while active

	switches switchSet

	level    baldur.EmergencyLevel
	admit    [baldur.NumTiers]admitRule
	shedding bool // some tier is admitted at less than 1
	emergRej *baldur.Rejection

	budget budgetView
}

// fresh reports whether s may still be used at now (unix ns): it has not
// expired and no invalidation marked it stale.
func (s *snapshot) fresh(now int64) bool { return now < s.validUntil && !s.stale.Load() }

// admitRule admits a share of calls: all of them, none, or those whose
// random draw falls under thr (fraction * 2^64).
type admitRule struct {
	all bool
	thr uint64
}

func newAdmitRule(f float64) admitRule {
	switch {
	case f >= 1:
		return admitRule{all: true}
	case f <= 0:
		return admitRule{}
	}
	return admitRule{thr: uint64(f * (1 << 64))}
}

// admit draws from math/rand/v2's per-thread generator: lock-free.
func (r admitRule) admit() bool { return r.all || (r.thr != 0 && rand.Uint64() < r.thr) }

// decision returns the budget decision of tier in region.
func (s *snapshot) decision(g *BudgetDecider, tier baldur.Tier, region string) baldur.ErrorBudgetDecision {
	if !tier.Valid() {
		tier = baldur.TierStandard
	}
	return s.budget.decisions[g.row(region)][tier]
}

// rebuildLocked reads the store and publishes a new snapshot. The caller
// holds c.rebuildMu. A part that cannot be read is replaced by its last good
// read while that is younger than StaleIfError (expiry times still apply),
// and fails open after; either way an alert is raised and the snapshot's
// life shortened so that the store is retried within a second.
func (c *Checker) rebuildLocked(ctx context.Context) *snapshot {
	// A caller's cancellation must not turn into "store unreadable" for
	// every call sharing the snapshot.
	ctx = context.WithoutCancel(ctx)
	gen := c.gen.Load()
	now := c.clock.Now()
	nowNs := now.UnixNano()
	until := nowNs + int64(c.s.ttl)
	shorten := func(t int64) {
		if t > 0 && t < until {
			until = t
		}
	}
	failed := func(kind AlertKind, err error, since time.Time, expired bool) {
		if errors.Is(err, ErrStoreReset) {
			kind = AlertStoreReset
		}
		if expired {
			c.alerts.raise(ctx, AlertStaleExpired, fmt.Errorf("%s for longer than stale_if_error (%v): %w", kind, c.s.staleFor, err), now)
		}
		c.alerts.raiseStale(ctx, kind, err, now, since)
		shorten(nowNs + int64(errorRetryIn))
		if !since.IsZero() {
			shorten(unixNano(since.Add(c.s.staleFor)))
		}
	}
	s := &snapshot{}

	bgv, err := c.store.BreakGlass(ctx)
	bg := c.held.breakGlass.read(bgv, err, now, c.s.staleFor)
	if err != nil {
		failed(AlertBreakGlassUnreadable, err, bg.since, bg.expired)
	}
	if bg.ok && bg.v.active(now) {
		s.breakGlass = bg.v
		shorten(unixNano(bg.v.ExpiresAt))
	}

	list, err := c.store.KillSwitches(ctx)
	ks := c.held.switches.read(list, err, now, c.s.staleFor)
	if err != nil {
		failed(AlertKillSwitchUnreadable, err, ks.since, ks.expired)
	}
	if ks.ok {
		expired := false
		for _, ks := range ks.v {
			if !ks.active(now) {
				expired = true
				continue
			}
			pat, err := ks.validate()
			if err != nil {
				c.alerts.raise(ctx, AlertKillSwitchMalformed, err, now)
				continue
			}
			cs := compiledSwitch{pat: pat, reason: ks.Reason, actor: actorOr(ks.Actor), expiresAt: unixNano(ks.ExpiresAt)}
			shorten(cs.expiresAt)
			switch ks.Scope {
			case ScopeAll:
				s.switches.all = &cs
			case ScopeService:
				s.switches.services = append(s.switches.services, cs)
			case ScopeOperation:
				s.switches.ops = append(s.switches.ops, cs)
			}
		}
		if p, ok := c.store.(KillSwitchPurger); ok && expired && err == nil {
			// Best effort: a failure leaves them for the next rebuild,
			// which skips them as this one did.
			_, _ = p.PurgeKillSwitches(ctx, now)
		}
	}

	s.level = baldur.LevelNormal
	stv, _, err := c.emergency.load(ctx, now)
	em := c.held.emergency.read(stv, err, now, c.s.staleFor)
	if err != nil {
		failed(AlertEmergencyUnreadable, err, em.since, em.expired)
	}
	if em.ok && (em.v.ExpiresAt.IsZero() || now.Before(em.v.ExpiresAt)) {
		s.level = em.v.Level
		shorten(unixNano(em.v.ExpiresAt))
	}
	for t := range baldur.Tier(baldur.NumTiers) {
		f := c.s.fractions[s.level][t]
		s.admit[t] = newAdmitRule(f)
		s.shedding = s.shedding || f < 1
	}
	s.emergRej = c.emergRej[s.level]

	s.budget = c.decider.evaluate(now)

	s.validUntil = until
	s.restrictive = s.breakGlass.On || !s.switches.empty() || s.shedding || s.budget.anyBlocked
	c.snap.Store(s)
	if c.gen.Load() != gen {
		s.stale.Store(true)
	}
	return s
}

// current returns a snapshot valid at now, rebuilding it (and waiting for a
// rebuild in progress) when needed. Not for the per-call path.
func (c *Checker) current(ctx context.Context, nowNs int64) *snapshot {
	s := c.snap.Load()
	if s.fresh(nowNs) {
		return s
	}
	c.rebuildMu.Lock()
	defer c.rebuildMu.Unlock()
	if s2 := c.snap.Load(); s2 != s && s2.fresh(nowNs) {
		return s2
	}
	return c.rebuildLocked(ctx)
}

// refreshHot is the per-call rebuild: the one caller that wins TryLock (a
// CAS, never a wait) rebuilds; the others keep using the old snapshot.
func (c *Checker) refreshHot(ctx context.Context, s *snapshot, nowNs int64) *snapshot {
	if !c.rebuildMu.TryLock() {
		return s
	}
	defer c.rebuildMu.Unlock()
	if s2 := c.snap.Load(); s2 != s && s2.fresh(nowNs) {
		return s2
	}
	return c.rebuildLocked(ctx)
}

// transition rebuilds at once after a state change made through this
// Checker, so that no check waits for the TTL to see it.
func (c *Checker) transition(ctx context.Context) {
	c.gen.Add(1)
	c.rebuildMu.Lock()
	defer c.rebuildMu.Unlock()
	c.rebuildLocked(ctx)
}

// markStale invalidates without rebuilding: the error-budget decider reports
// a tier's flip of blocked state through it, possibly during a rebuild.
func (c *Checker) markStale() {
	c.gen.Add(1)
	if s := c.snap.Load(); s != nil {
		s.stale.Store(true)
	}
}
