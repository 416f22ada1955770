package governance

import (
	"context"
	"sync"
	"testing"

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
					b.Fatal(err)
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
					b.Fatal(err)
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
					b.Fatal("admitted")
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
