package registry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// TestWatchdogSection: the watchdog section decodes strictly, with
// path-named errors, and validates through watchdog.Config.Validate.
func TestWatchdogSection(t *testing.T) {
	t.Parallel()
	cfg, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "watchdog": {
		"interval": "15s", "jitter": 0.2, "pass_deadline": "5s", "max_actions_per_hour": 20,
		"backoff_base": "30s", "backoff_max": "2m", "dry_run": true,
		"checks": {"lock_renewal": {"max_actions_per_hour": 500}, "leaked_permits": {"disabled": true}},
		"leaked_permit_after": "10m", "emergency_stuck_after": "1h"}}`))
	require.NoError(t, err)
	require.NotNil(t, cfg.Watchdog)
	wc := cfg.Watchdog
	assert.Equal(t, 15*time.Second, wc.Interval.D())
	assert.Equal(t, 20, wc.MaxActionsPerHour)
	assert.True(t, wc.DryRun)
	assert.Equal(t, 500, wc.PerCheck["lock_renewal"].MaxActionsPerHour)
	assert.True(t, wc.PerCheck["leaked_permits"].Disabled)
	require.NoError(t, wc.Validate())

	for _, tt := range []struct{ doc, field string }{
		{`{"watchdog": {"intervall": "1m"}}`, "watchdog.intervall"},
		{`{"watchdog": {"checks": {"c": {"max_action": 1}}}}`, "watchdog.checks.c.max_action"},
	} {
		_, err := registry.ParseConfig(strings.NewReader(tt.doc))
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tt.doc)
		assert.Equal(t, tt.field, ce.Field)
	}
	bad, err := registry.ParseConfig(strings.NewReader(`{"watchdog": {"pass_deadline": "1h"}}`))
	require.NoError(t, err)
	var ce *baldur.ConfigError
	require.ErrorAs(t, bad.Watchdog.Validate(), &ce)
	assert.Equal(t, "pass_deadline", ce.Field)
}
