package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/baldur-go/baldur"
)

// Config is the registry's file format (JSON). It declares named gates and
// the policies that compose them, per operation. See docs/config.md and
// examples/quickstart/baldur.json for a complete file.
//
// Unknown fields are errors, so a typo is caught at load time, not in an
// incident.
type Config struct {
	// Service and Region name the service and its region. Adapters do not
	// read the registry's settings on their own: pass them with
	// middleware.WithService(reg.Service()) and the like.
	Service string `json:"service,omitempty"`
	Region  string `json:"region,omitempty"`
	// Governance configures the governance checker. When it is present and
	// the registry's governance slot holds no governance.Checker, Load
	// builds one and fills the governance, emergency and error-budget slots.
	Governance *GovernanceConfig `json:"governance,omitempty"`
	// Throttles, Breakers, ShareCaps and Bulkheads are named gates.
	Throttles map[string]ThrottleConfig `json:"throttles,omitempty"`
	Breakers  map[string]BreakerConfig  `json:"breakers,omitempty"`
	ShareCaps map[string]ShareCapConfig `json:"share_caps,omitempty"`
	Bulkheads map[string]BulkheadConfig `json:"bulkheads,omitempty"`
	// Policies compose gates and name the operations they guard.
	Policies []PolicyConfig `json:"policies"`
	// DefaultPolicy guards operations no policy names; empty leaves them
	// unguarded.
	DefaultPolicy string `json:"default_policy,omitempty"`
}

// PolicyConfig declares one policy.
type PolicyConfig struct {
	// Name is unique among policies.
	Name string `json:"name"`
	// Operations are the operations the policy guards: ServeMux patterns
	// ("GET /items/{id}"), gRPC full methods, or globs with '*'.
	Operations []string `json:"operations,omitempty"`
	// Governance puts the governance gate first in the chain.
	Governance bool `json:"governance,omitempty"`
	// Throttle, Breaker, ShareCap and Bulkhead name gates declared above;
	// empty means none of that kind.
	Throttle string `json:"throttle,omitempty"`
	Breaker  string `json:"breaker,omitempty"`
	ShareCap string `json:"share_cap,omitempty"`
	Bulkhead string `json:"bulkhead,omitempty"`
	// Shadow lists stages ("governance", "throttle", "blast", "bulkhead")
	// whose gates are evaluated and counted but not enforced.
	Shadow []baldur.Stage `json:"shadow,omitempty"`
	// MinTimeLeft rejects calls whose deadline is closer than this.
	MinTimeLeft Duration `json:"min_time_left,omitempty"`
}

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

// GovernanceConfig mirrors governance.Config; zero fields take that
// package's defaults.
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

// TierRate is one tier's throttle limit.
type TierRate struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// ThrottleConfig mirrors throttle.Config.
type ThrottleConfig struct {
	Rate    float64             `json:"rate"`
	Burst   int                 `json:"burst"`
	Tiers   map[string]TierRate `json:"tiers,omitempty"`
	KeyBy   string              `json:"key_by,omitempty"` // key (default), operation, key_and_operation, global
	MaxKeys int                 `json:"max_keys,omitempty"`
	MaxWait Duration            `json:"max_wait,omitempty"`
	// IgnoreEmergency turns off the emergency rate factors (on by default
	// when a governance checker is present).
	IgnoreEmergency bool `json:"ignore_emergency,omitempty"`
}

// BreakerConfig mirrors blast.BreakerConfig.
type BreakerConfig struct {
	PartitionBy         string   `json:"partition_by,omitempty"` // key (default), operation, key_and_operation
	ConsecutiveFailures int      `json:"consecutive_failures,omitempty"`
	FailureRatio        float64  `json:"failure_ratio,omitempty"`
	MinRequests         int      `json:"min_requests,omitempty"`
	Window              Duration `json:"window,omitempty"`
	BucketPeriod        Duration `json:"bucket_period,omitempty"`
	OpenTimeout         Duration `json:"open_timeout,omitempty"`
	HalfOpenProbes      int      `json:"half_open_probes,omitempty"`
	ForceTTL            Duration `json:"force_ttl,omitempty"`
	MaxPartitions       int      `json:"max_partitions,omitempty"`
	IdleTimeout         Duration `json:"idle_timeout,omitempty"`
}

// ShareCapConfig mirrors blast.ShareCapConfig.
type ShareCapConfig struct {
	Capacity   int      `json:"capacity,omitempty"`
	Share      float64  `json:"share,omitempty"`
	MaxPerKey  int      `json:"max_per_key,omitempty"`
	RetryAfter Duration `json:"retry_after,omitempty"`
	MaxKeys    int      `json:"max_keys,omitempty"`
}

// TierBulkhead is one tier's compartment of a tiered bulkhead.
type TierBulkhead struct {
	MaxConcurrent int      `json:"max_concurrent"`
	MaxWait       Duration `json:"max_wait,omitempty"`
}

// BulkheadConfig declares a semaphore compartment, or, with Tiers, one
// compartment per tier.
type BulkheadConfig struct {
	MaxConcurrent int      `json:"max_concurrent,omitempty"`
	MaxWait       Duration `json:"max_wait,omitempty"`
	RetryAfter    Duration `json:"retry_after,omitempty"`
	// Tiers makes a tiered admission bulkhead; an empty object means the
	// defaults (critical 100/50 ms, standard 50/30 ms, non_essential 20/0).
	Tiers map[string]TierBulkhead `json:"tiers,omitempty"`
}

// ParseConfig decodes a JSON configuration strictly: unknown fields and
// trailing data are errors. It does not validate values; Load does.
func ParseConfig(r io.Reader) (Config, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("registry: parse config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("registry: parse config: trailing data after the JSON object")
	}
	return c, nil
}

// maxConfigSize bounds configuration files.
const maxConfigSize = 4 << 20

// ReadConfigFile reads and parses a JSON configuration file.
func ReadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("registry: %w", err)
	}
	if len(b) > maxConfigSize {
		return Config{}, fmt.Errorf("registry: config file %s larger than 4 MiB", path)
	}
	return ParseConfig(bytes.NewReader(b))
}
