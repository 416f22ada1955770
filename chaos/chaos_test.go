package chaos_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
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

// A latency experiment on one policy: scheduled, observed for the steady
// state, injected, observed after, reported. The passes run on a fake
// clock here; a service calls Run once instead.
func ExampleNew() {
	clk := clock.NewFake(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))
	blast, _ := blastradius.New(blastradius.Config{Clock: clk})
	live := false
	sc, err := chaos.New(chaos.Config{
		Enabled: true, DryRun: &live, SteadyState: baldur.Duration(10 * time.Second),
		Governance: baldur.NoOpGovernance{}, Budget: fullBudget{}, Blast: blast, Clock: clk,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_, err = sc.Schedule(ctx, chaos.Experiment{
		ID: "recs-slow", Target: chaos.Target{Policy: "recs"}, Rate: 0.01,
		Fault:    chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(200 * time.Millisecond)},
		Duration: baldur.Duration(30 * time.Second), Hypothesis: "the recs breaker sheds the slow cohort",
	})
	fmt.Println("scheduled:", err)
	for range 60 {
		sc.Tick(ctx)
		clk.Advance(time.Second)
	}
	r, _ := sc.Get("recs-slow")
	fmt.Println(r.State, r.InjectAt.Sub(r.StartedAt), r.InjectEnd.Sub(r.InjectAt))
	rep, _ := sc.Generate(ctx, "recs-slow")
	fmt.Println("verdict:", rep.Verdict)
	// Output:
	// scheduled: <nil>
	// done 10s 30s
	// verdict: inconclusive
}

type fullBudget struct{}

func (fullBudget) Record(time.Time, baldur.Result) {}
func (fullBudget) Status(time.Time) baldur.ErrorBudgetStatus {
	return baldur.ErrorBudgetStatus{RemainingPct: 100}
}

// Cohorts are a pure function of the experiment, the rate and the key.
func ExampleCohort() {
	for _, key := range []string{"tenant-1", "tenant-2", "tenant-3", "tenant-4", "tenant-5", ""} {
		fmt.Printf("%q: %q\n", key, chaos.Cohort("slow-recs", 0.25, key))
	}
	// Output:
	// "tenant-1": "control"
	// "tenant-2": "experiment"
	// "tenant-3": "control"
	// "tenant-4": "control"
	// "tenant-5": ""
	// "": ""
}
