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

// TestCanarySection: the canary section decodes strictly, with path-named
// errors, and validates through canary.Config.Validate.
func TestCanarySection(t *testing.T) {
	t.Parallel()
	cfg, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "canary": {
		"stage_duration": "10m", "window": "1m", "min_requests": 200, "max_error_rate": 0.03,
		"rejection_margin": 0.05, "fail_limit": 3, "auto_rollback": true, "min_ack": 0.9,
		"ack_timeout": "2m", "config_types": ["registry"]}}`))
	require.NoError(t, err)
	require.NotNil(t, cfg.Canary)
	c := cfg.Canary
	assert.Equal(t, 10*time.Minute, c.StageDuration.D())
	assert.Equal(t, uint64(200), c.MinRequests)
	assert.True(t, c.AutoRollback)
	assert.False(t, c.AutoPromote)
	require.NoError(t, c.Validate())

	for _, tt := range []struct{ doc, field string }{
		{`{"canary": {"stage_duraton": "1m"}}`, "canary.stage_duraton"},
		{`{"canary": {"window": "soon"}}`, "canary.window"},
	} {
		_, err := registry.ParseConfig(strings.NewReader(tt.doc))
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tt.doc)
		assert.Equal(t, tt.field, ce.Field, tt.doc)
	}
	for _, tt := range []struct{ doc, field string }{
		{`{"canary": {"window": "10m", "stage_duration": "5m"}}`, "window"},
		{`{"canary": {"min_ack": 1.5}}`, "min_ack"},
		{`{"canary": {"config_types": ["Bad Type"]}}`, "config_types[0]"},
		{`{"canary": {"ack_timeout": "-1s"}}`, "ack_timeout"},
	} {
		cfg, err := registry.ParseConfig(strings.NewReader(tt.doc))
		require.NoError(t, err, tt.doc)
		var ce *baldur.ConfigError
		require.ErrorAs(t, cfg.Canary.Validate(), &ce, tt.doc)
		assert.Equal(t, tt.field, ce.Field, tt.doc)
	}
}
