package canary_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/registry"
)

// fleetAcks lists the replicas' Locals as the fleet's members.
type fleetAcks []*canary.Local

func (f fleetAcks) Acks(ctx context.Context) ([]canary.Ack, error) {
	var out []canary.Ack
	for _, l := range f {
		a, _ := l.Acks(ctx)
		out = append(out, a...)
	}
	return out, nil
}

// TestFleetFollowsTheController: a controller publishes each stage; a
// second replica's agent applies it on its next poll; the stage counts as
// applied only then; both replicas' calls are judged together; a rollback
// reaches both, and a stale publish is refused.
func TestFleetFollowsTheController(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	other := registry.New(registry.WithClock(e.clk))
	require.NoError(t, other.LoadDocument(document(t, 1000, 1000)))
	otherLocal, err := canary.NewLocal(canary.LocalConfig{Target: other, Replica: "replica-2"})
	require.NoError(t, err)
	store, windows := canary.NewMemoryDesired(), canary.NewMemoryWindows()
	agent, err := canary.NewAgent(canary.AgentConfig{Store: store, Local: otherLocal, Windows: windows, Window: time.Minute, Clock: e.clk})
	require.NoError(t, err)
	svc, err := canary.New(canary.Config{Window: baldur.Duration(time.Minute), StageDuration: baldur.Duration(2 * time.Minute),
		AutoRollback: true, Applier: &canary.Fleet{Store: store, Local: e.local}, Acks: fleetAcks{e.local, otherLocal},
		Windows: windows, Governance: e.gov, Lock: e.lock, Clock: e.clk, Logger: quiet})
	require.NoError(t, err)
	e.svc = svc
	snap := e.reg.Document()

	st, err := svc.Create(ctx, plan(t, document(t, 0.01, 1), 0.5, 1), opr)
	require.NoError(t, err)
	st, err = svc.Start(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	require.NoError(t, svc.Tick(ctx))
	got, _ := svc.Get(ctx, st.RolloutID)
	assert.False(t, got.Applied, "replica-2 has not applied the stage yet")
	assert.Equal(t, 0.5, got.AckRatio)

	require.NoError(t, agent.Poll(ctx))
	require.NoError(t, svc.Tick(ctx))
	got, _ = svc.Get(ctx, st.RolloutID)
	require.True(t, got.Applied, "both replicas acknowledge")
	share, split := other.CohortShare()
	require.True(t, split)
	assert.Equal(t, 0.5, share)
	for _, k := range []string{"tenant-1", "tenant-2", "tenant-3"} {
		assert.Equal(t, e.reg.InCandidate(k), other.InCandidate(k), "a key has one cohort on every replica")
	}

	// Each replica serves 3 000 calls a window.
	drive := func(r *registry.Registry) {
		for i := range 1000 {
			key := "tenant-" + strconv.Itoa(i)
			for range 3 {
				tk, err := r.PolicyFor(op, key).Admit(ctx, baldur.Call{Operation: op, Key: key, Now: e.clk.Now()})
				if err == nil {
					tk.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
				}
			}
		}
	}
	for range 2 {
		drive(e.reg)
		drive(other)
		require.NoError(t, agent.Poll(ctx))
		require.NoError(t, svc.Tick(ctx))
		now := e.clk.Now()
		e.clk.Advance(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))
		require.NoError(t, svc.Tick(ctx))
		got, _ = svc.Get(ctx, st.RolloutID)
		require.NotNil(t, got.Verdict)
		assert.Equal(t, uint64(6000), got.Verdict.Candidate.Requests+got.Verdict.Baseline.Requests,
			"the window sums both replicas' calls")
	}
	assert.Equal(t, canary.RolledBack, got.Current, "the judge rolled the tight throttle back")
	require.NoError(t, agent.Poll(ctx))
	_, split = other.CohortShare()
	assert.False(t, split, "the rollback reached replica-2")
	assert.Equal(t, snap, other.Document())
	assert.Equal(t, snap, e.reg.Document())

	err = store.Publish(ctx, canary.Desired{Rollout: "old", ConfigType: "registry", Phase: canary.PhaseCanary, Token: 1})
	assert.ErrorIs(t, err, lock.ErrStaleToken, "a publish under an older lease is refused")
	_, err = canary.NewAgent(canary.AgentConfig{Local: otherLocal})
	assert.Error(t, err)
}

// brokenWindows is a window store whose reads fail while broken.
type brokenWindows struct {
	*canary.MemoryWindows
	broken bool
}

func (b *brokenWindows) Window(ctx context.Context, rollout string, w int64, c canary.Cohort) (canary.Window, error) {
	if b.broken {
		return canary.Window{}, errors.New("store down")
	}
	return b.MemoryWindows.Window(ctx, rollout, w, c)
}

// TestUnreadableWindowsAreNotJudged: while the fleet's windows cannot be
// read, Tick reports it and no verdict is reached (nothing passes, nothing
// promotes); once they can, the missed windows are judged.
func TestUnreadableWindowsAreNotJudged(t *testing.T) {
	t.Parallel()
	ws := &brokenWindows{MemoryWindows: canary.NewMemoryWindows(), broken: true}
	e := newEnv(t, func(c *canary.Config) { c.Windows, c.AutoPromote = ws, true })
	e.started(t, document(t, 1000, 999), 0.25, 1)
	e.drive(t, 2000, 2, same(time.Millisecond))
	require.NoError(t, e.svc.Tick(ctx))
	e.clk.Advance(61 * time.Second)
	assert.Error(t, e.svc.Tick(ctx))
	st := e.svc.List(ctx)[0]
	assert.Nil(t, st.Verdict)
	assert.Equal(t, 0, st.StageIndex)
	ws.broken = false
	require.NoError(t, e.svc.Tick(ctx))
	st = e.svc.List(ctx)[0]
	require.NotNil(t, st.Verdict, "the missed window is judged once readable")
	assert.Equal(t, canary.Pass, st.Verdict.Verdict)
}

// TestPanicRollbackReachesAnOrphanedSplit: a controller crashes mid-rollout
// and leaves its split published; a new controller's panic rollback
// restores every replica from the published snapshot.
func TestPanicRollbackReachesAnOrphanedSplit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	store := canary.NewMemoryDesired()
	other := registry.New(registry.WithClock(e.clk))
	require.NoError(t, other.LoadDocument(document(t, 1000, 1000)))
	otherLocal, err := canary.NewLocal(canary.LocalConfig{Target: other, Replica: "replica-2"})
	require.NoError(t, err)
	agent, err := canary.NewAgent(canary.AgentConfig{Store: store, Local: otherLocal, Clock: e.clk})
	require.NoError(t, err)
	mk := func(session string) *canary.Service {
		s, err := canary.New(canary.Config{Applier: &canary.Fleet{Store: store, Local: e.local}, Acks: fleetAcks{e.local, otherLocal},
			Governance: e.gov, Lock: e.lock, Session: session, Clock: e.clk, Logger: quiet})
		require.NoError(t, err)
		return s
	}
	crashed := mk("controller-a")
	snap := e.reg.Document()
	st, err := crashed.Create(ctx, plan(t, document(t, 5, 5), 0.5), opr)
	require.NoError(t, err)
	_, err = crashed.Start(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	require.NoError(t, agent.Poll(ctx))
	_, split := other.CohortShare()
	require.True(t, split)

	fresh := mk("controller-b") // the crashed one's records are gone with it
	ids, err := fresh.PanicRollback(ctx, canary.Op{Reason: "controller lost mid-rollout"})
	require.NoError(t, err)
	assert.Equal(t, []string{st.RolloutID}, ids)
	require.NoError(t, agent.Poll(ctx))
	for _, r := range []*registry.Registry{e.reg, other} {
		_, split := r.CohortShare()
		assert.False(t, split)
		assert.Equal(t, snap, r.Document())
	}
	ids, err = fresh.PanicRollback(ctx, canary.Op{Reason: "again"})
	require.NoError(t, err)
	assert.Empty(t, ids, "nothing left to restore")
}

// TestRunLoopsOnTheClock: Service.Run and Agent.Run pass on their clock
// and stop with their context.
func TestRunLoopsOnTheClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	store := canary.NewMemoryDesired()
	other := registry.New(registry.WithClock(e.clk))
	require.NoError(t, other.LoadDocument(document(t, 1000, 1000)))
	otherLocal, err := canary.NewLocal(canary.LocalConfig{Target: other})
	require.NoError(t, err)
	agent, err := canary.NewAgent(canary.AgentConfig{Store: store, Local: otherLocal, Clock: e.clk})
	require.NoError(t, err)
	svc, err := canary.New(canary.Config{Applier: &canary.Fleet{Store: store, Local: e.local}, Acks: fleetAcks{e.local, otherLocal},
		Governance: e.gov, Lock: e.lock, Clock: e.clk, Logger: quiet})
	require.NoError(t, err)
	st, err := svc.Create(ctx, plan(t, document(t, 5, 5), 0.5), opr)
	require.NoError(t, err)
	_, err = svc.Start(ctx, st.RolloutID, opr)
	require.NoError(t, err)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { agent.Run(runCtx, 5*time.Second); done <- struct{}{} }()
	go func() { svc.Run(runCtx, 5*time.Second); done <- struct{}{} }()
	require.Eventually(t, func() bool {
		e.clk.Advance(5 * time.Second)
		got, _ := svc.Get(ctx, st.RolloutID)
		return got.Applied
	}, 10*time.Second, time.Millisecond, "the loops apply and acknowledge on the clock")
	cancel()
	for range 2 {
		<-done
	}
}
