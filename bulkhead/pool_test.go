package bulkhead

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func mustPool(t testing.TB, cfg PoolConfig) *Pool {
	t.Helper()
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
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
	if err == nil || err.Error() != "upstream 500" {
		t.Fatalf("Execute = %v", err)
	}
	if seen != "trace-42" {
		t.Fatalf("work saw trace id %v", seen)
	}
	if st := p.State(); st.Kind != "pool" || st.MaxConcurrent != 2 || st.Active != 0 || st.Waiting != 0 {
		t.Fatalf("state %+v", st)
	}
}

func TestPoolPanicReachesCaller(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "out", Workers: 1})
	defer func() {
		if r := recover(); r != "kaput" {
			t.Fatalf("recovered %v", r)
		}
		// The worker survived the panic.
		if err := p.Execute(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}()
	_ = p.Execute(context.Background(), func(context.Context) error { panic("kaput") })
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
		err := p.Execute(context.Background(), func(context.Context) error { t.Error("ran while full"); return nil })
		var fe *FullError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFull) || !errors.Is(err, baldur.ErrRejected) {
			t.Fatalf("queue %d: %v", queue, err)
		}
		if fe.Active != 1 || fe.Max != 1 || fe.Waiting != queue {
			t.Fatalf("queue %d: occupancy %+v", queue, fe)
		}
		if p.State().Rejected != 1 {
			t.Fatal("rejection not counted")
		}
		close(release)
		for range queue + 1 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestPoolTimeout(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	p := mustPool(t, PoolConfig{Name: "slow", Workers: 1, Timeout: baldur.Duration(2 * time.Second), RetryAfter: baldur.Duration(3 * time.Second), Clock: fake})
	cause := make(chan error, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- p.Execute(context.Background(), func(ctx context.Context) error {
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		})
	}()
	eventually(t, "timer armed", func() bool { return fake.Pending() == 1 })
	fake.Advance(2 * time.Second)
	err := <-errc
	var te *TimeoutError
	if !errors.As(err, &te) || te.Name != "slow" || te.Timeout != 2*time.Second {
		t.Fatalf("Execute = %T %v", err, err)
	}
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, baldur.ErrRejected) || errors.Is(err, ErrFull) {
		t.Fatal("TimeoutError matching")
	}
	if r, ok := baldur.AsRejection(err); !ok || r.Reason() != baldur.ReasonBulkheadFull || r.RetryAfterSeconds() != 3 {
		t.Fatalf("AsRejection = %v %v", r, ok)
	}
	if err.Error() != `bulkhead "slow": execution timed out after 2s` {
		t.Fatal(err.Error())
	}
	if c := <-cause; c != ErrTimeout {
		t.Fatalf("work context cause %v, want ErrTimeout", c)
	}
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
		second <- p.Execute(context.Background(), func(context.Context) error { t.Error("abandoned work ran"); return nil })
	}()
	eventually(t, "second timer", func() bool { return fake.Pending() == 2 })
	fake.Advance(time.Second)
	if err := <-second; !errors.Is(err, ErrTimeout) {
		t.Fatalf("queued call: %v", err)
	}
	if err := <-first; !errors.Is(err, ErrTimeout) {
		t.Fatalf("running call: %v", err)
	}
	close(release)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
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
	if err := <-errc; err != context.Canceled {
		t.Fatalf("Execute = %v, want context.Canceled unwrapped", err)
	}
	if err := p.Execute(ctx, func(context.Context) error { return nil }); err != context.Canceled {
		t.Fatalf("done ctx: %v", err)
	}
}

func TestPoolCloseDrains(t *testing.T) {
	t.Parallel()
	p, err := NewPool(PoolConfig{Name: "d", Workers: 1, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(ran) != 5 {
		t.Fatalf("drained %d of 5 queued calls", len(ran))
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Shutdown(ctx); err != nil && err != context.Canceled {
		t.Fatal(err)
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
	if err := p.Shutdown(ctx); err != context.Canceled {
		t.Fatalf("Shutdown = %v", err)
	}
	close(release)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPoolAcquireLendsWorker(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	p := mustPool(t, PoolConfig{Name: "lend", Workers: 1, QueueSize: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	permit, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := p.State(); st.Active != 1 {
		t.Fatalf("lent worker not active: %+v", st)
	}
	// The queued Acquire times out while the worker is lent.
	errc := make(chan error, 1)
	go func() { _, err := p.Acquire(context.Background()); errc <- err }()
	eventually(t, "queued acquire armed", func() bool { return fake.Pending() == 1 })
	fake.Advance(time.Second)
	if err := <-errc; !errors.Is(err, ErrTimeout) {
		t.Fatalf("queued Acquire = %v", err)
	}
	permit.Release(baldur.Outcome{})
	permit.Release(baldur.Outcome{})
	eventually(t, "worker back", func() bool { return p.State().Active == 0 })
	if err := p.Execute(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
}
