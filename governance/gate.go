package governance

import (
	"context"

	"github.com/baldur-go/baldur"
)

// Gate is the per-call governance gate of a baldur.Policy (stage
// baldur.StageGovernance). Admit takes no lock and does not allocate: it
// loads the Checker's snapshot with one atomic read and, when nothing is
// restrictive (no break glass, kill switch, shedding level or blocked
// budget), admits at once. Otherwise, in order: exempt operations pass;
// break glass admits (audited); a kill switch covering the call's service or
// operation rejects with baldur.ReasonKillSwitch; the emergency level sheds
// the call's tier by its admit fraction (baldur.ReasonEmergency, Retry-After
// 5 s × 1, 1, 2, 4 by level); a blocked error budget for the call's tier and
// region rejects with baldur.ReasonErrorBudget.
//
// The permit's release records the call's outcome into the Checker's error
// budget, so the budget learns from served calls; at most once per
// Config.BudgetEvalInterval a release also re-evaluates the budget
// decider, so a tier crossing its threshold (or recovering) is rejected (or
// admitted) from the next call on. Safe for concurrent use.
type Gate struct {
	c *Checker
}

var (
	_ baldur.Gate     = (*Gate)(nil)
	_ baldur.Releaser = (*Gate)(nil)
)

// Stage returns baldur.StageGovernance.
func (g *Gate) Stage() baldur.Stage { return baldur.StageGovernance }

// Admit admits or rejects c. The permit token is c.Now in unix nanoseconds,
// so that release knows the call's time without reading the clock.
func (g *Gate) Admit(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	ch := g.c
	var now int64
	if c.Now.IsZero() {
		now = ch.clock.Now().UnixNano()
	} else {
		now = c.Now.UnixNano()
	}
	s := ch.snap.Load()
	if !s.fresh(now) {
		s = ch.refreshHot(ctx, s, now)
	}
	if s.restrictive {
		if rej := g.check(ctx, s, &c, now); rej != nil {
			return baldur.Permit{}, rej
		}
	}
	return baldur.NewPermit(g, uint64(now)), nil
}

// check runs the ordered checks against s; nil admits. Exemption is
// tested only once a check would block (or under break glass), so that a
// restrictive snapshot costs admitted calls no pattern matching.
func (g *Gate) check(ctx context.Context, s *snapshot, c *baldur.Call, now int64) *baldur.Rejection {
	ch := g.c
	if s.breakGlass.On {
		if !ch.exempt(c.Operation) {
			ch.auditCall(ctx, auditBreakGlass, AuditBreakGlass, "allowed by break glass", c, s, s.breakGlass.Actor, now)
		}
		return nil
	}
	tier := c.Tier
	if !tier.Valid() {
		tier = baldur.TierStandard
	}
	var (
		rej    *baldur.Rejection
		kind   int
		reason baldur.BlockReason
		msg    string
		actor  string
	)
	if !s.switches.empty() {
		if ks := s.switches.match(c.Service, c.Operation, now); ks != nil {
			rej, kind, reason, msg, actor = ch.killRej, auditKill, baldur.BlockKillSwitch, ks.reason, ks.actor
		}
	}
	switch {
	case rej != nil:
	case s.shedding && !s.admit[tier].admit():
		rej, kind, reason, msg = s.emergRej, auditEmergency, baldur.BlockEmergency, "shed by emergency level"
	case s.budget.anyBlocked && s.decision(ch.decider, tier, c.Region).Blocked:
		rej, kind, reason, msg = ch.budgetRej, auditBudget, baldur.BlockErrorBudget, "error budget below the tier's threshold"
	default:
		return nil
	}
	if ch.exempt(c.Operation) {
		return nil
	}
	ch.auditCall(ctx, kind, reason, msg, c, s, actor, now)
	return rej
}

// Release records the outcome into the error budget at the call's admit
// time plus its latency. Ignored outcomes are skipped.
func (g *Gate) Release(token uint64, o baldur.Outcome) {
	if o.Result == baldur.Ignored {
		return
	}
	g.c.budget.record(int64(token)+int64(o.Latency), o.Result == baldur.Failure)
}
