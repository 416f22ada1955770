package governance

import (
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// BudgetGate decides whether the error budget blocks a tier in a region.
// Thresholds resolve region tier, region default, tier, then global. Once a
// (region, tier) is blocked it stays blocked until the remaining budget is
// back at BlockPct + HysteresisPct, so a budget hovering at the threshold
// does not flap. It implements baldur.ErrorBudgetGate and is safe for
// concurrent use.
type BudgetGate struct {
	budget     *Budget
	hysteresis float64
	// rows[0] holds the thresholds of regions without an override; rows[i]
	// those of regionNames[i-1].
	rows        [][baldur.NumTiers]Threshold
	regionIdx   map[string]int
	regionNames []string
	global      Threshold
	blocked     [][baldur.NumTiers]atomic.Bool
	replay      atomic.Bool // blocked state of the global threshold
	onFlip      func()      // invalidates the Checker's snapshot
}

var _ baldur.ErrorBudgetGate = (*BudgetGate)(nil)

func newBudgetGate(b *Budget, s *settings) *BudgetGate {
	g := &BudgetGate{budget: b, hysteresis: s.hysteresis, global: s.global, regionIdx: map[string]int{}}
	g.rows = append(g.rows, s.tiers)
	for name, row := range s.regions {
		g.regionIdx[name] = len(g.rows)
		g.regionNames = append(g.regionNames, name)
		g.rows = append(g.rows, row)
	}
	g.blocked = make([][baldur.NumTiers]atomic.Bool, len(g.rows))
	return g
}

// row returns the threshold row index of region.
func (g *BudgetGate) row(region string) int {
	if len(g.regionIdx) == 0 || region == "" {
		return 0
	}
	return g.regionIdx[region] // 0 when absent
}

// Threshold returns the threshold that applies to tier in region.
func (g *BudgetGate) Threshold(tier baldur.Tier, region string) Threshold {
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
func (g *BudgetGate) Check(now time.Time, tier baldur.Tier, region string) baldur.ErrorBudgetDecision {
	return g.check(g.budget.RemainingPct(now), tier, region, true)
}

func (g *BudgetGate) check(remaining float64, tier baldur.Tier, region string, notify bool) baldur.ErrorBudgetDecision {
	var d baldur.ErrorBudgetDecision
	var flipped bool
	if !tier.Valid() {
		d, flipped = decide(&g.replay, g.global, g.hysteresis, remaining)
	} else {
		r := g.row(region)
		d, flipped = decide(&g.blocked[r][tier], g.rows[r][tier], g.hysteresis, remaining)
	}
	if flipped && notify && g.onFlip != nil {
		g.onFlip()
	}
	return d
}

// ReplayAllowed reports whether automated replays may run at now: the
// budget is above the global threshold (with hysteresis).
func (g *BudgetGate) ReplayAllowed(now time.Time) bool {
	return !g.check(g.budget.RemainingPct(now), baldur.Tier(255), "", true).Blocked
}

// budgetView is the budget part of a snapshot.
type budgetView struct {
	remaining  float64
	decisions  [][baldur.NumTiers]baldur.ErrorBudgetDecision // by row
	anyBlocked bool
}

// evaluate decides every (region, tier) at once for a snapshot.
func (g *BudgetGate) evaluate(now time.Time) budgetView {
	v := budgetView{remaining: g.budget.RemainingPct(now)}
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

func (g *BudgetGate) reset() {
	for r := range g.blocked {
		for t := range g.blocked[r] {
			g.blocked[r][t].Store(false)
		}
	}
	g.replay.Store(false)
}
