package governance

import (
	"time"

	"github.com/baldur-go/baldur"
)

// Config configures a Checker. The zero Config is valid: an in-memory store,
// the system clock, the defaults of the design (30 s cache, LEVEL_2 as the
// blocking level, SLO 99.9 % over 30 days, the SRE-workbook burn windows,
// the tier thresholds 15/30, 10/20, 5/10 and a 2-point hysteresis).
//
// Config reads from JSON as the governance section of a configuration file
// (docs/config.md): snake_case keys, durations as baldur.Duration ("30s" or
// seconds), the emergency level as a number, tiers and levels as map keys
// by name ("critical", "LEVEL_2" or "2"). Store, Clock, BurnWindows, Audit
// and Alerts are set in Go only. A nil slice or map means the default and
// an empty one means none, in JSON as in Go (absent or null, against [] or
// {}), and both survive a marshal and unmarshal.
type Config struct {
	// Store holds kill switches, the emergency state and break glass.
	// Nil means a new MemoryStore.
	Store Store `json:"-"`
	// Clock is the time source. Nil means baldur.SystemClock().
	Clock baldur.Clock `json:"-"`

	// CacheTTL is how long an evaluation (the snapshot every check reads)
	// is reused before the store is read again. Transitions made through
	// this Checker invalidate it at once; the TTL bounds how long a change
	// made elsewhere (another process sharing the store) takes to be seen.
	// Zero means 30 s; valid values are 1 s to 300 s.
	CacheTTL baldur.Duration `json:"cache_ttl,omitzero"`
	// StaleIfError is how long a part of the state (kill switches, the
	// emergency state, break glass) that the store fails to return is
	// replaced by its last good read, for the snapshot rebuilds, while an
	// alert of the part's Alert*Unreadable kind (AlertStoreReset when the
	// store lost its data) is raised. The bound runs from the last good
	// read; once it has passed, the part fails open (no kill switch,
	// NORMAL, break glass off) and AlertStaleExpired is raised. Expiry
	// times of the held state still apply. Zero means 5 min; negative
	// turns it off (a failed read fails open at once); at most
	// MaxStaleIfError (24 h).
	StaleIfError baldur.Duration `json:"stale_if_error,omitzero"`

	// EmergencyMinLevel is the level from which CheckAll's emergency check
	// blocks (the per-call gate uses the tier fractions instead). Zero
	// (NORMAL) means LEVEL_2; valid values are LEVEL_1 to LEVEL_3.
	EmergencyMinLevel baldur.EmergencyLevel `json:"emergency_min_level,omitzero"`
	// Fractions overrides the share of each tier admitted at a level. Each
	// given level must list all three tiers with values in 0..1; levels not
	// given keep the defaults (L0 1/1/1, L1 non_essential 0 standard 1
	// critical 1, L2 0/0.1/1, L3 0/0/0.5). Nil means the defaults.
	Fractions map[baldur.EmergencyLevel]map[baldur.Tier]float64 `json:"fractions,omitzero"`

	// ExemptOperations are operation patterns that governance never blocks
	// (health probes, the admin API that lifts a kill switch). Nil means
	// DefaultExemptOperations; an empty non-nil slice exempts nothing.
	ExemptOperations []string `json:"exempt_operations,omitzero"`

	// KillSwitchRetryAfter is the Retry-After of kill-switch rejections.
	// Zero means 30 s; at most MaxRetryAfter (24 h).
	KillSwitchRetryAfter baldur.Duration `json:"kill_switch_retry_after,omitzero"`
	// EmergencyRetryAfter is the base Retry-After of emergency rejections,
	// multiplied by 1, 1, 2, 4 at levels NORMAL..LEVEL_3. Zero means 5 s;
	// at most MaxRetryAfter (24 h, so 96 h at LEVEL_3).
	EmergencyRetryAfter baldur.Duration `json:"emergency_retry_after,omitzero"`
	// ErrorBudgetRetryAfter is the Retry-After of error-budget rejections.
	// Zero means 60 s; at most MaxRetryAfter (24 h).
	ErrorBudgetRetryAfter baldur.Duration `json:"error_budget_retry_after,omitzero"`
	// BreakGlassDuration bounds break glass once turned on. Zero means 1 h;
	// negative means until turned off; at most MaxBreakGlassDuration
	// (365 days).
	BreakGlassDuration baldur.Duration `json:"break_glass_duration,omitzero"`

	// SLOTarget is the success ratio the error budget protects, strictly
	// between 0 and 1. Zero means 0.999.
	SLOTarget float64 `json:"slo_target,omitzero"`
	// BudgetWindow is the rolling SLO window. Zero means 30 days; at least
	// one bucket (BudgetBucket) long and at most MaxBudgetWindow (366
	// days).
	BudgetWindow baldur.Duration `json:"budget_window,omitzero"`
	// BudgetBucket is the time resolution of the rolling counters. Zero
	// means BudgetWindow/60 clamped to 1 s..1 min. The window may hold at
	// most 100 000 buckets.
	BudgetBucket baldur.Duration `json:"budget_bucket,omitzero"`
	// BudgetMinCalls is the number of calls in the window below which the
	// budget reports 100 % remaining, so that a handful of early failures
	// does not block a tier. Zero means 100; 1 means no minimum.
	BudgetMinCalls uint64 `json:"budget_min_calls,omitzero"`
	// BudgetEvalInterval is how often, at most, recorded outcomes make the
	// error-budget decider re-evaluate the remaining budget, measured on
	// the recorded times (Call.Now plus latency for the per-call gate).
	// When a tier's blocked state flips (a threshold crossed, or recovery
	// past the hysteresis) the per-call gate follows at once, without
	// waiting for CacheTTL. Each evaluation costs O(burn windows), run by
	// one recording goroutine. Zero means 1 s; negative is invalid; at most
	// MaxBudgetEvalInterval (300 s, the longest CacheTTL: every rebuild
	// re-evaluates anyway).
	BudgetEvalInterval baldur.Duration `json:"budget_eval_interval,omitzero"`
	// BurnWindows are the multi-window burn-rate alerts reported by
	// Budget.BurnAlerts. Nil means DefaultBurnWindows (SRE workbook). Each
	// needs 0 < Short <= Long <= MaxBudgetWindow and a positive Factor.
	BurnWindows []BurnWindow `json:"-"`

	// Thresholds are the error-budget thresholds per tier. Nil means
	// DefaultThresholds; with a non-nil map, tiers missing from it use
	// GlobalThreshold.
	Thresholds map[baldur.Tier]Threshold `json:"thresholds,omitzero"`
	// GlobalThreshold applies to tiers without a threshold of their own.
	// Nil means {BlockPct: 10, WarnPct: 20}.
	GlobalThreshold *Threshold `json:"global_threshold,omitzero"`
	// RegionThresholds override the thresholds in a region. Precedence:
	// region tier, region default, tier, global.
	RegionThresholds map[string]RegionThresholds `json:"region_thresholds,omitzero"`
	// HysteresisPct is how far (in percentage points) the remaining budget
	// must climb above a tier's BlockPct before a blocked tier is admitted
	// again. Zero means 2; negative is invalid.
	HysteresisPct float64 `json:"hysteresis_pct,omitzero"`

	// Audit receives blocked calls and break-glass allowances, rate limited
	// per reason. Nil means SlogSink{} (slog.Default(), level Warn).
	Audit AuditSink `json:"-"`
	// AuditRate is the sustained number of audit records per second per
	// reason; records over it are dropped and counted. Zero means 1; at
	// least MinAuditRate (one a day), finite.
	AuditRate float64 `json:"audit_rate,omitzero"`
	// AuditBurst is how many records per reason may be written at once.
	// Zero means 10; at most MaxAuditBurst (100 000).
	AuditBurst int `json:"audit_burst,omitzero"`

	// Alerts receives "could not evaluate" alerts (store errors). Nil means
	// SlogSink{} (slog.Default(), level Error).
	Alerts AlertSink `json:"-"`
	// AlertCooldown is the minimum time between two alerts of one kind.
	// Zero means 300 s; at most MaxAlertCooldown (24 h).
	AlertCooldown baldur.Duration `json:"alert_cooldown,omitzero"`
}

// Threshold is an error-budget threshold in remaining-budget percent.
type Threshold struct {
	// BlockPct blocks the tier while less than this share of the budget is
	// left (0..100; 0 never blocks).
	BlockPct float64 `json:"block_pct"`
	// WarnPct raises a warning below this share (BlockPct..100).
	WarnPct float64 `json:"warn_pct"`
}

// RegionThresholds override thresholds in one region.
type RegionThresholds struct {
	// Default applies to tiers missing from Tiers. Nil falls through to the
	// tier and global thresholds.
	Default *Threshold `json:"default,omitzero"`
	// Tiers are per-tier overrides.
	Tiers map[baldur.Tier]Threshold `json:"tiers,omitzero"`
}

// BurnWindow is a multi-window burn-rate alert: it fires when the burn rate
// exceeds Factor over both the Long and the Short window.
type BurnWindow struct {
	Long, Short time.Duration
	Factor      float64
}

// Defaults.
var (
	// DefaultExemptOperations exempts health probes and admin endpoints.
	DefaultExemptOperations = []string{
		"*/health", "*/health/*", "*/healthz", "*/livez", "*/readyz",
		"/grpc.health.v1.Health/*",
		"*/admin", "*/admin/*",
	}
	// DefaultBurnWindows are the SRE workbook's multi-window alerts.
	DefaultBurnWindows = []BurnWindow{
		{Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4},
		{Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6},
		{Long: 24 * time.Hour, Short: 2 * time.Hour, Factor: 3},
		{Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1},
	}
	// DefaultThresholds are the per-tier error-budget thresholds.
	DefaultThresholds = map[baldur.Tier]Threshold{
		baldur.TierCritical:     {BlockPct: 15, WarnPct: 30},
		baldur.TierStandard:     {BlockPct: 10, WarnPct: 20},
		baldur.TierNonEssential: {BlockPct: 5, WarnPct: 10},
	}
)

// defaultFractions[level][tier] with tiers indexed by baldur.Tier
// (standard, critical, non_essential).
var defaultFractions = [baldur.MaxEmergencyLevel + 1][baldur.NumTiers]float64{
	baldur.LevelNormal: {baldur.TierNonEssential: 1, baldur.TierStandard: 1, baldur.TierCritical: 1},
	baldur.Level1:      {baldur.TierNonEssential: 0, baldur.TierStandard: 1, baldur.TierCritical: 1},
	baldur.Level2:      {baldur.TierNonEssential: 0, baldur.TierStandard: 0.1, baldur.TierCritical: 1},
	baldur.Level3:      {baldur.TierNonEssential: 0, baldur.TierStandard: 0, baldur.TierCritical: 0.5},
}

// Bounds of Config values. Each keeps the arithmetic built on the value
// (a Retry-After multiplied by the level, an audit tolerance of burst ×
// interval, a window rounded up to buckets, an expiry in unix
// nanoseconds) far from int64 overflow; a value past one is a
// *baldur.ConfigError naming the field.
const (
	// MaxRetryAfter bounds KillSwitchRetryAfter, EmergencyRetryAfter (so
	// LEVEL_3 advises at most 4 × 24 h) and ErrorBudgetRetryAfter.
	MaxRetryAfter = 24 * time.Hour
	// MaxBudgetWindow bounds BudgetWindow and the Long and Short of every
	// burn window.
	MaxBudgetWindow = 366 * 24 * time.Hour
	// MaxBreakGlassDuration bounds a positive BreakGlassDuration; a
	// negative one means until turned off.
	MaxBreakGlassDuration = 365 * 24 * time.Hour
	// MaxAlertCooldown bounds AlertCooldown.
	MaxAlertCooldown = 24 * time.Hour
	// MaxStaleIfError bounds StaleIfError.
	MaxStaleIfError = 24 * time.Hour
	// DefaultStaleIfError is the StaleIfError of a zero Config.
	DefaultStaleIfError = 5 * time.Minute
	// MaxBudgetEvalInterval bounds BudgetEvalInterval: a longer interval
	// would never act, since every snapshot rebuild (at most CacheTTL
	// apart) re-evaluates the budget anyway.
	MaxBudgetEvalInterval = 300 * time.Second
	// MinAuditRate is the lowest AuditRate: one record per reason a day.
	MinAuditRate = 1.0 / 86400
	// MaxAuditBurst bounds AuditBurst.
	MaxAuditBurst = 100_000
)
