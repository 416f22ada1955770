package canary

import (
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// Config is the "canary" section of the registry's file plus the
// dependencies a Service is given in code (the fields without a JSON name).
// The zero value of each setting means its default.
type Config struct {
	// StageDuration is how long a stage is observed before it may be
	// promoted, when a stage gives none. Default 5m.
	StageDuration baldur.Duration `json:"stage_duration,omitempty"`
	// Window is the judge's observation window: both cohorts are counted
	// over the same wall-clock windows, aligned on the Unix epoch so that
	// every replica's flush lands in the same one. Default 1m; at most the
	// stage duration.
	Window baldur.Duration `json:"window,omitempty"`
	// MinRequests is how many calls each cohort needs in a window for a
	// verdict; fewer is inconclusive. Default 100.
	MinRequests uint64 `json:"min_requests,omitempty"`
	// MaxErrorRate bounds the candidate's failure rate, a fraction. Default
	// 0.05.
	MaxErrorRate float64 `json:"max_error_rate,omitempty"`
	// ErrorMargin is how far the candidate's failure rate may exceed the
	// baseline's, a fraction. Default 0.01.
	ErrorMargin float64 `json:"error_margin,omitempty"`
	// P95Margin is how far the candidate's p95 may exceed the baseline's.
	// Default 50ms.
	P95Margin baldur.Duration `json:"p95_margin,omitempty"`
	// P99Factor is how far, relatively, the candidate's p99 may exceed the
	// baseline's. Default 0.2.
	P99Factor float64 `json:"p99_factor,omitempty"`
	// RejectionMargin is how far the candidate's rejection rate may exceed
	// the baseline's, a fraction. Default 0.02.
	RejectionMargin float64 `json:"rejection_margin,omitempty"`
	// FailLimit is how many failed windows since the last passed one roll
	// the rollout back (AutoRollback) or pause it. Default 2.
	FailLimit int `json:"fail_limit,omitempty"`
	// InconclusiveLimit is how many inconclusive windows since the last
	// passed one pause the rollout. Default 3.
	InconclusiveLimit int `json:"inconclusive_limit,omitempty"`
	// AutoPromote promotes a stage whose windows passed for its whole
	// duration. Off by default: the rollout notifies "ready to promote".
	AutoPromote bool `json:"auto_promote,omitempty"`
	// AutoRollback rolls back on FailLimit failed windows. Off by default:
	// the rollout pauses.
	AutoRollback bool `json:"auto_rollback,omitempty"`
	// MinAck is the fraction of live replicas that must report a stage's
	// configuration before it counts as applied. Default 1 (all).
	MinAck float64 `json:"min_ack,omitempty"`
	// AckTimeout is how long a stage may wait for its acknowledgements
	// before the rollout is blocked (never promoted). Default 1m.
	AckTimeout baldur.Duration `json:"ack_timeout,omitempty"`
	// MaxPaused is how long a rollout may stay paused before the stall
	// check pages. Default 30m.
	MaxPaused baldur.Duration `json:"max_paused,omitempty"`
	// LockTTL is the lease of a rollout's config-type lock, renewed by the
	// watchdog's lock check. Default 30m.
	LockTTL baldur.Duration `json:"lock_ttl,omitempty"`
	// ConfigTypes allow-lists the config types a rollout may name. Empty
	// means ["registry"], the registry's own configuration.
	ConfigTypes []string `json:"config_types,omitempty"`

	// Applier applies each stage (required). Local applies to this
	// process's registry.
	Applier Applier `json:"-"`
	// Acks reports what each replica runs. Nil means the Applier when it is
	// an AckSource (Local is); otherwise New fails.
	Acks AckSource `json:"-"`
	// Windows holds the fleet's observation windows. Nil means a
	// MemoryWindows.
	Windows WindowStore `json:"-"`
	// Governance gates start, promote and resume (kill switch off,
	// emergency below 2, error budget left). Nil blocks them: the gates
	// fail closed.
	Governance baldur.GovernanceChecker `json:"-"`
	// Blast bounds each stage's traffic share. Nil means no blast-radius
	// check.
	Blast *blastradius.Manager `json:"-"`
	// Service names the service in blast-radius actions.
	Service string `json:"-"`
	// Lock holds one rollout per config type. Nil means an in-process
	// lock.Memory.
	Lock lock.Fenced `json:"-"`
	// Session identifies this controller to the lock. Empty means
	// "canary-" and the process ID.
	Session string `json:"-"`
	// Records keeps the rollouts' records for a takeover (Recover). Nil
	// means none: the records live and die with this service.
	Records RecordStore `json:"-"`
	// Notify receives a notification on each transition and verdict. Nil
	// means notify.NoOp.
	Notify notify.Manager `json:"-"`
	// Clock is the service's clock. Nil means baldur.SystemClock.
	Clock baldur.Clock `json:"-"`
	// Logger receives one audit record per transition. Nil means
	// slog.Default().
	Logger *slog.Logger `json:"-"`
}

var configTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

func (c Config) withDefaults() Config {
	def := func(d *baldur.Duration, v time.Duration) {
		if *d == 0 {
			*d = baldur.Duration(v)
		}
	}
	def(&c.StageDuration, 5*time.Minute)
	def(&c.Window, time.Minute)
	def(&c.AckTimeout, time.Minute)
	def(&c.MaxPaused, 30*time.Minute)
	def(&c.LockTTL, 30*time.Minute)
	if c.FailLimit == 0 {
		c.FailLimit = 2
	}
	if c.InconclusiveLimit == 0 {
		c.InconclusiveLimit = 3
	}
	if c.MinAck == 0 {
		c.MinAck = 1
	}
	if len(c.ConfigTypes) == 0 {
		c.ConfigTypes = []string{"registry"}
	}
	return c
}

// Validate checks the settings, with defaults applied, as New does.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field string, v any, reason string) error {
		return &baldur.ConfigError{Field: field, Value: fmt.Sprint(v), Reason: reason}
	}
	for _, d := range []struct {
		field string
		v     baldur.Duration
	}{{"stage_duration", c.StageDuration}, {"window", c.Window}, {"p95_margin", c.P95Margin},
		{"ack_timeout", c.AckTimeout}, {"max_paused", c.MaxPaused}, {"lock_ttl", c.LockTTL}} {
		if d.v < 0 {
			return bad(d.field, d.v, "must not be negative")
		}
	}
	if c.Window > c.StageDuration {
		return bad("window", c.Window, "must not exceed stage_duration")
	}
	for _, f := range []struct {
		field  string
		v, max float64
	}{{"max_error_rate", c.MaxErrorRate, 1}, {"error_margin", c.ErrorMargin, 1}, {"p99_factor", c.P99Factor, 100},
		{"rejection_margin", c.RejectionMargin, 1}, {"min_ack", c.MinAck, 1}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > f.max {
			return bad(f.field, f.v, fmt.Sprintf("must be in [0, %v]", f.max))
		}
	}
	if c.FailLimit < 0 || c.InconclusiveLimit < 0 {
		return bad("fail_limit", c.FailLimit, "limits must not be negative")
	}
	for i, t := range c.ConfigTypes {
		if !configTypeRE.MatchString(t) {
			return bad(fmt.Sprintf("config_types[%d]", i), fmt.Sprintf("%q", t), "lower-case letters, digits and _.- , at most 64 bytes")
		}
	}
	return nil
}

func (c Config) criteria() Criteria {
	return Criteria{MinRequests: c.MinRequests, MaxErrorRate: c.MaxErrorRate, ErrorMargin: c.ErrorMargin,
		P95Margin: c.P95Margin.D(), P99Factor: c.P99Factor, RejectionMargin: c.RejectionMargin}
}
