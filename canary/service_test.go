package canary_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

var ctx = context.Background()

// TestTransitions walks every (state, action) pair: each either moves to
// the documented state or is refused with ErrTransition, and terminal
// states accept nothing.
func TestTransitions(t *testing.T) {
	t.Parallel()
	type action struct {
		name string
		do   func(e *env, id string) (canary.Status, error)
	}
	actions := []action{
		{"start", func(e *env, id string) (canary.Status, error) { return e.svc.Start(ctx, id, opr) }},
		{"promote", func(e *env, id string) (canary.Status, error) {
			return e.svc.Promote(ctx, id, canary.Op{BypassReason: "test: skip the verdict"})
		}},
		{"pause", func(e *env, id string) (canary.Status, error) { return e.svc.Pause(ctx, id, opr) }},
		{"resume", func(e *env, id string) (canary.Status, error) { return e.svc.Resume(ctx, id, opr) }},
		{"rollback", func(e *env, id string) (canary.Status, error) { return e.svc.Rollback(ctx, id, opr) }},
	}
	// reach puts a fresh rollout of two stages in state s.
	reach := func(t *testing.T, e *env, s canary.State) string {
		st, err := e.svc.Create(ctx, plan(t, document(t, 10, 10), 0.1, 0.5), opr)
		require.NoError(t, err)
		id := st.RolloutID
		step := func(_ canary.Status, err error) { require.NoError(t, err) }
		switch s {
		case canary.Running:
			step(e.svc.Start(ctx, id, opr))
		case canary.Paused:
			step(e.svc.Start(ctx, id, opr))
			step(e.svc.Pause(ctx, id, opr))
		case canary.Completed:
			step(e.svc.Start(ctx, id, opr))
			require.NoError(t, e.svc.Tick(ctx))
			step(e.svc.Promote(ctx, id, canary.Op{BypassReason: "test: skip the verdict"}))
			require.NoError(t, e.svc.Tick(ctx))
			step(e.svc.Promote(ctx, id, canary.Op{BypassReason: "test: skip the verdict"}))
		case canary.RolledBack:
			step(e.svc.Start(ctx, id, opr))
			step(e.svc.Rollback(ctx, id, opr))
		case canary.Cancelled:
			step(e.svc.Rollback(ctx, id, opr))
		}
		got, err := e.svc.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, s, got.Current)
		return id
	}
	want := map[canary.State]map[string]canary.State{
		canary.Created: {"start": canary.Running, "rollback": canary.Cancelled},
		canary.Running: {"promote": canary.Running, "pause": canary.Paused, "rollback": canary.RolledBack},
		canary.Paused:  {"resume": canary.Running, "rollback": canary.RolledBack},
	}
	for s := range canary.State(canary.NumStates) {
		for _, a := range actions {
			t.Run(s.String()+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, nil)
				id := reach(t, e, s)
				if a.name == "promote" && s == canary.Running {
					require.NoError(t, e.svc.Tick(ctx)) // acknowledged
				}
				got, err := a.do(e, id)
				to, ok := want[s][a.name]
				if !ok {
					require.ErrorIs(t, err, canary.ErrTransition)
					after, _ := e.svc.Get(ctx, id)
					assert.Equal(t, s, after.Current, "a refused action changes nothing")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, to, got.Current)
			})
		}
	}
	e := newEnv(t, nil)
	_, err := e.svc.Pause(ctx, "nope", opr)
	assert.ErrorIs(t, err, canary.ErrNotFound)
}

func TestInvalidCandidateNeverStarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := e.reg.Document()
	tests := []struct {
		name string
		p    canary.Plan
	}{
		{"not JSON", plan(t, []byte(`{"policies": [`), 0.1)},
		{"unknown field", plan(t, []byte(`{"service": "shop", "policies": [], "typo": 1}`), 0.1)},
		{"negative rate", plan(t, document(t, -5, 10), 0.1)},
		{"changes the service", plan(t, []byte(`{"service": "other", "policies": []}`), 0.1)},
		{"no stages", plan(t, document(t, 10, 10))},
		{"shares not growing", plan(t, document(t, 10, 10), 0.5, 0.2)},
		{"share above 1", plan(t, document(t, 10, 10), 1.5)},
		{"negative duration", canary.Plan{Candidate: document(t, 10, 10), Stages: []canary.Stage{{Share: 0.1, Duration: -1}}}},
		{"unknown config type", canary.Plan{ConfigType: "dns", Candidate: document(t, 10, 10), Stages: []canary.Stage{{Share: 0.1}}}},
		{"candidate over 1 MiB", plan(t, make([]byte, canary.MaxCandidateSize+1), 0.1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Create(ctx, tt.p, opr)
			require.Error(t, err)
			if tt.name != "not JSON" {
				var ce *baldur.ConfigError
				assert.True(t, errors.As(err, &ce), "an invalid candidate or plan is a ConfigError naming the field: %v", err)
			}
		})
	}
	assert.Empty(t, e.svc.List(ctx), "nothing was recorded")
	assert.Equal(t, before, e.reg.Document())
	_, split := e.reg.CohortShare()
	assert.False(t, split, "nothing was applied")
	_, err := e.svc.Create(ctx, plan(t, document(t, 10, 10), 0.1), canary.Op{BypassReason: "short"})
	assert.Error(t, err, "a bypass reason under 10 characters is refused")
}

// TestRollbackRestoresSnapshot rolls back from every stage of a rollout,
// including after the running configuration was changed behind it, and
// checks the snapshot byte for byte.
func TestRollbackRestoresSnapshot(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		stages int // promotions before the rollback
		drift  bool
		panic  bool
	}{{"stage 0", 0, false, false}, {"stage 2", 2, false, false}, {"after a reload behind it", 1, true, false}, {"panic", 1, true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			snap := e.reg.Document()
			st := e.started(t, document(t, 5, 5), 0.01, 0.05, 0.25, 1)
			assert.Equal(t, canary.ConfigHash(snap), st.BaselineHash)
			for range tt.stages {
				_, err := e.svc.Promote(ctx, st.RolloutID, canary.Op{BypassReason: "test: skip the verdict"})
				require.NoError(t, err)
				require.NoError(t, e.svc.Tick(ctx))
			}
			if tt.drift {
				require.NoError(t, e.reg.LoadDocument(document(t, 77, 77)))
			}
			if tt.panic {
				ids, err := e.svc.PanicRollback(ctx, canary.Op{Reason: "test"})
				require.NoError(t, err)
				assert.Equal(t, []string{st.RolloutID}, ids)
			} else {
				got, err := e.svc.Rollback(ctx, st.RolloutID, opr)
				require.NoError(t, err)
				assert.Equal(t, canary.RolledBack, got.Current)
			}
			assert.Equal(t, snap, e.reg.Document(), "the snapshot is restored byte for byte")
			_, split := e.reg.CohortShare()
			assert.False(t, split, "the split is removed")
			assert.Empty(t, e.svc.Active(ctx))
		})
	}
}

func TestGatesFailClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		set    func(*fakeGov)
		noGov  bool
		resume bool // the gate also holds resume
	}{
		{name: "kill switch", set: func(g *fakeGov) { g.killed = true }},
		{name: "emergency level 2", set: func(g *fakeGov) { g.level = baldur.Level2 }, resume: true},
		{name: "emergency unknown", set: func(g *fakeGov) { g.level = baldur.LevelUnknown }, resume: true},
		{name: "error budget", set: func(g *fakeGov) { g.noBudget = true }},
		{name: "no governance checker", noGov: true, resume: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *canary.Config) {
				if tt.noGov {
					c.Governance = nil
				}
			})
			st, err := e.svc.Create(ctx, plan(t, document(t, 10, 10), 0.1, 0.5), opr)
			require.NoError(t, err)
			if tt.set != nil {
				e.gov.set(tt.set)
			}
			_, err = e.svc.Start(ctx, st.RolloutID, opr)
			require.ErrorIs(t, err, canary.ErrBlocked)
			_, split := e.reg.CohortShare()
			assert.False(t, split, "a blocked start applies nothing")
			got, _ := e.svc.Get(ctx, st.RolloutID)
			assert.Equal(t, canary.Created, got.Current)

			bypass := canary.Op{Actor: "admin", BypassReason: "incident 42: ship the fix"}
			got, err = e.svc.Start(ctx, st.RolloutID, bypass)
			require.NoError(t, err, "a bypass with a reason passes")
			require.NoError(t, e.svc.Tick(ctx))
			_, err = e.svc.Promote(ctx, st.RolloutID, opr)
			assert.ErrorIs(t, err, canary.ErrBlocked)
			_, err = e.svc.Pause(ctx, st.RolloutID, opr)
			require.NoError(t, err, "pause is never gated")
			_, err = e.svc.Resume(ctx, st.RolloutID, opr)
			if tt.resume {
				assert.ErrorIs(t, err, canary.ErrBlocked)
			} else {
				assert.NoError(t, err, "resume checks the emergency level only")
			}
			got, err = e.svc.Rollback(ctx, got.RolloutID, opr)
			require.NoError(t, err, "rollback is never gated")
			assert.Equal(t, canary.RolledBack, got.Current)
		})
	}
}

// TestLockLossCannotApply: the controller's lease lapses, another
// controller takes the config type and applies; the first one can neither
// promote (its lease is gone) nor apply with its old token (the replica's
// fence refuses it).
func TestLockLossCannotApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.started(t, document(t, 5, 5), 0.1, 0.5)
	e.clk.Advance(11 * time.Minute) // past the 10 min lease, never renewed

	b, err := canary.New(canary.Config{Applier: e.local, Governance: e.gov, Lock: e.lock, Session: "controller-b", Clock: e.clk, Logger: quiet,
		Window: baldur.Duration(time.Minute), StageDuration: baldur.Duration(time.Minute)})
	require.NoError(t, err)
	bst, err := b.Create(ctx, plan(t, document(t, 7, 7), 0.2), opr)
	require.NoError(t, err)
	bst, err = b.Start(ctx, bst.RolloutID, opr)
	require.NoError(t, err, "the lapsed lock is taken by another controller")
	require.Greater(t, bst.Token, a.Token)
	share, _ := e.reg.CohortShare()
	require.Equal(t, 0.2, share)

	_, err = e.svc.Promote(ctx, a.RolloutID, canary.Op{BypassReason: "test: skip the verdict"})
	require.ErrorIs(t, err, canary.ErrBlocked)
	assert.ErrorIs(t, err, lock.ErrNotHeld)

	// Even an apply that skipped the lease check is fenced at the replica.
	err = e.local.Apply(ctx, canary.Desired{Rollout: a.RolloutID, ConfigType: "registry", Stage: 1, Phase: canary.PhaseCanary,
		Share: 0.5, Candidate: document(t, 5, 5), Token: a.Token, Key: "stale"})
	require.ErrorIs(t, err, lock.ErrStaleToken)
	share, _ = e.reg.CohortShare()
	assert.Equal(t, 0.2, share, "the stale controller changed nothing")

	// The watchdog's lock check renews a held lease and fails on a lost one.
	obs, err := canary.LockCheck{S: b}.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)
	require.NoError(t, obs[0].Apply(ctx, 0))
	e.clk.Advance(29 * time.Minute) // within the renewed 30 min lease of b
	_, err = b.Pause(ctx, bst.RolloutID, opr)
	require.NoError(t, err)
	_, err = b.Resume(ctx, bst.RolloutID, opr)
	require.NoError(t, err, "a renewed lease still holds")
	obs, err = canary.LockCheck{S: e.svc}.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)
	assert.ErrorIs(t, obs[0].Apply(ctx, 0), lock.ErrNotHeld)
}

func TestOneActiveRolloutPerConfigType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	other, err := canary.New(canary.Config{Applier: e.local, Governance: e.gov, Lock: e.lock, Session: "controller-b", Clock: e.clk})
	require.NoError(t, err)
	ids := make([]string, 2)
	svcs := []*canary.Service{e.svc, other}
	for i, s := range svcs {
		st, err := s.Create(ctx, plan(t, document(t, 10, 10), 0.1), opr)
		require.NoError(t, err)
		ids[i] = st.RolloutID
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range svcs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.Start(ctx, ids[i], opr) }()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			assert.ErrorIs(t, err, canary.ErrConflict)
		}
	}
	assert.Equal(t, 1, wins, "exactly one start wins: %v", errs)
	// The same service refuses a second rollout of the type too.
	winner := 0
	if errs[0] != nil {
		winner = 1
	}
	st, err := svcs[winner].Create(ctx, plan(t, document(t, 11, 11), 0.1), opr)
	require.NoError(t, err)
	_, err = svcs[winner].Start(ctx, st.RolloutID, opr)
	assert.ErrorIs(t, err, canary.ErrConflict)
}

// acks is an AckSource for a fleet of replicas a test scripts.
type acks struct {
	mu sync.Mutex
	m  map[string]string
}

func (a *acks) Acks(context.Context) ([]canary.Ack, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []canary.Ack
	for r, v := range a.m {
		out = append(out, canary.Ack{Replica: r, Applied: v})
	}
	return out, nil
}

func (a *acks) set(replica, v string) { a.mu.Lock(); a.m[replica] = v; a.mu.Unlock() }

func TestUnacknowledgedStageBlocksPromotion(t *testing.T) {
	t.Parallel()
	fleet := &acks{m: map[string]string{}}
	notes := &recordingNotifier{}
	e := newEnv(t, func(c *canary.Config) { c.Acks, c.AutoPromote, c.Notify = fleet, true, notes })
	st, err := e.svc.Create(ctx, plan(t, document(t, 1000, 999), 0.1, 0.5), opr)
	require.NoError(t, err)
	st, err = e.svc.Start(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	// Two of three replicas take the stage; one keeps the old config.
	fleet.set("replica-1", e.local.Applied())
	fleet.set("replica-2", e.local.Applied())
	fleet.set("replica-3", "")
	require.NoError(t, e.svc.Tick(ctx))
	got, _ := e.svc.Get(ctx, st.RolloutID)
	assert.False(t, got.Applied)
	assert.InDelta(t, 2.0/3, got.AckRatio, 1e-9)
	e.clk.Advance(31 * time.Second)
	require.NoError(t, e.svc.Tick(ctx))
	got, _ = e.svc.Get(ctx, st.RolloutID)
	assert.Contains(t, got.Blocked, "2 of 3 replicas")
	assert.True(t, notes.has("blocked"), "the block is notified")
	// Good traffic for the whole stage never promotes it.
	for range 4 {
		got = e.window(t, 2000, 2, same(10*time.Millisecond))
	}
	assert.Equal(t, 0, got.StageIndex, "never promoted")
	assert.Nil(t, got.Verdict, "an unacknowledged stage is not judged")
	_, err = e.svc.Promote(ctx, st.RolloutID, canary.Op{BypassReason: "operator insists, no acks"})
	assert.ErrorIs(t, err, canary.ErrBlocked, "no bypass promotes an unacknowledged stage")
	// The last replica takes it: applied, judged, auto-promoted.
	fleet.set("replica-3", e.local.Applied())
	require.NoError(t, e.svc.Tick(ctx))
	for range 3 {
		got = e.window(t, 2000, 2, same(10*time.Millisecond))
	}
	assert.Equal(t, 1, got.StageIndex, "promoted once acknowledged and passed for the stage's duration")
}

type recordingNotifier struct {
	mu     sync.Mutex
	titles []string
}

func (n *recordingNotifier) Notify(_ context.Context, m notify.Notification) (notify.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.titles = append(n.titles, m.Title)
	return notify.Result{Delivered: true}, nil
}

func (n *recordingNotifier) has(sub string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.titles {
		if contains(t, sub) {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestInterlock: level 2 pauses every running rollout, level 3 rolls back
// every active one, and nothing resumes when the level drops.
func TestInterlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	check := canary.InterlockCheck{S: e.svc}
	assert.Equal(t, "canary_interlock", check.Name())
	st := e.started(t, document(t, 5, 5), 0.1, 0.5)

	obs, err := check.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	assert.Empty(t, obs, "level 0: nothing to do")

	e.gov.set(func(g *fakeGov) { g.level = baldur.Level2 })
	obs, err = check.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)
	assert.Equal(t, "pause", obs[0].Action)
	require.NoError(t, obs[0].Apply(ctx, 0))
	require.NoError(t, obs[0].Apply(ctx, 0), "a repeated apply is harmless")
	got, _ := e.svc.Get(ctx, st.RolloutID)
	assert.Equal(t, canary.Paused, got.Current)
	assert.Equal(t, canary.TriggerInterlock, got.PausedBy)

	e.gov.set(func(g *fakeGov) { g.level = baldur.LevelNormal })
	for range 5 {
		e.clk.Advance(time.Minute)
		require.NoError(t, e.svc.Tick(ctx))
		obs, err = check.Observe(ctx, e.clk.Now())
		require.NoError(t, err)
		assert.Empty(t, obs)
	}
	got, _ = e.svc.Get(ctx, st.RolloutID)
	assert.Equal(t, canary.Paused, got.Current, "no auto-resume")

	e.gov.set(func(g *fakeGov) { g.level = baldur.Level3 })
	obs, err = check.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)
	assert.Equal(t, "rollback", obs[0].Action)
	require.NoError(t, obs[0].Apply(ctx, 0))
	require.NoError(t, obs[0].Apply(ctx, 0))
	got, _ = e.svc.Get(ctx, st.RolloutID)
	assert.Equal(t, canary.RolledBack, got.Current)
	obs, _ = check.Observe(ctx, e.clk.Now())
	assert.Empty(t, obs, "nothing left to roll back")
}

func TestStallCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	check := canary.StallCheck{S: e.svc}
	st := e.started(t, document(t, 5, 5), 0.1, 0.5)
	obs, _ := check.Observe(ctx, e.clk.Now())
	assert.Empty(t, obs)
	obs, _ = check.Observe(ctx, e.clk.Now().Add(4*time.Minute+time.Second)) // 2 x the 2 min stage
	require.Len(t, obs, 1)
	assert.True(t, obs[0].Page)
	assert.Nil(t, obs[0].Apply, "the stall check only pages")
	_, err := e.svc.Pause(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	obs, _ = check.Observe(ctx, e.clk.Now().Add(29*time.Minute))
	assert.Empty(t, obs)
	obs, _ = check.Observe(ctx, e.clk.Now().Add(31*time.Minute))
	require.Len(t, obs, 1)
	assert.True(t, obs[0].OperatorHeld, "an operator's pause is held, reported only")
}

// TestAutoRollbackOnRejections is the dangerous change itself: a throttle
// ten times too tight is rolled back by the judge on its rejection rate,
// after fail_limit windows, while the baseline cohort keeps serving.
func TestAutoRollbackOnRejections(t *testing.T) {
	t.Parallel()
	notes := &recordingNotifier{}
	e := newEnv(t, func(c *canary.Config) { c.AutoRollback, c.Notify = true, notes })
	snap := e.reg.Document()
	st := e.started(t, document(t, 0.01, 1), 0.25, 1)
	got := e.window(t, 2000, 3, same(5*time.Millisecond))
	require.NotNil(t, got.Verdict)
	assert.Equal(t, canary.Fail, got.Verdict.Verdict)
	assert.Equal(t, canary.Running, got.Current, "one failed window: still running")
	assert.Zero(t, got.Verdict.Baseline.Rejected, "the baseline keeps serving")
	assert.Greater(t, got.Verdict.Candidate.ByReason["throttled"], uint64(0))
	got = e.window(t, 2000, 3, same(5*time.Millisecond))
	assert.Equal(t, canary.RolledBack, got.Current, "fail_limit 2: rolled back")
	assert.Equal(t, snap, e.reg.Document())
	assert.True(t, notes.has("rollback"))
	assert.Equal(t, uint64(1), e.svc.Stats().Transitions["rolled_back/judge"])
	_ = st
}

func TestInconclusiveLimitPauses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *canary.Config) { c.AutoPromote = true })
	e.started(t, document(t, 1000, 999), 0.25, 1)
	var got canary.Status
	for range 3 {
		got = e.window(t, 50, 1, same(time.Millisecond))
	}
	assert.Equal(t, canary.Paused, got.Current, "three inconclusive windows pause, never promote")
	assert.Equal(t, canary.TriggerJudge, got.PausedBy)
}

func TestAutoPromoteCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *canary.Config) { c.AutoPromote = true })
	cand := document(t, 1000, 999)
	e.started(t, cand, 0.25, 1)
	var got canary.Status
	for range 8 {
		got = e.window(t, 2000, 2, same(time.Millisecond))
		if got.Current == canary.Completed {
			break
		}
	}
	assert.Equal(t, canary.Completed, got.Current)
	assert.Equal(t, canonical(t, cand), e.reg.Document(), "the candidate is the running configuration")
	_, split := e.reg.CohortShare()
	assert.False(t, split)
}

func TestBlastRadiusBoundsStageShare(t *testing.T) {
	t.Parallel()
	m, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}, GlobalMaxTraffic: 0.3,
		Scopes: map[blastradius.Scope]blastradius.ScopeLimits{blastradius.ScopeService: {Approval: blastradius.AutoApprove}}})
	require.NoError(t, err)
	e := newEnv(t, func(c *canary.Config) { c.Blast, c.Service = m, "shop" })
	st := e.started(t, document(t, 5, 5), 0.25, 0.5)
	assert.Len(t, m.Active(ctx), 1)
	_, err = e.svc.Promote(ctx, st.RolloutID, canary.Op{Actor: "x", BypassReason: ""})
	require.ErrorIs(t, err, canary.ErrBlocked, "no verdict yet")
	st2, err := e.svc.Promote(ctx, st.RolloutID, canary.Op{BypassReason: "test: skip the verdict"})
	require.NoError(t, err, "a bypass skips the blast radius too")
	assert.Equal(t, 1, st2.StageIndex)
	_, err = e.svc.Rollback(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	assert.Empty(t, m.Active(ctx), "a terminal rollout ends its action")

	e2 := newEnv(t, func(c *canary.Config) { c.Blast, c.Service = m, "shop" })
	p, err := e2.svc.Create(ctx, plan(t, document(t, 5, 5), 0.5), opr)
	require.NoError(t, err)
	_, err = e2.svc.Start(ctx, p.RolloutID, opr)
	require.ErrorIs(t, err, canary.ErrBlocked, "50 %% is over the 30 %% cap")
	assert.Contains(t, err.Error(), "blast radius")
}
