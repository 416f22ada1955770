package watchdog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/watchdog"
)

// TestBuiltInsOnRegistry: the gate checks find a registry's breakers and
// bulkheads through watchdog.Policies and the root capabilities alone:
// a leaked bulkhead is paged, an operator's force is left alone.
func TestBuiltInsOnRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	reg := registry.New(registry.WithClock(clk))
	cfg, err := registry.ParseConfig(strings.NewReader(`{
		"breakers": {"up": {"partition_by": "key"}},
		"bulkheads": {"api": {"max_concurrent": 1}},
		"policies": [{"name": "api", "operations": ["GET /api/*"], "breaker": "up", "bulkhead": "api"}]}`))
	require.NoError(t, err)
	require.NoError(t, reg.Load(cfg))
	pol := reg.Policy("GET /api/x")
	require.NotNil(t, pol)
	_, err = pol.Admit(ctx, baldur.Call{Operation: "GET /api/x", Key: "k", Now: clk.Now()}) // a ticket never released
	require.NoError(t, err)
	for _, g := range pol.Gates() {
		if f, ok := g.(baldur.BreakerForcer); ok {
			_, err := f.ForcePartition("tenant", "", baldur.ForceOpen, time.Hour)
			require.NoError(t, err)
		}
	}
	breakers, err := watchdog.NewBreakers(reg)
	require.NoError(t, err)
	permits, err := watchdog.NewPermits(watchdog.PermitsConfig{Policies: reg})
	require.NoError(t, err)
	stuck, err := watchdog.NewEmergency(watchdog.EmergencyConfig{ManagerFunc: reg.Emergency.Get}) // unset: skipped
	require.NoError(t, err)
	p := &pager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, breakers, permits, stuck)
	for range 7 {
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		assert.Empty(t, kinds(rep, "breaker_force_expired"), "the operator's force is running")
		assert.Empty(t, kinds(rep, "emergency_stuck"))
		clk.Advance(time.Minute)
	}
	require.Len(t, p.pages(), 1)
	assert.Equal(t, "watchdog leaked_permits: api", p.pages()[0].Title)
}
