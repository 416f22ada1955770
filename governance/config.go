package governance

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// Config configures a Checker. The zero Config is valid: an in-memory store,
// the system clock, the defaults of the design (30 s cache, LEVEL_2 as the
// blocking level, SLO 99.9 % over 30 days, the SRE-workbook burn windows,
// the tier thresholds 15/30, 10/20, 5/10 and a 2-point hysteresis).
type Config struct {
	// Store holds kill switches, the emergency state and break glass.
	// Nil means a new MemoryStore.
	Store Store
	// Clock is the time source. Nil means baldur.SystemClock().
	Clock baldur.Clock

	// CacheTTL is how long an evaluation (the snapshot every check reads)
	// is reused before the store is read again. Transitions made through
	// this Checker invalidate it at once; the TTL bounds how long a change
	// made elsewhere (another process sharing the store) takes to be seen.
	// Zero means 30 s; valid values are 1 s to 300 s.
	CacheTTL time.Duration

	// EmergencyMinLevel is the level from which CheckAll's emergency check
	// blocks (the per-call gate uses the tier fractions instead). Zero
	// (NORMAL) means LEVEL_2; valid values are LEVEL_1 to LEVEL_3.
	EmergencyMinLevel baldur.EmergencyLevel
	// Fractions overrides the share of each tier admitted at a level. Each
	// given level must list all three tiers with values in 0..1; levels not
	// given keep the defaults (L0 1/1/1, L1 non_essential 0 standard 1
	// critical 1, L2 0/0.1/1, L3 0/0/0.5). Nil means the defaults.
	Fractions map[baldur.EmergencyLevel]map[baldur.Tier]float64

	// ExemptOperations are operation patterns that governance never blocks
	// (health probes, the admin API that lifts a kill switch). Nil means
	// DefaultExemptOperations; an empty non-nil slice exempts nothing.
	ExemptOperations []string

	// KillSwitchRetryAfter is the Retry-After of kill-switch rejections.
	// Zero means 30 s; at most MaxRetryAfter (24 h).
	KillSwitchRetryAfter time.Duration
	// EmergencyRetryAfter is the base Retry-After of emergency rejections,
	// multiplied by 1, 1, 2, 4 at levels NORMAL..LEVEL_3. Zero means 5 s;
	// at most MaxRetryAfter (24 h, so 96 h at LEVEL_3).
	EmergencyRetryAfter time.Duration
	// ErrorBudgetRetryAfter is the Retry-After of error-budget rejections.
	// Zero means 60 s; at most MaxRetryAfter (24 h).
	ErrorBudgetRetryAfter time.Duration
	// BreakGlassDuration bounds break glass once turned on. Zero means 1 h;
	// negative means until turned off; at most MaxBreakGlassDuration
	// (365 days).
	BreakGlassDuration time.Duration

	// SLOTarget is the success ratio the error budget protects, strictly
	// between 0 and 1. Zero means 0.999.
	SLOTarget float64
	// BudgetWindow is the rolling SLO window. Zero means 30 days; at least
	// one bucket (BudgetBucket) long and at most MaxBudgetWindow (366 days).
	BudgetWindow time.Duration
	// BudgetBucket is the time resolution of the rolling counters. Zero
	// means BudgetWindow/60 clamped to 1 s..1 min. The window may hold at
	// most 100 000 buckets.
	BudgetBucket time.Duration
	// BudgetMinCalls is the number of calls in the window below which the
	// budget reports 100 % remaining, so that a handful of early failures
	// does not block a tier. Zero means 100; 1 means no minimum.
	BudgetMinCalls uint64
	// BudgetEvalInterval is how often, at most, recorded outcomes make the
	// error-budget gate re-evaluate the remaining budget, measured on the
	// recorded times (Call.Now plus latency for the per-call gate). When a
	// tier's blocked state flips (a threshold crossed, or recovery past the
	// hysteresis) the per-call gate follows at once, without waiting for
	// CacheTTL. Each evaluation costs O(burn windows), run by one recording
	// goroutine. Zero means 1 s; negative is invalid; at most
	// MaxBudgetEvalInterval (300 s, the longest CacheTTL: every rebuild
	// re-evaluates anyway).
	BudgetEvalInterval time.Duration
	// BurnWindows are the multi-window burn-rate alerts reported by
	// Budget.BurnAlerts. Nil means DefaultBurnWindows (SRE workbook). Each
	// needs 0 < Short <= Long <= MaxBudgetWindow and a positive Factor.
	BurnWindows []BurnWindow

	// Thresholds are the error-budget thresholds per tier. Nil means
	// DefaultThresholds; with a non-nil map, tiers missing from it use
	// GlobalThreshold.
	Thresholds map[baldur.Tier]Threshold
	// GlobalThreshold applies to tiers without a threshold of their own.
	// Nil means {BlockPct: 10, WarnPct: 20}.
	GlobalThreshold *Threshold
	// RegionThresholds override the thresholds in a region. Precedence:
	// region tier, region default, tier, global.
	RegionThresholds map[string]RegionThresholds
	// HysteresisPct is how far (in percentage points) the remaining budget
	// must climb above a tier's BlockPct before a blocked tier is admitted
	// again. Zero means 2; negative is invalid.
	HysteresisPct float64

	// Audit receives blocked calls and break-glass allowances, rate limited
	// per reason. Nil means SlogSink{} (slog.Default(), level Warn).
	Audit AuditSink
	// AuditRate is the sustained number of audit records per second per
	// reason; records over it are dropped and counted. Zero means 1; at
	// least MinAuditRate (one a day), finite.
	AuditRate float64
	// AuditBurst is how many records per reason may be written at once.
	// Zero means 10; at most MaxAuditBurst (100 000).
	AuditBurst int

	// Alerts receives "could not evaluate" alerts (store errors). Nil means
	// SlogSink{} (slog.Default(), level Error).
	Alerts AlertSink
	// AlertCooldown is the minimum time between two alerts of one kind.
	// Zero means 300 s; at most MaxAlertCooldown (24 h).
	AlertCooldown time.Duration
}

// Threshold is an error-budget threshold in remaining-budget percent.
type Threshold struct {
	// BlockPct blocks the tier while less than this share of the budget is
	// left (0..100; 0 never blocks).
	BlockPct float64
	// WarnPct raises a warning below this share (BlockPct..100).
	WarnPct float64
}

// RegionThresholds override thresholds in one region.
type RegionThresholds struct {
	// Default applies to tiers missing from Tiers. Nil falls through to the
	// tier and global thresholds.
	Default *Threshold
	// Tiers are per-tier overrides.
	Tiers map[baldur.Tier]Threshold
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

const (
	maxBuckets   = 100_000
	errorRetryIn = time.Second // re-read a failing store this soon
)

// settings is a validated Config with defaults applied.
type settings struct {
	ttl          time.Duration
	minLevel     baldur.EmergencyLevel
	fractions    [baldur.MaxEmergencyLevel + 1][baldur.NumTiers]float64
	exempt       []pattern
	killRetry    time.Duration
	emergRetry   time.Duration
	budgetRetry  time.Duration
	breakGlassBy time.Duration
	target       float64
	window       time.Duration
	bucket       time.Duration
	minCalls     uint64
	budgetEvery  time.Duration
	burn         []BurnWindow
	tiers        [baldur.NumTiers]Threshold
	regions      map[string][baldur.NumTiers]Threshold
	global       Threshold
	hysteresis   float64
	auditRate    float64
	auditBurst   int
	cooldown     time.Duration
}

func cfgErr(field, value, reason string) error {
	return &baldur.ConfigError{Field: field, Value: value, Reason: reason}
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func durOr(field string, d, def time.Duration) (time.Duration, error) {
	if d < 0 {
		return 0, cfgErr(field, d.String(), "must not be negative")
	}
	if d == 0 {
		return def, nil
	}
	return d, nil
}

// durIn is durOr with an upper bound.
func durIn(field string, d, def, limit time.Duration) (time.Duration, error) {
	d, err := durOr(field, d, def)
	if err == nil && d > limit {
		return 0, cfgErr(field, d.String(), "must be at most "+limit.String())
	}
	return d, err
}

func validate(cfg Config) (*settings, error) {
	s := &settings{}
	var err error
	if s.ttl, err = durOr("CacheTTL", cfg.CacheTTL, 30*time.Second); err != nil {
		return nil, err
	}
	if s.ttl < time.Second || s.ttl > 300*time.Second {
		return nil, cfgErr("CacheTTL", s.ttl.String(), "must be between 1s and 300s")
	}
	s.minLevel = cfg.EmergencyMinLevel
	if s.minLevel == baldur.LevelNormal {
		s.minLevel = baldur.Level2
	}
	if !s.minLevel.Valid() {
		return nil, cfgErr("EmergencyMinLevel", strconv.Itoa(int(cfg.EmergencyMinLevel)), "must be LEVEL_1..LEVEL_3")
	}
	s.fractions = defaultFractions
	for lvl, tiers := range cfg.Fractions {
		field := fmt.Sprintf("Fractions[%d]", int(lvl))
		if !lvl.Valid() {
			return nil, cfgErr(field, "", "level must be 0..3")
		}
		for _, t := range baldur.Tiers() {
			f, ok := tiers[t]
			if !ok {
				return nil, cfgErr(field+"."+t.String(), "", "is required (give all three tiers)")
			}
			if math.IsNaN(f) || f < 0 || f > 1 {
				return nil, cfgErr(field+"."+t.String(), fmtF(f), "must be within 0..1")
			}
			s.fractions[lvl][t] = f
		}
		for t := range tiers {
			if !t.Valid() {
				return nil, cfgErr(field, t.String(), "unknown tier")
			}
		}
	}
	exempt := cfg.ExemptOperations
	if exempt == nil {
		exempt = DefaultExemptOperations
	}
	for i, p := range exempt {
		cp, err := compilePattern(fmt.Sprintf("ExemptOperations[%d]", i), p)
		if err != nil {
			return nil, err
		}
		s.exempt = append(s.exempt, cp)
	}
	if s.killRetry, err = durIn("KillSwitchRetryAfter", cfg.KillSwitchRetryAfter, 30*time.Second, MaxRetryAfter); err != nil {
		return nil, err
	}
	if s.emergRetry, err = durIn("EmergencyRetryAfter", cfg.EmergencyRetryAfter, 5*time.Second, MaxRetryAfter); err != nil {
		return nil, err
	}
	if s.budgetRetry, err = durIn("ErrorBudgetRetryAfter", cfg.ErrorBudgetRetryAfter, 60*time.Second, MaxRetryAfter); err != nil {
		return nil, err
	}
	switch {
	case cfg.BreakGlassDuration == 0:
		s.breakGlassBy = time.Hour
	case cfg.BreakGlassDuration > MaxBreakGlassDuration:
		return nil, cfgErr("BreakGlassDuration", cfg.BreakGlassDuration.String(), "must be at most "+MaxBreakGlassDuration.String()+" (negative: until turned off)")
	case cfg.BreakGlassDuration > 0:
		s.breakGlassBy = cfg.BreakGlassDuration
	}
	s.target = cfg.SLOTarget
	if s.target == 0 {
		s.target = 0.999
	}
	if math.IsNaN(s.target) || s.target <= 0 || s.target >= 1 {
		return nil, cfgErr("SLOTarget", fmtF(cfg.SLOTarget), "must be strictly between 0 and 1")
	}
	if s.window, err = durIn("BudgetWindow", cfg.BudgetWindow, 30*24*time.Hour, MaxBudgetWindow); err != nil {
		return nil, err
	}
	s.bucket = cfg.BudgetBucket
	if s.bucket < 0 {
		return nil, cfgErr("BudgetBucket", s.bucket.String(), "must not be negative")
	}
	if s.bucket == 0 {
		s.bucket = min(max(s.window/60, time.Second), time.Minute)
	}
	if s.window < s.bucket {
		return nil, cfgErr("BudgetWindow", s.window.String(), "must be at least one BudgetBucket ("+s.bucket.String()+")")
	}
	if n := s.window / s.bucket; n > maxBuckets {
		return nil, cfgErr("BudgetBucket", s.bucket.String(), fmt.Sprintf("gives %d buckets over BudgetWindow, at most %d", n, maxBuckets))
	}
	s.minCalls = cfg.BudgetMinCalls
	if s.minCalls == 0 {
		s.minCalls = 100
	}
	if s.budgetEvery, err = durIn("BudgetEvalInterval", cfg.BudgetEvalInterval, time.Second, MaxBudgetEvalInterval); err != nil {
		return nil, err
	}
	s.burn = cfg.BurnWindows
	if s.burn == nil {
		s.burn = DefaultBurnWindows
	}
	for i, w := range s.burn {
		f := fmt.Sprintf("BurnWindows[%d]", i)
		if w.Short <= 0 || w.Long < w.Short || w.Long > MaxBudgetWindow {
			return nil, cfgErr(f, fmt.Sprintf("%v/%v", w.Long, w.Short), "want 0 < Short <= Long <= "+MaxBudgetWindow.String())
		}
		if math.IsNaN(w.Factor) || w.Factor <= 0 {
			return nil, cfgErr(f+".Factor", fmtF(w.Factor), "must be positive")
		}
	}
	s.global = Threshold{BlockPct: 10, WarnPct: 20}
	if cfg.GlobalThreshold != nil {
		if err := checkThreshold("GlobalThreshold", *cfg.GlobalThreshold); err != nil {
			return nil, err
		}
		s.global = *cfg.GlobalThreshold
	}
	tiers := cfg.Thresholds
	if tiers == nil {
		tiers = DefaultThresholds
	}
	for t := range tiers {
		if !t.Valid() {
			return nil, cfgErr("Thresholds", t.String(), "unknown tier")
		}
	}
	for _, t := range baldur.Tiers() {
		th, ok := tiers[t]
		if !ok {
			th = s.global
		} else if err := checkThreshold("Thresholds."+t.String(), th); err != nil {
			return nil, err
		}
		s.tiers[t] = th
	}
	s.regions = make(map[string][baldur.NumTiers]Threshold, len(cfg.RegionThresholds))
	names := make([]string, 0, len(cfg.RegionThresholds))
	for r := range cfg.RegionThresholds {
		names = append(names, r)
	}
	sort.Strings(names) // deterministic first error
	for _, r := range names {
		rt := cfg.RegionThresholds[r]
		field := "RegionThresholds[" + strconv.Quote(r) + "]"
		if r == "" {
			return nil, cfgErr("RegionThresholds", `""`, "region name must not be empty")
		}
		row := s.tiers
		if rt.Default != nil {
			if err := checkThreshold(field+".Default", *rt.Default); err != nil {
				return nil, err
			}
			row = [baldur.NumTiers]Threshold{*rt.Default, *rt.Default, *rt.Default}
		}
		for t, th := range rt.Tiers {
			if !t.Valid() {
				return nil, cfgErr(field+".Tiers", t.String(), "unknown tier")
			}
			if err := checkThreshold(field+".Tiers."+t.String(), th); err != nil {
				return nil, err
			}
			row[t] = th
		}
		s.regions[r] = row
	}
	s.hysteresis = cfg.HysteresisPct
	if math.IsNaN(s.hysteresis) || s.hysteresis < 0 || s.hysteresis > 100 {
		return nil, cfgErr("HysteresisPct", fmtF(cfg.HysteresisPct), "must be within 0..100")
	}
	if s.hysteresis == 0 {
		s.hysteresis = 2
	}
	s.auditRate = cfg.AuditRate
	if s.auditRate == 0 {
		s.auditRate = 1
	}
	// NaN fails both comparisons; the lower bound keeps the interval
	// between records (1/rate) at most a day, the upper one finite.
	if !(s.auditRate >= MinAuditRate && s.auditRate <= math.MaxFloat64) {
		return nil, cfgErr("AuditRate", fmtF(cfg.AuditRate), "must be finite and at least 1/86400 (one record a day)")
	}
	s.auditBurst = cfg.AuditBurst
	if s.auditBurst < 0 || s.auditBurst > MaxAuditBurst {
		return nil, cfgErr("AuditBurst", strconv.Itoa(cfg.AuditBurst), "must be within 0..100000")
	}
	if s.auditBurst == 0 {
		s.auditBurst = 10
	}
	if s.cooldown, err = durIn("AlertCooldown", cfg.AlertCooldown, 300*time.Second, MaxAlertCooldown); err != nil {
		return nil, err
	}
	return s, nil
}

func checkThreshold(field string, th Threshold) error {
	if math.IsNaN(th.BlockPct) || th.BlockPct < 0 || th.BlockPct > 100 {
		return cfgErr(field+".BlockPct", fmtF(th.BlockPct), "must be within 0..100")
	}
	if math.IsNaN(th.WarnPct) || th.WarnPct < th.BlockPct || th.WarnPct > 100 {
		return cfgErr(field+".WarnPct", fmtF(th.WarnPct), "must be within BlockPct..100")
	}
	return nil
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
	// MaxBudgetEvalInterval bounds BudgetEvalInterval: a longer interval
	// would never act, since every snapshot rebuild (at most CacheTTL
	// apart) re-evaluates the budget anyway.
	MaxBudgetEvalInterval = 300 * time.Second
	// MinAuditRate is the lowest AuditRate: one record per reason a day.
	MinAuditRate = 1.0 / 86400
	// MaxAuditBurst bounds AuditBurst.
	MaxAuditBurst = 100_000
)
