package canary_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/lock"
)

// TestLocalApplyIsFencedAndIdempotent: an apply is done once per key, a
// token older than one applied is refused, a panic restore passes the
// fence, and OnApplied hears every state applied.
func TestLocalApplyIsFencedAndIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var heard []string
	l, err := canary.NewLocal(canary.LocalConfig{Target: e.reg, Replica: "r", OnApplied: func(ack string) { heard = append(heard, ack) }})
	require.NoError(t, err)
	snap := e.reg.Document()
	d := canary.Desired{Rollout: "r1", ConfigType: "registry", Phase: canary.PhaseCanary, Share: 0.1,
		Candidate: document(t, 5, 5), Snapshot: snap, Token: 10, Key: "canary:r1:0:fleet:canary"}
	require.NoError(t, l.Apply(ctx, d))
	e.reg.SetCohortShare(0.3) // changed behind the applier's back
	require.NoError(t, l.Apply(ctx, d), "the same key again")
	share, _ := e.reg.CohortShare()
	assert.Equal(t, 0.3, share, "an apply already done under its key is not done again")

	next := d
	next.Stage, next.Share, next.Token, next.Key = 1, 0.5, 11, "k2"
	require.NoError(t, l.Apply(ctx, next))
	share, _ = e.reg.CohortShare()
	assert.Equal(t, 0.5, share)

	stale := next
	stale.Share, stale.Token, stale.Key = 0.9, 9, "k3"
	require.ErrorIs(t, l.Apply(ctx, stale), lock.ErrStaleToken)
	share, _ = e.reg.CohortShare()
	assert.Equal(t, 0.5, share, "a stale token changes nothing")

	restore := canary.Desired{Rollout: "r1", ConfigType: "registry", Phase: canary.PhaseRestore, Snapshot: snap, Token: 1, Panic: true, Key: "k4"}
	require.NoError(t, l.Apply(ctx, restore), "a panic restore passes the fence")
	_, split := e.reg.CohortShare()
	assert.False(t, split)
	assert.Equal(t, snap, e.reg.Document())
	assert.Equal(t, []string{d.Ack(), d.Ack(), next.Ack(), restore.Ack()}, heard)
	assert.Equal(t, restore.Ack(), l.Applied())

	assert.Error(t, l.Apply(ctx, canary.Desired{ConfigType: "registry", Token: 20, Phase: 9}), "unknown phase")
	_, err = canary.NewLocal(canary.LocalConfig{})
	assert.Error(t, err)
}
