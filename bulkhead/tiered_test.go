package bulkhead

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestTieredDefaults(t *testing.T) {
	t.Parallel()
	g, err := NewTiered(TieredConfig{})
	require.NoError(t, err)
	want := map[baldur.Tier]Config{
		baldur.TierCritical:     {Name: "admission.critical", MaxConcurrent: 100, MaxWait: baldur.Duration(50 * time.Millisecond)},
		baldur.TierStandard:     {Name: "admission.standard", MaxConcurrent: 50, MaxWait: baldur.Duration(30 * time.Millisecond)},
		baldur.TierNonEssential: {Name: "admission.non_essential", MaxConcurrent: 20},
	}
	for tier, w := range want {
		c := g.Compartment(tier).Config()
		assert.Equal(t, w.Name, c.Name, "%v: %+v, want %+v", tier, c, w)
		assert.Equal(t, w.MaxConcurrent, c.MaxConcurrent, "%v: %+v, want %+v", tier, c, w)
		assert.Equal(t, w.MaxWait, c.MaxWait, "%v: %+v, want %+v", tier, c, w)
		assert.Equal(t, DefaultRetryAfter, c.RetryAfter.D(), "%v: %+v, want %+v", tier, c, w)
	}
	require.Same(t, g.Compartment(baldur.TierStandard), g.Compartment(baldur.Tier(9)), "unknown tier")
	require.Equal(t, baldur.StageBulkhead, g.Stage(), "Stage")
}

// A flood of non-essential calls does not take critical permits.
func TestTieredIsolation(t *testing.T) {
	t.Parallel()
	g, err := NewTiered(TieredConfig{Tiers: map[baldur.Tier]TierLimit{
		baldur.TierNonEssential: {MaxConcurrent: 2},
		baldur.TierCritical:     {MaxConcurrent: 1},
	}})
	require.NoError(t, err)
	ctx := context.Background()
	ne := baldur.Call{Tier: baldur.TierNonEssential}
	var held []baldur.Permit
	for range 2 {
		p, err := g.Admit(ctx, ne)
		require.NoError(t, err)
		held = append(held, p)
	}
	_, err = g.Admit(ctx, ne)
	require.ErrorIs(t, err, ErrFull, "third non-essential")
	p, err := g.Admit(ctx, baldur.Call{Tier: baldur.TierCritical})
	require.NoError(t, err, "critical starved by non-essential")
	p.Release(baldur.Outcome{})
	releaseAll(held)
	for _, s := range g.Compartments() {
		checkIdle(t, s)
	}
}

func TestTieredAllocs(t *testing.T) {
	g, _ := NewTiered(TieredConfig{})
	ctx := context.Background()
	c := baldur.Call{Tier: baldur.TierCritical}
	// The measured closure only records; the checks run after it.
	var admitErr error
	n := testing.AllocsPerRun(100, func() {
		p, err := g.Admit(ctx, c)
		if err != nil {
			if admitErr == nil {
				admitErr = err
			}
			return
		}
		p.Release(baldur.Outcome{})
	})
	require.NoError(t, admitErr)
	require.Zero(t, n, "Tiered admit allocates")
}
