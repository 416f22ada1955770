package canary_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/watchdog"
)

// The lock check's renewals are upkeep, not remediation: under a watchdog
// with the default action budget (10 an hour) and backoff, renewing a
// rollout's lock for hours never engages the brake, and the lock holds.
func TestLockCheckRenewalsNeverBrake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	st := e.started(t, document(t, 10, 10), 0.2, 1)
	r, err := watchdog.New(watchdog.Config{Checks: e.svc.Checks(), Clock: e.clk, Jitter: -1, Session: "wd", Logger: quiet})
	require.NoError(t, err)
	renewals := 0
	for range 6 * 120 { // six hours of passes, 30 s apart
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		for _, f := range rep.Findings {
			require.NotContains(t, []string{watchdog.KindBraked, watchdog.KindBrakeEngaged}, f.Kind, "%s: %s", f.Check, f.Detail)
			if f.Check == "canary_lock" && f.Kind == watchdog.KindActed {
				renewals++
			}
		}
		e.clk.Advance(watchdog.DefaultInterval)
	}
	assert.Greater(t, renewals, 6*watchdog.DefaultMaxActionsPerHour, "more renewals than the default budget allows")
	_, err = e.svc.Pause(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	_, err = e.svc.Resume(ctx, st.RolloutID, opr)
	require.NoError(t, err, "the renewed lock still holds after six hours")
}
