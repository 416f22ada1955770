package governance

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestExemptCache(t *testing.T) {
	var pats []pattern
	for i, p := range DefaultExemptOperations {
		cp, err := compilePattern(fmt.Sprint(i), p)
		require.NoError(t, err)
		pats = append(pats, cp)
	}
	e := newExemptSet(pats)
	tests := []struct {
		op   string
		want bool
	}{
		{"GET /healthz", true},
		{"GET /health/db", true},
		{"/grpc.health.v1.Health/Check", true},
		{"POST /admin/kill", true},
		{"GET /items/{id}", false},
		{"GET /administer", false},
		{"", false},
		{"x", false},
		{"1234567", false},
		{"12345678", false},
	}
	for range 2 { // cold, then cached
		for _, tc := range tests {
			assert.Equal(t, tc.want, e.has(tc.op), "has(%q)", tc.op)
		}
	}
	// Far more operations than slots: decisions stay right, the table
	// stays bounded, and a cached operation costs no allocation.
	for i := range 3 * exemptCacheSize {
		op := fmt.Sprintf("GET /u/%d", i)
		if i%3 == 0 {
			op += "/healthz"
		}
		require.Equal(t, i%3 == 0, e.has(op), "has(%q)", op)
	}
	filled := 0
	for i := range e.slots {
		if e.slots[i].Load() != nil {
			filled++
		}
	}
	require.LessOrEqual(t, filled, exemptCacheSize, "slots filled")
	require.GreaterOrEqual(t, filled, exemptCacheSize/2, "slots filled")
	require.Zero(t, testing.AllocsPerRun(100, func() { e.has("GET /healthz") }), "cached lookup allocates")
	require.False(t, newExemptSet(nil).has("GET /healthz"), "no patterns exempts")
}

// TestAuditDropsConcurrent rejects from several goroutines; every call is
// either written or counted as dropped, and the written records carry
// every drop exactly once.
func TestAuditDropsConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AuditRate: 1000, AuditBurst: 3})
	f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	const workers, per = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if w == 0 && i%100 == 0 {
					f.clk.Advance(time.Millisecond) // lets a record through now and then
				}
				_ = f.admit(t, f.call("GET /a", 0), baldur.Success)
			}
		}()
	}
	wg.Wait()
	f.clk.Advance(time.Second)
	_ = f.admit(t, f.call("GET /a", 0), baldur.Success) // carries the last drops
	recs := f.audit.Records()
	var carried uint64
	for _, r := range recs {
		carried += r.Dropped
	}
	dropped := f.c.AuditDropped(baldur.BlockKillSwitch)
	require.Equal(t, uint64(workers*per+1), uint64(len(recs))+dropped, "%d records carrying %d drops, %d dropped", len(recs), carried, dropped)
	require.Equal(t, dropped, carried, "drops carried by the written records")
}

func TestGateRejectZeroAllocs(t *testing.T) {
	tests := []struct {
		name string
		set  func(f *fixture)
		call baldur.Call
	}{
		{"kill switch", func(f *fixture) { f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}) }, baldur.Call{Operation: "GET /items/{id}"}},
		{"operation switch", func(f *fixture) {
			f.c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /items/*", Reason: "r"})
		}, baldur.Call{Operation: "GET /items/{id}"}},
		{"emergency", func(f *fixture) {
			f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
		}, baldur.Call{Operation: "GET /items/{id}", Tier: baldur.TierNonEssential}},
		{"exempt under kill switch", func(f *fixture) { f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}) }, baldur.Call{Operation: "GET /healthz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Config{})
			tc.set(f)
			g := f.c.Gate()
			c := tc.call
			c.Now = f.clk.Now()
			for range 20 { // spend the audit burst, warm the exempt cache
				g.Admit(bg, c)
			}
			require.Zero(t, testing.AllocsPerRun(1000, func() { g.Admit(bg, c) }), "allocates")
		})
	}
}
