package watchdog

import (
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// Defaults of Config.
const (
	DefaultInterval          = 30 * time.Second
	DefaultJitter            = 0.1
	DefaultMaxActionsPerHour = 10
	DefaultBackoffBase       = time.Minute
	DefaultBackoffMax        = 5 * time.Minute
	DefaultHeartbeatTimeout  = 5 * time.Second
)

// Config is the "watchdog" section of the registry's JSON tree, plus the
// dependencies a service wires in Go (the json:"-" fields). Zero fields take
// the defaults named on each.
type Config struct {
	// Interval is the time between passes. Default 30s; at least 10ms.
	Interval baldur.Duration `json:"interval,omitempty"`
	// Jitter spreads passes by up to ± this fraction of Interval, so that
	// replicas do not contend for the checks' locks in step. 0..0.5; zero
	// means 0.1, a negative value means none.
	Jitter float64 `json:"jitter,omitempty"`
	// PassDeadline bounds one pass: a check (or a store it calls) that has
	// not returned by then is abandoned for the pass and skipped until it
	// returns. Default Interval/2; at most Interval.
	PassDeadline baldur.Duration `json:"pass_deadline,omitempty"`
	// LeaseTTL is the lease on each led check's lock, re-taken every pass.
	// A replica that stops passing loses its checks after it. Default
	// 3×Interval; more than Interval.
	LeaseTTL baldur.Duration `json:"lease_ttl,omitempty"`
	// MaxActionsPerHour is each check's action budget per rolling hour;
	// the action beyond it engages the check's brake (no more actions, a
	// CRITICAL page) until an operator releases it. Default 10.
	MaxActionsPerHour int `json:"max_actions_per_hour,omitempty"`
	// BackoffBase and BackoffMax space repeated actions on one subject:
	// after the nth consecutive action the next waits BackoffBase·2^(n-1),
	// at most BackoffMax. The count resets when the subject is no longer
	// observed. Defaults 1m and 5m.
	BackoffBase baldur.Duration `json:"backoff_base,omitempty"`
	BackoffMax  baldur.Duration `json:"backoff_max,omitempty"`
	// DryRun makes scheduled passes observe only: nothing is applied, paged
	// or locked. Tick honours it too; DryRunTick is a dry run regardless.
	DryRun bool `json:"dry_run,omitempty"`
	// HeartbeatURLEnv names the environment variable holding the URL GET
	// after every pass without errors (a dead man's switch such as
	// healthchecks.io). The URL itself never appears in logs, errors or
	// metrics. Empty means no heartbeat unless HeartbeatURL is set.
	HeartbeatURLEnv string `json:"heartbeat_url_env,omitempty"`
	// HeartbeatTimeout bounds each heartbeat request. Default 5s.
	HeartbeatTimeout baldur.Duration `json:"heartbeat_timeout,omitempty"`
	// PerCheck overrides settings per check name.
	PerCheck map[string]CheckConfig `json:"checks,omitempty"`

	// LeakedPermitAfter is how long a compartment must stay at capacity,
	// at every pass, before the leaked-permit check pages. Default 5m.
	LeakedPermitAfter baldur.Duration `json:"leaked_permit_after,omitempty"`
	// EmergencyStuckAfter is how long a level raised by automation may
	// stay before the stuck-emergency check steps it down. Default 30m.
	EmergencyStuckAfter baldur.Duration `json:"emergency_stuck_after,omitempty"`

	// Checks are the checks to run, in order. Names must be unique.
	Checks []Check `json:"-"`
	// Lock leads the checks that are not local: lock "watchdog:"+name.
	// Nil means a lock.Memory on Clock (one process).
	Lock lock.Fenced `json:"-"`
	// Incidents keeps the open incidents of the led checks. Nil means a
	// MemoryIncidents (per process: a leader change on another replica
	// pages again); use redisstore.Incidents for a fleet. Local checks keep
	// theirs in memory, per replica: they concern this process only.
	Incidents IncidentStore `json:"-"`
	// Notifier pages. Nil means notify.NoOp. When it also has
	// Resolve(ctx, notify.Notification) (notify.Result, error), incidents
	// resolve through it; otherwise a "resolved" notification is sent.
	Notifier notify.Manager `json:"-"`
	// Session identifies this watchdog in locks: unique per process. Empty
	// means hostname-pid.
	Session string `json:"-"`
	// Replica names this replica in the keys of its local checks'
	// incidents, and so in their pages' notification keys: keep it stable
	// across restarts (a pod name), so that a restarted replica that pages
	// a local incident again does so under the same key, and resolves it.
	// Empty means Session when set, else the hostname.
	Replica string `json:"-"`
	// HeartbeatURL is the heartbeat URL given in Go; it overrides
	// HeartbeatURLEnv. Never logged.
	HeartbeatURL string `json:"-"`
	// HTTPClient sends heartbeats. Nil means a client with
	// HeartbeatTimeout.
	HTTPClient *http.Client `json:"-"`
	// Clock times passes, deadlines, backoff and the budget. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
	// Logger receives actions, pages and failures. Nil means
	// slog.Default().
	Logger *slog.Logger `json:"-"`
}

// CheckConfig overrides Config for one check.
type CheckConfig struct {
	// Disabled leaves the check out.
	Disabled bool `json:"disabled,omitempty"`
	// MaxActionsPerHour overrides Config.MaxActionsPerHour; zero keeps it.
	MaxActionsPerHour int `json:"max_actions_per_hour,omitempty"`
}

// Validate checks c's JSON fields; the error is a *baldur.ConfigError
// naming the field by its JSON name. New calls it.
func (c *Config) Validate() error {
	if c.Interval < 0 || (c.Interval > 0 && c.Interval.D() < 10*time.Millisecond) || c.Interval.D() > 24*time.Hour {
		return &baldur.ConfigError{Field: "interval", Value: c.Interval.String(), Reason: "must be between 10ms and 24h (zero means 30s)"}
	}
	if c.Jitter > 0.5 {
		return &baldur.ConfigError{Field: "jitter", Value: strconv.FormatFloat(c.Jitter, 'g', -1, 64), Reason: "must be at most 0.5 (zero means 0.1, negative none)"}
	}
	interval := c.Interval.D()
	if interval == 0 {
		interval = DefaultInterval
	}
	if c.PassDeadline < 0 || c.PassDeadline.D() > interval {
		return &baldur.ConfigError{Field: "pass_deadline", Value: c.PassDeadline.String(), Reason: "must be between 0 (interval/2) and the interval " + interval.String()}
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL.D() <= interval) {
		return &baldur.ConfigError{Field: "lease_ttl", Value: c.LeaseTTL.String(), Reason: "must be longer than the interval " + interval.String() + " (zero means 3×interval)"}
	}
	if c.MaxActionsPerHour < 0 || c.MaxActionsPerHour > 1_000_000 {
		return &baldur.ConfigError{Field: "max_actions_per_hour", Value: strconv.Itoa(c.MaxActionsPerHour), Reason: "must be between 0 (default 10) and 1000000"}
	}
	for _, d := range []struct {
		name string
		v    baldur.Duration
	}{{"backoff_base", c.BackoffBase}, {"backoff_max", c.BackoffMax}, {"heartbeat_timeout", c.HeartbeatTimeout},
		{"leaked_permit_after", c.LeakedPermitAfter}, {"emergency_stuck_after", c.EmergencyStuckAfter}} {
		if d.v < 0 || d.v.D() > 7*24*time.Hour {
			return &baldur.ConfigError{Field: d.name, Value: d.v.String(), Reason: "must be between 0 (default) and 168h"}
		}
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffBase > c.BackoffMax {
		return &baldur.ConfigError{Field: "backoff_base", Value: c.BackoffBase.String(), Reason: "must not exceed backoff_max"}
	}
	if c.HeartbeatURLEnv != "" && c.HeartbeatURL == "" {
		v, ok := os.LookupEnv(c.HeartbeatURLEnv)
		if !ok || v == "" {
			return &baldur.ConfigError{Field: "heartbeat_url_env", Value: c.HeartbeatURLEnv, Reason: "names an unset or empty environment variable"}
		}
		if err := checkHeartbeatURL(v); err != nil {
			return &baldur.ConfigError{Field: "heartbeat_url_env", Value: c.HeartbeatURLEnv, Reason: err.Error()}
		}
	}
	if c.HeartbeatURL != "" {
		if err := checkHeartbeatURL(c.HeartbeatURL); err != nil {
			return &baldur.ConfigError{Field: "HeartbeatURL", Reason: err.Error()}
		}
	}
	for name, pc := range c.PerCheck {
		if pc.MaxActionsPerHour < 0 || pc.MaxActionsPerHour > 1_000_000 {
			return &baldur.ConfigError{Field: "checks." + name + ".max_actions_per_hour", Value: strconv.Itoa(pc.MaxActionsPerHour), Reason: "must be between 0 (the watchdog's) and 1000000"}
		}
	}
	return nil
}

// checkHeartbeatURL refuses what is not an absolute http(s) URL. The
// message never quotes the URL: it may carry a token.
func checkHeartbeatURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errHeartbeatURL
	}
	return nil
}

type configErr string

func (e configErr) Error() string { return string(e) }

const errHeartbeatURL = configErr("is not an absolute http or https URL")
