package chaos

import (
	"context"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
)

// Reasons a Guard refuses or aborts an experiment, as they appear in
// SafetyDecision.Reasons, Run.StopReason and metrics.
const (
	ReasonContextDone    = "context_done"
	ReasonDisabled       = "chaos_disabled"
	ReasonNoGovernance   = "no_governance"
	ReasonKillSwitch     = "kill_switch"
	ReasonEmergency      = "emergency"
	ReasonNoBudget       = "no_error_budget"
	ReasonErrorBudget    = "error_budget"
	ReasonOutsideWindow  = "outside_window"
	ReasonCooldown       = "cooldown"
	ReasonStoreError     = "store_unavailable"
	ReasonNoBlastRadius  = "no_blast_radius"
	ReasonBlastRadius    = "blast_radius:" // + the manager's violation
	ReasonNeedsApproval  = "approval_required"
	ReasonBurnRate       = "burn_rate"
	ReasonErrorRateDelta = "error_rate_delta"
	ReasonP95Delta       = "p95_delta"
	ReasonP99Delta       = "p99_delta"
)

// Guard is the fail-closed SafetyGuard of experiments. It refuses to start
// an experiment, and the scheduler aborts a running one, when chaos is
// disabled, the kill switch is on, the emergency level is LEVEL_1 or
// higher, or the error budget is below its threshold; it also refuses
// one outside the allowed windows, within the cooldown of the service's
// last experiment, or beyond the blast-radius manager's limits. A missing
// dependency, a failing store or a done context denies. Force waives
// exactly the cooldown and the windows.
//
// Guard is safe for concurrent use.
type Guard struct {
	s      *settings
	gov    baldur.GovernanceChecker
	budget baldur.ErrorBudgetService
	blast  *blastradius.Manager
	store  Store
	clock  baldur.Clock
}

var _ SafetyGuard = (*Guard)(nil)

// NewGuard returns the guard of cfg (its Governance, Budget, Blast, Store
// and thresholds).
func NewGuard(cfg Config) (*Guard, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	return newGuard(&s, cfg), nil
}

func newGuard(s *settings, cfg Config) *Guard {
	g := &Guard{s: s, gov: cfg.Governance, budget: cfg.Budget, blast: cfg.Blast, store: cfg.Store, clock: cfg.Clock}
	if g.store == nil {
		g.store = NewMemory(cfg.Clock)
	}
	if g.clock == nil {
		g.clock = baldur.SystemClock()
	}
	return g
}

// Verdict is the guard's full answer for one experiment.
type Verdict struct {
	// Allowed is true when nothing refuses; RequiresApproval when only the
	// blast-radius manager's approval is missing.
	Allowed, RequiresApproval bool
	// Reasons lists every refusal; Waived what Force waived.
	Reasons, Waived []string
}

func (v *Verdict) deny(r string) { v.Reasons = append(v.Reasons, r) }

// Check implements SafetyGuard for an instance-scope experiment on
// targetService at the default rate.
func (g *Guard) Check(ctx context.Context, experimentID, targetService string, force bool) SafetyDecision {
	e := Experiment{ID: experimentID, Target: Target{Service: targetService}, Rate: g.s.defaultRate, Scope: blastradius.ScopeInstance}
	v := g.Evaluate(ctx, e, force)
	if v.RequiresApproval {
		v.Reasons = append(v.Reasons, ReasonNeedsApproval)
	}
	return SafetyDecision{Allowed: v.Allowed, Reasons: append(v.Reasons, v.Waived...)}
}

// Evaluate checks whether e may start now without registering it.
func (g *Guard) Evaluate(ctx context.Context, e Experiment, force bool) Verdict {
	return g.evaluate(ctx, e, force, false)
}

// evaluate runs every start check; begin registers e with the
// blast-radius manager when all pass.
func (g *Guard) evaluate(ctx context.Context, e Experiment, force, begin bool) Verdict {
	var v Verdict
	now := g.clock.Now()
	for _, r := range g.continuing(ctx, now, g.s.minBudget) {
		v.deny(r)
	}
	if ctx.Err() != nil {
		return v
	}
	// An experiment scheduled for later is judged by the windows at its
	// start; the start re-runs every check at that time.
	at, later := now, e.StartAt.After(now)
	if later {
		at = e.StartAt
	}
	if !inWindows(e.windows(g.s), at) {
		if force {
			v.Waived = append(v.Waived, ReasonOutsideWindow)
		} else {
			v.deny(ReasonOutsideWindow)
		}
	}
	last, err := g.store.LastRun(ctx, e.Target.Service)
	switch {
	case err != nil:
		v.deny(ReasonStoreError)
	case !last.IsZero() && now.Sub(last) < g.s.cooldown:
		if force {
			v.Waived = append(v.Waived, ReasonCooldown)
		} else {
			v.deny(ReasonCooldown)
		}
	}
	if g.blast == nil {
		v.deny(ReasonNoBlastRadius)
		return v
	}
	scope := e.Scope
	if scope == "" {
		scope = blastradius.ScopeInstance
	}
	a := blastradius.Action{ID: e.ID, Kind: "chaos", Scope: scope, TargetService: e.Target.Service,
		Region: e.Target.Region, TrafficPercent: e.Rate * 100, WaiveWindow: force || (later && !begin)}
	var d blastradius.Decision
	if begin && len(v.Reasons) == 0 {
		d, err = g.blast.Begin(ctx, a)
	} else {
		d, err = g.blast.Check(ctx, a)
	}
	if err != nil {
		v.deny(ReasonNoBlastRadius)
		return v
	}
	for _, viol := range d.Violations {
		v.deny(ReasonBlastRadius + viol)
	}
	if force && !later && !d.WithinWindow {
		v.Waived = append(v.Waived, ReasonBlastRadius+blastradius.ViolationOutsideWindow)
	}
	if len(v.Reasons) == 0 {
		v.Allowed, v.RequiresApproval = d.Allowed, d.RequiresApproval
	}
	return v
}

// continuing returns the refusals that also abort a running experiment:
// a done ctx, chaos disabled, kill switch, emergency level >= 1, error
// budget below minBudget. Missing dependencies refuse.
func (g *Guard) continuing(ctx context.Context, now time.Time, minBudget float64) []string {
	var out []string
	if ctx.Err() != nil {
		return []string{ReasonContextDone}
	}
	if !g.s.enabled {
		out = append(out, ReasonDisabled)
	}
	if g.gov == nil {
		out = append(out, ReasonNoGovernance)
	} else {
		if !g.gov.SystemEnabled(ctx) {
			out = append(out, ReasonKillSwitch)
		}
		if blocked, _ := g.gov.EmergencyBlocking(ctx, baldur.Level1); blocked {
			out = append(out, ReasonEmergency)
		}
	}
	if g.budget == nil {
		out = append(out, ReasonNoBudget)
	} else if st := g.budget.Status(now); st.RemainingPct < minBudget {
		out = append(out, ReasonErrorBudget)
	}
	return out
}

// budgetStatus returns the remaining budget and the fastest burn rate.
func (g *Guard) budgetStatus(now time.Time) (remaining, burn float64) {
	if g.budget == nil {
		return 0, 0
	}
	st := g.budget.Status(now)
	if len(st.BurnRates) > 0 {
		burn = st.BurnRates[0].Rate
	}
	return st.RemainingPct, burn
}

func pctString(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + " %" }
