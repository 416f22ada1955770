package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/fake"
	"github.com/baldur-go/baldur/bench/internal/peer"
)

// The hot-path benchmarks name the implementation in the last path element,
// so that "benchstat -col /impl" compares ours with the peers of the same
// run. Paths are admit (every gate admits) and reject (the throttle stage,
// or a peer's rate limiter, rejects).
//
//	impl=baldur-fake   baldur.Policy over four zero-cost gates (internal/fake):
//	                   the cost of the chain machinery alone.
//	impl=baldur        governance + throttle + blast + bulkhead, the real
//	                   gates, policy resolved from the registry per call.
//	impl=baldur-nobreaker  the same without blast: the breaker's share.
//	impl=failsafe      failsafe-go v0.9 rate limiter + bulkhead + circuit breaker.
//	impl=handrolled    x/time/rate + channel semaphore + gobreaker two-step breaker.

var benchCall = baldur.Call{
	Operation: "GET /items/{id}",
	Service:   "bench",
	Key:       "203.0.113.7",
	Tier:      baldur.TierStandard,
}

var okOutcome = baldur.Outcome{Result: baldur.Success, Status: 200}

// benchPolicy measures p.Admit + Ticket.Release in parallel. On the reject
// path every Admit must fail with a rejection; on the admit path none may.
func benchPolicy(b *testing.B, p *baldur.Policy, m peer.Mode) {
	b.Helper()
	ctx := context.Background()
	_, err := p.Admit(ctx, benchCall)
	require.Equal(b, m == peer.Reject, err != nil, "%s path: Admit error = %v", m, err)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := benchCall
		for pb.Next() {
			t, err := p.Admit(ctx, c)
			if err != nil {
				continue
			}
			t.Release(okOutcome)
		}
	})
}

func noop() error { return nil }

func BenchmarkChain(b *testing.B) {
	for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
		b.Run("path="+m.String(), func(b *testing.B) {
			b.Run("impl=baldur-fake", func(b *testing.B) {
				p := fake.Chain("bench")
				if m == peer.Reject {
					p = fake.RejectingChain("bench")
				}
				benchPolicy(b, p, m)
			})
			for _, c := range realChains {
				b.Run("impl="+c.name, func(b *testing.B) {
					reg, err := c.build(benchCall.Key, stageFor(m))
					require.NoError(b, err)
					benchRegistry(b, reg, m)
				})
			}
			b.Run("impl=failsafe", func(b *testing.B) {
				ex := peer.FailsafeExecutor[any](m)
				err := ex.Run(noop)
				require.Equal(b, m == peer.Reject, err != nil, "%s path: Run error = %v", m, err)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						_ = ex.Run(noop)
					}
				})
			})
			b.Run("impl=handrolled", func(b *testing.B) {
				h := peer.NewHandrolled(m)
				err := h.Do(noop)
				require.Equal(b, m == peer.Reject, err != nil, "%s path: Do error = %v", m, err)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						_ = h.Do(noop)
					}
				})
			})
		})
	}
}

// BenchmarkBare is the floor: the benchmark loop calling a no-op.
func BenchmarkBare(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = noop()
		}
	})
}

// TestChainsAgree checks the benchmarks measure what they claim: each chain
// admits in admit mode and rejects, with its own error, in reject mode.
func TestChainsAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := fake.Chain("t").Admit(ctx, benchCall)
	require.NoError(t, err, "fake chain rejected")
	_, err = fake.RejectingChain("t").Admit(ctx, benchCall)
	require.ErrorIs(t, err, baldur.ErrThrottled, "rejecting fake chain")
	require.ErrorIs(t, peer.NewHandrolled(peer.Reject).Do(noop), peer.ErrLimited, "handrolled reject")
	require.Error(t, peer.FailsafeExecutor[any](peer.Reject).Run(noop), "failsafe reject mode admitted")
	require.NoError(t, peer.FailsafeExecutor[any](peer.Admit).Run(noop), "failsafe admit mode")
}

func TestFakeChainZeroAlloc(t *testing.T) {
	ctx := context.Background()
	for _, p := range []*baldur.Policy{fake.Chain("t"), fake.RejectingChain("t")} {
		allocs := testing.AllocsPerRun(100, func() {
			tk, err := p.Admit(ctx, benchCall)
			if err == nil {
				tk.Release(okOutcome)
			}
		})
		assert.Zero(t, allocs, "policy %v: allocs per call", p.Name())
	}
}
