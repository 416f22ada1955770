package redisstore

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/throttle"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// throttleReplica is one process of a fleet: its own client, backend (breaker on a
// fake clock) and store, and a throttle on it keyed globally.
type throttleReplica struct {
	store *ThrottleStore
	b     *Backend
	clk   *clock.Fake
	th    *throttle.Throttle
}

func newThrottleFleet(t *testing.T, srv *redistest.Server, n int, name string, rate float64, burst int) []*throttleReplica {
	return newThrottleFleetTimeout(t, srv, n, name, rate, burst, DefaultThrottleTimeout)
}

func newThrottleFleetTimeout(t *testing.T, srv *redistest.Server, n int, name string, rate float64, burst int, timeout time.Duration) []*throttleReplica {
	t.Helper()
	fleet := make([]*throttleReplica, n)
	for i := range fleet {
		s, b, clk := newStore(t, srv.Client(t, nil), Config{ThrottleTimeout: timeout},
			ThrottleStoreConfig{Name: name, Replicas: StaticReplicas(n)})
		th, err := throttle.New(throttle.Config{Name: name, Rate: rate, Burst: burst, KeyBy: throttle.Global, Store: s})
		require.NoError(t, err)
		fleet[i] = &throttleReplica{store: s, b: b, clk: clk, th: th}
	}
	return fleet
}

func fleetName(t *testing.T) string {
	return "fleet" + strconv.FormatInt(runs.Add(1), 10)
}

// call is one admission as a replica saw it.
type call struct {
	at      time.Time     // the now the call carried
	took    time.Duration // how long Admit took
	allowed bool
}

// drive runs goroutines callers on r, each calling Admit every gap until
// stop is closed, and returns their calls.
func (r *throttleReplica) drive(callers int, gap time.Duration, stop <-chan struct{}) func() []call {
	var wg sync.WaitGroup
	out := make([][]call, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for {
				select {
				case <-stop:
					return
				default:
				}
				now := time.Now()
				_, err := r.th.Admit(ctx, baldur.Call{Now: now})
				out[g] = append(out[g], call{at: now, took: time.Since(now), allowed: err == nil})
				if gap > 0 {
					time.Sleep(gap)
				}
			}
		}()
	}
	return func() []call {
		wg.Wait()
		return slices.Concat(out...)
	}
}

// maxInWindow returns the most admitted calls in any window of length w.
func maxInWindow(calls []call, w time.Duration) int {
	var at []time.Time
	for _, c := range calls {
		if c.allowed {
			at = append(at, c.at)
		}
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func admitted(calls []call) int {
	n := 0
	for _, c := range calls {
		if c.allowed {
			n++
		}
	}
	return n
}

// TestFleetBound: 4 replicas, one key, 2 s of demand far above the limit.
// In every window w the fleet admits at most burst + rate·(w + Lease + D),
// D the per-call deadline, over the run at least 95 % of rate·T, and each
// replica makes at most 3 + T/Lease round trips. D is 250 ms here rather
// than 5 ms so that a loaded 2-core machine under -race never times a take
// out (50 ms did, once, with other builds running): the bound is the one of
// an available Redis, and TestFleetPausedServer covers the fail mode.
func TestFleetBound(t *testing.T) {
	srv := shared.Get(t)
	const (
		n     = 4
		rate  = 1000.0
		burst = 100
		run   = 2 * time.Second
		d     = 250 * time.Millisecond
	)
	fleet := newThrottleFleetTimeout(t, srv, n, fleetName(t), rate, burst, d)
	stop := make(chan struct{})
	var waits []func() []call
	for _, r := range fleet {
		waits = append(waits, r.drive(2, 50*time.Microsecond, stop))
	}
	time.Sleep(run)
	close(stop)
	var all []call
	for _, w := range waits {
		all = append(all, w()...)
	}
	total := admitted(all)
	t.Logf("demand %d calls (%.0f/s), admitted %d (limit·T = %.0f)", len(all), float64(len(all))/run.Seconds(), total, rate*run.Seconds())
	for _, w := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, time.Second, run} {
		bound := burst + int(rate*(w+DefaultLease+d).Seconds())
		got := maxInWindow(all, w)
		t.Logf("window %v: max admitted %d, bound %d", w, got, bound)
		assert.LessOrEqual(t, got, bound, "window %v", w)
	}
	assert.GreaterOrEqual(t, float64(total), 0.95*rate*run.Seconds(), "utilization")
	for i, r := range fleet {
		st := r.store.Stats()
		t.Logf("replica %d: %.1f round trips/s; %+v", i, float64(st.Guard.RoundTrips)/run.Seconds(), st)
		assert.LessOrEqual(t, st.Guard.RoundTrips-st.Overdrafts-st.Starved, uint64(3+run/DefaultLease), "replica %d budgeted takes", i)
		assert.LessOrEqual(t, st.Overdrafts+st.Starved, uint64(2), "replica %d: a key at its limit rarely overdraws", i)
		assert.Zero(t, st.FallbackAllowed+st.FallbackDenied, "replica %d fell back", i)
	}
}

// TestFleetPausedServer stops the server (SIGSTOP) under load: each replica
// pays the 5 ms deadline on a handful of calls, its breaker opens, and it
// decides locally at limit ÷ replicas (counted) so the fleet admits about
// the limit, neither ×4 nor 0. After SIGCONT each breaker closes on a probe
// and takes go to Redis again. No goroutine outlives the test.
func TestFleetPausedServer(t *testing.T) {
	redistest.NoLeaks(t)
	srv := redistest.Start(t, redistest.Options{})
	const (
		n     = 4
		rate  = 1000.0
		burst = 100
		pause = 1500 * time.Millisecond
	)
	fleet := newThrottleFleet(t, srv, n, fleetName(t), rate, burst)
	phase := func(d time.Duration) [][]call {
		stop := make(chan struct{})
		var waits []func() []call
		for _, r := range fleet {
			waits = append(waits, r.drive(1, 100*time.Microsecond, stop))
		}
		time.Sleep(d)
		close(stop)
		out := make([][]call, n)
		for i, w := range waits {
			out[i] = w()
		}
		return out
	}
	phase(300 * time.Millisecond) // warm: leases and deny cache in place

	srv.Pause(t)
	paused := phase(pause)
	srv.Resume(t)

	var all []call
	for i, calls := range paused {
		slow, worst := 0, time.Duration(0)
		for _, c := range calls {
			if c.took > time.Millisecond {
				slow++
			}
			worst = max(worst, c.took)
		}
		st := fleet[i].store.Stats()
		t.Logf("replica %d: %d calls, %d admitted, %d slower than 1ms (worst %v); fallback %d allowed %d denied; breaker %v",
			i, len(calls), admitted(calls), slow, worst, st.FallbackAllowed, st.FallbackDenied, st.Guard.State)
		assert.LessOrEqual(t, slow, 5, "replica %d: calls that waited on the paused server", i)
		assert.LessOrEqual(t, worst, DefaultThrottleTimeout+slack, "replica %d: latency bounded by the deadline", i)
		assert.Positive(t, st.FallbackAllowed, "replica %d decided locally", i)
		assert.Equal(t, blast.StateOpen, st.Guard.State, "replica %d breaker", i)
		all = append(all, calls...)
	}
	total := admitted(all)
	t.Logf("fleet admitted %d during the %v pause (limit·T = %.0f)", total, pause, rate*pause.Seconds())
	assert.LessOrEqual(t, total, 2*burst+int(rate*(pause+DefaultLease).Seconds()), "fallback does not multiply the limit")
	assert.GreaterOrEqual(t, float64(total), 0.8*rate*pause.Seconds(), "fallback does not zero it")

	for i, r := range fleet {
		requireStoreRecovers(t, r, "probe"+strconv.Itoa(i))
	}
}

// requireStoreRecovers lets the breaker's open time pass on the replica's
// fake clock until a probe take succeeds (a resumed server may first work
// through its backlog) and requires the breaker closed.
func requireStoreRecovers(t *testing.T, r *throttleReplica, key string) {
	t.Helper()
	l := mustLimit(t, 1e6, 1e6)
	before := r.store.Stats().Takes
	for probe := 1; probe <= 5 && r.store.Stats().Takes == before; probe++ {
		r.clk.Advance(time.Second + time.Nanosecond)
		_, err := r.store.Take(context.Background(), keyOf(key+strconv.Itoa(probe)), time.Now(), l, 0)
		require.NoError(t, err)
	}
	require.Greater(t, r.store.Stats().Takes, before, "a probe reached Redis")
	require.Equal(t, blast.StateClosed, r.store.Stats().Guard.State)
}

// TestFleetRestart kills the server (SIGKILL) and restarts it, with and
// without AOF: while it is down calls are decided locally and counted; once
// it is back the breaker closes on a probe and the empty script cache is
// recovered (NOSCRIPT, then EVAL in the same call). Without AOF the bucket
// is forgotten (one more burst); with AOF it survives. Takes get a 1 s
// deadline: a loaded machine missed 5 ms, and a timed-out take is decided
// by the fail mode (an 11th admission of a burst of 10, or a probe that
// never reached Redis).
func TestFleetRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		aof  bool
	}{{"no aof", false}, {"aof", true}} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.NoLeaks(t)
			srv := redistest.Start(t, redistest.Options{AOF: tc.aof})
			r := newThrottleFleetTimeout(t, srv, 1, fleetName(t), 1, 10, time.Second)[0]
			ctx := context.Background()
			l := mustLimit(t, 0.01, 10) // no refill during the test
			k := keyOf("restart")
			spend := func() int {
				n := 0
				for range 20 {
					d, err := r.store.Take(ctx, k, time.Now(), l, 0)
					require.NoError(t, err)
					if d.Allowed {
						n++
					}
				}
				return n
			}
			require.Equal(t, 10, spend(), "burst")
			srv.Kill(t)
			r.store.slots[k.Hash&r.store.mask].Store(nil) // forget the cached deny: go to Redis
			d, err := r.store.Take(ctx, keyOf("down"), time.Now(), l, 0)
			require.NoError(t, err)
			require.True(t, d.Allowed, "fallback at the local share")
			require.Positive(t, r.store.Stats().FallbackAllowed)
			srv.Restart(t)
			requireStoreRecovers(t, r, "probe")
			r.store.slots[k.Hash&r.store.mask].Store(nil)
			want := 0
			if !tc.aof {
				want = 10 // a fresh bucket: the data was lost
			}
			require.Equal(t, want, spend(), "after restart")
			require.Positive(t, r.store.Stats().Guard.ScriptReloads, "NOSCRIPT recovered")
		})
	}
}

// TestFleetScriptFlush: after SCRIPT FLUSH the next take recovers in the
// same call (one reload, no failure, the breaker stays closed).
func TestFleetScriptFlush(t *testing.T) {
	redistest.NoLeaks(t)
	srv := redistest.Start(t, redistest.Options{})
	r := newThrottleFleet(t, srv, 1, fleetName(t), 1, 10)[0]
	ctx := context.Background()
	l := mustLimit(t, 1, 10)
	_, err := r.store.Take(ctx, keyOf("a"), time.Now(), l, 0)
	require.NoError(t, err)
	srv.Do(t, "SCRIPT", "FLUSH")
	d, err := r.store.Take(ctx, keyOf("b"), time.Now(), l, 0)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.NoError(t, r.store.Refund(ctx, keyOf("b"), l), "refund script recovered too")
	st := r.store.Stats()
	require.Equal(t, uint64(2), st.Guard.ScriptReloads)
	require.Zero(t, st.Guard.Errors)
	require.Zero(t, st.FallbackAllowed+st.FallbackDenied)
	require.Equal(t, blast.StateClosed, st.Guard.State)
}

// TestHotKeyCallRate offers 1 k, 10 k and 100 k calls/s on one key to one
// replica, for a key far below its limit and one far above, and counts the
// guard's round trips: at most 25 per second whatever the rate. The key
// below its limit has no call denied (the call budget never denies it).
func TestHotKeyCallRate(t *testing.T) {
	srv := shared.Get(t)
	const run = time.Second
	for _, lim := range []struct {
		name  string
		rate  float64
		burst int
	}{{"below limit", 1e6, 100_000}, {"above limit", 500, 50}} {
		for _, offered := range []int{1_000, 10_000, 100_000} {
			t.Run(lim.name+"/"+strconv.Itoa(offered), func(t *testing.T) {
				r := newThrottleFleet(t, srv, 1, fleetName(t), lim.rate, lim.burst)[0]
				ctx := context.Background()
				start := time.Now()
				calls, denied := 0, 0
				for time.Since(start) < run {
					due := int(time.Since(start).Seconds() * float64(offered))
					for ; calls < due; calls++ {
						if _, err := r.th.Admit(ctx, baldur.Call{Now: time.Now()}); err != nil {
							denied++
						}
					}
					time.Sleep(100 * time.Microsecond)
				}
				el := time.Since(start)
				st := r.store.Stats()
				perSec := float64(st.Guard.RoundTrips) / el.Seconds()
				t.Logf("offered %d/s (achieved %.0f/s): %d round trips, %.1f/s; %+v", offered, float64(calls)/el.Seconds(), st.Guard.RoundTrips, perSec, st)
				assert.LessOrEqual(t, st.Guard.RoundTrips, uint64(3+el/DefaultLease), "round trips")
				assert.LessOrEqual(t, perSec, 25.0)
				if lim.rate*run.Seconds() > float64(10*offered) {
					assert.Zero(t, denied, "calls denied below the limit")
				}
			})
		}
	}
}
