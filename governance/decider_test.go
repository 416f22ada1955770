package governance

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// setRemaining feeds the budget (SLO 0.99, 10 000 calls) so that exactly
// pct % of it remains.
func setRemaining(b *Budget, at time.Time, pct int) {
	b.reset()
	failed := (100 - pct) // of 100 allowed failures
	for i := range 10000 {
		r := baldur.Success
		if i < failed {
			r = baldur.Failure
		}
		b.Record(at, r)
	}
}

func TestBudgetDeciderHysteresis(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{SLOTarget: 0.99})
	g, b := f.c.BudgetDecider(), f.c.Budget()
	now := f.clk.Now()
	steps := []struct {
		pct              int
		blocked, warning bool
	}{
		{50, false, false},
		{25, false, true},
		{14, true, true},  // below 15: blocks critical
		{15, true, true},  // at the threshold: still blocked (hysteresis)
		{16, true, true},  // < 15+2
		{17, false, true}, // recovered
		{16, false, true}, // not blocked again until below 15
		{10, true, true},
	}
	for _, s := range steps {
		setRemaining(b, now, s.pct)
		d := g.Check(now, baldur.TierCritical, "")
		require.Equal(t, s.blocked, d.Blocked, "at %d %%: %+v", s.pct, d)
		require.Equal(t, s.warning, d.Warning, "at %d %%: %+v", s.pct, d)
		require.Equal(t, 15.0, d.ThresholdPct, "at %d %%: %+v", s.pct, d)
		require.Equal(t, 30.0, d.WarningPct, "at %d %%: %+v", s.pct, d)
		require.Equal(t, float64(s.pct), d.RemainingPct, "at %d %%: %+v", s.pct, d)
	}
	// The per-call gate follows, without waiting for the TTL.
	wantReason(t, f.admit(t, f.call("GET /a", baldur.TierCritical), baldur.Ignored), baldur.ReasonErrorBudget, time.Minute)
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Ignored), "non_essential at 10 % (threshold 5)")
}

func TestBudgetDeciderPrecedence(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{
		SLOTarget:       0.99,
		Thresholds:      map[baldur.Tier]Threshold{baldur.TierCritical: {BlockPct: 40, WarnPct: 50}},
		GlobalThreshold: &Threshold{BlockPct: 30, WarnPct: 60},
		RegionThresholds: map[string]RegionThresholds{
			"eu": {Default: &Threshold{BlockPct: 20, WarnPct: 70}, Tiers: map[baldur.Tier]Threshold{baldur.TierCritical: {BlockPct: 10, WarnPct: 80}}},
			"us": {Tiers: map[baldur.Tier]Threshold{baldur.TierStandard: {BlockPct: 5, WarnPct: 90}}},
		},
	})
	g := f.c.BudgetDecider()
	tests := []struct {
		tier   baldur.Tier
		region string
		want   float64
	}{
		{baldur.TierCritical, "eu", 10},     // region tier
		{baldur.TierStandard, "eu", 20},     // region default
		{baldur.TierCritical, "us", 40},     // tier (region has no default)
		{baldur.TierStandard, "us", 5},      // region tier
		{baldur.TierNonEssential, "us", 30}, // global
		{baldur.TierCritical, "ap", 40},     // unknown region: tier
		{baldur.TierStandard, "", 30},       // global
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, g.Threshold(tc.tier, tc.region).BlockPct, "Threshold(%v, %q)", tc.tier, tc.region)
		assert.Equal(t, tc.want, g.Check(f.clk.Now(), tc.tier, tc.region).ThresholdPct, "Check(%v, %q).ThresholdPct", tc.tier, tc.region)
	}
	// At 15 % remaining the same tier is blocked in one region, not another.
	setRemaining(f.c.Budget(), f.clk.Now(), 15)
	f.c.InvalidateCache()
	c := f.call("GET /a", baldur.TierCritical)
	c.Region = "eu"
	require.NoError(t, f.admit(t, c, baldur.Ignored), "eu critical (10 %)")
	c.Region = "us"
	wantReason(t, f.admit(t, c, baldur.Ignored), baldur.ReasonErrorBudget, time.Minute)
	require.False(t, f.c.BudgetDecider().ReplayAllowed(f.clk.Now()), "replay allowed below the global threshold")
}

// TestGateBudgetFollowsOutcomes feeds outcomes only through the gate's
// permits: a threshold crossing reaches the per-call gate within one
// BudgetEvalInterval, long before CacheTTL, and so does the recovery.
func TestGateBudgetFollowsOutcomes(t *testing.T) {
	t.Parallel()
	for _, every := range []time.Duration{0, 250 * time.Millisecond, 5 * time.Second} {
		t.Run(fmt.Sprint(every), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{SLOTarget: 0.99, BudgetMinCalls: 1, BudgetEvalInterval: baldur.Duration(every)})
			interval := every
			if interval == 0 {
				interval = time.Second
			}
			crit := func() baldur.Call { return f.call("GET /pay", baldur.TierCritical) }
			std := func() baldur.Call { return f.call("GET /list", baldur.TierStandard) }
			pass := func(c baldur.Call, r baldur.Result, n int) {
				t.Helper()
				for range n {
					require.NoError(t, f.admit(t, c, r), "%s at %v", c.Operation, f.clk.Now().Sub(t0))
				}
			}
			// 1000 calls, 9 failed: 1 - 9/10.09 = 10.8 % left, under the
			// critical threshold (15 %), over the standard one (10 %).
			pass(crit(), baldur.Success, 991)
			pass(crit(), baldur.Failure, 9)
			// Within the interval nothing is re-evaluated (Ignored
			// outcomes are not recorded): critical calls still pass.
			f.clk.Advance(interval / 2)
			pass(crit(), baldur.Ignored, 1)
			// The first outcome recorded an interval after the last
			// evaluation re-evaluates and the gate follows at once.
			f.clk.Advance(interval - interval/2)
			pass(std(), baldur.Success, 1)
			wantReason(t, f.admit(t, crit(), baldur.Ignored), baldur.ReasonErrorBudget, time.Minute)
			pass(std(), baldur.Ignored, 1)
			// Recovery needs 17 % (15 + 2 hysteresis): 9 failures
			// allowed over at least 1085 calls. 100 successes reach
			// 1101, but only an interval later does the gate see it.
			pass(std(), baldur.Success, 100)
			wantReason(t, f.admit(t, crit(), baldur.Ignored), baldur.ReasonErrorBudget, time.Minute)
			f.clk.Advance(interval)
			pass(std(), baldur.Success, 1)
			pass(crit(), baldur.Ignored, 1)
			require.Less(t, f.clk.Now().Sub(t0), 30*time.Second, "the test waited for the cache TTL")
		})
	}
}
