package governance

import (
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// BudgetDecider decides whether the error budget blocks a tier in a region.
// Thresholds resolve region tier, region default, tier, then global. Once a
// (region, tier) is blocked it stays blocked until the remaining budget is
// back at BlockPct + HysteresisPct, so a budget hovering at the threshold
// does not flap. It implements baldur.ErrorBudgetDecider and is safe for
// concurrent use.
type BudgetDecider struct {
	budget     *Budget
	hysteresis float64
	// rows[0] holds the thresholds of regions without an override; rows[i]
	// those of the region whose regionIdx is i.
	rows      [][baldur.NumTiers]Threshold
	regionIdx map[string]int
	global    Threshold
	blocked   [][baldur.NumTiers]atomic.Bool
	replay    atomic.Bool // blocked state of the global threshold
	// reportFlip reports that a blocked state flipped to the owner (the
	// Checker marks its snapshot stale). It may be called on the per-call
	// path and during a snapshot rebuild, so it must neither block nor
	// rebuild.
	reportFlip func()

	// every is Config.BudgetEvalInterval in ns; lastEval the recorded time
	// of the last re-evaluation driven by a record. Read by every record,
	// written about once per interval: kept off the lines written per call.
	every    int64
	_        [64]byte
	lastEval atomic.Int64
	_        [56]byte
}

var _ baldur.ErrorBudgetDecider = (*BudgetDecider)(nil)

// newBudgetDecider returns the decider over b's budget with the thresholds
// of s, and attaches it to b so that records re-evaluate it; flipped is
// called whenever a blocked state flips.
func newBudgetDecider(b *Budget, s *settings, flipped func()) *BudgetDecider {
	g := &BudgetDecider{budget: b, hysteresis: s.hysteresis, global: s.global, regionIdx: map[string]int{},
		every: int64(s.budgetEvery), reportFlip: flipped}
	b.decider = g
	g.rows = append(g.rows, s.tiers)
	for name, row := range s.regions {
		g.regionIdx[name] = len(g.rows)
		g.rows = append(g.rows, row)
	}
	g.blocked = make([][baldur.NumTiers]atomic.Bool, len(g.rows))
	return g
}

// row returns the threshold row index of region.
func (g *BudgetDecider) row(region string) int {
	if len(g.regionIdx) == 0 || region == "" {
		return 0
	}
	return g.regionIdx[region] // 0 when absent
}

// Threshold returns the threshold that applies to tier in region.
func (g *BudgetDecider) Threshold(tier baldur.Tier, region string) Threshold {
	if !tier.Valid() {
		return g.global
	}
	return g.rows[g.row(region)][tier]
}

// decide applies the threshold and hysteresis to remaining and reports
// whether the blocked state flipped.
func decide(flag *atomic.Bool, th Threshold, hyst, remaining float64) (d baldur.ErrorBudgetDecision, flipped bool) {
	d = baldur.ErrorBudgetDecision{RemainingPct: remaining, ThresholdPct: th.BlockPct, WarningPct: th.WarnPct}
	was := flag.Load()
	now := remaining < th.BlockPct || (was && remaining < th.BlockPct+hyst)
	if now != was {
		flipped = flag.CompareAndSwap(was, now)
	}
	d.Blocked = now
	d.Warning = remaining < th.WarnPct
	return d, flipped
}

// Check decides for tier in region at now. A tier outside the three known
// tiers uses the global threshold. When the blocked state flips, the
// Checker's cached evaluation is invalidated at once.
func (g *BudgetDecider) Check(now time.Time, tier baldur.Tier, region string) baldur.ErrorBudgetDecision {
	return g.check(g.budget.remainingAt(now.UnixNano(), sealLag), tier, region)
}

func (g *BudgetDecider) check(remaining float64, tier baldur.Tier, region string) baldur.ErrorBudgetDecision {
	var d baldur.ErrorBudgetDecision
	var flipped bool
	if !tier.Valid() {
		d, flipped = decide(&g.replay, g.global, g.hysteresis, remaining)
	} else {
		r := g.row(region)
		d, flipped = decide(&g.blocked[r][tier], g.rows[r][tier], g.hysteresis, remaining)
	}
	if flipped {
		g.reportFlip()
	}
	return d
}

// ReplayAllowed reports whether automated replays may run at now: the
// budget is above the global threshold (with hysteresis).
func (g *BudgetDecider) ReplayAllowed(now time.Time) bool {
	return !g.check(g.budget.remainingAt(now.UnixNano(), sealLag), baldur.Tier(255), "").Blocked
}

// reevaluate runs after a record at ns once Config.BudgetEvalInterval has
// passed since the last such run (on recorded times). The one caller that
// wins the CAS evaluates the budget (O(windows), never waiting for another
// evaluation) and decides every (region, tier); if a blocked state flipped,
// in either direction, the snapshot is invalidated, so the per-call gate
// follows a threshold crossing within one interval instead of one CacheTTL.
func (g *BudgetDecider) reevaluate(ns int64) {
	last := g.lastEval.Load()
	if ns-last < g.every || !g.lastEval.CompareAndSwap(last, ns) {
		return
	}
	remaining, ok := g.budget.tryRemaining(ns)
	if !ok {
		// An evaluation is in progress elsewhere; let the next record retry.
		g.lastEval.CompareAndSwap(ns, last)
		return
	}
	flipped := false
	for r := range g.rows {
		for t := range baldur.Tier(baldur.NumTiers) {
			_, f := decide(&g.blocked[r][t], g.rows[r][t], g.hysteresis, remaining)
			flipped = flipped || f
		}
	}
	if flipped {
		g.reportFlip()
	}
}

// budgetView is the budget part of a snapshot.
type budgetView struct {
	remaining  float64
	decisions  [][baldur.NumTiers]baldur.ErrorBudgetDecision // by row
	anyBlocked bool
}

// evaluate decides every (region, tier) at once for a snapshot.
func (g *BudgetDecider) evaluate(now time.Time) budgetView {
	v := budgetView{remaining: g.budget.remainingAt(now.UnixNano(), sealLag)}
	v.decisions = make([][baldur.NumTiers]baldur.ErrorBudgetDecision, len(g.rows))
	for r := range g.rows {
		for t := range baldur.Tier(baldur.NumTiers) {
			d, _ := decide(&g.blocked[r][t], g.rows[r][t], g.hysteresis, v.remaining)
			v.decisions[r][t] = d
			v.anyBlocked = v.anyBlocked || d.Blocked
		}
	}
	return v
}
