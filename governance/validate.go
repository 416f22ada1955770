package governance

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

const (
	maxBuckets   = 100_000
	errorRetryIn = time.Second // re-read a failing store this soon
)

// settings is a validated Config with defaults applied.
type settings struct {
	ttl          time.Duration
	staleFor     time.Duration // 0: off
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

// sections validate a Config one part at a time, in this order, so that
// the first invalid field is the one reported. Each applies its defaults
// to s.
var sections = [...]func(s *settings, cfg *Config) error{
	(*settings).cache,
	(*settings).emergency,
	(*settings).exemptions,
	(*settings).retries,
	(*settings).budget,
	(*settings).thresholds,
	(*settings).sinks,
}

// validate checks cfg and returns it with the defaults applied; an invalid
// field is a *baldur.ConfigError naming it.
func validate(cfg Config) (*settings, error) {
	s := &settings{}
	for _, section := range sections {
		if err := section(s, &cfg); err != nil {
			return nil, err
		}
	}
	return s, nil
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

// cache checks CacheTTL and StaleIfError.
func (s *settings) cache(cfg *Config) error {
	var err error
	if s.ttl, err = durOr("CacheTTL", cfg.CacheTTL.D(), 30*time.Second); err != nil {
		return err
	}
	if s.ttl < time.Second || s.ttl > 300*time.Second {
		return cfgErr("CacheTTL", s.ttl.String(), "must be between 1s and 300s")
	}
	switch d := cfg.StaleIfError.D(); {
	case d < 0:
		s.staleFor = 0
	case d == 0:
		s.staleFor = DefaultStaleIfError
	case d > MaxStaleIfError:
		return cfgErr("StaleIfError", d.String(), "must be at most "+MaxStaleIfError.String()+" (negative turns it off)")
	default:
		s.staleFor = d
	}
	return nil
}

// emergency checks EmergencyMinLevel and Fractions.
func (s *settings) emergency(cfg *Config) error {
	s.minLevel = cfg.EmergencyMinLevel
	if s.minLevel == baldur.LevelNormal {
		s.minLevel = baldur.Level2
	}
	if !s.minLevel.Valid() {
		return cfgErr("EmergencyMinLevel", strconv.Itoa(int(cfg.EmergencyMinLevel)), "must be LEVEL_1..LEVEL_3")
	}
	s.fractions = defaultFractions
	for lvl, tiers := range cfg.Fractions {
		field := fmt.Sprintf("Fractions[%d]", int(lvl))
		if !lvl.Valid() {
			return cfgErr(field, "", "level must be 0..3")
		}
		for _, t := range baldur.Tiers() {
			f, ok := tiers[t]
			if !ok {
				return cfgErr(field+"."+t.String(), "", "is required (give all three tiers)")
			}
			if math.IsNaN(f) || f < 0 || f > 1 {
				return cfgErr(field+"."+t.String(), fmtF(f), "must be within 0..1")
			}
			s.fractions[lvl][t] = f
		}
		for t := range tiers {
			if !t.Valid() {
				return cfgErr(field, t.String(), "unknown tier")
			}
		}
	}
	return nil
}

// exemptions compiles ExemptOperations.
func (s *settings) exemptions(cfg *Config) error {
	exempt := cfg.ExemptOperations
	if exempt == nil {
		exempt = DefaultExemptOperations
	}
	for i, p := range exempt {
		cp, err := compilePattern(fmt.Sprintf("ExemptOperations[%d]", i), p)
		if err != nil {
			return err
		}
		s.exempt = append(s.exempt, cp)
	}
	return nil
}

// retries checks the three Retry-Afters and BreakGlassDuration.
func (s *settings) retries(cfg *Config) error {
	var err error
	if s.killRetry, err = durIn("KillSwitchRetryAfter", cfg.KillSwitchRetryAfter.D(), 30*time.Second, MaxRetryAfter); err != nil {
		return err
	}
	if s.emergRetry, err = durIn("EmergencyRetryAfter", cfg.EmergencyRetryAfter.D(), 5*time.Second, MaxRetryAfter); err != nil {
		return err
	}
	if s.budgetRetry, err = durIn("ErrorBudgetRetryAfter", cfg.ErrorBudgetRetryAfter.D(), 60*time.Second, MaxRetryAfter); err != nil {
		return err
	}
	switch d := cfg.BreakGlassDuration.D(); {
	case d == 0:
		s.breakGlassBy = time.Hour
	case d > MaxBreakGlassDuration:
		return cfgErr("BreakGlassDuration", d.String(), "must be at most "+MaxBreakGlassDuration.String()+" (negative: until turned off)")
	case d > 0:
		s.breakGlassBy = d
	}
	return nil
}

// budget checks the error budget: SLOTarget, BudgetWindow, BudgetBucket,
// BudgetMinCalls, BudgetEvalInterval and BurnWindows.
func (s *settings) budget(cfg *Config) error {
	s.target = cfg.SLOTarget
	if s.target == 0 {
		s.target = 0.999
	}
	if math.IsNaN(s.target) || s.target <= 0 || s.target >= 1 {
		return cfgErr("SLOTarget", fmtF(cfg.SLOTarget), "must be strictly between 0 and 1")
	}
	var err error
	if s.window, err = durIn("BudgetWindow", cfg.BudgetWindow.D(), 30*24*time.Hour, MaxBudgetWindow); err != nil {
		return err
	}
	s.bucket = cfg.BudgetBucket.D()
	if s.bucket < 0 {
		return cfgErr("BudgetBucket", s.bucket.String(), "must not be negative")
	}
	if s.bucket == 0 {
		s.bucket = min(max(s.window/60, time.Second), time.Minute)
	}
	if s.window < s.bucket {
		return cfgErr("BudgetWindow", s.window.String(), "must be at least one BudgetBucket ("+s.bucket.String()+")")
	}
	if n := s.window / s.bucket; n > maxBuckets {
		return cfgErr("BudgetBucket", s.bucket.String(), fmt.Sprintf("gives %d buckets over BudgetWindow, at most %d", n, maxBuckets))
	}
	s.minCalls = cfg.BudgetMinCalls
	if s.minCalls == 0 {
		s.minCalls = 100
	}
	if s.budgetEvery, err = durIn("BudgetEvalInterval", cfg.BudgetEvalInterval.D(), time.Second, MaxBudgetEvalInterval); err != nil {
		return err
	}
	s.burn = cfg.BurnWindows
	if s.burn == nil {
		s.burn = DefaultBurnWindows
	}
	for i, w := range s.burn {
		f := fmt.Sprintf("BurnWindows[%d]", i)
		if w.Short <= 0 || w.Long < w.Short || w.Long > MaxBudgetWindow {
			return cfgErr(f, fmt.Sprintf("%v/%v", w.Long, w.Short), "want 0 < Short <= Long <= "+MaxBudgetWindow.String())
		}
		if math.IsNaN(w.Factor) || w.Factor <= 0 {
			return cfgErr(f+".Factor", fmtF(w.Factor), "must be positive")
		}
	}
	return nil
}

// thresholds checks GlobalThreshold, Thresholds, RegionThresholds and
// HysteresisPct, and resolves the threshold of every (region, tier).
func (s *settings) thresholds(cfg *Config) error {
	s.global = Threshold{BlockPct: 10, WarnPct: 20}
	if cfg.GlobalThreshold != nil {
		if err := checkThreshold("GlobalThreshold", *cfg.GlobalThreshold); err != nil {
			return err
		}
		s.global = *cfg.GlobalThreshold
	}
	tiers := cfg.Thresholds
	if tiers == nil {
		tiers = DefaultThresholds
	}
	for t := range tiers {
		if !t.Valid() {
			return cfgErr("Thresholds", t.String(), "unknown tier")
		}
	}
	for _, t := range baldur.Tiers() {
		th, ok := tiers[t]
		if !ok {
			th = s.global
		} else if err := checkThreshold("Thresholds."+t.String(), th); err != nil {
			return err
		}
		s.tiers[t] = th
	}
	if err := s.regionThresholds(cfg.RegionThresholds); err != nil {
		return err
	}
	s.hysteresis = cfg.HysteresisPct
	if math.IsNaN(s.hysteresis) || s.hysteresis < 0 || s.hysteresis > 100 {
		return cfgErr("HysteresisPct", fmtF(cfg.HysteresisPct), "must be within 0..100")
	}
	if s.hysteresis == 0 {
		s.hysteresis = 2
	}
	return nil
}

// regionThresholds resolves each region's row over s.tiers, checking the
// regions in name order so that the first error is always the same.
func (s *settings) regionThresholds(regions map[string]RegionThresholds) error {
	s.regions = make(map[string][baldur.NumTiers]Threshold, len(regions))
	names := make([]string, 0, len(regions))
	for r := range regions {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		rt := regions[r]
		field := "RegionThresholds[" + strconv.Quote(r) + "]"
		if r == "" {
			return cfgErr("RegionThresholds", `""`, "region name must not be empty")
		}
		row := s.tiers
		if rt.Default != nil {
			if err := checkThreshold(field+".Default", *rt.Default); err != nil {
				return err
			}
			row = [baldur.NumTiers]Threshold{*rt.Default, *rt.Default, *rt.Default}
		}
		for t, th := range rt.Tiers {
			if !t.Valid() {
				return cfgErr(field+".Tiers", t.String(), "unknown tier")
			}
			if err := checkThreshold(field+".Tiers."+t.String(), th); err != nil {
				return err
			}
			row[t] = th
		}
		s.regions[r] = row
	}
	return nil
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

// sinks checks the audit rate limit (AuditRate, AuditBurst) and the alert
// cooldown (AlertCooldown).
func (s *settings) sinks(cfg *Config) error {
	s.auditRate = cfg.AuditRate
	if s.auditRate == 0 {
		s.auditRate = 1
	}
	// NaN fails both comparisons; the lower bound keeps the interval
	// between records (1/rate) at most a day, the upper one finite.
	if !(s.auditRate >= MinAuditRate && s.auditRate <= math.MaxFloat64) {
		return cfgErr("AuditRate", fmtF(cfg.AuditRate), "must be finite and at least 1/86400 (one record a day)")
	}
	s.auditBurst = cfg.AuditBurst
	if s.auditBurst < 0 || s.auditBurst > MaxAuditBurst {
		return cfgErr("AuditBurst", strconv.Itoa(cfg.AuditBurst), "must be within 0..100000")
	}
	if s.auditBurst == 0 {
		s.auditBurst = 10
	}
	var err error
	s.cooldown, err = durIn("AlertCooldown", cfg.AlertCooldown.D(), 300*time.Second, MaxAlertCooldown)
	return err
}
