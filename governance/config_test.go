package governance

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	th := func(b, w float64) *Threshold { return &Threshold{BlockPct: b, WarnPct: w} }
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"ttl too short", Config{CacheTTL: baldur.Duration(500 * time.Millisecond)}, "CacheTTL"},
		{"ttl too long", Config{CacheTTL: baldur.Duration(301 * time.Second)}, "CacheTTL"},
		{"ttl negative", Config{CacheTTL: baldur.Duration(-time.Second)}, "CacheTTL"},
		{"min level", Config{EmergencyMinLevel: 4}, "EmergencyMinLevel"},
		{"fraction level", Config{Fractions: map[baldur.EmergencyLevel]map[baldur.Tier]float64{7: {}}}, "Fractions[7]"},
		{"fraction missing tier", Config{Fractions: map[baldur.EmergencyLevel]map[baldur.Tier]float64{1: {baldur.TierCritical: 1, baldur.TierStandard: 1}}}, "Fractions[1].non_essential"},
		{"fraction above 1", Config{Fractions: map[baldur.EmergencyLevel]map[baldur.Tier]float64{2: {baldur.TierCritical: 1.5, baldur.TierStandard: 1, baldur.TierNonEssential: 0}}}, "Fractions[2].critical"},
		{"fraction NaN", Config{Fractions: map[baldur.EmergencyLevel]map[baldur.Tier]float64{2: {baldur.TierCritical: 1, baldur.TierStandard: math.NaN(), baldur.TierNonEssential: 0}}}, "Fractions[2].standard"},
		{"fraction unknown tier", Config{Fractions: map[baldur.EmergencyLevel]map[baldur.Tier]float64{2: {baldur.TierCritical: 1, baldur.TierStandard: 1, baldur.TierNonEssential: 0, 9: 1}}}, "Fractions[2]"},
		{"exempt pattern", Config{ExemptOperations: []string{"GET /ok", ""}}, "ExemptOperations[1]"},
		{"kill retry", Config{KillSwitchRetryAfter: baldur.Duration(-1)}, "KillSwitchRetryAfter"},
		{"emergency retry", Config{EmergencyRetryAfter: baldur.Duration(-1)}, "EmergencyRetryAfter"},
		{"budget retry", Config{ErrorBudgetRetryAfter: baldur.Duration(-1)}, "ErrorBudgetRetryAfter"},
		{"slo 1", Config{SLOTarget: 1}, "SLOTarget"},
		{"slo negative", Config{SLOTarget: -0.5}, "SLOTarget"},
		{"window negative", Config{BudgetWindow: baldur.Duration(-time.Hour)}, "BudgetWindow"},
		{"window under bucket", Config{BudgetWindow: baldur.Duration(time.Second), BudgetBucket: baldur.Duration(time.Minute)}, "BudgetWindow"},
		{"too many buckets", Config{BudgetWindow: baldur.Duration(30 * 24 * time.Hour), BudgetBucket: baldur.Duration(time.Second)}, "BudgetBucket"},
		{"bucket negative", Config{BudgetBucket: baldur.Duration(-time.Second)}, "BudgetBucket"},
		{"eval interval", Config{BudgetEvalInterval: baldur.Duration(-time.Second)}, "BudgetEvalInterval"},
		{"burn window order", Config{BurnWindows: []BurnWindow{{Long: time.Minute, Short: time.Hour, Factor: 1}}}, "BurnWindows[0]"},
		{"burn factor", Config{BurnWindows: []BurnWindow{{Long: time.Hour, Short: time.Minute}}}, "BurnWindows[0].Factor"},
		{"global threshold", Config{GlobalThreshold: th(120, 130)}, "GlobalThreshold.BlockPct"},
		{"warn below block", Config{Thresholds: map[baldur.Tier]Threshold{baldur.TierCritical: {BlockPct: 20, WarnPct: 10}}}, "Thresholds.critical.WarnPct"},
		{"unknown tier threshold", Config{Thresholds: map[baldur.Tier]Threshold{5: {}}}, "Thresholds"},
		{"empty region", Config{RegionThresholds: map[string]RegionThresholds{"": {}}}, "RegionThresholds"},
		{"region default", Config{RegionThresholds: map[string]RegionThresholds{"eu": {Default: th(-1, 5)}}}, `RegionThresholds["eu"].Default.BlockPct`},
		{"region tier", Config{RegionThresholds: map[string]RegionThresholds{"eu": {Tiers: map[baldur.Tier]Threshold{baldur.TierStandard: {BlockPct: 5, WarnPct: 101}}}}}, `RegionThresholds["eu"].Tiers.standard.WarnPct`},
		{"hysteresis", Config{HysteresisPct: -1}, "HysteresisPct"},
		{"audit rate", Config{AuditRate: -1}, "AuditRate"},
		{"audit burst", Config{AuditBurst: -1}, "AuditBurst"},
		{"cooldown", Config{AlertCooldown: baldur.Duration(-time.Second)}, "AlertCooldown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tc.cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "New = %v; want a *baldur.ConfigError", c)
			require.Nil(t, c, "New = %v, %v", c, err)
			require.Equal(t, tc.field, ce.Field, "field (%v)", err)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	s, err := validate(Config{})
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, s.ttl, "default ttl")
	require.Equal(t, baldur.Level2, s.minLevel, "default minLevel")
	require.Equal(t, 0.999, s.target, "default target")
	require.Equal(t, 30*24*time.Hour, s.window, "default window")
	require.Equal(t, time.Minute, s.bucket, "default bucket")
	require.Equal(t, 2.0, s.hysteresis, "default hysteresis")
	require.Equal(t, 300*time.Second, s.cooldown, "default cooldown")
	require.Equal(t, 30*time.Second, s.killRetry, "default killRetry")
	require.Equal(t, 5*time.Second, s.emergRetry, "default emergRetry")
	require.Equal(t, 60*time.Second, s.budgetRetry, "default budgetRetry")
	require.Equal(t, Threshold{15, 30}, s.tiers[baldur.TierCritical], "thresholds: %+v", s.tiers)
	require.Equal(t, Threshold{10, 20}, s.tiers[baldur.TierStandard], "thresholds: %+v", s.tiers)
	require.Equal(t, Threshold{5, 10}, s.tiers[baldur.TierNonEssential], "thresholds: %+v", s.tiers)
	s, err = validate(Config{BudgetWindow: baldur.Duration(time.Minute)})
	require.NoError(t, err, "short window bucket")
	require.Equal(t, time.Second, s.bucket, "short window bucket")
	s, err = validate(Config{Fractions: map[baldur.EmergencyLevel]map[baldur.Tier]float64{
		baldur.Level1: {baldur.TierCritical: 1, baldur.TierStandard: 0.5, baldur.TierNonEssential: 0.25}}})
	require.NoError(t, err, "fraction override")
	require.Equal(t, 0.5, s.fractions[1][baldur.TierStandard], "fraction override: %v", s.fractions)
	require.Equal(t, 0.1, s.fractions[2][baldur.TierStandard], "fraction override: %v", s.fractions)
}
