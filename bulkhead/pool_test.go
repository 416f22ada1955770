package bulkhead

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func mustPool(t testing.TB, cfg PoolConfig) *Pool {
	t.Helper()
	p, err := NewPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

type traceKey struct{}

func TestPoolExecute(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "out", Workers: 2})
	ctx := context.WithValue(context.Background(), traceKey{}, "trace-42")
	var seen any
	err := p.Execute(ctx, func(wctx context.Context) error {
		seen = wctx.Value(traceKey{})
		return errors.New("upstream 500")
	})
	require.EqualError(t, err, "upstream 500", "Execute")
	require.Equal(t, "trace-42", seen, "work saw trace id")
	st := p.State()
	require.Equal(t, "pool", st.Kind, "state %+v", st)
	require.Equal(t, 2, st.MaxConcurrent, "state %+v", st)
	require.Zero(t, st.Active, "state %+v", st)
	require.Zero(t, st.Waiting, "state %+v", st)
}

func TestPoolPanicReachesCaller(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "out", Workers: 1})
	require.PanicsWithValue(t, "kaput", func() {
		_ = p.Execute(context.Background(), func(context.Context) error { panic("kaput") })
	})
	// The worker survived the panic.
	require.NoError(t, p.Execute(context.Background(), func(context.Context) error { return nil }))
}

func TestPoolFullRejectsAtOnce(t *testing.T) {
	t.Parallel()
	for _, queue := range []int{0, 1, 3} {
		p := mustPool(t, PoolConfig{Name: "q", Workers: 1, QueueSize: queue, Timeout: baldur.Duration(time.Hour)})
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		done := make(chan error, queue+1)
		go func() {
			done <- p.Execute(context.Background(), func(context.Context) error {
				started <- struct{}{}
				<-release
				return nil
			})
		}()
		<-started
		for i := range queue {
			go func() { done <- p.Execute(context.Background(), func(context.Context) error { return nil }) }()
			eventually(t, "queued", func() bool { return p.State().Waiting == i+1 })
		}
		err := p.Execute(context.Background(), func(context.Context) error { assert.Fail(t, "ran while full"); return nil })
		var fe *FullError
		require.ErrorAs(t, err, &fe, "queue %d", queue)
		require.ErrorIs(t, err, ErrFull, "queue %d", queue)
		require.ErrorIs(t, err, baldur.ErrRejected, "queue %d", queue)
		require.Equal(t, 1, fe.Active, "queue %d: occupancy %+v", queue, fe)
		require.Equal(t, 1, fe.Max, "queue %d: occupancy %+v", queue, fe)
		require.Equal(t, queue, fe.Waiting, "queue %d: occupancy %+v", queue, fe)
		require.Equal(t, uint64(1), p.State().Rejected, "rejection not counted")
		close(release)
		for range queue + 1 {
			require.NoError(t, <-done)
		}
	}
}

func TestPoolTimeout(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	p := mustPool(t, PoolConfig{Name: "slow", Workers: 1, Timeout: baldur.Duration(2 * time.Second), RetryAfter: baldur.Duration(3 * time.Second), Clock: fake})
	started := make(chan struct{})
	cause := make(chan error, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- p.Execute(context.Background(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		})
	}()
	// A worker may take the job after the caller armed its timer, and a
	// job the timeout finds queued never runs: wait for it to run.
	<-started
	eventually(t, "timer armed", func() bool { return fake.Pending() == 1 })
	fake.Advance(2 * time.Second)
	err := <-errc
	var te *TimeoutError
	require.ErrorAs(t, err, &te, "Execute = %T %v", err, err)
	require.Equal(t, "slow", te.Name, "Execute = %T %v", err, err)
	require.Equal(t, 2*time.Second, te.Timeout, "Execute = %T %v", err, err)
	require.ErrorIs(t, err, ErrTimeout, "TimeoutError matching")
	require.ErrorIs(t, err, baldur.ErrRejected, "TimeoutError matching")
	require.NotErrorIs(t, err, ErrFull, "TimeoutError matching")
	r, ok := baldur.AsRejection(err)
	require.True(t, ok, "AsRejection = %v %v", r, ok)
	require.Equal(t, baldur.ReasonBulkheadFull, r.Reason(), "AsRejection = %v %v", r, ok)
	require.Equal(t, int64(3), r.RetryAfterSeconds(), "AsRejection = %v %v", r, ok)
	require.EqualError(t, err, `bulkhead "slow": execution timed out after 2s`)
	require.Equal(t, ErrTimeout, <-cause, "work context cause, want ErrTimeout")
}

// A call that timed out while queued never runs.
func TestPoolTimeoutWhileQueuedSkipsWork(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	p := mustPool(t, PoolConfig{Name: "q", Workers: 1, QueueSize: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	release := make(chan struct{})
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- p.Execute(context.Background(), func(context.Context) error { close(started); <-release; return nil })
	}()
	<-started
	eventually(t, "first timer", func() bool { return fake.Pending() == 1 })
	second := make(chan error, 1)
	go func() {
		second <- p.Execute(context.Background(), func(context.Context) error { assert.Fail(t, "abandoned work ran"); return nil })
	}()
	eventually(t, "second timer", func() bool { return fake.Pending() == 2 })
	fake.Advance(time.Second)
	require.ErrorIs(t, <-second, ErrTimeout, "queued call")
	require.ErrorIs(t, <-first, ErrTimeout, "running call")
	close(release)
	require.NoError(t, p.Close())
}

func TestPoolCallerCancel(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "c", Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- p.Execute(ctx, func(wctx context.Context) error { close(started); <-wctx.Done(); return nil })
	}()
	<-started
	cancel()
	err := <-errc
	require.Same(t, context.Canceled, err, "Execute = %v, want context.Canceled unwrapped", err)
	err = p.Execute(ctx, func(context.Context) error { return nil })
	require.Same(t, context.Canceled, err, "done ctx: %v", err)
}

func TestPoolCloseDrains(t *testing.T) {
	t.Parallel()
	p, err := NewPool(PoolConfig{Name: "d", Workers: 1, QueueSize: 4})
	require.NoError(t, err)
	release := make(chan struct{})
	ran := make(chan int, 5)
	errs := make(chan error, 5)
	for i := range 5 {
		go func() {
			errs <- p.Execute(context.Background(), func(context.Context) error {
				if i == 0 {
					<-release
				}
				ran <- i
				return nil
			})
		}()
		eventually(t, "accepted", func() bool { st := p.State(); return st.Active+st.Waiting == i+1 })
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	eventually(t, "closed", func() bool {
		return errors.Is(p.Execute(context.Background(), func(context.Context) error { return nil }), ErrClosed)
	})
	close(release)
	require.NoError(t, <-closed)
	require.Equal(t, 5, len(ran), "drained of 5 queued calls")
	for range 5 {
		require.NoError(t, <-errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Shutdown(ctx); err != nil {
		require.Same(t, context.Canceled, err, "%v", err)
	}
}

func TestPoolShutdownBounded(t *testing.T) {
	t.Parallel()
	p, _ := NewPool(PoolConfig{Name: "d", Workers: 1})
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_ = p.Execute(context.Background(), func(context.Context) error { close(started); <-release; return nil })
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Shutdown(ctx)
	require.Same(t, context.Canceled, err, "Shutdown = %v", err)
	close(release)
	require.NoError(t, p.Close())
}

func TestPoolAcquireLendsWorker(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	p := mustPool(t, PoolConfig{Name: "lend", Workers: 1, QueueSize: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	permit, err := p.Acquire(context.Background())
	require.NoError(t, err)
	st := p.State()
	require.Equal(t, 1, st.Active, "lent worker not active: %+v", st)
	// The queued Acquire times out while the worker is lent.
	errc := make(chan error, 1)
	go func() { _, err := p.Acquire(context.Background()); errc <- err }()
	eventually(t, "queued acquire armed", func() bool { return fake.Pending() == 1 })
	fake.Advance(time.Second)
	require.ErrorIs(t, <-errc, ErrTimeout, "queued Acquire")
	permit.Release(baldur.Outcome{})
	permit.Release(baldur.Outcome{})
	eventually(t, "worker back", func() bool { return p.State().Active == 0 })
	require.NoError(t, p.Execute(context.Background(), func(context.Context) error { return nil }))
}
