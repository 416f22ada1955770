package bulkhead

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func poolPolicy(t testing.TB, p *Pool, more ...baldur.Gate) *baldur.Policy {
	t.Helper()
	pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "pooled", Gates: append([]baldur.Gate{p}, more...)})
	require.NoError(t, err)
	return pol
}

func inFlight(p *Pool) int {
	st := p.State()
	return st.Active + st.Waiting
}

// A ticket of a policy holding a pool runs its work on a worker, with the
// place Admit took, and gives the place back when the work ends.
func TestPoolTicketRunsOnWorker(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "out", Workers: 1})
	pol := poolPolicy(t, p)
	ctx := context.WithValue(context.Background(), traceKey{}, "trace-7")
	tk, err := pol.Admit(ctx, baldur.Call{Operation: "op"})
	require.NoError(t, err)
	require.True(t, tk.Runs(), "a policy with a pool runs the work")
	require.Equal(t, 1, inFlight(p), "Admit took a place")

	caller := make(chan struct{})
	var seen any
	err = tk.Run(ctx, func(wctx context.Context) error {
		seen = wctx.Value(traceKey{})
		close(caller)
		return errors.New("upstream 500")
	})
	require.EqualError(t, err, "upstream 500")
	require.Equal(t, "trace-7", seen)
	<-caller
	eventually(t, "place given back", func() bool { return inFlight(p) == 0 })
	tk.Release(baldur.Outcome{Result: baldur.Failure})
	require.Equal(t, 0, inFlight(p), "Release after Run gave a place back twice")

	// A second Run of the same ticket runs on the caller's goroutine.
	require.NoError(t, tk.Run(ctx, func(context.Context) error { return nil }))
}

// A ticket released without running its work gives the place back.
func TestPoolTicketReleasedWithoutRun(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "out", Workers: 1})
	pol := poolPolicy(t, p)
	tk, err := pol.Admit(context.Background(), baldur.Call{Operation: "op"})
	require.NoError(t, err)
	_, err = pol.Admit(context.Background(), baldur.Call{Operation: "op"})
	require.ErrorIs(t, err, ErrFull, "a full pool rejects at admission")
	_, isRej := err.(*baldur.Rejection)
	require.True(t, isRej, "the chain's rejection is the interned *baldur.Rejection, got %T", err)
	require.Equal(t, uint64(1), pol.Rejected(baldur.ReasonBulkheadFull))
	tk.Release(baldur.Outcome{Result: baldur.Ignored})
	require.Equal(t, 0, inFlight(p))
}

// A policy without a pool runs the work on the caller's goroutine, and a
// pool shadowed in a policy does not run it either.
func TestTicketWithoutRunnerRunsInline(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Name: "sem", MaxConcurrent: 1})
	pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "sem", Gates: []baldur.Gate{s}})
	require.NoError(t, err)
	tk, err := pol.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	require.False(t, tk.Runs())
	ran := false
	require.NoError(t, tk.Run(context.Background(), func(context.Context) error { ran = true; return nil }))
	require.True(t, ran)
	tk.Release(baldur.Outcome{})

	p := mustPool(t, PoolConfig{Name: "shadowed", Workers: 1})
	full, err := p.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	defer full.Release(baldur.Outcome{})
	sp, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "shadow", Gates: []baldur.Gate{p}, Shadow: []baldur.Stage{baldur.StageBulkhead}})
	require.NoError(t, err)
	tk, err = sp.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err, "a shadowed pool enforced its rejection")
	require.False(t, tk.Runs(), "a shadow-rejected pool holds no place to run in")
	tk.Release(baldur.Outcome{})
}

// The pool's timeout frees the caller of Ticket.Run while the work goes on
// with its context cancelled; the place comes back when the work returns.
func TestPoolTicketRunTimeout(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(0, 0))
	p := mustPool(t, PoolConfig{Name: "slow", Workers: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	pol := poolPolicy(t, p)
	tk, err := pol.Admit(context.Background(), baldur.Call{Now: fake.Now()})
	require.NoError(t, err)
	started, finish := make(chan struct{}), make(chan struct{})
	var once sync.Once
	closeFinish := func() { once.Do(func() { close(finish) }) }
	// Before the pool's cleanup, which waits for the work: a failed
	// assertion below must not leave the work blocked.
	t.Cleanup(closeFinish)
	errc := make(chan error, 1)
	go func() {
		errc <- tk.Run(context.Background(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			<-finish
			return ctx.Err()
		})
	}()
	// A worker may take the job after the caller armed its timer: the
	// timeout must find the work running, not still queued.
	<-started
	eventually(t, "timer armed", func() bool { return fake.Pending() == 1 })
	fake.Advance(time.Second)
	err = <-errc
	require.ErrorIs(t, err, ErrTimeout)
	require.Equal(t, 1, inFlight(p), "the work still runs")
	closeFinish()
	eventually(t, "work returned", func() bool { return inFlight(p) == 0 })
	tk.Release(baldur.Outcome{Result: baldur.Failure})
	require.Equal(t, 0, inFlight(p))
}

// Run with a permit the pool did not grant admits the work anew.
func TestPoolRunForeignPermit(t *testing.T) {
	t.Parallel()
	p := mustPool(t, PoolConfig{Name: "out", Workers: 1})
	s := mustNew(t, Config{Name: "sem", MaxConcurrent: 1})
	sp, err := s.Acquire(context.Background())
	require.NoError(t, err)
	require.NoError(t, p.Run(context.Background(), &sp, func(context.Context) error { return nil }))
	require.True(t, sp.Held(), "Run claimed a permit of another gate")
	sp.Release(baldur.Outcome{})
	require.NoError(t, p.Run(context.Background(), nil, func(context.Context) error { return nil }))
	eventually(t, "idle", func() bool { return inFlight(p) == 0 })
}

// A retired pool serves what it admitted and closes once nothing is in
// flight; its workers then exit.
func TestPoolRetireClosesWhenDrained(t *testing.T) {
	t.Parallel()
	p, err := NewPool(PoolConfig{Name: "old", Workers: 3, QueueSize: 1})
	require.NoError(t, err)
	pol := poolPolicy(t, p)
	admitted, err := pol.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	release := make(chan struct{})
	running := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- p.Execute(context.Background(), func(context.Context) error { close(running); <-release; return nil })
	}()
	<-running

	p.Retire()
	// Still open: both calls are in flight, and a straggler is served.
	require.NoError(t, p.Execute(context.Background(), func(context.Context) error { return nil }))
	require.NoError(t, admitted.Run(context.Background(), func(context.Context) error { return nil }))
	admitted.Release(baldur.Outcome{})
	close(release)
	require.NoError(t, <-errc)
	eventually(t, "closed", func() bool {
		_, err := p.Admit(context.Background(), baldur.Call{})
		return errors.Is(err, ErrClosed)
	})
	require.NoError(t, p.Close(), "Close waits for the exited workers")
}

// An idle pool retires at once.
func TestPoolRetireIdle(t *testing.T) {
	t.Parallel()
	p, err := NewPool(PoolConfig{Name: "idle", Workers: 2})
	require.NoError(t, err)
	p.Retire()
	require.ErrorIs(t, p.Execute(context.Background(), func(context.Context) error { return nil }), ErrClosed)
	require.NoError(t, p.Close())
}
