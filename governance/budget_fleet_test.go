package governance

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// fleetOracle is the brute-force fleet view: the others' counts per period.
type fleetOracle map[int64]BucketCounts

// sum returns the others' counts over the k buckets ending at now.
func (o fleetOracle) sum(now, k int64) (s BucketCounts) {
	for p, c := range o {
		if p > now-k && p <= now {
			s.Total += c.Total
			s.Failed += c.Failed
		}
	}
	return s
}

// TestBudgetFleetDifferential drives a Budget with local records, pushed
// fleet buckets (new, rewritten, late, ahead of the clock) and evaluations
// at moving times (ahead of the records, then back), and holds every
// window's totals to a brute force over local plus others' counts.
func TestBudgetFleetDifferential(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 7))
			cfg := Config{SLOTarget: 0.9, BudgetWindow: baldur.Duration(time.Minute), BudgetBucket: baldur.Duration(time.Second), BudgetMinCalls: 1,
				BurnWindows: []BurnWindow{{Long: 30 * time.Second, Short: 5 * time.Second, Factor: 1}}}
			b := newTestBudget(t, cfg)
			b.AttachFleet()
			local, others := fleetOracle{}, fleetOracle{}
			now := t0
			width := int64(time.Second)
			per := make([]sums, 1+len(b.windows))
			for step := range 3000 {
				switch r := rng.IntN(10); {
				case r < 4:
					res, c := baldur.Success, local[now.UnixNano()/width]
					c.Total++
					if rng.IntN(3) == 0 {
						res = baldur.Failure
						c.Failed++
					}
					b.Record(now, res)
					local[now.UnixNano()/width] = c
				case r < 7:
					nowIdx := now.UnixNano() / width
					p := nowIdx - int64(rng.IntN(70)) + int64(rng.IntN(4)) // late, current, a little ahead
					c := BucketCounts{Total: uint64(rng.IntN(50))}
					c.Failed = uint64(rng.IntN(int(c.Total) + 1))
					b.UpdateFleet(FleetUpdate{Buckets: []FleetBucket{{Period: p, BucketCounts: c}}, Fresh: true})
					others[p] = c
				case r < 8:
					now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				case r < 9:
					// Behind the last evaluation: the local sums start over
					// and lose what the ring recycled, so only the others'
					// share is exact.
					at := now.Add(-time.Duration(rng.IntN(20)) * time.Second)
					b.evaluate(at, per)
					require.Equal(t, others.sum(at.UnixNano()/width, b.n), b.FleetState().Others, "step %d", step)
				default:
					nowIdx := now.UnixNano() / width
					b.evaluate(now, per)
					for i, w := range b.ev.wins {
						k := w.k
						l, o := local.sum(nowIdx, k), others.sum(nowIdx, k)
						require.Equal(t, l.Total+o.Total, per[i].total, "step %d window %d total", step, i)
						require.Equal(t, l.Failed+o.Failed, per[i].failed, "step %d window %d failed", step, i)
					}
					assert.Equal(t, others.sum(nowIdx, b.n), b.FleetState().Others)
				}
			}
		})
	}
}

// TestBudgetFleetFallback: a stale view evaluates local counts alone, is
// flagged and counted; a fresh one evaluates fleet totals again.
func TestBudgetFleetFallback(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{SLOTarget: 0.99, BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1})
	for range 1000 {
		b.Record(t0, baldur.Success)
	}
	idx := t0.UnixNano() / b.width
	assert.Equal(t, FleetState{}, b.FleetState(), "not attached")

	b.AttachFleet()
	assert.Equal(t, FleetState{Attached: true, Fallback: true}, b.FleetState(), "attached, no fresh view yet")
	b.UpdateFleet(FleetUpdate{Buckets: []FleetBucket{{Period: idx, BucketCounts: BucketCounts{Total: 1000, Failed: 10}}}})
	assert.Equal(t, 100.0, b.RemainingPct(t0), "a view not yet fresh is not used")

	b.UpdateFleet(FleetUpdate{Fresh: true})
	// 2000 calls allow 20 failures; 10 spent.
	assert.InDelta(t, 50, b.RemainingPct(t0), 1e-9)
	st := b.FleetState()
	assert.Equal(t, FleetState{Attached: true, Fleet: true, Others: BucketCounts{Total: 1000, Failed: 10}}, st)

	b.UpdateFleet(FleetUpdate{Fresh: false})
	assert.Equal(t, 100.0, b.RemainingPct(t0), "stale: local counts alone")
	st = b.FleetState()
	assert.True(t, st.Fallback)
	assert.EqualValues(t, 1, st.Fallbacks)

	b.UpdateFleet(FleetUpdate{Fresh: true})
	assert.InDelta(t, 50, b.RemainingPct(t0), 1e-9, "fresh again: the counts were kept")
	b.UpdateFleet(FleetUpdate{Reset: true, Fresh: true})
	assert.Equal(t, 100.0, b.RemainingPct(t0), "reset drops the others' counts")

	b.DetachFleet()
	assert.Equal(t, FleetState{}, b.FleetState())
}

// TestBudgetFleetBlocksHealthyReplica: a replica whose own calls all
// succeed blocks a tier once the fleet's budget is below its threshold,
// after Reevaluate, without a record of its own.
func TestBudgetFleetBlocksHealthyReplica(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{SLOTarget: 0.99, BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1})
	c, clk := f.c, f.clk
	b := c.Budget()
	now := clk.Now()
	for range 1000 {
		b.Record(now, baldur.Success)
	}
	blocked, _, _ := c.ErrorBudgetBlocking(t.Context(), baldur.TierStandard, "")
	require.False(t, blocked)
	b.AttachFleet()
	b.UpdateFleet(FleetUpdate{Fresh: true, Buckets: []FleetBucket{{Period: now.UnixNano() / b.width, BucketCounts: BucketCounts{Total: 1000, Failed: 19}}}})
	clk.Advance(2 * time.Second)
	b.Reevaluate(clk.Now())
	res := c.CheckAll(t.Context(), baldur.GovernanceRequest{Operation: "op", Tier: baldur.TierStandard})
	assert.False(t, res.Allowed, "2000 calls allow 20 failures, 19 spent: 5 % left, below standard's 10 %")
	assert.Equal(t, baldur.BlockErrorBudget, res.Reason)
}

// TestBudgetFleetRecordAllocs: attaching a fleet view leaves Record
// allocation-free, and so is the per-call re-evaluation over fleet totals.
func TestBudgetFleetRecordAllocs(t *testing.T) {
	b := newTestBudget(t, Config{BudgetMinCalls: 1})
	b.AttachFleet()
	idx := t0.UnixNano() / b.width
	b.UpdateFleet(FleetUpdate{Fresh: true, Buckets: []FleetBucket{{Period: idx, BucketCounts: BucketCounts{Total: 10}}}})
	now := t0
	assert.Zero(t, testing.AllocsPerRun(1000, func() { b.Record(now, baldur.Success) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		_, _ = b.tryRemaining(now.UnixNano())
	}))
}

// BenchmarkBudgetFleet compares Record and the per-call re-evaluation with
// and without a fresh fleet view attached (the others' counts in every
// bucket of the default 30-day window).
func BenchmarkBudgetFleet(b *testing.B) {
	for _, attached := range []bool{false, true} {
		bg := newTestBudget(b, Config{BudgetMinCalls: 1})
		if attached {
			bg.AttachFleet()
			idx := t0.UnixNano() / bg.width
			var u FleetUpdate
			for p := idx - bg.n + 1; p <= idx; p++ {
				u.Buckets = append(u.Buckets, FleetBucket{Period: p, BucketCounts: BucketCounts{Total: 100, Failed: 1}})
			}
			u.Fresh = true
			bg.UpdateFleet(u)
		}
		name := "local"
		if attached {
			name = "fleet"
		}
		b.Run("record/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bg.Record(t0, baldur.Success)
			}
		})
		b.Run("evaluate/"+name, func(b *testing.B) {
			b.ReportAllocs()
			now := t0
			for b.Loop() {
				now = now.Add(time.Second)
				_, _ = bg.tryRemaining(now.UnixNano())
			}
		})
	}
}
