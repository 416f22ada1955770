package registry

// The registry's conversion of the governance section before the section
// became governance.Config itself, kept as the oracle that the file format
// did not change: TestGovernanceConfigDecodesAsFile decodes every section
// both ways and requires the same Config.

import (
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
)

// Threshold is an error-budget threshold, in remaining-budget percent.
type Threshold struct {
	BlockPct float64 `json:"block_pct"`
	WarnPct  float64 `json:"warn_pct"`
}

// RegionThresholds override thresholds in one region.
type RegionThresholds struct {
	Default *Threshold           `json:"default,omitempty"`
	Tiers   map[string]Threshold `json:"tiers,omitempty"`
}

// GovernanceConfig is the governance section as the registry once
// mirrored it.
type GovernanceConfig struct {
	CacheTTL              Duration                      `json:"cache_ttl,omitempty"`
	EmergencyMinLevel     int                           `json:"emergency_min_level,omitempty"`
	Fractions             map[string]map[string]float64 `json:"fractions,omitempty"` // level ("1".."3" or "LEVEL_1") -> tier -> fraction
	ExemptOperations      []string                      `json:"exempt_operations,omitempty"`
	KillSwitchRetryAfter  Duration                      `json:"kill_switch_retry_after,omitempty"`
	EmergencyRetryAfter   Duration                      `json:"emergency_retry_after,omitempty"`
	ErrorBudgetRetryAfter Duration                      `json:"error_budget_retry_after,omitempty"`
	SLOTarget             float64                       `json:"slo_target,omitempty"`
	BudgetWindow          Duration                      `json:"budget_window,omitempty"`
	BudgetBucket          Duration                      `json:"budget_bucket,omitempty"`
	BudgetMinCalls        uint64                        `json:"budget_min_calls,omitempty"`
	Thresholds            map[string]Threshold          `json:"thresholds,omitempty"`
	GlobalThreshold       *Threshold                    `json:"global_threshold,omitempty"`
	RegionThresholds      map[string]RegionThresholds   `json:"region_thresholds,omitempty"`
	HysteresisPct         float64                       `json:"hysteresis_pct,omitempty"`
	AuditRate             float64                       `json:"audit_rate,omitempty"`
	AuditBurst            int                           `json:"audit_burst,omitempty"`
	AlertCooldown         Duration                      `json:"alert_cooldown,omitempty"`
	// BudgetEvalInterval is how often recorded outcomes re-evaluate the
	// error budget, so a threshold crossing blocks or unblocks a tier within
	// it rather than the cache TTL; zero means 1 s.
	BudgetEvalInterval Duration `json:"budget_eval_interval,omitempty"`
	// BreakGlassDuration bounds break glass; zero means 1 h, negative until
	// turned off.
	BreakGlassDuration Duration `json:"break_glass_duration,omitempty"`
}

func parseLevel(s string) (baldur.EmergencyLevel, bool) {
	s = strings.TrimPrefix(strings.ToUpper(s), "LEVEL_")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > int(baldur.MaxEmergencyLevel) {
		return 0, false
	}
	return baldur.EmergencyLevel(n), true
}

func threshold(t Threshold) governance.Threshold {
	return governance.Threshold{BlockPct: t.BlockPct, WarnPct: t.WarnPct}
}

func governanceConfig(gc GovernanceConfig) (governance.Config, error) {
	cfg := governance.Config{
		CacheTTL:              gc.CacheTTL,
		EmergencyMinLevel:     baldur.EmergencyLevel(gc.EmergencyMinLevel),
		ExemptOperations:      gc.ExemptOperations,
		KillSwitchRetryAfter:  gc.KillSwitchRetryAfter,
		EmergencyRetryAfter:   gc.EmergencyRetryAfter,
		ErrorBudgetRetryAfter: gc.ErrorBudgetRetryAfter,
		SLOTarget:             gc.SLOTarget,
		BudgetWindow:          gc.BudgetWindow,
		BudgetBucket:          gc.BudgetBucket,
		BudgetMinCalls:        gc.BudgetMinCalls,
		HysteresisPct:         gc.HysteresisPct,
		AuditRate:             gc.AuditRate,
		AuditBurst:            gc.AuditBurst,
		AlertCooldown:         gc.AlertCooldown,
		BreakGlassDuration:    gc.BreakGlassDuration,
		BudgetEvalInterval:    gc.BudgetEvalInterval,
	}
	if gc.EmergencyMinLevel < 0 || gc.EmergencyMinLevel > int(baldur.MaxEmergencyLevel) {
		return cfg, &baldur.ConfigError{Field: "governance.emergency_min_level", Value: strconv.Itoa(gc.EmergencyMinLevel), Reason: "must be 1..3 (0 for the default)"}
	}
	if gc.Fractions != nil {
		cfg.Fractions = map[baldur.EmergencyLevel]map[baldur.Tier]float64{}
		for ls, tiers := range gc.Fractions {
			l, ok := parseLevel(ls)
			if !ok {
				return cfg, &baldur.ConfigError{Field: "governance.fractions", Value: strconv.Quote(ls), Reason: "unknown level (want 0..3 or LEVEL_1..LEVEL_3)"}
			}
			m, err := tierMap("governance.fractions."+ls, tiers, func(f float64) float64 { return f })
			if err != nil {
				return cfg, err
			}
			if m == nil {
				m = map[baldur.Tier]float64{}
			}
			cfg.Fractions[l] = m
		}
	}
	th, err := tierMap("governance.thresholds", gc.Thresholds, threshold)
	if err != nil {
		return cfg, err
	}
	cfg.Thresholds = th
	if gc.GlobalThreshold != nil {
		th := threshold(*gc.GlobalThreshold)
		cfg.GlobalThreshold = &th
	}
	if gc.RegionThresholds != nil {
		cfg.RegionThresholds = map[string]governance.RegionThresholds{}
		for region, rt := range gc.RegionThresholds {
			var out governance.RegionThresholds
			if rt.Default != nil {
				th := threshold(*rt.Default)
				out.Default = &th
			}
			tiers, err := tierMap("governance.region_thresholds."+region+".tiers", rt.Tiers, threshold)
			if err != nil {
				return cfg, err
			}
			out.Tiers = tiers
			cfg.RegionThresholds[region] = out
		}
	}
	return cfg, nil
}

func parseTierKey(at, s string) (baldur.Tier, error) {
	t, err := baldur.ParseTier(s)
	if err != nil {
		return 0, &baldur.ConfigError{Field: at, Value: strconv.Quote(s), Reason: "unknown tier (want critical, standard or non_essential)"}
	}
	return t, nil
}

// tierMap converts a file's tier-keyed object to the gate's map, converting
// each value with conv. A nil object gives a nil map, an empty one an empty
// map; an unknown tier name is a ConfigError at field at.
func tierMap[V, W any](at string, in map[string]V, conv func(V) W) (map[baldur.Tier]W, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[baldur.Tier]W, len(in))
	for k, v := range in {
		t, err := parseTierKey(at, k)
		if err != nil {
			return nil, err
		}
		out[t] = conv(v)
	}
	return out, nil
}
