package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/throttle"
)

// TestReloadDuringLevel3KeepsThrottleFactor: LEVEL_3 raised from LEVEL_2
// runs at LEVEL_2's factor (× 0.5); a reload that rebuilds the throttle,
// and one that also rebuilds the checker, keep that factor.
func TestReloadDuringLevel3KeepsThrottleFactor(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	gov := r.Governance.Get().(*governance.Checker)
	for _, l := range []baldur.EmergencyLevel{baldur.Level2, baldur.Level3} {
		_, err := gov.Emergency().Trigger(context.Background(), baldur.EmergencyTrigger{Level: l, Reason: "incident"})
		require.NoError(t, err)
	}
	burst := func() int64 {
		th, ok := gateAt(t, r.Policy("GET /api/recs"), baldur.StageThrottle).(*throttle.Throttle)
		require.True(t, ok)
		q, _ := th.Quota(baldur.TierStandard)
		return q.Limit
	}
	require.Equal(t, int64(25), burst(), "burst 50 at LEVEL_2's factor")

	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	tc := cfg.Throttles["per_tenant"]
	tc.Burst = 40
	cfg.Throttles["per_tenant"] = tc
	require.NoError(t, r.Load(cfg))
	assert.Equal(t, int64(20), burst(), "rebuilt throttle: burst 40 at LEVEL_2's factor")

	cfg.Governance.KillSwitchRetryAfter = registry.Duration(time.Minute) // a new checker too
	tc.Burst = 30
	cfg.Throttles["per_tenant"] = tc
	require.NoError(t, r.Load(cfg))
	assert.NotSame(t, gov, r.Governance.Get())
	assert.Equal(t, int64(15), burst(), "rebuilt throttle and checker: burst 30 at LEVEL_2's factor")
}
