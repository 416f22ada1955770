package blast

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

var t0 = time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)

type breakerHarness struct {
	t   *testing.T
	clk *clock.Fake
	b   *Breakers
}

func newHarness(t *testing.T, cfg BreakerConfig) *breakerHarness {
	t.Helper()
	clk := clock.NewFake(t0)
	cfg.Clock = clk
	b, err := NewBreakers(cfg)
	require.NoError(t, err)
	return &breakerHarness{t: t, clk: clk, b: b}
}

func (h *breakerHarness) admit(key string) (baldur.Permit, error) {
	return h.b.Admit(context.Background(), baldur.Call{Key: key, Operation: "GET /x", Now: h.clk.Now()})
}

// call admits one call on key and releases it at once with r.
func (h *breakerHarness) call(key string, r baldur.Result) error {
	h.t.Helper()
	p, err := h.admit(key)
	if err != nil {
		return err
	}
	p.Release(baldur.Outcome{Result: r})
	return nil
}

func (h *breakerHarness) state(key string) State { return h.b.State(Partition{Key: key}) }

func requireBreakerOpen(t *testing.T, err error, retryAfter time.Duration) {
	t.Helper()
	require.ErrorIs(t, err, baldur.ErrBreakerOpen)
	require.ErrorIs(t, err, baldur.ErrRejected)
	rej, ok := baldur.AsRejection(err)
	require.True(t, ok)
	require.Equal(t, baldur.ReasonBreakerOpen, rej.Reason())
	require.Equal(t, retryAfter, rej.RetryAfter())
}

func TestBreakerTripsOnConsecutiveFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	for i := 0; i < 4; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	require.Equal(t, StateClosed, h.state("a"))
	require.NoError(t, h.call("a", baldur.Failure))
	require.Equal(t, StateOpen, h.state("a"))
	_, err := h.admit("a")
	requireBreakerOpen(t, err, 60*time.Second)
}

func TestBreakerTripsOnFailureRatio(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	// S F S F ...: never two failures in a row; the 10th outcome brings the
	// ratio to 5/10 with MinRequests reached.
	for i := 0; i < 9; i++ {
		r := baldur.Success
		if i%2 == 1 {
			r = baldur.Failure
		}
		require.NoError(t, h.call("a", r))
	}
	require.Equal(t, StateClosed, h.state("a"))
	require.NoError(t, h.call("a", baldur.Failure))
	require.Equal(t, StateOpen, h.state("a"))
}

func TestBreakerIgnoresExcludedOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	for i := 0; i < 100; i++ {
		require.NoError(t, h.call("a", baldur.Ignored))
		if i%25 == 0 {
			require.NoError(t, h.call("a", baldur.Failure))
		}
	}
	require.Equal(t, StateClosed, h.state("a"), "4 failures among ignored calls must not trip")
}

func TestBreakerOpenHalfOpenClosed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	h := newHarness(t, BreakerConfig{OnStateChange: func(p Partition, from, to State) {
		mu.Lock()
		seen = append(seen, p.Key+":"+from.String()+">"+to.String())
		mu.Unlock()
	}})
	for i := 0; i < 5; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	h.clk.Advance(30*time.Second + 500*time.Millisecond)
	_, err := h.admit("a")
	requireBreakerOpen(t, err, 30*time.Second) // 29.5 s rounded up
	h.clk.Advance(29*time.Second + 500*time.Millisecond)
	_, err = h.admit("a") // exactly at the expiry: still open, as in gobreaker
	requireBreakerOpen(t, err, time.Second)

	h.clk.Advance(time.Millisecond)
	require.Equal(t, StateHalfOpen, h.state("a"))
	probes := make([]baldur.Permit, 3)
	for i := range probes {
		probes[i], err = h.admit("a")
		require.NoError(t, err, "probe %d", i)
	}
	_, err = h.admit("a")
	requireBreakerOpen(t, err, time.Second) // every probe taken
	for i := range probes {
		probes[i].Release(baldur.Outcome{Result: baldur.Success})
	}
	require.Equal(t, StateClosed, h.state("a"))
	require.NoError(t, h.call("a", baldur.Success))

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"a:closed>open", "a:open>half_open", "a:half_open>closed"}, seen)
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{OpenTimeout: baldur.Duration(10 * time.Second)})
	for i := 0; i < 5; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	h.clk.Advance(11 * time.Second)
	p1, err := h.admit("a")
	require.NoError(t, err)
	p2, err := h.admit("a")
	require.NoError(t, err)
	p1.Release(baldur.Outcome{Result: baldur.Success})
	p2.Release(baldur.Outcome{Result: baldur.Failure})
	require.Equal(t, StateOpen, h.state("a"))
	_, err = h.admit("a")
	requireBreakerOpen(t, err, 10*time.Second) // the open timer restarted at the probe's failure
}

func TestBreakerHalfOpenIgnoredProbeFreesSlot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{HalfOpenProbes: 1})
	for i := 0; i < 5; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	h.clk.Advance(61 * time.Second)
	p, err := h.admit("a")
	require.NoError(t, err)
	_, err = h.admit("a")
	require.Error(t, err)
	p.Release(baldur.Outcome{Result: baldur.Ignored}) // a 4xx tells nothing
	require.Equal(t, StateHalfOpen, h.state("a"))
	require.NoError(t, h.call("a", baldur.Success))
	require.Equal(t, StateClosed, h.state("a"))
}

func TestBreakerWindowForgetsOldFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{Window: baldur.Duration(10 * time.Second), BucketPeriod: baldur.Duration(time.Second)})
	for i := 0; i < 4; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	h.clk.Advance(11 * time.Second) // every bucket rolled out
	require.NoError(t, h.call("a", baldur.Failure))
	require.Equal(t, StateClosed, h.state("a"))
	for i := 0; i < 4; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	require.Equal(t, StateOpen, h.state("a"))
}

func TestBreakerWindowRollsBucketByBucket(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{Window: baldur.Duration(10 * time.Second), BucketPeriod: baldur.Duration(time.Second)})
	for i := 0; i < 3; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	h.clk.Advance(5 * time.Second)
	require.NoError(t, h.call("a", baldur.Failure)) // 4 in a row, within the window
	h.clk.Advance(5*time.Second + 500*time.Millisecond)
	// The first bucket (3 failures) left the window: the run is 1 long, as
	// gobreaker's rolling counts have it, so one more failure does not trip.
	require.NoError(t, h.call("a", baldur.Failure))
	require.Equal(t, StateClosed, h.state("a"))
	for i := 0; i < 3; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	require.Equal(t, StateOpen, h.state("a"))
}

func TestBreakerIgnoresOutcomesOfEarlierGeneration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{OpenTimeout: baldur.Duration(time.Second)})
	early, err := h.admit("a")
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	h.clk.Advance(2 * time.Second)
	require.NoError(t, h.call("a", baldur.Success)) // first probe
	// A failure of a call admitted while closed must not reopen the
	// half-open breaker.
	early.Release(baldur.Outcome{Result: baldur.Failure})
	require.Equal(t, StateHalfOpen, h.state("a"))
}

func TestBreakersIsolatePartitions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	for i := 0; i < 10; i++ {
		_ = h.call("bad", baldur.Failure)
		require.NoError(t, h.call("good", baldur.Success))
	}
	require.Equal(t, StateOpen, h.state("bad"))
	require.Equal(t, StateClosed, h.state("good"))
	require.NoError(t, h.call("other", baldur.Success))
	open := h.b.Open()
	require.Len(t, open, 1)
	require.Equal(t, Partition{Key: "bad"}, open[0].Partition)
	require.Equal(t, StateOpen, open[0].State)
	require.Equal(t, t0.Add(60*time.Second), open[0].Until)
}

func TestBreakersPartitionBy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		by        PartitionBy
		sameAsBad baldur.Call // shares the failing partition
		other     baldur.Call // a partition of its own
	}{
		{ByKey, baldur.Call{Key: "k", Operation: "op2"}, baldur.Call{Key: "k2", Operation: "op"}},
		{ByOperation, baldur.Call{Key: "k2", Operation: "op"}, baldur.Call{Key: "k", Operation: "op2"}},
		{ByKeyAndOperation, baldur.Call{Key: "k", Operation: "op"}, baldur.Call{Key: "op", Operation: "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.by.String(), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, BreakerConfig{PartitionBy: tt.by})
			bad := baldur.Call{Key: "k", Operation: "op", Now: t0}
			for i := 0; i < 5; i++ {
				p, err := h.b.Admit(context.Background(), bad)
				require.NoError(t, err)
				p.Release(baldur.Outcome{Result: baldur.Failure})
			}
			tt.sameAsBad.Now, tt.other.Now = t0, t0
			_, err := h.b.Admit(context.Background(), tt.sameAsBad)
			require.ErrorIs(t, err, baldur.ErrBreakerOpen)
			_, err = h.b.Admit(context.Background(), tt.other)
			require.NoError(t, err)
			require.Equal(t, StateOpen, h.b.State(Partition{Key: "k", Operation: "op"}))
		})
	}
}

func TestBreakerForceOpenOutranksAutomation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	require.NoError(t, h.b.ForceOpen(Partition{Key: "a"}, 10*time.Minute))
	require.Equal(t, StateForcedOpen, h.state("a"))
	_, err := h.admit("a")
	requireBreakerOpen(t, err, 10*time.Minute) // the force's time left, not OpenTimeout
	h.clk.Advance(9*time.Minute + 59*time.Second)
	_, err = h.admit("a")
	requireBreakerOpen(t, err, time.Second)
	h.clk.Advance(time.Second)
	// The force expired: traffic resumes through half-open probes.
	require.Equal(t, StateHalfOpen, h.state("a"))
	require.NoError(t, h.call("a", baldur.Success))
	require.NoError(t, h.call("a", baldur.Success))
	require.NoError(t, h.call("a", baldur.Success))
	require.Equal(t, StateClosed, h.state("a"))
}

func TestBreakerForceClosedOutranksAutomation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	for i := 0; i < 5; i++ {
		require.NoError(t, h.call("a", baldur.Failure))
	}
	require.Equal(t, StateOpen, h.state("a"))
	h.b.ForceClosed(Partition{Key: "a"}, 0) // ForceTTL: 90 min
	for i := 0; i < 100; i++ {
		require.NoError(t, h.call("a", baldur.Failure), "forced closed admits whatever the outcomes")
	}
	h.clk.Advance(89 * time.Minute)
	require.Equal(t, StateForcedClosed, h.state("a"))
	h.clk.Advance(time.Minute)
	require.Equal(t, StateClosed, h.state("a"))
	require.NoError(t, h.call("a", baldur.Failure), "fresh counts after the force")
	require.Equal(t, StateClosed, h.state("a"))
}

func TestBreakerUnforce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	h.b.ForceOpen(Partition{Key: "a"}, time.Hour)
	h.b.Unforce(Partition{Key: "a"})
	require.Equal(t, StateHalfOpen, h.state("a"))
	h.b.Unforce(Partition{Key: "never-seen"}) // no-op
	require.Equal(t, StateClosed, h.state("never-seen"))
}

func TestBreakerHookMayCallBack(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	var b *Breakers
	var mu sync.Mutex
	var states []State
	b, err := NewBreakers(BreakerConfig{Clock: clk, OnStateChange: func(p Partition, from, to State) {
		// Re-entering the breaker from the hook must not deadlock: the hook
		// runs after the lock is released.
		st := b.State(p)
		_ = b.Open()
		if to == StateOpen {
			b.ForceClosed(p, time.Minute)
		}
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
	}})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		p, err := b.Admit(context.Background(), baldur.Call{Key: "a", Now: clk.Now()})
		require.NoError(t, err)
		p.Release(baldur.Outcome{Result: baldur.Failure})
	}
	require.Equal(t, StateForcedClosed, b.State(Partition{Key: "a"}))
	mu.Lock()
	defer mu.Unlock()
	// The inner hook (open > forced_closed) finishes before the outer one
	// (closed > open), which had read the state before forcing it.
	require.Equal(t, []State{StateForcedClosed, StateOpen}, states)
}

func TestBreakersBoundedPartitions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{MaxPartitions: 64})
	for i := 0; i < 5; i++ {
		require.NoError(t, h.call("bad", baldur.Failure))
	}
	h.b.ForceOpen(Partition{Key: "blocked"}, time.Hour)
	for i := 0; i < 20000; i++ {
		require.NoError(t, h.call("k"+strconv.Itoa(i), baldur.Success))
		require.LessOrEqual(t, h.b.Partitions(), 64)
	}
	// Open and forced partitions are the last to go.
	require.Equal(t, StateOpen, h.state("bad"))
	require.Equal(t, StateForcedOpen, h.state("blocked"))
}

func TestBreakersEvictIdleFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{MaxPartitions: 16, IdleTimeout: baldur.Duration(time.Minute)}) // one shard
	for i := 0; i < 16; i++ {
		require.NoError(t, h.call("old"+strconv.Itoa(i), baldur.Success))
	}
	require.Equal(t, 16, h.b.Partitions())
	h.clk.Advance(2 * time.Minute)
	require.NoError(t, h.call("new", baldur.Success))
	require.Equal(t, 16-evictSample+1, h.b.Partitions(), "idle partitions of the sample are all dropped")
}

func TestBreakerAdmitReleaseClosedAllocs(t *testing.T) {
	h := newHarness(t, BreakerConfig{})
	call := baldur.Call{Key: "tenant-1", Operation: "GET /x", Now: t0}
	ctx := context.Background()
	p, _ := h.b.Admit(ctx, call) // creates the partition
	p.Release(baldur.Outcome{})
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := h.b.Admit(ctx, call)
		if err != nil {
			panic(err)
		}
		p.Release(baldur.Outcome{Result: baldur.Success})
	})
	require.Zero(t, allocs)
}

func TestBreakerRejectOpenAllocs(t *testing.T) {
	h := newHarness(t, BreakerConfig{})
	for i := 0; i < 5; i++ {
		_ = h.call("a", baldur.Failure)
	}
	call := baldur.Call{Key: "a", Now: t0}
	ctx := context.Background()
	_, _ = h.b.Admit(ctx, call)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := h.b.Admit(ctx, call); err == nil {
			panic("admitted")
		}
	})
	require.Zero(t, allocs)
}

func TestBreakersInPolicy(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	b, err := NewBreakers(BreakerConfig{Clock: clk})
	require.NoError(t, err)
	pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "upstream", Gates: []baldur.Gate{b}, Clock: clk})
	require.NoError(t, err)
	for i := 0; i < 5; i++ {
		tk, err := pol.Admit(context.Background(), baldur.Call{Key: "host-a"})
		require.NoError(t, err)
		tk.Release(baldur.Outcome{Result: baldur.Failure, Status: 502})
	}
	_, err = pol.Admit(context.Background(), baldur.Call{Key: "host-a"})
	require.True(t, errors.Is(err, baldur.ErrBreakerOpen))
	require.Equal(t, uint64(1), pol.Rejected(baldur.ReasonBreakerOpen))
	_, err = pol.Admit(context.Background(), baldur.Call{Key: "host-b"})
	require.NoError(t, err)
}

func TestBreakersConcurrentRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{MaxPartitions: 64, OpenTimeout: baldur.Duration(time.Millisecond)})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				key := "k" + strconv.Itoa((g*7+i)%100)
				p, err := h.admit(key)
				if err == nil {
					p.Release(baldur.Outcome{Result: baldur.Result(i % 3)})
				}
				if i%50 == 0 {
					h.clk.Advance(time.Millisecond)
				}
				if i%500 == 0 {
					h.b.ForceOpen(Partition{Key: key}, time.Millisecond)
					_ = h.b.Open()
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, h.b.Partitions(), 64+8) // concurrent creations may pass the bound briefly
	// Every force slot taken is held by a partition still in the table.
	held := 0
	for i := range h.b.shards {
		h.b.shards[i].each(0, func(_ uint64, br *breaker) bool {
			if br.counted.Load() {
				held++
			}
			return true
		})
	}
	require.Equal(t, int64(held), h.b.forced.Load())
	require.LessOrEqual(t, h.b.forced.Load(), h.b.maxForced)
}
