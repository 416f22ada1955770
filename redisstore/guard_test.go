package redisstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slack is what a call may take beyond its deadline on a loaded 2-core
// machine under the race detector (timer and scheduling latency).
const slack = 50 * time.Millisecond

var epoch = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	clock *clock.Fake
	b     *Backend
	guard *Guard
	gcra  *GCRA
	limit throttle.Limit
}

func newFixture(t *testing.T, c redis.UniversalClient) *fixture {
	t.Helper()
	return newFixtureTimeout(t, c, 0)
}

// newFixtureTimeout is newFixture with a throttle deadline of d (0: the
// default 5 ms), for tests whose healthy calls must not time out on a
// loaded machine.
func newFixtureTimeout(t *testing.T, c redis.UniversalClient, d time.Duration) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(epoch)}
	f.b = newBackend(t, c, Config{Clock: f.clock, Scripts: []*Script{GCRAScript}, Logger: discard(), ThrottleTimeout: d})
	f.guard = f.b.Guard("throttle", ClassThrottle)
	var err error
	f.gcra, err = NewGCRA(f.guard, GCRAConfig{})
	require.NoError(t, err)
	f.limit, _ = throttle.NewLimit(1e6, 1e6)
	return f
}

func (f *fixture) take(key string) (time.Duration, error) {
	start := time.Now()
	_, err := f.gcra.Take(context.Background(), key, time.Time{}, f.limit, 0)
	return time.Since(start), err
}

// requireRecovers lets the breaker's open time pass on the fake clock and
// requires a probe call to succeed and close the breaker. A server just
// resumed may still be working through the commands queued while it was
// stopped, so a probe may time out (and reopen the breaker for another open
// time); a few are allowed.
func (f *fixture) requireRecovers(t *testing.T) {
	t.Helper()
	require.Equal(t, blast.StateOpen, f.guard.Stats().State)
	var err error
	for probe := 1; probe <= 5; probe++ {
		f.clock.Advance(time.Second + time.Nanosecond) // open for exactly OpenTimeout
		if _, err = f.take("probe:" + t.Name()); err == nil {
			t.Logf("breaker closed on probe %d", probe)
			break
		}
		require.ErrorIs(t, err, ErrUnavailable)
	}
	require.NoError(t, err)
	require.Equal(t, blast.StateClosed, f.guard.Stats().State, "one successful probe closes the breaker")
}

// TestGuardPausedServer stops the server (SIGSTOP): the first calls each
// cost the 5 ms deadline, the breaker opens after 3 failures, and every
// later call is answered locally without a round trip. After SIGCONT the
// breaker closes on its first probe.
func TestGuardPausedServer(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := redistest.Start(t, redistest.Options{})
	f := newFixture(t, s.Client(t, nil))
	_, err := f.take(kp + "warm")
	require.NoError(t, err)

	s.Pause(t)
	var lat []time.Duration
	for range 20 {
		d, err := f.take(kp + "pause")
		require.ErrorIs(t, err, ErrUnavailable)
		lat = append(lat, d)
	}
	s.Resume(t)
	t.Logf("per-call latency while paused: %v", lat)
	st := f.guard.Stats()
	assert.EqualValues(t, 1+3, st.Calls, "3 calls reached the hung server")
	assert.EqualValues(t, 3, st.Timeouts)
	assert.EqualValues(t, 17, st.Rejected)
	assert.EqualValues(t, 1, st.Opens)
	for i, d := range lat[:3] {
		assert.Less(t, d, DefaultThrottleTimeout+slack, "call %d is bounded by the deadline", i)
	}
	local := append([]time.Duration(nil), lat[3:]...)
	slices.Sort(local)
	assert.Less(t, local[len(local)/2], 200*time.Microsecond, "the open breaker answers locally")
	assert.Less(t, local[len(local)-1], DefaultThrottleTimeout, "no call after the third waits for the server")
	f.requireRecovers(t)
}

// TestGuardPausedServerConcurrent pauses the server under 8 concurrent
// callers: at most the calls in flight when the breaker opens reach it.
func TestGuardPausedServerConcurrent(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := redistest.Start(t, redistest.Options{})
	f := newFixture(t, s.Client(t, nil))
	_, err := f.take(kp + "warm")
	require.NoError(t, err)
	s.Pause(t)
	const workers, each = 8, 50
	var slow atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				d, err := f.take(kp + "pause")
				if !errors.Is(err, ErrUnavailable) {
					t.Errorf("want unavailable, got %v", err)
				}
				if d > DefaultThrottleTimeout+slack {
					slow.Add(1)
				}
			}
		})
	}
	wg.Wait()
	s.Resume(t)
	st := f.guard.Stats()
	t.Logf("stats after %d calls on a paused server: %+v", workers*each, st)
	assert.LessOrEqual(t, st.Calls-1, uint64(3+workers), "failures to trip plus the calls in flight")
	assert.EqualValues(t, workers*each, st.Calls-1+st.Rejected)
	assert.Zero(t, slow.Load(), "no call outlived its deadline")
	f.requireRecovers(t)
}

// TestGuardProxyLatency puts a delaying proxy between client and server,
// with a 500 ms deadline: at 4 ms of round trip calls succeed (a 50 ms
// deadline was missed by a loaded 2-core machine under -race); at 1.2 s
// every call times out, the breaker opens after 3 and the client stops
// dialing.
func TestGuardProxyLatency(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	p := redistest.NewProxy(t, "unix", s.Socket())
	c := s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() })
	f := &fixture{clock: clock.NewFake(epoch)}
	f.b = newBackend(t, c, Config{Clock: f.clock, ThrottleTimeout: 500 * time.Millisecond, Logger: discard()})
	f.guard = f.b.Guard("throttle", ClassThrottle)
	f.gcra, _ = NewGCRA(f.guard, GCRAConfig{})
	f.limit, _ = throttle.NewLimit(1e6, 1e6)

	p.Delay(2 * time.Millisecond) // each direction
	for range 10 {
		d, err := f.take(kp + "lat")
		require.NoError(t, err)
		require.GreaterOrEqual(t, d, 4*time.Millisecond)
	}

	p.Delay(600 * time.Millisecond) // each direction: 1.2 s > the deadline whatever the load
	dials := p.Accepted()
	for range 50 {
		_, err := f.take(kp + "lat")
		require.ErrorIs(t, err, ErrUnavailable)
	}
	st := f.guard.Stats()
	assert.EqualValues(t, 3, st.Timeouts)
	assert.EqualValues(t, 47, st.Rejected)
	assert.LessOrEqual(t, p.Accepted()-dials, int64(3), "at most one new connection per failed call, none while open")
	p.Heal()
	f.requireRecovers(t)
}

// TestGuardPartitionOneReplica blackholes one replica's proxy: that replica
// opens its breaker while the other keeps working through its own link
// (with a 1 s deadline: a loaded machine missed 5 ms on the healthy link).
func TestGuardPartitionOneReplica(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	pa := redistest.NewProxy(t, "unix", s.Socket())
	pb := redistest.NewProxy(t, "unix", s.Socket())
	a := newFixture(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", pa.Addr() }))
	b := newFixtureTimeout(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", pb.Addr() }), time.Second)
	pa.Blackhole()
	for range 10 {
		_, errA := a.take(kp + "part")
		_, errB := b.take(kp + "part")
		require.ErrorIs(t, errA, ErrUnavailable)
		require.NoError(t, errB)
	}
	assert.Equal(t, blast.StateOpen, a.guard.Stats().State)
	assert.Equal(t, blast.StateClosed, b.guard.Stats().State)
	pa.Heal()
	a.requireRecovers(t)
}

// TestGuardResetConnections resets every connection: the pool notices
// (go-redis checks an idle connection before reusing it) or one call
// fails, the pool redials, and the breaker stays closed. The deadline is
// 1 s: a redial plus a script call missed 5 ms on a loaded machine, which
// counted as a second failure.
func TestGuardResetConnections(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	p := redistest.NewProxy(t, "unix", s.Socket())
	f := newFixtureTimeout(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() }), time.Second)
	_, err := f.take(kp + "reset")
	require.NoError(t, err)
	dials := p.Accepted()
	p.Reset()
	failed := 0
	for range 3 {
		if _, err := f.take(kp + "reset"); err != nil {
			require.ErrorIs(t, err, ErrUnavailable)
			failed++
		}
	}
	assert.LessOrEqual(t, failed, 1)
	assert.Greater(t, p.Accepted(), dials, "the client redialed")
	assert.Equal(t, blast.StateClosed, f.guard.Stats().State)
}

// TestGuardErrorRepliesKeepBreakerClosed: a server that answers with an
// error reply is reachable, so the breaker stays closed, and caller
// cancellations count for nothing.
func TestGuardErrorRepliesKeepBreakerClosed(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	f := newFixtureTimeout(t, s.Client(t, nil), time.Second) // a loaded machine missed 5 ms
	s.Do(t, "RPUSH", kp+"list", "x")
	for range 10 {
		_, err := f.take(kp + "list")
		require.ErrorIs(t, err, ErrMalformed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 10 {
		_, err := f.gcra.Take(ctx, kp+"cancel", time.Time{}, f.limit, 0)
		require.ErrorIs(t, err, context.Canceled)
	}
	st := f.guard.Stats()
	assert.EqualValues(t, 10, st.Errors)
	assert.Equal(t, blast.StateClosed, st.State)
}

// TestGuardOpenRejectsWithoutAllocating: while open, Do costs an atomic
// load or two and no allocation.
func TestGuardOpenRejectsWithoutAllocating(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	f := newFixture(t, s.Client(t, nil))
	f.b.breakers.ForceOpen(blast.Partition{Key: f.guard.Name()}, time.Hour)
	fn := func(context.Context, redis.UniversalClient) error { return nil }
	allocs := testing.AllocsPerRun(1000, func() {
		if err := f.guard.Do(context.Background(), fn); err != ErrBreakerOpen {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
	f.b.breakers.Unforce(blast.Partition{Key: f.guard.Name()})
}

// TestGuardPoolTimeoutsKeepBreakerClosed: calls that find every connection
// of the process busy fail, and are counted, but do not open the breaker:
// a burst on a healthy Redis is local congestion.
func TestGuardPoolTimeoutsKeepBreakerClosed(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	c := s.Client(t, func(o *redis.Options) { o.PoolSize, o.PoolTimeout = 1, 5*time.Millisecond })
	f := newFixture(t, c)
	// Hold the one connection in a blocking pop for the whole test.
	held := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		close(held)
		_ = c.BLPop(context.Background(), 2*time.Second, kp+"never").Err()
	}()
	<-held
	require.Eventually(t, func() bool {
		_, err := f.take(kp + "k")
		return errors.Is(err, redis.ErrPoolTimeout)
	}, time.Second, time.Millisecond, "a call waits for the busy pool and times out")
	for range 10 {
		_, err := f.take(kp + "k")
		require.ErrorIs(t, err, ErrUnavailable)
	}
	st := f.guard.Stats()
	assert.GreaterOrEqual(t, st.PoolTimeouts, uint64(10))
	assert.Equal(t, blast.StateClosed, st.State, "pool timeouts do not open the breaker")
	s.Do(t, "RPUSH", kp+"never", "x") // free the connection
	<-done
}
