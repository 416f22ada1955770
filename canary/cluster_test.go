package canary_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/registry"
)

// A stage limited to clusters splits the keys on the replicas of those
// clusters only: a replica of another cluster, or of none, installs the
// split at share 0 and keeps every key on the (observed) baseline.
func TestStageClustersLimitTheSplitToTheirReplicas(t *testing.T) {
	t.Parallel()
	d := canary.Desired{Rollout: "r1", Stage: 0, Phase: canary.PhaseCanary, Share: 1, Clusters: []string{"eu-west", "eu-north"},
		Candidate: document(t, 10, 10), Token: 1, Key: "r1:0"}
	for _, tc := range []struct {
		cluster string
		in      bool
	}{{"eu-west", true}, {"eu-north", true}, {"us-east", false}, {"", false}} {
		reg := registry.New()
		require.NoError(t, reg.LoadDocument(document(t, 1000, 1000)))
		l, err := canary.NewLocal(canary.LocalConfig{Target: reg, Replica: "r-" + tc.cluster, Cluster: tc.cluster})
		require.NoError(t, err)
		require.NoError(t, l.Apply(context.Background(), d))
		share, installed := reg.CohortShare()
		assert.True(t, installed, "%q: the split is installed, so its baseline is observed", tc.cluster)
		assert.Equal(t, tc.in, reg.InCandidate("tenant-1"), "%q", tc.cluster)
		if tc.in {
			assert.Equal(t, 1.0, share, "%q", tc.cluster)
		} else {
			assert.Zero(t, share, "%q", tc.cluster)
		}
		// The next stage, without a selector, reaches every replica.
		d2 := d
		d2.Stage, d2.Clusters, d2.Key, d2.Token = 1, nil, "r1:1", 2
		require.NoError(t, l.Apply(context.Background(), d2))
		assert.True(t, reg.InCandidate("tenant-1"), "%q: the whole fleet at the next stage", tc.cluster)
	}
}

// A rollout hands each stage's cluster selector to the appliers.
func TestRolloutAppliesTheStagesClusters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil) // its replica is in no cluster
	ctx := context.Background()
	p := canary.Plan{Candidate: document(t, 10, 10), Stages: []canary.Stage{{Share: 0.5, Clusters: []string{"eu"}}, {Share: 0.5}}}
	st, err := e.svc.Create(ctx, p, opr)
	require.NoError(t, err)
	_, err = e.svc.Start(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	require.NoError(t, e.svc.Tick(ctx))
	share, installed := e.reg.CohortShare()
	require.True(t, installed)
	assert.Zero(t, share, "a replica outside the stage's clusters stays on the baseline")
}

func TestPlanClustersValidation(t *testing.T) {
	t.Parallel()
	cand := document(t, 10, 10)
	for _, tt := range []struct {
		name   string
		stages []canary.Stage
		field  string
	}{
		{"equal share after a cluster stage widens it", []canary.Stage{{Share: 0.1, Clusters: []string{"eu"}}, {Share: 0.1}}, ""},
		{"equal share without a cluster stage", []canary.Stage{{Share: 0.1}, {Share: 0.1}}, "stages[1].share"},
		{"empty cluster name", []canary.Stage{{Share: 0.1, Clusters: []string{"eu", ""}}}, "stages[0].clusters[1]"},
		{"too many clusters", []canary.Stage{{Share: 0.1, Clusters: make([]string, canary.MaxClusters+1)}}, "stages[0].clusters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := canary.Plan{Candidate: cand, Stages: tt.stages}
			err := p.Validate([]string{"registry"})
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ce *baldur.ConfigError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
}
