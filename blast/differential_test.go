package blast

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

var errFailed, errIgnored = errors.New("failed"), errors.New("ignored")

// TestDifferentialGobreaker feeds one partition and a plain gobreaker
// TwoStepCircuitBreaker the same random interleaving of admissions and
// outcomes (several calls in flight, outcomes out of order, ignored calls)
// and requires the same admission decision and state after every step.
//
// gobreaker reads time.Now itself, so the sequences are built so that time
// does not matter: the window never rolls (gobreaker: Interval 0; here: a
// window far longer than the test) and the open timeout is either far longer
// than the test (open absorbs the rest) or 1 ns (every open breaker is
// half-open by the next step: the fake clock moves 1 ms per step, the real
// clock moves more than 1 ns between gobreaker calls).
func TestDifferentialGobreaker(t *testing.T) {
	t.Parallel()
	for _, timeout := range []time.Duration{time.Hour, time.Nanosecond} {
		for _, probes := range []int{1, 3} {
			for seed := uint64(1); seed <= 25; seed++ {
				name := fmt.Sprintf("timeout=%v/probes=%d/seed=%d", timeout, probes, seed)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					differential(t, seed, timeout, probes)
				})
			}
		}
	}
}

func differential(t *testing.T, seed uint64, timeout time.Duration, probes int) {
	cfg := BreakerConfig{
		ConsecutiveFailures: 5,
		FailureRatio:        0.5,
		MinRequests:         10,
		HalfOpenProbes:      probes,
		Window:              baldur.Duration(time.Hour),
		OpenTimeout:         baldur.Duration(timeout),
	}
	clk := clock.NewFake(t0)
	cfg.Clock = clk
	ours, err := NewBreakers(cfg)
	require.NoError(t, err)
	cfg, err = cfg.withDefaults()
	require.NoError(t, err)
	rule := tripRule{uint32(cfg.ConsecutiveFailures), cfg.FailureRatio, uint32(cfg.MinRequests)}

	ref := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "ref",
		MaxRequests: uint32(probes),
		Timeout:     timeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return rule.ready(counts{
				totalSuccesses:      c.TotalSuccesses,
				totalFailures:       c.TotalFailures,
				consecutiveFailures: c.ConsecutiveFailures,
			})
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errIgnored) },
	})
	refState := map[gobreaker.State]State{
		gobreaker.StateClosed:   StateClosed,
		gobreaker.StateHalfOpen: StateHalfOpen,
		gobreaker.StateOpen:     StateOpen,
	}

	type inflight struct {
		p    baldur.Permit
		done func(error)
	}
	var live []inflight
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	failBias := 0.3 + 0.5*rng.Float64() // some runs trip often, some rarely
	trips := 0
	for step := 0; step < 3000; step++ {
		clk.Advance(time.Millisecond)
		if len(live) == 0 || rng.IntN(3) == 0 {
			p, ourErr := ours.Admit(context.Background(), baldur.Call{Key: "p", Now: clk.Now()})
			done, refErr := ref.Allow()
			require.Equal(t, refErr == nil, ourErr == nil, "step %d: admission differs (ref %v, ours %v)", step, refErr, ourErr)
			if ourErr != nil {
				require.ErrorIs(t, ourErr, baldur.ErrBreakerOpen)
			} else {
				live = append(live, inflight{p, done})
			}
		} else {
			i := rng.IntN(len(live))
			c := live[i]
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			var res baldur.Result
			var refErr error
			switch x := rng.Float64(); {
			case x < failBias:
				res, refErr = baldur.Failure, errFailed
			case x < failBias+0.1:
				res, refErr = baldur.Ignored, errIgnored
			default:
				res = baldur.Success
			}
			c.p.Release(baldur.Outcome{Result: res})
			c.done(refErr)
		}
		clk.Advance(time.Millisecond)
		want := refState[ref.State()]
		got := ours.State(Partition{Key: "p"})
		require.Equal(t, want, got, "step %d: state differs", step)
		if got != StateClosed {
			trips++
		}
	}
	if failBias > 0.5 {
		require.Positive(t, trips, "a failure-heavy run should trip")
	}
}
