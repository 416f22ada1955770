package governance_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// TestLoadRefusesOverflowingGovernanceValues: the bounds reach the file
// (and so POST /reload) as a *baldur.ConfigError naming the JSON field.
func TestLoadRefusesOverflowingGovernanceValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, section, field string
	}{
		{"emergency retry", `"emergency_retry_after": "2562047h"`, "governance.emergency_retry_after"},
		{"emergency retry just over", `"emergency_retry_after": "24h0m1s"`, "governance.emergency_retry_after"},
		{"audit burst", `"audit_burst": 9223372036854775807`, "governance.audit_burst"},
		{"audit rate", `"audit_rate": 1e-300`, "governance.audit_rate"},
		{"budget window", `"budget_window": "2562047h", "budget_bucket": "1000000h"`, "governance.budget_window"},
		{"break glass", `"break_glass_duration": "2562047h"`, "governance.break_glass_duration"},
		{"alert cooldown", `"alert_cooldown": "2562047h"`, "governance.alert_cooldown"},
		{"eval interval", `"budget_eval_interval": "2562047h"`, "governance.budget_eval_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := registry.ParseConfig(strings.NewReader(`{"governance": {` + tc.section + `}}`))
			require.NoError(t, err)
			err = registry.New().Load(cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field, "%v", err)
		})
	}
	cfg, err := registry.ParseConfig(strings.NewReader(`{"governance": {"emergency_retry_after": "24h", "audit_burst": 100000}}`))
	require.NoError(t, err)
	require.NoError(t, registry.New().Load(cfg), "the bounds themselves are accepted")
}
