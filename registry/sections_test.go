package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// TestLoadValidatesServiceSections: a service section the service would
// refuse fails Load with the JSON path, and the previous configuration
// keeps serving; a valid section loads.
func TestLoadValidatesServiceSections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, section, field string
	}{
		{"idempotency", `"idempotency": {"ttl": "-1s"}`, "idempotency.ttl"},
		{"notifications", `"notifications": {"rate": {"per_minute": -1}}`, "notifications.rate.per_minute"},
		{"watchdog", `"watchdog": {"interval": "1ms"}`, "watchdog.interval"},
		{"dlq", `"dlq": {"capacity": -1}`, "dlq.capacity"},
		{"canary", `"canary": {"stage_duration": "-1s"}`, "canary.stage_duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := registry.New()
			good, err := registry.ParseConfig(strings.NewReader(`{"policies": [{"name": "p"}], "default_policy": "p"}`))
			require.NoError(t, err)
			require.NoError(t, reg.Load(good))

			bad, err := registry.ParseConfig(strings.NewReader(`{"policies": [], ` + tt.section + `}`))
			require.NoError(t, err, "the decoder accepts the shape; the values are Load's to judge")
			err = reg.Load(bad)
			var ce *baldur.ConfigError
			require.True(t, errors.As(err, &ce), "got %v", err)
			assert.Equal(t, tt.field, ce.Field)
			assert.NotNil(t, reg.Policy("GET /x"), "the previous configuration keeps serving")
		})
	}
	t.Run("valid sections load", func(t *testing.T) {
		t.Parallel()
		cfg, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "idempotency": {"ttl": "10m"},
			"notifications": {}, "watchdog": {"interval": "30s"}, "dlq": {"capacity": 1000}}`))
		require.NoError(t, err)
		require.NoError(t, registry.New().Load(cfg))
	})
}
