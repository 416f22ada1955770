package governance

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
)

// mutexGovernance is the baseline: the straightforward design this package
// avoids, a read-locked state struct consulted on every call.
type mutexGovernance struct {
	mu       sync.RWMutex
	killed   map[string]bool
	level    baldur.EmergencyLevel
	blocked  [baldur.NumTiers]bool
	counters map[baldur.Result]uint64
	cmu      sync.Mutex
}

func (m *mutexGovernance) admit(c *baldur.Call) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return !m.killed[c.Operation] && !m.killed[c.Service] && m.level < baldur.Level2 && !m.blocked[c.Tier]
}

func (m *mutexGovernance) release(r baldur.Result) {
	m.cmu.Lock()
	m.counters[r]++
	m.cmu.Unlock()
}

func BenchmarkGate(b *testing.B) {
	ctx := context.Background()
	b.Run("admit+release", func(b *testing.B) {
		f := newFixture(b, Config{})
		g := f.c.Gate()
		call := f.call("GET /items/{id}", baldur.TierStandard)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := g.Admit(ctx, call)
				if err != nil {
					assert.NoError(b, err)
					return
				}
				p.Release(baldur.Outcome{Result: baldur.Success})
			}
		})
	})
	b.Run("admit+release/restrictive", func(b *testing.B) {
		// An unrelated kill switch and LEVEL_1: the slow path runs, the
		// call is admitted.
		f := newFixture(b, Config{})
		f.c.Activate(ctx, KillSwitch{Scope: ScopeOperation, Pattern: "GET /other/*", Reason: "r"})
		f.c.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
		g := f.c.Gate()
		call := f.call("GET /items/{id}", baldur.TierStandard)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := g.Admit(ctx, call)
				if err != nil {
					assert.NoError(b, err)
					return
				}
				p.Release(baldur.Outcome{Result: baldur.Success})
			}
		})
	})
	b.Run("reject/kill_switch", func(b *testing.B) {
		f := newFixture(b, Config{})
		f.c.Activate(ctx, KillSwitch{Scope: ScopeAll, Reason: "r"})
		g := f.c.Gate()
		call := f.call("GET /items/{id}", baldur.TierStandard)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := g.Admit(ctx, call); err == nil {
					assert.Error(b, err, "admitted")
					return
				}
			}
		})
	})
	b.Run("reject/emergency", func(b *testing.B) {
		// LEVEL_3 sheds non_essential entirely (fraction 0).
		f := newFixture(b, Config{})
		f.c.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
		g := f.c.Gate()
		call := f.call("GET /items/{id}", baldur.TierNonEssential)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := g.Admit(ctx, call); err == nil {
					assert.Error(b, err, "admitted")
					return
				}
			}
		})
	})
	b.Run("baseline/rwmutex", func(b *testing.B) {
		m := &mutexGovernance{killed: map[string]bool{}, counters: map[baldur.Result]uint64{}}
		call := baldur.Call{Operation: "GET /items/{id}", Service: "shop"}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if m.admit(&call) {
					m.release(baldur.Success)
				}
			}
		})
	})
	b.Run("baseline/noop", func(b *testing.B) {
		var n baldur.NoOpGovernance
		req := baldur.GovernanceRequest{Operation: "GET /items/{id}"}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = n.CheckAll(ctx, req)
			}
		})
	})
}

func BenchmarkCheckAll(b *testing.B) {
	f := newFixture(b, Config{})
	req := baldur.GovernanceRequest{Operation: "dlq.replay", Service: "orders"}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = f.c.CheckAll(ctx, req)
		}
	})
}

// BenchmarkBudgetEvaluate measures one evaluation of the remaining budget
// with the default 30-day window of 1-minute buckets, every bucket in use.
func BenchmarkBudgetEvaluate(b *testing.B) {
	f := newFixture(b, Config{})
	bud := f.c.Budget()
	now := f.clk.Now()
	for m := range 30 * 24 * 60 {
		bud.Record(now.Add(-time.Duration(m)*time.Minute), baldur.Success)
	}
	b.Run("RemainingPct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = bud.RemainingPct(now)
		}
	})
	b.Run("BudgetDecider.Check", func(b *testing.B) {
		g := f.c.BudgetDecider()
		b.ReportAllocs()
		for b.Loop() {
			_ = g.Check(now, baldur.TierStandard, "")
		}
	})
	b.Run("Status", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = bud.Status(now)
		}
	})
	b.Run("RemainingPct/advancing", func(b *testing.B) {
		// One evaluation a second, as the per-call re-evaluation does: a
		// bucket is sealed every 60th. A budget of its own: b.Loop may run
		// this function more than once, and going back in time starts the
		// running sums over.
		f := newFixture(b, Config{})
		bud := f.c.Budget()
		at := f.clk.Now()
		b.ReportAllocs()
		for b.Loop() {
			at = at.Add(time.Second)
			_ = bud.RemainingPct(at)
		}
	})
}
