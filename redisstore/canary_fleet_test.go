package redisstore

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/registry"
)

// allowAll is a governance checker that allows every canary action (the
// NoOp checker's unknown level blocks them: canary gates fail closed).
type allowAll struct{ baldur.NoOpGovernance }

func (allowAll) EmergencyBlocking(context.Context, baldur.EmergencyLevel) (bool, baldur.EmergencyLevel) {
	return false, baldur.LevelNormal
}

func canaryDoc(t *testing.T, rate float64) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"service":   "shop",
		"throttles": map[string]any{"t": map[string]any{"rate": rate, "burst": 10}},
		"policies":  []any{map[string]any{"name": "api", "operations": []string{"GET /x"}, "throttle": "t"}},
	})
	require.NoError(t, err)
	return b
}

// TestCanaryFleetOnRedis: a controller and a second replica share Redis: the
// stage is published (CanaryDesired), the second replica's agent applies
// it and its heartbeat acknowledges it (SetCanary through OnApplied); the
// stage counts as applied only once every live member reports it, and a
// member that never does blocks the rollout at its ack timeout.
func TestCanaryFleetOnRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	c := s.Client(t, nil)
	kp := prefix(t)
	b := newBackend(t, c, Config{Logger: discard(), Scripts: append([]*Script{CanaryDesiredScript}, FleetScripts...)})
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	desired, err := NewCanaryDesired(b, kp)
	require.NoError(t, err)

	type replica struct {
		reg    *registry.Registry
		member *Membership
		local  *canary.Local
		agent  *canary.Agent
	}
	mk := func(id string) *replica {
		r := &replica{reg: registry.New(registry.WithClock(clk))}
		require.NoError(t, r.reg.LoadDocument(canaryDoc(t, 100)))
		r.member = newMembership(t, c, kp, id, nil)
		r.local, err = canary.NewLocal(canary.LocalConfig{Target: r.reg, Replica: id, OnApplied: r.member.SetCanary})
		require.NoError(t, err)
		r.agent, err = canary.NewAgent(canary.AgentConfig{Store: desired, Local: r.local, Clock: clk})
		require.NoError(t, err)
		require.NoError(t, r.member.Heartbeat(ctx))
		return r
	}
	a, bb, silent := mk("pod-a"), mk("pod-b"), mk("pod-c")
	svc, err := canary.New(canary.Config{Applier: &canary.Fleet{Store: desired, Local: a.local}, Acks: CanaryAcks(a.member),
		Governance: allowAll{}, Clock: clk, AckTimeout: baldur.Duration(30 * time.Second),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	st, err := svc.Create(ctx, canary.Plan{Candidate: canaryDoc(t, 10), Stages: []canary.Stage{{Share: 0.2}}}, canary.Op{Reason: "t"})
	require.NoError(t, err)
	_, err = svc.Start(ctx, st.RolloutID, canary.Op{Reason: "t"})
	require.NoError(t, err)

	require.NoError(t, bb.agent.Poll(ctx))
	for _, r := range []*replica{a, bb} {
		require.NoError(t, r.member.Heartbeat(ctx))
	}
	require.NoError(t, svc.Tick(ctx))
	got, err := svc.Get(ctx, st.RolloutID)
	require.NoError(t, err)
	assert.False(t, got.Applied, "pod-c has not applied the stage")
	assert.InDelta(t, 2.0/3, got.AckRatio, 1e-9)

	clk.Advance(31 * time.Second)
	require.NoError(t, svc.Tick(ctx))
	got, _ = svc.Get(ctx, st.RolloutID)
	assert.Contains(t, got.Blocked, "2 of 3 replicas")
	_, err = svc.Promote(ctx, st.RolloutID, canary.Op{Reason: "t", BypassReason: "operator insists, no acks"})
	assert.ErrorIs(t, err, canary.ErrBlocked)

	require.NoError(t, silent.agent.Poll(ctx))
	require.NoError(t, silent.member.Heartbeat(ctx))
	require.NoError(t, svc.Tick(ctx))
	got, _ = svc.Get(ctx, st.RolloutID)
	assert.True(t, got.Applied, "every live member reports the stage")
	assert.Empty(t, got.Blocked)
	for _, r := range []*replica{a, bb, silent} {
		share, split := r.reg.CohortShare()
		assert.True(t, split)
		assert.Equal(t, 0.2, share)
	}
}
