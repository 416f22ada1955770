package governance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/throttle"
)

var (
	_ throttle.Level3Source = (*governance.Checker)(nil)
	_ throttle.Level3Source = (*governance.Emergency)(nil)
)

// TestThrottleRebuiltDuringLevel3KeepsFactor: a throttle built while
// LEVEL_3 is in force (a reload during the incident) applies the factor of
// the level LEVEL_3 was raised from, as the throttle that saw the raise
// does, because the checker keeps that level with the emergency state.
func TestThrottleRebuiltDuringLevel3KeepsFactor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		path  []baldur.EmergencyLevel
		burst int64 // advertised quota of a burst-10 throttle
	}{
		{"from NORMAL", []baldur.EmergencyLevel{3}, 10},
		{"from LEVEL_1", []baldur.EmergencyLevel{1, 3}, 8},
		{"from LEVEL_2", []baldur.EmergencyLevel{2, 3}, 5},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			store := governance.NewMemoryStore()
			gov, err := governance.New(governance.Config{Store: store, Clock: clk, Audit: &governance.MemoryAudit{}})
			require.NoError(t, err)
			for _, l := range tc.path {
				_, err := gov.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: l, Reason: "incident"})
				require.NoError(t, err)
			}
			// Built during LEVEL_3: it never saw the level before.
			th, err := throttle.New(throttle.Config{Rate: 10, Burst: 10, Level: gov, Clock: clk})
			require.NoError(t, err)
			q, ok := th.Quota(baldur.TierStandard)
			require.True(t, ok)
			assert.Equal(t, tc.burst, q.Limit)

			// Both rebuilt: a new checker on the same store and a new throttle.
			gov2, err := governance.New(governance.Config{Store: store, Clock: clk, Audit: &governance.MemoryAudit{}})
			require.NoError(t, err)
			th2, err := throttle.New(throttle.Config{Rate: 10, Burst: 10, Level: gov2, Clock: clk})
			require.NoError(t, err)
			q, _ = th2.Quota(baldur.TierStandard)
			assert.Equal(t, tc.burst, q.Limit, "after a checker rebuild")
		})
	}
}

func TestThrottleAtLevel3ZeroAllocs(t *testing.T) {
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	gov, err := governance.New(governance.Config{Clock: clk, Audit: &governance.MemoryAudit{}})
	require.NoError(t, err)
	ctx := context.Background()
	for _, l := range []baldur.EmergencyLevel{2, 3} {
		_, err := gov.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: l, Reason: "incident"})
		require.NoError(t, err)
	}
	th, err := throttle.New(throttle.Config{Rate: 1e6, Burst: 1 << 20, Level: gov, Clock: clk})
	require.NoError(t, err)
	c := baldur.Call{Key: "k", Now: clk.Now()}
	n := testing.AllocsPerRun(1000, func() {
		if p, err := th.Admit(ctx, c); err == nil {
			p.Release(baldur.Outcome{})
		}
	})
	assert.Zero(t, n)
}
