package chaos_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/chaos"
)

func TestNoOpsFailClosed(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, ctx := range []context.Context{context.Background(), cancelled} {
		assert.False(t, chaos.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", false).Allowed, "safety guard (ctx err %v)", ctx.Err())
		assert.False(t, chaos.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", true).Allowed, "forced (ctx err %v)", ctx.Err())
		_, err := chaos.NoOpController{}.Schedule(ctx, chaos.Experiment{ID: "exp-1", Target: chaos.Target{Service: "checkout"}, Force: true})
		assert.ErrorIs(t, err, chaos.ErrDisabled, "Schedule (ctx err %v)", ctx.Err())
	}
}

func TestNoOpSafetyGuardGivesItsReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := chaos.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", true)
	require.Equal(t, []string{chaos.SafetyReasonNoGuard}, d.Reasons, "Reasons")
	// Reasons is the caller's to keep: changing it must not leak into the
	// next decision.
	d.Reasons[0] = "changed"
	d2 := (chaos.NoOpSafetyGuard{}).Check(ctx, "", "", false)
	assert.Equal(t, chaos.SafetyReasonNoGuard, d2.Reasons[0], "Reasons shared between calls: %q", d2.Reasons)
	var zero chaos.SafetyDecision
	assert.False(t, zero.Allowed, "the zero decision denies")
	assert.Empty(t, zero.Reasons)
}

func TestNoOpControllerEmergencyControlsAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := chaos.NoOpController{}
	runs, err := s.Running(ctx)
	require.NoError(t, err, "Running")
	require.Empty(t, runs, "Running")
	n, err := s.KillAll(ctx, "incident")
	require.NoError(t, err, "KillAll")
	require.Zero(t, n, "KillAll")
	require.NoError(t, s.Cancel(ctx, "unknown"), "Cancel")
}

// A chaos scheduler without a safety guard configured refuses every
// experiment, even a forced one.
func ExampleNoOpSafetyGuard() {
	var guard chaos.SafetyGuard = chaos.NoOpSafetyGuard{}
	d := guard.Check(context.Background(), "latency-checkout", "checkout", true)
	fmt.Println(d.Allowed, d.Reasons)
	// Output: false [no chaos safety guard configured]
}
