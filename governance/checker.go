package governance

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// Checker is the governance checker: it owns the kill switches, the
// emergency manager, the error-budget service and decider, break glass,
// and the cached evaluation (snapshot) that every check reads. It implements
// baldur.GovernanceChecker; Gate returns its per-call baldur.Gate. It is safe
// for concurrent use.
type Checker struct {
	s         *settings
	store     Store
	clock     baldur.Clock
	emergency *Emergency
	budget    *Budget
	decider   *BudgetDecider
	audit     *auditor
	alerts    *alerter
	exempts   *exemptSet
	gate      Gate

	killRej   *baldur.Rejection
	budgetRej *baldur.Rejection
	emergRej  [baldur.MaxEmergencyLevel + 1]*baldur.Rejection

	// held is the last good read of each part of the state, for
	// StaleIfError; guarded by rebuildMu.
	held heldState

	snap      atomic.Pointer[snapshot]
	gen       atomic.Uint64 // bumped by every invalidation
	rebuildMu sync.Mutex    // serializes rebuilds; the hot path only TryLocks
}

var (
	_ baldur.GovernanceChecker = (*Checker)(nil)
	// The throttle reads the level through this interface (and
	// throttle.Level3Source, asserted in the tests: governance does not
	// import the throttle).
	_ interface {
		Level() baldur.EmergencyLevel
		Level3From() (baldur.EmergencyLevel, bool)
	} = (*Checker)(nil)
)

// New validates cfg and returns a Checker with its state read from the
// store. An invalid field is a *baldur.ConfigError naming it.
func New(cfg Config) (*Checker, error) {
	s, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	c := &Checker{s: s, store: cfg.Store, clock: cfg.Clock}
	if c.store == nil {
		c.store = NewMemoryStore()
	}
	if c.clock == nil {
		c.clock = baldur.SystemClock()
	}
	sink := cfg.Audit
	if sink == nil {
		sink = SlogSink{}
	}
	c.audit = newAuditor(sink, s.auditRate, s.auditBurst)
	c.exempts = newExemptSet(s.exempt)
	alerts := cfg.Alerts
	if alerts == nil {
		alerts = SlogSink{}
	}
	c.alerts = newAlerter(alerts, s.cooldown)
	c.emergency = newEmergency(c.store, c.clock, s.fractions, func() { c.transition(context.Background()) })
	c.budget = newBudget(s)
	c.decider = newBudgetDecider(c.budget, s, c.markStale)
	c.gate = Gate{c: c}
	c.killRej = baldur.Reject(baldur.ReasonKillSwitch, s.killRetry)
	c.budgetRej = baldur.Reject(baldur.ReasonErrorBudget, s.budgetRetry)
	for l, m := range [...]time.Duration{1, 1, 2, 4} {
		c.emergRej[l] = baldur.Reject(baldur.ReasonEmergency, m*s.emergRetry)
	}
	c.rebuildMu.Lock()
	c.rebuildLocked(context.Background())
	c.rebuildMu.Unlock()
	return c, nil
}

// Gate returns the per-call governance gate for a baldur.Policy.
func (c *Checker) Gate() baldur.Gate { return &c.gate }

// Emergency returns the emergency manager (baldur.EmergencyManager).
func (c *Checker) Emergency() *Emergency { return c.emergency }

// Budget returns the error-budget service (baldur.ErrorBudgetService).
func (c *Checker) Budget() *Budget { return c.budget }

// BudgetDecider returns the error-budget decider (baldur.ErrorBudgetDecider).
func (c *Checker) BudgetDecider() *BudgetDecider { return c.decider }

// Level returns the emergency level with one atomic load; the Checker is
// itself a level source for the throttle.
func (c *Checker) Level() baldur.EmergencyLevel { return c.emergency.Level() }

// Level3From returns the level in force when the current LEVEL_3 began
// (see Emergency.Level3From); the Checker is a throttle.Level3Source.
func (c *Checker) Level3From() (baldur.EmergencyLevel, bool) { return c.emergency.Level3From() }

// AuditDropped returns how many audit records of reason the rate limit has
// suppressed since the Checker was made.
func (c *Checker) AuditDropped(reason baldur.BlockReason) uint64 {
	return c.audit.droppedTotal(reason)
}

// Activate throws a kill switch, replacing one with the same scope and
// pattern. A missing reason, a malformed pattern or an expiry in the past is
// a *baldur.ConfigError naming the field. The change applies to the next
// check, without waiting for the cache TTL.
func (c *Checker) Activate(ctx context.Context, ks KillSwitch) error {
	if _, err := ks.validate(); err != nil {
		return err
	}
	now := c.clock.Now()
	if !ks.ExpiresAt.IsZero() && !ks.ExpiresAt.After(now) {
		return cfgErr("ExpiresAt", ks.ExpiresAt.Format(time.RFC3339), "is not in the future")
	}
	ks.Since = now
	ks.Actor = actorOr(ks.Actor)
	if err := c.store.PutKillSwitch(ctx, ks); err != nil {
		return err
	}
	c.transition(ctx)
	return nil
}

// Deactivate removes the kill switch with scope and pattern and reports
// whether there was one.
func (c *Checker) Deactivate(ctx context.Context, scope Scope, pattern string) (bool, error) {
	ok, err := c.store.DeleteKillSwitch(ctx, scope, pattern)
	if err != nil {
		return false, err
	}
	c.transition(ctx)
	return ok, nil
}

// KillSwitches returns the active kill switches, by scope then pattern.
func (c *Checker) KillSwitches(ctx context.Context) ([]KillSwitch, error) {
	all, err := c.store.KillSwitches(ctx)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	out := all[:0]
	for _, ks := range all {
		if ks.active(now) {
			out = append(out, ks)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Scope != out[j].Scope {
			return out[i].Scope < out[j].Scope
		}
		return out[i].Pattern < out[j].Pattern
	})
	return out, nil
}

// BreakGlass turns break glass on or off. While on, every check allows and
// each allowance is audited (rate limited). Turning it on needs a reason;
// it turns itself off after Config.BreakGlassDuration.
func (c *Checker) BreakGlass(ctx context.Context, on bool, actor, reason string) error {
	now := c.clock.Now()
	bg := BreakGlass{On: on, Actor: actorOr(actor), Reason: reason, Since: now}
	if on {
		if reason == "" {
			return cfgErr("Reason", "", "is required")
		}
		if c.s.breakGlassBy > 0 {
			bg.ExpiresAt = now.Add(c.s.breakGlassBy)
		}
	}
	if err := c.store.PutBreakGlass(ctx, bg); err != nil {
		return err
	}
	c.transition(ctx)
	if on {
		if dropped, ok := c.audit.take(AuditBreakGlass, now.UnixNano()); ok {
			c.audit.sink.Audit(ctx, AuditRecord{Time: now, Reason: AuditBreakGlass, Message: "break glass on: " + reason,
				Actor: bg.Actor, Level: c.Level(), Dropped: dropped})
		}
	}
	return nil
}

// CheckAll runs the checks in their fixed order (break glass, kill switch,
// emergency level, error budget) against the cached evaluation and stops at
// the first block, which is audited unless req.SkipAudit.
func (c *Checker) CheckAll(ctx context.Context, req baldur.GovernanceRequest) baldur.GovernanceResult {
	now := c.clock.Now()
	nowNs := now.UnixNano()
	s := c.current(ctx, nowNs)
	res := baldur.GovernanceResult{Allowed: true, Level: s.level, BudgetRemainingPct: s.budget.remaining}
	op := req.Operation
	if op == "" {
		op = "unknown_operation"
	}
	block := func(reason baldur.BlockReason, msg, actor string) baldur.GovernanceResult {
		res.Allowed, res.Reason, res.Message = false, reason, msg
		if !req.SkipAudit {
			c.auditReq(ctx, reason, msg, op, &req, s, actor, nowNs)
		}
		return res
	}
	if c.exempt(req.Operation) {
		return res
	}
	if s.breakGlass.On {
		res.BreakGlass = true
		if !req.SkipAudit {
			c.auditReq(ctx, AuditBreakGlass, "allowed by break glass: "+s.breakGlass.Reason, op, &req, s, s.breakGlass.Actor, nowNs)
		}
		return res
	}
	if !req.SkipKillSwitch {
		if ks := s.switches.match(req.Service, req.Operation, nowNs); ks != nil {
			return block(baldur.BlockKillSwitch, "kill switch active: "+ks.reason, ks.actor)
		}
	}
	if !req.SkipEmergency {
		min := c.minLevel(req.EmergencyMinLevel)
		if s.level >= min {
			return block(baldur.BlockEmergency, "emergency level "+s.level.String()+" at or above "+min.String(), "")
		}
	}
	if !req.SkipErrorBudget {
		d := s.decision(c.decider, req.Tier, req.Region)
		res.ThresholdPct = d.ThresholdPct
		if d.Blocked {
			return block(baldur.BlockErrorBudget, "error budget below the threshold", "")
		}
	}
	return res
}

// SystemEnabled reports false while a global (ScopeAll) kill switch is
// active and break glass is off.
func (c *Checker) SystemEnabled(ctx context.Context) bool {
	now := c.clock.Now().UnixNano()
	s := c.current(ctx, now)
	return s.breakGlass.On || s.switches.all == nil || !s.switches.all.live(now)
}

// EmergencyBlocking reports whether the level is at or above minLevel (zero:
// Config.EmergencyMinLevel), and the level.
func (c *Checker) EmergencyBlocking(ctx context.Context, minLevel baldur.EmergencyLevel) (bool, baldur.EmergencyLevel) {
	s := c.current(ctx, c.clock.Now().UnixNano())
	return s.level >= c.minLevel(minLevel), s.level
}

// minLevel returns l, or Config.EmergencyMinLevel when l is NORMAL or
// invalid: the level from which the emergency check blocks.
func (c *Checker) minLevel(l baldur.EmergencyLevel) baldur.EmergencyLevel {
	if !l.Valid() || l == baldur.LevelNormal {
		return c.s.minLevel
	}
	return l
}

// ErrorBudgetBlocking evaluates the budget now (not from the cache) for tier
// in region; a crossing of the threshold invalidates the cache at once.
func (c *Checker) ErrorBudgetBlocking(_ context.Context, tier baldur.Tier, region string) (bool, float64, float64) {
	d := c.decider.Check(c.clock.Now(), tier, region)
	return d.Blocked, d.RemainingPct, d.ThresholdPct
}

// InvalidateCache rebuilds the evaluation now. Transitions made through the
// Checker do this themselves; call it when the store was changed by another
// process (an event-bus notification).
func (c *Checker) InvalidateCache() { c.transition(context.Background()) }

// Watch runs the store's Watcher with InvalidateCache until ctx ends, so
// that changes made by other processes sharing the store reach this
// Checker without waiting for CacheTTL, and returns its error. With a store
// that is no Watcher (the MemoryStore) it returns nil at once.
func (c *Checker) Watch(ctx context.Context) error {
	w, ok := c.store.(Watcher)
	if !ok {
		return nil
	}
	return w.Watch(ctx, c.InvalidateCache)
}

func (c *Checker) exempt(op string) bool { return c.exempts.has(op) }

// auditCall audits a per-call decision; the record is built only when the
// rate limit lets it through.
func (c *Checker) auditCall(ctx context.Context, kind int, reason baldur.BlockReason, msg string, call *baldur.Call, s *snapshot, actor string, now int64) {
	dropped, ok := c.audit.takeKind(kind, now)
	if !ok {
		return
	}
	c.audit.sink.Audit(ctx, AuditRecord{
		Time: time.Unix(0, now), Reason: reason, Message: msg,
		Operation: call.Operation, Service: call.Service, Domain: call.Domain, Region: call.Region, Tier: call.Tier,
		Level: s.level, Actor: actor, Dropped: dropped,
	})
}

func (c *Checker) auditReq(ctx context.Context, reason baldur.BlockReason, msg, op string, req *baldur.GovernanceRequest, s *snapshot, actor string, now int64) {
	dropped, ok := c.audit.take(reason, now)
	if !ok {
		return
	}
	c.audit.sink.Audit(ctx, AuditRecord{
		Time: time.Unix(0, now), Reason: reason, Message: msg,
		Operation: op, Service: req.Service, Domain: req.Domain, Region: req.Region, Tier: req.Tier,
		Level: s.level, Actor: actor, Resource: req.Resource, Dropped: dropped,
	})
}
