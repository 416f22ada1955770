package chaos_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
)

// flaky is a store that fails every call while down.
type flaky struct {
	chaos.Store
	down atomic.Bool
}

var errDown = errors.New("store down")

func (f *flaky) Load(ctx context.Context) (uint64, []chaos.Entry, error) {
	if f.down.Load() {
		return 0, nil, errDown
	}
	return f.Store.Load(ctx)
}

func (f *flaky) Put(ctx context.Context, gen uint64, e chaos.Entry, lease time.Duration, create bool) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Put(ctx, gen, e, lease, create)
}

// replica is another process on the same store and clock.
func (e *env) replica(t testing.TB, store chaos.Store) *chaos.Scheduler {
	sc, err := chaos.New(chaos.Config{Enabled: true, DryRun: live(), Store: store, Governance: e.gov, Budget: e.budget,
		Blast: e.blast, Clock: e.clk, Owner: "b", Logger: discard})
	require.NoError(t, err)
	return sc
}

func injects(t testing.TB, inj *chaos.Injector, now time.Time, key string) bool {
	_, fault := inj.Gates("api")
	_, err := fault.Admit(context.Background(), call(now, key))
	return err != nil
}

// A scheduler that stops refreshing (crashed, hung): every replica stops
// injecting within one lease (3 s) of its last refresh.
func TestOwnerThatStopsRefreshingStopsInjectionEverywhereWithinOneLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.replica(t, e.store)
	e.toDuring(t, errorExp("crash", 0.05))
	key := firstKey(t, "crash", 0.05, "experiment")
	ctx := context.Background()
	b.Tick(ctx)
	require.True(t, injects(t, b.Injector(), e.clk.Now(), key), "the other replica injects after its poll")
	// The owner dies: only b keeps polling, once a second.
	var stoppedAfter time.Duration
	for step := time.Second; step <= 10*time.Second; step += time.Second {
		e.clk.Advance(time.Second)
		b.Tick(ctx)
		if !injects(t, b.Injector(), e.clk.Now(), key) {
			stoppedAfter = step
			break
		}
	}
	require.NotZero(t, stoppedAfter, "b never stopped")
	assert.LessOrEqual(t, stoppedAfter, 3*time.Second, "within one lease")
}

// A replica cut off from the store stops injecting when its own lease
// runs out, whatever the owner does.
func TestReplicaThatCannotRefreshStopsWithinOneLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	f := &flaky{Store: e.store}
	b := e.replica(t, f)
	e.toDuring(t, errorExp("cut", 0.05))
	key := firstKey(t, "cut", 0.05, "experiment")
	ctx := context.Background()
	b.Tick(ctx)
	require.True(t, injects(t, b.Injector(), e.clk.Now(), key))
	f.down.Store(true)
	for range 2 {
		e.advance(time.Second) // the owner keeps refreshing
		b.Tick(ctx)
		require.True(t, injects(t, b.Injector(), e.clk.Now(), key), "inside the lease")
	}
	e.advance(time.Second)
	b.Tick(ctx)
	assert.False(t, injects(t, b.Injector(), e.clk.Now(), key), "3 s after the last refresh")
	assert.True(t, injects(t, e.inj, e.clk.Now(), key), "the owner, still connected, injects")
	assert.EqualValues(t, 1, b.Injector().Stats().LeaseExpired)
	assert.NotZero(t, b.Stats().PollErrors)
}

// Kill-all from any replica: that replica stops at once, every other at
// its next poll, and the owner can never refresh its lease again.
func TestKillAllReachesEveryReplicaWithinOnePoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.replica(t, e.store)
	c := e.replica(t, e.store)
	e.toDuring(t, errorExp("k1", 0.05))
	ctx := context.Background()
	b.Tick(ctx)
	c.Tick(ctx)
	key := firstKey(t, "k1", 0.05, "experiment")
	for _, inj := range []*chaos.Injector{e.inj, b.Injector(), c.Injector()} {
		require.True(t, injects(t, inj, e.clk.Now(), key))
	}
	n, err := b.KillAll(ctx, "incident")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, injects(t, b.Injector(), e.clk.Now(), key), "at once on the killing replica")
	e.clk.Advance(time.Second) // one poll
	c.Tick(ctx)
	e.sc.Tick(ctx)
	assert.False(t, injects(t, c.Injector(), e.clk.Now(), key), "within one poll")
	assert.False(t, injects(t, e.inj, e.clk.Now(), key))
	r, _ := e.sc.Get("k1")
	assert.Equal(t, chaos.StateStopped, r.State)
	assert.Equal(t, "kill_all", r.StopReason)
	_, entries, err := e.store.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, entries, "the owner did not put it back")
}

// Stop from a replica that does not own the experiment ends it at its
// owner's next pass.
func TestStopFromAnotherReplica(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := e.replica(t, e.store)
	e.toDuring(t, errorExp("far", 0.05))
	b.Tick(context.Background())
	list := b.List()
	require.Len(t, list, 1, "b lists the other replica's experiment")
	assert.Equal(t, chaos.StateDuring, list[0].State)
	assert.Equal(t, "local", list[0].Owner)
	r, err := b.Stop(context.Background(), "far", "operator")
	require.NoError(t, err, "b stops it though it does not own it")
	assert.Equal(t, chaos.StateStopped, r.State)
	_, err = b.Stop(context.Background(), "nope", "operator")
	require.ErrorIs(t, err, chaos.ErrNotFound)
	e.advance(time.Second)
	r, _ = e.sc.Get("far")
	assert.Equal(t, chaos.StateStopped, r.State)
	assert.Equal(t, "lease_lost", r.StopReason)
	assert.Contains(t, e.notes.titles(), "chaos experiment stopped: far")
}

func TestKillAllWorksWhenDisabledAndOnTheNoOp(t *testing.T) {
	t.Parallel()
	sc, err := chaos.New(chaos.Config{})
	require.NoError(t, err)
	n, err := sc.KillAll(context.Background(), "drill")
	require.NoError(t, err)
	assert.Zero(t, n)
	var _ baldur.Gate = (*chaos.FaultGate)(nil)
}
