package bulkhead_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/gatetest"
)

var conformanceStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func occupancy(ss ...*bulkhead.Semaphore) int {
	n := 0
	for _, s := range ss {
		st := s.State()
		n += st.Active + st.Waiting
	}
	return n
}

// TestSemaphoreConformance runs the shared gate suite against a semaphore
// that fails fast and one that waits: the suite advances the fake clock past
// MaxWait to end the waits it expects to time out.
func TestSemaphoreConformance(t *testing.T) {
	for name, wait := range map[string]time.Duration{"fail_fast": 0, "wait": 50 * time.Millisecond} {
		t.Run(name, func(t *testing.T) {
			gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
				clk := clock.NewFake(conformanceStart)
				s, err := bulkhead.New(bulkhead.Config{Name: "conformance", MaxConcurrent: 4, MaxWait: baldur.Duration(wait), Clock: clk})
				require.NoError(t, err)
				sub := &gatetest.Subject{
					Gate:  s,
					Call:  baldur.Call{Operation: "GET /items/{id}", Tier: baldur.TierStandard, Now: clk.Now()},
					InUse: func() int { return occupancy(s) },
					Limit: 4,
					Waits: true,
				}
				if wait > 0 {
					sub.WaitClock = clk
				}
				return sub
			}})
		})
	}
}

// TestTieredConformance runs the shared gate suite against the per-tier
// admission gate, admitting standard calls into their compartment.
func TestTieredConformance(t *testing.T) {
	for name, wait := range map[string]time.Duration{"fail_fast": 0, "wait": 30 * time.Millisecond} {
		t.Run(name, func(t *testing.T) {
			gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
				clk := clock.NewFake(conformanceStart)
				g, err := bulkhead.NewTiered(bulkhead.TieredConfig{
					Tiers: map[baldur.Tier]bulkhead.TierLimit{baldur.TierStandard: {MaxConcurrent: 3, MaxWait: baldur.Duration(wait)}},
					Clock: clk,
				})
				require.NoError(t, err)
				sub := &gatetest.Subject{
					Gate:  g,
					Call:  baldur.Call{Operation: "GET /items/{id}", Tier: baldur.TierStandard, Now: clk.Now()},
					InUse: func() int { return occupancy(g.Compartments()...) },
					Limit: 3,
					Waits: true,
				}
				if wait > 0 {
					sub.WaitClock = clk
				}
				return sub
			}})
		})
	}
}

// TestPoolConformance runs the shared gate suite against a worker pool used
// as a gate: Admit takes a place (a worker or a queue slot) and the permit
// gives it back when the work never runs.
func TestPoolConformance(t *testing.T) {
	gatetest.Run(t, gatetest.Harness{New: func(t testing.TB) *gatetest.Subject {
		clk := clock.NewFake(conformanceStart)
		p, err := bulkhead.NewPool(bulkhead.PoolConfig{Name: "conformance", Workers: 2, QueueSize: 2, Clock: clk})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, p.Close()) })
		return &gatetest.Subject{
			Gate: p,
			Call: baldur.Call{Operation: "GET /items/{id}", Tier: baldur.TierStandard, Now: clk.Now()},
			InUse: func() int {
				st := p.State()
				return st.Active + st.Waiting
			},
			Limit: 4,
			Waits: true,
		}
	}})
}
