package chaos

import (
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/notify"
)

// Defaults of Config.
const (
	DefaultRate          = 0.001
	DefaultMaxRate       = 0.10
	DefaultDuration      = 300 * time.Second
	DefaultTTL           = 600 * time.Second
	DefaultSteadyState   = 60 * time.Second
	DefaultCheckInterval = 10 * time.Second
	DefaultBreaches      = 2
	DefaultCooldown      = 30 * time.Minute
	DefaultLease         = 3 * time.Second
	DefaultPoll          = time.Second
	DefaultMinBudgetPct  = 20
	DefaultAbortBudget   = 10
	DefaultMaxBurnRate   = 14.4
	DefaultMaxErrorDelta = 0.05
	DefaultMaxP95Delta   = time.Second
	DefaultMaxP99Delta   = 2 * time.Second
	DefaultMinCalls      = 20
	// maxRateCap: the control cohort is as large as the experiment
	// cohort, so together they can hold at most all traffic.
	maxRateCap = 0.5
)

// Config is the `chaos` section of the registry's configuration and the
// configuration of a Scheduler. The zero value is valid: chaos disabled and
// every experiment a dry run.
type Config struct {
	// Enabled lets experiments start at all. Default false: Schedule
	// returns ErrDisabled. KillAll and Stop work regardless.
	Enabled bool `json:"enabled,omitempty"`
	// DryRun makes every experiment a dry run: cohorts are assigned and
	// counted, what would have been injected is counted, nothing is
	// injected. Nil means true; set false explicitly to inject.
	DryRun *bool `json:"dry_run,omitempty"`
	// DefaultRate is the experiment cohort's share of partition keys when
	// an experiment gives none. Default 0.001.
	DefaultRate float64 `json:"default_rate,omitempty"`
	// MaxRate caps every experiment's rate, a fraction in (0, 0.5].
	// Default 0.10.
	MaxRate float64 `json:"max_rate,omitempty"`
	// DefaultDuration is how long faults are injected when an experiment
	// gives no duration. Default 300 s.
	DefaultDuration baldur.Duration `json:"default_duration,omitempty"`
	// TTL is the hard cap of an experiment's injection: no duration may
	// exceed it, and a running experiment is stopped once it has run this
	// long whatever else happens. Default 600 s.
	TTL baldur.Duration `json:"ttl,omitempty"`
	// SteadyState is how long both cohorts are observed before injection
	// starts and after it ends, for the report's before and after. Zero
	// means the default 60 s; negative is invalid.
	SteadyState baldur.Duration `json:"steady_state,omitempty"`
	// CheckInterval is how often the scheduler evaluates the stop
	// conditions and refreshes the lease. Default 10 s; at most Lease/2 is
	// enforced for the refresh by Poll.
	CheckInterval baldur.Duration `json:"check_interval,omitempty"`
	// Breaches is how many consecutive checks must breach a stop condition
	// before the experiment is aborted. Default 2.
	Breaches int `json:"breaches,omitempty"`
	// Cooldown is the least time between two experiments on one service;
	// Force waives it. Default 30 min.
	Cooldown baldur.Duration `json:"cooldown,omitempty"`
	// Lease is how long a replica keeps injecting from its copy of the
	// active set without a successful refresh from the store. Default 3 s.
	Lease baldur.Duration `json:"lease,omitempty"`
	// Poll is how often every replica refreshes its copy of the active set
	// (and the owner its lease). Default 1 s; must be below Lease.
	Poll baldur.Duration `json:"poll,omitempty"`
	// MinBudgetPct is the remaining error budget, 0..100, below which no
	// experiment starts. Default 20. Force never waives it.
	MinBudgetPct float64 `json:"min_budget_pct,omitempty"`
	// AbortBudgetPct is the remaining error budget below which a running
	// experiment is aborted at once. Default 10.
	AbortBudgetPct float64 `json:"abort_budget_pct,omitempty"`
	// MaxBurnRate aborts an experiment when the fastest burn rate of the
	// error budget exceeds it. Default 14.4 (the SRE workbook's page).
	MaxBurnRate float64 `json:"max_burn_rate,omitempty"`
	// MaxErrorRateDelta aborts when the experiment cohort's error rate,
	// injected errors left out, exceeds the control cohort's by more than
	// this fraction. Default 0.05.
	MaxErrorRateDelta float64 `json:"max_error_rate_delta,omitempty"`
	// MaxP95Delta and MaxP99Delta abort when the experiment cohort's
	// latency percentile exceeds the control cohort's by more. Defaults
	// 1 s and 2 s.
	MaxP95Delta baldur.Duration `json:"max_p95_delta,omitempty"`
	MaxP99Delta baldur.Duration `json:"max_p99_delta,omitempty"`
	// MinCalls is how many calls each cohort must have made since the
	// last check before the error-rate and latency conditions apply.
	// Default 20.
	MinCalls int `json:"min_calls,omitempty"`
	// AllowCritical lets experiments target the critical tier. Default
	// false: critical calls are never injected.
	AllowCritical bool `json:"allow_critical,omitempty"`
	// Windows are the UTC windows ("02:00-06:00") experiments may run in,
	// on top of the blast-radius manager's. Empty means any time (the
	// manager's windows still apply). Force waives both.
	Windows []string `json:"windows,omitempty"`

	// Store shares the active set across replicas. Nil means a Memory
	// store (one process).
	Store Store `json:"-"`
	// Injector is the local copy of the active set the fault gates read
	// (Registry.Chaos()). Nil means a new one (tests).
	Injector *Injector `json:"-"`
	// Governance answers the kill switch and the emergency level; Budget
	// the error budget. Nil denies every experiment (fail-closed).
	Governance baldur.GovernanceChecker  `json:"-"`
	Budget     baldur.ErrorBudgetService `json:"-"`
	// Blast bounds experiments by scope (concurrency, traffic, windows,
	// approval). Nil denies every experiment.
	Blast *blastradius.Manager `json:"-"`
	// Notify is told of starts, stops and aborts. Nil means notify.NoOp.
	Notify notify.Manager `json:"-"`
	// Policies finds a policy's gates by name, for the breaker states of
	// the report (the registry). Nil leaves breaker transitions out.
	Policies PolicySource `json:"-"`
	// Owner names this replica in the active set. Empty means "local".
	Owner string `json:"-"`
	// Clock is the scheduler's time. Nil means baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
	// Logger receives lifecycle records. Nil means slog.Default().
	Logger *slog.Logger `json:"-"`
}

// PolicySource finds a policy by name; the registry implements it.
type PolicySource interface {
	PolicyByName(name string) (*baldur.Policy, bool)
}

// settings is a Config with defaults applied.
type settings struct {
	enabled, dryRun                 bool
	defaultRate, maxRate            float64
	duration, ttl, steady, interval time.Duration
	breaches, minCalls              int
	cooldown, lease, poll           time.Duration
	minBudget, abortBudget, burn    float64
	errDelta                        float64
	p95, p99                        time.Duration
	allowCritical                   bool
	windows                         []blastradius.Window
}

func cfgErr(field, value, reason string) error {
	return &baldur.ConfigError{Field: field, Value: value, Reason: reason}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Validate checks c and reports the first invalid field as a
// *baldur.ConfigError naming its JSON name.
func (c *Config) Validate() error {
	_, err := c.settings()
	return err
}

func (c *Config) settings() (settings, error) {
	s := settings{enabled: c.Enabled, dryRun: c.DryRun == nil || *c.DryRun, allowCritical: c.AllowCritical}
	frac := func(field string, v, def, max float64, dst *float64) error {
		if math.IsNaN(v) || v < 0 || v > max {
			return cfgErr(field, ftoa(v), "must be a fraction in (0, "+ftoa(max)+"] (zero means the default "+ftoa(def)+")")
		}
		if v == 0 {
			v = def
		}
		*dst = v
		return nil
	}
	if err := frac("max_rate", c.MaxRate, DefaultMaxRate, maxRateCap, &s.maxRate); err != nil {
		return s, err
	}
	if err := frac("default_rate", c.DefaultRate, min(DefaultRate, s.maxRate), s.maxRate, &s.defaultRate); err != nil {
		return s, err
	}
	if err := frac("max_error_rate_delta", c.MaxErrorRateDelta, DefaultMaxErrorDelta, 1, &s.errDelta); err != nil {
		return s, err
	}
	pct := func(field string, v, def float64, dst *float64) error {
		if math.IsNaN(v) || v < 0 || v > 100 {
			return cfgErr(field, ftoa(v), "must be a percentage in [0, 100] (zero means the default "+ftoa(def)+")")
		}
		if v == 0 {
			v = def
		}
		*dst = v
		return nil
	}
	if err := pct("min_budget_pct", c.MinBudgetPct, DefaultMinBudgetPct, &s.minBudget); err != nil {
		return s, err
	}
	if err := pct("abort_budget_pct", c.AbortBudgetPct, DefaultAbortBudget, &s.abortBudget); err != nil {
		return s, err
	}
	if math.IsNaN(c.MaxBurnRate) || c.MaxBurnRate < 0 {
		return s, cfgErr("max_burn_rate", ftoa(c.MaxBurnRate), "must not be negative (zero means the default 14.4)")
	}
	s.burn = c.MaxBurnRate
	if s.burn == 0 {
		s.burn = DefaultMaxBurnRate
	}
	dur := func(field string, v baldur.Duration, def time.Duration, dst *time.Duration) error {
		if v < 0 {
			return cfgErr(field, v.String(), "must not be negative (zero means the default "+def.String()+")")
		}
		*dst = v.D()
		if v == 0 {
			*dst = def
		}
		return nil
	}
	for _, d := range []struct {
		field string
		v     baldur.Duration
		def   time.Duration
		dst   *time.Duration
	}{
		{"ttl", c.TTL, DefaultTTL, &s.ttl},
		{"default_duration", c.DefaultDuration, min(DefaultDuration, s.ttl), &s.duration},
		{"steady_state", c.SteadyState, DefaultSteadyState, &s.steady},
		{"check_interval", c.CheckInterval, DefaultCheckInterval, &s.interval},
		{"cooldown", c.Cooldown, DefaultCooldown, &s.cooldown},
		{"lease", c.Lease, DefaultLease, &s.lease},
		{"poll", c.Poll, DefaultPoll, &s.poll},
		{"max_p95_delta", c.MaxP95Delta, DefaultMaxP95Delta, &s.p95},
		{"max_p99_delta", c.MaxP99Delta, DefaultMaxP99Delta, &s.p99},
	} {
		if err := dur(d.field, d.v, d.def, d.dst); err != nil {
			return s, err
		}
	}
	if s.ttl == 0 {
		s.ttl = DefaultTTL
	}
	if s.duration > s.ttl {
		return s, cfgErr("default_duration", s.duration.String(), "must not exceed ttl "+s.ttl.String())
	}
	if s.poll >= s.lease {
		return s, cfgErr("poll", s.poll.String(), "must be shorter than lease "+s.lease.String()+": a replica must refresh before its copy expires")
	}
	if c.Breaches < 0 || c.MinCalls < 0 {
		return s, cfgErr("breaches", strconv.Itoa(c.Breaches), "breaches and min_calls must not be negative")
	}
	s.breaches, s.minCalls = c.Breaches, c.MinCalls
	if s.breaches == 0 {
		s.breaches = DefaultBreaches
	}
	if s.minCalls == 0 {
		s.minCalls = DefaultMinCalls
	}
	for i, w := range c.Windows {
		pw, err := blastradius.ParseWindow(w)
		if err != nil {
			return s, cfgErr("windows["+strconv.Itoa(i)+"]", w, `must be "HH:MM-HH:MM" (UTC)`)
		}
		s.windows = append(s.windows, pw)
	}
	return s, nil
}

// inWindows reports whether now falls in one of ws; no windows is any
// time.
func inWindows(ws []blastradius.Window, now time.Time) bool {
	if len(ws) == 0 {
		return true
	}
	u := now.UTC()
	tod := time.Duration(u.Hour())*time.Hour + time.Duration(u.Minute())*time.Minute + time.Duration(u.Second())*time.Second
	for _, w := range ws {
		if w.Start < w.End {
			if tod >= w.Start && tod < w.End {
				return true
			}
		} else if tod >= w.Start || tod < w.End {
			return true
		}
	}
	return false
}
