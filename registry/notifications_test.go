package registry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/registry"
)

// TestNotificationsSection: the notifications section decodes strictly
// and validates through notify.Config.Validate.
func TestNotificationsSection(t *testing.T) {
	t.Parallel()
	cfg, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "notifications": {
		"service": "checkout", "cooldown": "10m", "group_wait": "1m", "rate": {"per_minute": 10, "per_hour": 100},
		"escalation": {"window": "15m", "steps": [5, 10]}, "emergency_floor": {"level2": "HIGH"},
		"channels": [{"name": "log", "type": "log"}, {"name": "chat", "type": "slack", "url_env": "SLACK_WEBHOOK_URL"},
			{"name": "page", "type": "pagerduty", "routing_key_env": "PD_ROUTING_KEY", "per_minute": 60}],
		"routes": [{"match": {"min_priority": "CRITICAL"}, "channels": ["chat", "page"]}, {"match": {}, "channels": ["log"]}],
		"inhibit": [{"when": "kill_switch", "target": {"source": "governance", "key": "governance:block*"}}]}}`))
	require.NoError(t, err)
	nc := cfg.Notifications
	require.NotNil(t, nc)
	assert.Equal(t, 10*time.Minute, nc.Cooldown.D())
	assert.Equal(t, notify.PriorityCritical, *nc.Routes[0].Match.MinPriority)
	assert.Equal(t, "SLACK_WEBHOOK_URL", nc.Channels[1].URLEnv)
	require.NoError(t, nc.Validate())

	for _, tt := range []struct{ doc, field string }{
		{`{"notifications": {"cooldwn": "1m"}}`, "notifications.cooldwn"},
		{`{"notifications": {"channels": [{"name": "x", "type": "slack", "url": "https://hooks.slack.com/x"}]}}`, "notifications.channels[0].url"},
	} {
		_, err := registry.ParseConfig(strings.NewReader(tt.doc))
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tt.doc)
		assert.Equal(t, tt.field, ce.Field)
	}
}
