package redisstore

import (
	"testing"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
)

// BenchmarkGovernanceAdmit is the governance gate's Admit+Release with the
// in-memory store and with the Redis store, in the same run: the gate reads
// the snapshot only, so the two must cost the same. "restrictive" has an
// unrelated kill switch and LEVEL_1 in force, so the checks run.
func BenchmarkGovernanceAdmit(b *testing.B) {
	s := shared.Get(b)
	for _, restrictive := range []bool{false, true} {
		for _, store := range []string{"memory", "redis"} {
			name := store
			if restrictive {
				name = "restrictive/" + store
			}
			b.Run(name, func(b *testing.B) {
				cfg := governance.Config{Alerts: &alerts{}, Audit: &governance.MemoryAudit{}}
				if store == "redis" {
					be, err := New(bgctx, s.Client(b, nil), Config{Logger: discard(), Scripts: GovernanceScripts})
					if err != nil {
						b.Fatal(err)
					}
					st, err := NewGovernance(bgctx, be, GovernanceConfig{Name: "bench-" + name, Logger: discard()})
					if err != nil {
						b.Fatal(err)
					}
					cfg.Store = st
				}
				c, err := governance.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if restrictive {
					c.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /other/*", Reason: "r"})
					c.Emergency().Trigger(bgctx, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
				} else {
					c.Deactivate(bgctx, governance.ScopeOperation, "GET /other/*")
					c.Emergency().StepDown(bgctx, "", "")
				}
				g := c.Gate()
				call := baldur.Call{Operation: "GET /items/{id}", Service: "shop", Tier: baldur.TierStandard}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					p, err := g.Admit(bgctx, call)
					if err != nil {
						b.Fatal(err)
					}
					p.Release(baldur.Outcome{Result: baldur.Success})
				}
			})
		}
	}
}
