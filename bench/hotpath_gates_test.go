package bench

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/ours"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/baldur-go/baldur/registry"
)

// realChain is a chain of our real gates measured by BenchmarkChain next to
// the peers. Its policy is resolved from the registry on every call, as the
// middleware and interceptor do, so the resolution is part of the cost.
type realChain struct {
	name  string
	build func(key string, reject ours.Stage) (*registry.Registry, error)
}

// realChains: impl=baldur is the full chain (governance, throttle, blast,
// bulkhead); impl=baldur-nobreaker leaves out blast, so that the breaker's
// share is the difference of the two; impl=baldur-coarse is the full chain on
// a clock.Coarse, without the per-call time.Now.
var realChains = []realChain{
	{"baldur", ours.FullRegistry},
	{"baldur-nobreaker", ours.NoBreakerRegistry},
	{"baldur-coarse", ours.CoarseRegistry},
}

func stageFor(m peer.Mode) ours.Stage {
	if m == peer.Reject {
		return ours.Throttle // as the peers: the rate limiter rejects
	}
	return ours.None
}

func benchRegistry(b *testing.B, reg *registry.Registry, m peer.Mode) {
	b.Helper()
	ctx := context.Background()
	_, err := reg.Policy(ours.Operation).Admit(ctx, benchCall)
	require.Equal(b, m == peer.Reject, err != nil, "%s path: Admit error = %v", m, err)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := benchCall
		for pb.Next() {
			t, err := reg.Policy(c.Operation).Admit(ctx, c)
			if err != nil {
				continue
			}
			t.Release(okOutcome)
		}
	})
}

// BenchmarkGate measures each real gate alone: Admit and, when admitted,
// the permit's Release, with no Policy around it. The reject path drives
// the gate itself into rejecting (kill switch, empty bucket, forced-open
// breaker, full fail-fast bulkhead).
func BenchmarkGate(b *testing.B) {
	for _, st := range []ours.Stage{ours.Governance, ours.Throttle, ours.Blast, ours.Bulkhead} {
		for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
			b.Run("gate="+st.String()+"/path="+m.String(), func(b *testing.B) {
				reject := ours.None
				if m == peer.Reject {
					reject = st
				}
				gs, err := ours.NewGates(benchCall.Key, reject)
				require.NoError(b, err)
				g := map[ours.Stage]baldur.Gate{
					ours.Governance: gs.Governance, ours.Throttle: gs.Throttle,
					ours.Blast: gs.Blast, ours.Bulkhead: gs.Bulkhead,
				}[st]
				benchGate(b, g, m)
			})
		}
	}
}

func benchGate(b *testing.B, g baldur.Gate, m peer.Mode) {
	b.Helper()
	ctx := context.Background()
	c := benchCall
	c.Now = baldur.SystemClock().Now()
	p, err := g.Admit(ctx, c)
	require.Equal(b, m == peer.Reject, err != nil, "%s path: Admit error = %v", m, err)
	p.Release(okOutcome)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		clk := baldur.SystemClock()
		c := benchCall
		for pb.Next() {
			c.Now = clk.Now() // the adapter's one clock read per call
			p, err := g.Admit(ctx, c)
			if err != nil {
				continue
			}
			p.Release(okOutcome)
		}
	})
}

// TestRealChains checks the real chains admit in admit mode and reject with
// the throttle's rejection in reject mode, allocation-free both ways, and
// that the registry routes both the HTTP and the gRPC operation.
func TestRealChains(t *testing.T) {
	ctx := context.Background()
	for _, c := range realChains {
		for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
			reg, err := c.build(benchCall.Key, stageFor(m))
			require.NoError(t, err, c.name)
			for _, op := range []string{ours.Operation, ours.GRPCOperation} {
				require.NotNil(t, reg.Policy(op), "%s: no policy for %q", c.name, op)
			}
			run := func() {
				tk, err := reg.Policy(benchCall.Operation).Admit(ctx, benchCall)
				if m == peer.Admit && err != nil {
					t.Fatalf("%s admit: %v", c.name, err)
				}
				if m == peer.Reject && !errors.Is(err, baldur.ErrThrottled) {
					t.Fatalf("%s reject: err = %v, want ErrThrottled", c.name, err)
				}
				tk.Release(okOutcome)
			}
			run()
			assert.Zero(t, testing.AllocsPerRun(100, run), "%s %s: allocs per call", c.name, m)
		}
	}
}

// TestGatesRejectAlone checks every gate's reject mode rejects with its own
// reason.
func TestGatesRejectAlone(t *testing.T) {
	want := map[ours.Stage]error{
		ours.Governance: baldur.ErrKillSwitch, ours.Throttle: baldur.ErrThrottled,
		ours.Blast: baldur.ErrBreakerOpen, ours.Bulkhead: baldur.ErrBulkheadFull,
	}
	for st, sentinel := range want {
		gs, err := ours.NewGates(benchCall.Key, st)
		require.NoError(t, err)
		c := benchCall
		c.Now = baldur.SystemClock().Now()
		_, err = ours.NewPolicyOf(gs).Admit(context.Background(), c)
		assert.ErrorIs(t, err, sentinel, "reject at %s", st)
	}
}
