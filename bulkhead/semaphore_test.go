package bulkhead

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// eventually spins until cond holds. It yields instead of sleeping: it waits
// for other goroutines to reach a state, never for time to pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func mustNew(t testing.TB, cfg Config) *Semaphore {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkIdle(t *testing.T, s *Semaphore) {
	t.Helper()
	if st := s.State(); st.Active != 0 || st.Waiting != 0 {
		t.Fatalf("not idle: %+v", st)
	}
}

func TestSemaphoreAdmitRelease(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 2})
	ctx := context.Background()
	p1, err := s.Admit(ctx, baldur.Call{})
	if err != nil || !p1.Held() {
		t.Fatalf("first admit: %v %v", p1.Held(), err)
	}
	p2, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.State(); st.Active != 2 || st.Utilization != 1 || st.Kind != "semaphore" || st.Name != "db" {
		t.Fatalf("state %+v", st)
	}
	if _, ok := s.TryAcquire(); ok {
		t.Fatal("TryAcquire succeeded on a full semaphore")
	}
	p1.Release(baldur.Outcome{})
	p1.Release(baldur.Outcome{}) // no-op
	if got := s.State().Active; got != 1 {
		t.Fatalf("active after double release = %d, want 1", got)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(baldur.Outcome{})

	_, err = s.Admit(context.Background(), baldur.Call{Now: time.Unix(2000, 0)})
	rej, ok := err.(*baldur.Rejection)
	if !ok {
		t.Fatalf("Admit error %T %v, want *baldur.Rejection", err, err)
	}
	if rej.Reason() != baldur.ReasonBulkheadFull || rej.RetryAfterSeconds() != 2 {
		t.Fatalf("rejection %v retry %d", rej.Reason(), rej.RetryAfterSeconds())
	}
	if !errors.Is(err, ErrFull) || !errors.Is(err, baldur.ErrRejected) {
		t.Fatal("Admit rejection does not match ErrFull / ErrRejected")
	}
	if st := s.State(); st.Rejected != 1 || !st.LastRejection.Equal(time.Unix(2000, 0)) {
		t.Fatalf("state after reject %+v", st)
	}

	_, err = s.Acquire(context.Background())
	var fe *FullError
	if !errors.As(err, &fe) {
		t.Fatalf("Acquire error %T %v, want *FullError", err, err)
	}
	if want := `bulkhead "db" full: 1/1 active, 0 waiting`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if !errors.Is(err, ErrFull) || !errors.Is(err, baldur.ErrRejected) || errors.Is(err, ErrTimeout) {
		t.Fatal("FullError matches wrongly")
	}
	if r, ok := baldur.AsRejection(err); !ok || r != rej {
		t.Fatal("FullError does not carry the interned rejection")
	}
	if st := s.State(); st.Rejected != 2 || !st.LastRejection.Equal(fake.Now()) {
		t.Fatalf("state after second reject %+v", st)
	}

	err = s.Execute(context.Background(), func(context.Context) error { t.Error("ran while full"); return nil })
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Execute: %v", err)
	}
}

func TestSemaphoreDoneContextWins(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Admit(ctx, baldur.Call{}); err != context.Canceled {
		t.Fatalf("Admit with done ctx: %v, want context.Canceled unwrapped", err)
	}
	if _, err := s.Acquire(ctx); err != context.Canceled {
		t.Fatalf("Acquire with done ctx: %v", err)
	}
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
			if err != nil {
				t.Error(err)
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
	for i, got := range order {
		if got != i {
			t.Fatalf("grant order %v, want 0..%d", order, n-1)
		}
	}
	checkIdle(t, s)
}

// A released permit goes to the queued waiter, never to a newcomer on the
// fast path, however hard newcomers try.
func TestSemaphoreNoBarging(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "nobarge", MaxConcurrent: 2, MaxWait: baldur.Duration(time.Hour)})
	a, _ := s.Acquire(context.Background())
	b, _ := s.Acquire(context.Background())

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
		if err != nil {
			t.Error(err)
		}
		granted <- p
	})
	a.Release(baldur.Outcome{})
	w := <-granted
	close(stop)
	if n := <-barged; n != 0 {
		t.Fatalf("fast path took %d permits while a waiter was queued", n)
	}
	w.Release(baldur.Outcome{})
	b.Release(baldur.Outcome{})
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
	if err := <-errc; err != context.Canceled {
		t.Fatalf("cancelled waiter got %v, want context.Canceled", err)
	}
	if st := s.State(); st.Active != 1 || st.Waiting != 1 {
		t.Fatalf("after cancel %+v", st)
	}
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
		} else if err != context.Canceled {
			t.Fatal(err)
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
		t.Fatalf("returned before MaxWait: %v", err)
	default:
	}
	fake.Advance(time.Millisecond)
	err := <-errc
	if r, ok := err.(*baldur.Rejection); !ok || r.Reason() != baldur.ReasonBulkheadFull {
		t.Fatalf("after MaxWait: %T %v", err, err)
	}
	if st := s.State(); st.Waiting != 0 || st.Active != 1 || st.Rejected != 1 {
		t.Fatalf("state %+v", st)
	}
}

func TestSemaphoreGrantStopsTimer(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	s := mustNew(t, Config{Name: "db", MaxConcurrent: 1, MaxWait: baldur.Duration(time.Second), Clock: fake})
	hold, _ := s.Acquire(context.Background())
	got := make(chan baldur.Permit, 1)
	go func() {
		p, err := s.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	eventually(t, "waiter to arm its timer", func() bool { return fake.Pending() == 1 })
	hold.Release(baldur.Outcome{})
	p := <-got
	if n := fake.Pending(); n != 0 {
		t.Fatalf("%d timers left armed after the grant", n)
	}
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
	if err := s.Resize(3); err != nil {
		t.Fatal(err)
	}
	a, b := <-got, <-got // growing wakes two waiters at once
	if st := s.State(); st.Active != 3 || st.Waiting != 1 || st.MaxConcurrent != 3 {
		t.Fatalf("after grow %+v", st)
	}
	if err := s.Resize(1); err != nil {
		t.Fatal(err)
	}
	// Over the new limit: releases do not hand permits on until below it.
	a.Release(baldur.Outcome{})
	b.Release(baldur.Outcome{})
	if st := s.State(); st.Active != 1 || st.Waiting != 1 {
		t.Fatalf("after shrink %+v", st)
	}
	hold.Release(baldur.Outcome{})
	c := <-got
	c.Release(baldur.Outcome{})
	checkIdle(t, s)
	if s.Config().MaxConcurrent != 1 {
		t.Fatal("Config does not report the resized limit")
	}
	var ce *baldur.ConfigError
	if err := s.Resize(0); !errors.As(err, &ce) || ce.Field != "MaxConcurrent" {
		t.Fatalf("Resize(0) = %v", err)
	}
}

func TestSemaphoreExecute(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "ex", MaxConcurrent: 1})
	boom := errors.New("boom")
	if err := s.Execute(context.Background(), func(context.Context) error { return boom }); err != boom {
		t.Fatalf("Execute = %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_ = s.Execute(context.Background(), func(context.Context) error { panic("x") })
	}()
	checkIdle(t, s) // released on panic
	if s.Name() != "ex" || s.Stage() != baldur.StageBulkhead {
		t.Fatal("Name/Kind")
	}
}

func TestSemaphoreAllocs(t *testing.T) {
	s := mustNew(t, Config{Name: "alloc", MaxConcurrent: 1})
	ctx := context.Background()
	c := baldur.Call{Now: time.Unix(1, 0)}
	if n := testing.AllocsPerRun(1000, func() {
		p, err := s.Admit(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(baldur.Outcome{})
	}); n != 0 {
		t.Fatalf("Admit+Release allocates %v", n)
	}
	hold, _ := s.Acquire(ctx)
	defer hold.Release(baldur.Outcome{})
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := s.Admit(ctx, c); err == nil {
			t.Fatal("admitted")
		}
	}); n != 0 {
		t.Fatalf("reject path allocates %v", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if p, ok := s.TryAcquire(); ok {
			p.Release(baldur.Outcome{})
		}
	}); n != 0 {
		t.Fatalf("TryAcquire allocates %v", n)
	}
}

func TestFullErrorMessage(t *testing.T) {
	t.Parallel()
	e := &FullError{Name: "db", Active: 12, Max: 12, Waiting: 5, rej: baldur.Reject(baldur.ReasonBulkheadFull, time.Second)}
	if got := e.Error(); got != `bulkhead "db" full: 12/12 active, 5 waiting` {
		t.Fatal(got)
	}
	if e.RetryAfter() != time.Second || !strings.Contains(ErrTimeout.Error(), "timed out") {
		t.Fatal("RetryAfter / ErrTimeout text")
	}
	if !errors.Is(ErrTimeout, baldur.ErrRejected) || errors.Is(ErrTimeout, ErrFull) {
		t.Fatal("ErrTimeout matching")
	}
}
