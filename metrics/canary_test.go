package metrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/metrics"
)

type fakeCanary struct{}

func (fakeCanary) List(context.Context) []canary.Status {
	return []canary.Status{
		{RolloutID: "r2", Type: "registry", Current: canary.Running, StageIndex: 1, Share: 0.05, AckRatio: 1,
			Verdict: &canary.Judgement{Verdict: canary.Fail, Candidate: canary.Summary{Requests: 400, RejectionRate: 0.25},
				Baseline: canary.Summary{Requests: 8000}}},
		{RolloutID: "r1", Type: "registry", Current: canary.RolledBack},
	}
}

func (fakeCanary) Stats() canary.Stats {
	return canary.Stats{Transitions: map[string]uint64{"rolled_back/judge": 1, "canary/operator": 2}, Verdicts: [canary.NumVerdicts]uint64{3, 5, 2}}
}

func TestCanaryCollector(t *testing.T) {
	t.Parallel()
	want := `
# HELP baldur_canary_rollouts Canary rollouts known to the service, by config type and state.
# TYPE baldur_canary_rollouts gauge
baldur_canary_rollouts{config_type="registry",state="canary"} 1
baldur_canary_rollouts{config_type="registry",state="rolled_back"} 1
# HELP baldur_canary_stage The current stage (from 0) of the active rollout of a config type.
# TYPE baldur_canary_stage gauge
baldur_canary_stage{config_type="registry"} 1
# HELP baldur_canary_transitions_total Rollout transitions, by target state and trigger.
# TYPE baldur_canary_transitions_total counter
baldur_canary_transitions_total{to="canary",trigger="operator"} 2
baldur_canary_transitions_total{to="rolled_back",trigger="judge"} 1
# HELP baldur_canary_verdicts_total Judged windows, by verdict.
# TYPE baldur_canary_verdicts_total counter
baldur_canary_verdicts_total{verdict="fail"} 2
baldur_canary_verdicts_total{verdict="inconclusive"} 3
baldur_canary_verdicts_total{verdict="pass"} 5
# HELP baldur_canary_window_rejection_ratio Rejected calls over calls in the last judged window, by cohort.
# TYPE baldur_canary_window_rejection_ratio gauge
baldur_canary_window_rejection_ratio{cohort="baseline",config_type="registry"} 0
baldur_canary_window_rejection_ratio{cohort="candidate",config_type="registry"} 0.25
# HELP baldur_canary_window_requests Calls in the last judged window of the active rollout, by cohort.
# TYPE baldur_canary_window_requests gauge
baldur_canary_window_requests{cohort="baseline",config_type="registry"} 8000
baldur_canary_window_requests{cohort="candidate",config_type="registry"} 400
`
	require.NoError(t, testutil.CollectAndCompare(metrics.NewCanaryCollector(fakeCanary{}), strings.NewReader(want),
		"baldur_canary_rollouts", "baldur_canary_stage", "baldur_canary_transitions_total", "baldur_canary_verdicts_total",
		"baldur_canary_window_requests", "baldur_canary_window_rejection_ratio"))
}
