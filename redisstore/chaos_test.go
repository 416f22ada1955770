package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
)

func newChaosStore(t *testing.T, c redis.UniversalClient, pfx string) *Chaos {
	t.Helper()
	b := newBackend(t, c, Config{Scripts: ChaosScripts, Logger: discard()})
	s, err := NewChaos(b, ChaosConfig{Prefix: pfx, Service: "shop"})
	require.NoError(t, err)
	return s
}

// chaosReplica is one process's scheduler on store, on clk.
func chaosReplica(t *testing.T, store chaos.Store, clk baldur.Clock, owner string, lease, poll time.Duration) *chaos.Scheduler {
	t.Helper()
	blast, err := blastradius.New(blastradius.Config{Clock: clk, Windows: []blastradius.Window{blastradius.AnyTime}})
	require.NoError(t, err)
	f := false
	sc, err := chaos.New(chaos.Config{Enabled: true, DryRun: &f, Store: store, Clock: clk, Owner: owner,
		Governance: baldur.NoOpGovernance{}, Budget: fullBudget{}, Blast: blast, Logger: discard(),
		SteadyState: 1, Lease: baldur.Duration(lease), Poll: baldur.Duration(poll)})
	require.NoError(t, err)
	return sc
}

type fullBudget struct{}

func (fullBudget) Record(time.Time, baldur.Result) {}
func (fullBudget) Status(time.Time) baldur.ErrorBudgetStatus {
	return baldur.ErrorBudgetStatus{RemainingPct: 100}
}

var chaosExp = chaos.Experiment{ID: "redis-exp", Target: chaos.Target{Policy: "api"}, Fault: chaos.Fault{Kind: chaos.FaultAbort},
	Rate: 0.1, Duration: baldur.Duration(time.Minute)}

// expKey is a partition key in chaosExp's experiment cohort.
func expKey(t *testing.T) string {
	for i := range 10000 {
		k := "tenant-" + time.Duration(i).String()
		if chaos.Cohort(chaosExp.ID, chaosExp.Rate, k) == "experiment" {
			return k
		}
	}
	t.Fatal("no key")
	return ""
}

func injecting(inj *chaos.Injector, now time.Time, key string) bool {
	_, fault := inj.Gates("api")
	_, err := fault.Admit(context.Background(), baldur.Call{Operation: "op", Key: key, Now: now})
	return err != nil
}

// startOwner runs the owner until chaosExp injects.
func startOwner(t *testing.T, owner *chaos.Scheduler, clk baldur.Clock) {
	t.Helper()
	ctx := context.Background()
	_, err := owner.Schedule(ctx, chaosExp)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		if f, ok := clk.(*clock.Fake); ok {
			f.Advance(time.Millisecond) // past the 1 ns steady state
		}
		owner.Tick(ctx)
		r, _ := owner.Get(chaosExp.ID)
		return r.State == chaos.StateDuring
	}, 5*time.Second, 10*time.Millisecond)
	owner.Tick(ctx)
}

// TestChaosStoreOwnerStopsRefreshing: the owner stops refreshing (a
// crash); the other replica, still polling, stops injecting within one
// lease of the owner's last refresh, on the server's clock. Leases expire
// on the server, so the test waits real time (600 ms lease).
func TestChaosStoreOwnerStopsRefreshing(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	pfx := prefix(t)
	const lease, poll = 600 * time.Millisecond, 100 * time.Millisecond
	clk := baldur.SystemClock()
	owner := chaosReplica(t, newChaosStore(t, s.Client(t, nil), pfx), clk, "a", lease, poll)
	other := chaosReplica(t, newChaosStore(t, s.Client(t, nil), pfx), clk, "b", lease, poll)
	startOwner(t, owner, clk)
	key := expKey(t)
	ctx := context.Background()
	other.Tick(ctx)
	require.True(t, injecting(other.Injector(), clk.Now(), key), "the other replica injects")
	lastRefresh := time.Now()
	owner.Tick(ctx) // its last refresh: then it "crashes"
	var stopped time.Duration
	for time.Since(lastRefresh) < 5*time.Second {
		time.Sleep(poll)
		other.Tick(ctx)
		if !injecting(other.Injector(), clk.Now(), key) {
			stopped = time.Since(lastRefresh)
			break
		}
	}
	require.NotZero(t, stopped, "the other replica never stopped")
	t.Logf("stopped %v after the owner's last refresh (lease %v, poll %v)", stopped, lease, poll)
	// One lease, plus the poll that notices; slack for a loaded machine.
	assert.LessOrEqual(t, stopped, lease+4*poll, "within one lease (and the poll that notices)")
}

// TestChaosStoreReplicaCutOff: a replica whose Redis is unreachable stops
// injecting one lease after its last good poll (its local lease), while
// the owner keeps injecting.
func TestChaosStoreReplicaCutOff(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	pfx := prefix(t)
	p := redistest.NewProxy(t, "unix", s.Socket())
	clk := clock.NewFake(time.Now())
	const lease, poll = 3 * time.Second, time.Second
	owner := chaosReplica(t, newChaosStore(t, s.Client(t, nil), pfx), clk, "a", lease, poll)
	viaProxy := s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() })
	cut := chaosReplica(t, newChaosStore(t, viaProxy, pfx), clk, "b", lease, poll)
	startOwner(t, owner, clk)
	ctx := context.Background()
	key := expKey(t)
	cut.Tick(ctx)
	require.True(t, injecting(cut.Injector(), clk.Now(), key))
	p.Refuse()
	p.Reset()
	for range 2 {
		clk.Advance(poll)
		owner.Tick(ctx)
		cut.Tick(ctx)
		require.True(t, injecting(cut.Injector(), clk.Now(), key), "inside its lease")
	}
	clk.Advance(poll)
	cut.Tick(ctx)
	assert.False(t, injecting(cut.Injector(), clk.Now(), key), "one lease after its last good poll")
	assert.NotZero(t, cut.Stats().PollErrors)
	owner.Tick(ctx)
	assert.True(t, injecting(owner.Injector(), clk.Now(), key), "the owner still injects")
}

// TestChaosStoreKillAll: kill-all from one replica reaches the others at
// their next poll, and the owner can never put its lease back.
func TestChaosStoreKillAll(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	pfx := prefix(t)
	clk := clock.NewFake(time.Now())
	reps := make([]*chaos.Scheduler, 3)
	for i := range reps {
		reps[i] = chaosReplica(t, newChaosStore(t, s.Client(t, nil), pfx), clk, string(rune('a'+i)), 3*time.Second, time.Second)
	}
	startOwner(t, reps[0], clk)
	ctx := context.Background()
	key := expKey(t)
	for _, r := range reps {
		r.Tick(ctx)
		require.True(t, injecting(r.Injector(), clk.Now(), key))
	}
	n, err := reps[1].KillAll(ctx, "incident")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, injecting(reps[1].Injector(), clk.Now(), key), "at once")
	clk.Advance(time.Second)
	for _, r := range []*chaos.Scheduler{reps[2], reps[0]} {
		r.Tick(ctx)
		assert.False(t, injecting(r.Injector(), clk.Now(), key), "within one poll")
	}
	run, err := reps[0].Get(chaosExp.ID)
	require.NoError(t, err)
	assert.Equal(t, "kill_all", run.StopReason)
	_, entries, err := newChaosStore(t, s.Client(t, nil), pfx).Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestChaosStoreRoundTripsAndMalformed: Put and Load are one round trip
// each; data the store did not write is ErrMalformed, never a panic.
func TestChaosStoreRoundTripsAndMalformed(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	pfx := prefix(t)
	st := newChaosStore(t, s.Client(t, nil), pfx)
	ctx := context.Background()
	gen, entries, err := st.Load(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, gen)
	assert.Empty(t, entries)
	before := st.Guard().Stats().RoundTrips
	require.NoError(t, st.Put(ctx, gen, chaos.Entry{Experiment: chaosExp, Phase: chaos.PhaseBefore, Owner: "a"}, time.Minute, true))
	_, entries, err = st.Load(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, st.Guard().Stats().RoundTrips-before)
	require.Len(t, entries, 1)
	assert.Equal(t, chaosExp.ID, entries[0].Experiment.ID)
	require.ErrorIs(t, st.Put(ctx, gen, chaos.Entry{Experiment: chaos.Experiment{ID: "other"}, Phase: chaos.PhaseBefore}, time.Minute, false), chaos.ErrGone)
	require.ErrorIs(t, st.Put(ctx, gen+1, chaos.Entry{Experiment: chaosExp, Phase: chaos.PhaseBefore}, time.Minute, false), chaos.ErrKilled)
	require.NoError(t, st.Remove(ctx, chaosExp.ID))
	_, entries, _ = st.Load(ctx)
	assert.Empty(t, entries)

	now := time.UnixMilli(time.Now().UnixMilli())
	require.NoError(t, st.MarkRun(ctx, "shop", now, time.Minute))
	last, err := st.LastRun(ctx, "shop")
	require.NoError(t, err)
	assert.True(t, now.Equal(last))
	last, err = st.LastRun(ctx, "never")
	require.NoError(t, err)
	assert.True(t, last.IsZero())

	require.NoError(t, st.Put(ctx, gen, chaos.Entry{Experiment: chaosExp, Phase: chaos.PhaseBefore}, time.Minute, true))
	s.Do(t, "HSET", st.entries, chaosExp.ID, "{not json")
	_, _, err = st.Load(ctx)
	require.ErrorIs(t, err, ErrMalformed)
	s.Do(t, "SET", st.gen, "zero")
	_, _, err = st.Load(ctx)
	require.Error(t, err)
}

func FuzzParseChaosEntry(f *testing.F) {
	for _, s := range []string{`{"experiment":{"id":"x"},"phase":"during"}`, `{}`, `[]`, `{"phase":"x"}`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseChaosEntry(s)
		if err == nil {
			require.NotEmpty(t, e.Experiment.ID)
		}
	})
}

// TestChaosStoreRestart: SIGKILL and restart. Without AOF the active set
// is lost and the owner's next refresh ends the experiment (nothing
// resumes injecting); with AOF (appendfsync always) the lease survives
// while it has time left.
func TestChaosStoreRestart(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run(map[bool]string{false: "without_AOF", true: "with_AOF"}[aof], func(t *testing.T) {
			redistest.NoLeaks(t)
			s := redistest.Start(t, redistest.Options{AOF: aof})
			clk := clock.NewFake(time.Now())
			owner := chaosReplica(t, newChaosStore(t, s.Client(t, nil), "r:"), clk, "a", time.Minute, time.Second)
			startOwner(t, owner, clk)
			ctx := context.Background()
			s.Kill(t)
			s.Restart(t)
			require.Eventually(t, func() bool {
				_, _, err := newChaosStore(t, s.Client(t, nil), "r:").Load(ctx)
				return err == nil
			}, 5*time.Second, 10*time.Millisecond, "the server answers again")
			var r chaos.Run
			require.Eventually(t, func() bool {
				clk.Advance(time.Second)
				owner.Tick(ctx)
				r, _ = owner.Get(chaosExp.ID)
				return r.State != chaos.StateDuring || aof
			}, 5*time.Second, 10*time.Millisecond)
			if aof {
				assert.Equal(t, chaos.StateDuring, r.State, "the lease survived")
				return
			}
			assert.Equal(t, chaos.StateStopped, r.State)
			assert.Equal(t, "lease_lost", r.StopReason)
			assert.False(t, injecting(owner.Injector(), clk.Now(), expKey(t)), "nothing resumes injecting")
		})
	}
}

// TestChaosStoreMemoryUsage measures the keys of one running experiment.
func TestChaosStoreMemoryUsage(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	st := newChaosStore(t, s.Client(t, nil), prefix(t))
	ctx := context.Background()
	gen, _, err := st.Load(ctx)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, gen, chaos.Entry{Experiment: chaosExp, Phase: chaos.PhaseDuring, Owner: "replica-a"}, time.Minute, true))
	require.NoError(t, st.MarkRun(ctx, "shop", time.Now(), time.Hour))
	var total int64
	for _, k := range []string{st.lease, st.entries, st.runKey("shop")} {
		n, ok := s.Do(t, "MEMORY", "USAGE", k).(int64)
		require.True(t, ok, k)
		t.Logf("%s: %d B", k, n)
		total += n
	}
	t.Logf("one experiment: %d B", total)
	assert.Less(t, total, int64(4096))
}
