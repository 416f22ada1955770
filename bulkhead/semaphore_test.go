package bulkhead

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// eventually spins until cond holds. It yields instead of sleeping: it waits
// for other goroutines to reach a state, never for time to pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out waiting for %s", what)
		runtime.Gosched()
	}
}

// releaseAll gives every permit of ps back.
func releaseAll(ps []baldur.Permit) {
	for i := range ps {
		ps[i].Release(baldur.Outcome{})
	}
}

func mustNew(t testing.TB, cfg Config) *Semaphore {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	return s
}

func checkIdle(t *testing.T, s *Semaphore) {
	t.Helper()
	st := s.State()
	require.Zero(t, st.Active, "not idle: %+v", st)
	require.Zero(t, st.Waiting, "not idle: %+v", st)
}

func TestSemaphoreAdmitRelease(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 2})
	ctx := context.Background()
	p1, err := s.Admit(ctx, baldur.Call{})
	require.NoError(t, err, "first admit")
	require.True(t, p1.Held(), "first admit")
	p2, err := s.Acquire(ctx)
	require.NoError(t, err)
	st := s.State()
	require.Equal(t, 2, st.Active, "state %+v", st)
	require.Equal(t, 1.0, st.Utilization, "state %+v", st)
	require.Equal(t, "semaphore", st.Kind, "state %+v", st)
	require.Equal(t, "db", st.Name, "state %+v", st)
	_, ok := s.TryAcquire()
	require.False(t, ok, "TryAcquire succeeded on a full semaphore")
	p1.Release(baldur.Outcome{})
	p1.Release(baldur.Outcome{}) // no-op
	require.Equal(t, 1, s.State().Active, "active after double release")
	p2.Release(baldur.Outcome{})
	checkIdle(t, s)

	var never baldur.Permit
	never.Release(baldur.Outcome{}) // the zero Permit holds nothing
	checkIdle(t, s)
}

func TestSemaphoreFailFast(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(1000, 0))
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 1, RetryAfter: baldur.Duration(1500 * time.Millisecond), Clock: fake})
	p, err := s.Acquire(context.Background())
	require.NoError(t, err)
	defer p.Release(baldur.Outcome{})

	_, err = s.Admit(context.Background(), baldur.Call{Now: time.Unix(2000, 0)})
	rej, ok := err.(*baldur.Rejection)
	require.True(t, ok, "Admit error %T %v, want *baldur.Rejection", err, err)
	require.Equal(t, baldur.ReasonBulkheadFull, rej.Reason(), "rejection reason")
	require.Equal(t, int64(2), rej.RetryAfterSeconds(), "rejection retry")
	require.ErrorIs(t, err, ErrFull, "Admit rejection does not match ErrFull")
	require.ErrorIs(t, err, baldur.ErrRejected, "Admit rejection does not match ErrRejected")
	st := s.State()
	require.Equal(t, uint64(1), st.Rejected, "state after reject %+v", st)
	require.True(t, st.LastRejection.Equal(time.Unix(2000, 0)), "state after reject %+v", st)

	_, err = s.Acquire(context.Background())
	var fe *FullError
	require.ErrorAs(t, err, &fe, "Acquire error %T %v, want *FullError", err, err)
	require.EqualError(t, err, `bulkhead "db" full: 1/1 active, 0 waiting`)
	require.ErrorIs(t, err, ErrFull, "FullError matches wrongly")
	require.ErrorIs(t, err, baldur.ErrRejected, "FullError matches wrongly")
	require.NotErrorIs(t, err, ErrTimeout, "FullError matches wrongly")
	r, ok := baldur.AsRejection(err)
	require.True(t, ok, "FullError does not carry the interned rejection")
	require.Same(t, rej, r, "FullError does not carry the interned rejection")
	st = s.State()
	require.Equal(t, uint64(2), st.Rejected, "state after second reject %+v", st)
	require.True(t, st.LastRejection.Equal(fake.Now()), "state after second reject %+v", st)

	err = s.Execute(context.Background(), func(context.Context) error { assert.Fail(t, "ran while full"); return nil })
	require.ErrorIs(t, err, ErrFull, "Execute")
}

func TestSemaphoreDoneContextWins(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Admit(ctx, baldur.Call{})
	require.Same(t, context.Canceled, err, "Admit with done ctx: %v, want context.Canceled unwrapped", err)
	_, err = s.Acquire(ctx)
	require.Same(t, context.Canceled, err, "Acquire with done ctx: %v", err)
	checkIdle(t, s)
}

// enqueue starts a goroutine acquiring s and returns once it is queued.
func enqueue(t *testing.T, s *Semaphore, ctx context.Context, got func(baldur.Permit, error)) {
	t.Helper()
	n := s.State().Waiting
	go func() { got(s.Acquire(ctx)) }()
	eventually(t, "waiter to queue", func() bool { return s.State().Waiting == n+1 })
}

func TestSemaphoreFIFO(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "fifo", MaxConcurrent: 1, MaxWait: baldur.Duration(time.Hour)})
	hold, _ := s.Acquire(context.Background())

	const n = 20
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		enqueue(t, s, context.Background(), func(p baldur.Permit, err error) {
			defer wg.Done()
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			p.Release(baldur.Outcome{})
		})
	}
	hold.Release(baldur.Outcome{})
	wg.Wait()
	want := make([]int, len(order))
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, order, "grant order, want 0..%d", n-1)
	checkIdle(t, s)
}

// A released permit goes to the queued waiter, never to a newcomer on the
// fast path, however hard newcomers try.
// With 16 permits and caches on, the compartment caches released permits
// per P.
func TestSemaphoreNoBarging(t *testing.T) {
	t.Parallel()
	for _, max := range []int{2, 16} {
		t.Run(strconv.Itoa(max), func(t *testing.T) {
			t.Parallel()
			testNoBarging(t, newCached(t, Config{Name: "nobarge", MaxConcurrent: max, MaxWait: baldur.Duration(time.Hour)}), max)
		})
	}
}

func testNoBarging(t *testing.T, s *Semaphore, max int) {
	a, _ := s.Acquire(context.Background())
	var rest []baldur.Permit
	for range max - 1 {
		p, err := s.Acquire(context.Background())
		require.NoError(t, err)
		rest = append(rest, p)
	}

	stop := make(chan struct{})
	barged := make(chan int, 1)
	go func() {
		n := 0
		defer func() { barged <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if p, ok := s.TryAcquire(); ok {
				n++
				p.Release(baldur.Outcome{})
			}
		}
	}()
	granted := make(chan baldur.Permit, 1)
	enqueue(t, s, context.Background(), func(p baldur.Permit, err error) {
		assert.NoError(t, err)
		granted <- p
	})
	a.Release(baldur.Outcome{})
	w := <-granted
	close(stop)
	require.Zero(t, <-barged, "fast path took permits while a waiter was queued")
	w.Release(baldur.Outcome{})
	releaseAll(rest)
	checkIdle(t, s)
}

func TestSemaphoreCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "cancel", MaxConcurrent: 1, MaxWait: baldur.Duration(time.Hour)})
	hold, _ := s.Acquire(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	enqueue(t, s, ctx, func(p baldur.Permit, err error) { errc <- err })
	next := make(chan baldur.Permit, 1)
	enqueue(t, s, context.Background(), func(p baldur.Permit, err error) { next <- p })

	cancel()
	err := <-errc
	require.Same(t, context.Canceled, err, "cancelled waiter got %v, want context.Canceled", err)
	st := s.State()
	require.Equal(t, 1, st.Active, "after cancel %+v", st)
	require.Equal(t, 1, st.Waiting, "after cancel %+v", st)
	// The cancelled waiter left the queue: the permit skips it.
	hold.Release(baldur.Outcome{})
	p := <-next
	p.Release(baldur.Outcome{})
	checkIdle(t, s)
}

// A permit handed over just as the waiter's context ends is given back, to
// the next waiter, never leaked.
func TestSemaphoreHandoffRacingCancel(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "race", MaxConcurrent: 1, MaxWait: baldur.Duration(time.Hour)})
	for range 300 {
		hold, _ := s.Acquire(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		var got baldur.Permit
		enqueue(t, s, ctx, func(p baldur.Permit, err error) { got = p; res <- err })
		go cancel()
		hold.Release(baldur.Outcome{})
		if err := <-res; err == nil {
			got.Release(baldur.Outcome{})
		} else {
			require.Same(t, context.Canceled, err, "%v", err)
		}
		checkIdle(t, s)
	}
}

func TestSemaphoreMaxWaitExpires(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 1, MaxWait: baldur.Duration(50 * time.Millisecond), Clock: fake})
	hold, _ := s.Acquire(context.Background())
	defer hold.Release(baldur.Outcome{})

	errc := make(chan error, 1)
	go func() {
		_, err := s.Admit(context.Background(), baldur.Call{})
		errc <- err
	}()
	eventually(t, "waiter to arm its timer", func() bool { return fake.Pending() == 1 })
	fake.Advance(49 * time.Millisecond)
	select {
	case err := <-errc:
		require.Failf(t, "returned before MaxWait", "%v", err)
	default:
	}
	fake.Advance(time.Millisecond)
	err := <-errc
	r, ok := err.(*baldur.Rejection)
	require.True(t, ok, "after MaxWait: %T %v", err, err)
	require.Equal(t, baldur.ReasonBulkheadFull, r.Reason(), "after MaxWait: %T %v", err, err)
	st := s.State()
	require.Zero(t, st.Waiting, "state %+v", st)
	require.Equal(t, 1, st.Active, "state %+v", st)
	require.Equal(t, uint64(1), st.Rejected, "state %+v", st)
}

func TestSemaphoreGrantStopsTimer(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 1, MaxWait: baldur.Duration(time.Second), Clock: fake})
	hold, _ := s.Acquire(context.Background())
	got := make(chan baldur.Permit, 1)
	go func() {
		p, err := s.Acquire(context.Background())
		assert.NoError(t, err)
		got <- p
	}()
	eventually(t, "waiter to arm its timer", func() bool { return fake.Pending() == 1 })
	hold.Release(baldur.Outcome{})
	p := <-got
	require.Zero(t, fake.Pending(), "timers left armed after the grant")
	p.Release(baldur.Outcome{})
	checkIdle(t, s)
}

func TestSemaphoreResize(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "rs", MaxConcurrent: 1, MaxWait: baldur.Duration(time.Hour)})
	hold, _ := s.Acquire(context.Background())
	got := make(chan baldur.Permit, 3)
	for range 3 {
		enqueue(t, s, context.Background(), func(p baldur.Permit, err error) { got <- p })
	}
	require.NoError(t, s.Resize(3))
	a, b := <-got, <-got // growing wakes two waiters at once
	st := s.State()
	require.Equal(t, 3, st.Active, "after grow %+v", st)
	require.Equal(t, 1, st.Waiting, "after grow %+v", st)
	require.Equal(t, 3, st.MaxConcurrent, "after grow %+v", st)
	require.NoError(t, s.Resize(1))
	// Over the new limit: releases do not hand permits on until below it.
	a.Release(baldur.Outcome{})
	b.Release(baldur.Outcome{})
	st = s.State()
	require.Equal(t, 1, st.Active, "after shrink %+v", st)
	require.Equal(t, 1, st.Waiting, "after shrink %+v", st)
	hold.Release(baldur.Outcome{})
	c := <-got
	c.Release(baldur.Outcome{})
	checkIdle(t, s)
	require.Equal(t, 1, s.Config().MaxConcurrent, "Config does not report the resized limit")
	var ce *baldur.ConfigError
	require.ErrorAs(t, s.Resize(0), &ce, "Resize(0)")
	require.Equal(t, "MaxConcurrent", ce.Field, "Resize(0)")
}

func TestSemaphoreExecute(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "ex", MaxConcurrent: 1})
	boom := errors.New("boom")
	err := s.Execute(context.Background(), func(context.Context) error { return boom })
	require.Same(t, boom, err, "Execute = %v", err)
	require.Panics(t, func() {
		_ = s.Execute(context.Background(), func(context.Context) error { panic("x") })
	}, "panic swallowed")
	checkIdle(t, s) // released on panic
	require.Equal(t, "ex", s.Name(), "Name")
	require.Equal(t, baldur.StageBulkhead, s.Stage(), "Stage")
}

func TestSemaphoreAllocs(t *testing.T) {
	s := mustNew(t, Config{Name: "alloc", MaxConcurrent: 1})
	ctx := context.Background()
	c := baldur.Call{Now: time.Unix(1, 0)}
	// The measured closures only record; the checks run after them.
	var admitErr error
	n := testing.AllocsPerRun(1000, func() {
		p, err := s.Admit(ctx, c)
		if err != nil {
			if admitErr == nil {
				admitErr = err
			}
			return
		}
		p.Release(baldur.Outcome{})
	})
	require.NoError(t, admitErr)
	require.Zero(t, n, "Admit+Release allocates")
	hold, _ := s.Acquire(ctx)
	defer hold.Release(baldur.Outcome{})
	admitted := false
	n = testing.AllocsPerRun(1000, func() {
		if _, err := s.Admit(ctx, c); err == nil {
			admitted = true
		}
	})
	require.False(t, admitted, "admitted")
	require.Zero(t, n, "reject path allocates")
	n = testing.AllocsPerRun(1000, func() {
		if p, ok := s.TryAcquire(); ok {
			p.Release(baldur.Outcome{})
		}
	})
	require.Zero(t, n, "TryAcquire allocates")
}

func TestFullErrorMessage(t *testing.T) {
	t.Parallel()
	e := &FullError{Name: "db", Active: 12, Max: 12, Waiting: 5, rej: baldur.Reject(baldur.ReasonBulkheadFull, time.Second)}
	require.EqualError(t, e, `bulkhead "db" full: 12/12 active, 5 waiting`)
	require.Equal(t, time.Second, e.RetryAfter(), "RetryAfter")
	require.ErrorContains(t, ErrTimeout, "timed out", "ErrTimeout text")
	require.ErrorIs(t, ErrTimeout, baldur.ErrRejected, "ErrTimeout matching")
	require.NotErrorIs(t, ErrTimeout, ErrFull, "ErrTimeout matching")
}
