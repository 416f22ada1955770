package canary_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/lock"
)

// TestTakeover: a controller saves its rollout at every change; when it
// is gone, a new controller recovers the rollout, cannot apply while the
// old lease holds, takes the lock once it lapses (the watchdog's lock
// check), applies the stage again under its own token, and carries on.
func TestTakeover(t *testing.T) {
	t.Parallel()
	recs := canary.NewMemoryRecords()
	e := newEnv(t, func(c *canary.Config) { c.Records = recs })
	st := e.started(t, document(t, 5, 5), 0.1, 0.5)
	saved, err := recs.Records(ctx)
	require.NoError(t, err)
	require.Len(t, saved, 1)
	assert.Equal(t, st.Version, saved[0].Status.Version, "every change is saved")
	assert.True(t, saved[0].Status.Applied)

	next, err := canary.New(canary.Config{Applier: e.local, Governance: e.gov, Lock: e.lock, Session: "controller-b", Clock: e.clk,
		Records: recs, LockTTL: baldur.Duration(10 * time.Minute), Logger: quiet})
	require.NoError(t, err)
	ids, err := next.Recover(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{st.RolloutID}, ids)
	got, err := next.Get(ctx, st.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, canary.Running, got.Current)
	assert.Zero(t, got.Token, "the old lease still holds: not adopted yet")
	_, err = next.Promote(ctx, st.RolloutID, canary.Op{BypassReason: "test: skip the verdict"})
	require.ErrorIs(t, err, canary.ErrBlocked)
	assert.ErrorIs(t, err, lock.ErrNotHeld)

	e.clk.Advance(11 * time.Minute) // the crashed controller's lease lapses
	obs, err := canary.LockCheck{S: next}.Observe(ctx, e.clk.Now())
	require.NoError(t, err)
	require.Len(t, obs, 1)
	require.NoError(t, obs[0].Apply(ctx, 0))
	got, _ = next.Get(ctx, st.RolloutID)
	require.Greater(t, got.Token, st.Token, "taken over under a new token")
	assert.False(t, got.Applied, "the stage is acknowledged afresh")
	require.NoError(t, next.Tick(ctx))
	got, _ = next.Get(ctx, st.RolloutID)
	assert.True(t, got.Applied)
	got, err = next.Promote(ctx, st.RolloutID, canary.Op{BypassReason: "test: skip the verdict"})
	require.NoError(t, err)
	assert.Equal(t, 1, got.StageIndex)

	// The crashed controller, were it to come back, is fenced out and its
	// stale record version is refused.
	_, err = e.svc.Promote(ctx, st.RolloutID, canary.Op{BypassReason: "test: skip the verdict"})
	assert.ErrorIs(t, err, canary.ErrBlocked)
	assert.ErrorIs(t, recs.Save(ctx, canary.Record{Status: st}, st.Version-1), canary.ErrConflict)
	again, err := next.Recover(ctx)
	require.NoError(t, err)
	assert.Empty(t, again, "known rollouts are not taken over twice")
}
