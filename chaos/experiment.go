package chaos

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/internal/clip"
)

// FaultKind names what an experiment injects.
type FaultKind string

// Fault kinds.
const (
	// FaultLatency delays the call inside the guarded chain, holding its
	// permits (bulkhead slot included) as a slow dependency would, and
	// then lets it run. The delay never passes the call's deadline and
	// ends early when the call's context does.
	FaultLatency FaultKind = "latency"
	// FaultError fails the call with the experiment's HTTP status and
	// gRPC code, as an injected_fault rejection.
	FaultError FaultKind = "error"
	// FaultAbort fails the call at once as a crashed dependency would:
	// 502 Bad Gateway, gRPC UNAVAILABLE.
	FaultAbort FaultKind = "abort"
)

// Distribution is how an injected delay is drawn.
type Distribution string

// Delay distributions.
const (
	// Fixed: every delay is Delay.
	Fixed Distribution = "fixed"
	// Uniform: uniform in [Delay, Delay+Jitter].
	Uniform Distribution = "uniform"
	// Exponential: Delay plus an exponential tail of mean Jitter, capped
	// at Delay+8·Jitter (a long tail, as real latency has).
	Exponential Distribution = "exponential"
)

// Fault is what an experiment injects into its cohort's calls.
type Fault struct {
	// Kind is latency, error or abort; required.
	Kind FaultKind `json:"kind"`
	// Delay is the injected latency (latency faults); required there,
	// positive, at most 1 min.
	Delay baldur.Duration `json:"delay,omitempty"`
	// Jitter spreads the delay per Distribution; zero with Fixed.
	Jitter baldur.Duration `json:"jitter,omitempty"`
	// Distribution of the delay. Empty means Fixed.
	Distribution Distribution `json:"distribution,omitempty"`
	// HTTPStatus is the status of an injected error, 400..599. Zero means
	// 503.
	HTTPStatus int `json:"http_status,omitempty"`
	// GRPCCode is the gRPC code of an injected error, 1..16. Zero means
	// UNAVAILABLE (14).
	GRPCCode int `json:"grpc_code,omitempty"`
}

// Target selects the calls an experiment may touch. Every field that is set
// must match; at least one of Service, Policy and Operation is required.
type Target struct {
	// Service is the call's service (Call.Service, which the registry fills
	// from its configuration). Empty matches any.
	Service string `json:"service,omitempty"`
	// Policy is the name of the policy guarding the call. Empty matches
	// any.
	Policy string `json:"policy,omitempty"`
	// Operation is an operation or a glob over it ('*' matches any run of
	// characters). Empty matches any.
	Operation string `json:"operation,omitempty"`
	// Region is the call's region. Empty matches any.
	Region string `json:"region,omitempty"`
	// Tiers are the tiers touched. Empty means standard and non_essential;
	// critical only when the configuration allows it.
	Tiers []baldur.Tier `json:"tiers,omitempty"`
}

func (t Target) empty() bool { return t.Service == "" && t.Policy == "" && t.Operation == "" }

// Experiment is a fault injection into a cohort of partition keys. A call
// whose key hashes (per experiment) below Rate is in the experiment cohort
// and gets the fault; one that hashes in [Rate, 2·Rate) is in the control
// cohort and is only observed; the rest are untouched. Cohorts are sticky:
// a key stays in its cohort for the whole experiment, on every replica.
// Calls without a partition key are never in a cohort.
type Experiment struct {
	// ID identifies the experiment: 1..64 bytes of [A-Za-z0-9._-].
	ID string `json:"id"`
	// Target selects the calls; see Target.
	Target Target `json:"target"`
	// Fault is what is injected.
	Fault Fault `json:"fault"`
	// Rate is the experiment cohort's share of keys, in (0, max_rate].
	// Zero means the configuration's default_rate.
	Rate float64 `json:"rate,omitempty"`
	// Duration is how long faults are injected. Zero means the default;
	// at most TTL.
	Duration baldur.Duration `json:"duration,omitempty"`
	// TTL is this experiment's hard cap, at most the configuration's ttl.
	// Zero means the configuration's ttl.
	TTL baldur.Duration `json:"ttl,omitempty"`
	// StartAt is when the steady-state observation starts; zero means at
	// once. A time more than a minute in the past is invalid.
	StartAt time.Time `json:"start_at,omitzero"`
	// Windows are UTC windows ("02:00-06:00") the experiment may start in;
	// empty means the configuration's.
	Windows []string `json:"windows,omitempty"`
	// Scope is the blast-radius scope: instance (default), service or
	// region.
	Scope blastradius.Scope `json:"scope,omitempty"`
	// Hypothesis is what the operator expects ("the breaker opens for the
	// experiment cohort; the control cohort's success rate holds"). The
	// report judges it.
	Hypothesis string `json:"hypothesis,omitempty"`
	// DryRun counts what would be injected and injects nothing. The
	// configuration's dry_run (on by default) makes every experiment dry.
	DryRun bool `json:"dry_run,omitempty"`
	// Force waives the cooldown and the windows, and nothing else.
	Force bool `json:"force,omitempty"`
}

const (
	maxIDLen        = 64
	maxDelay        = time.Minute
	maxTextLen      = 1024
	startAtGrace    = time.Minute
	maxTargetString = 1024
)

// validID reports whether id is 1..64 bytes of [A-Za-z0-9._-].
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '\uFFFD' {
			return false
		}
	}
	return true
}

// normalize validates e against s at now and fills its defaults. Every
// error is a *baldur.ConfigError naming the JSON field.
func (e Experiment) normalize(s *settings, now time.Time) (Experiment, error) {
	q := func(v string) string { return strconv.Quote(clip.String(v)) }
	if !validID(e.ID) {
		return e, cfgErr("id", q(e.ID), "must be 1..64 bytes of [A-Za-z0-9._-]")
	}
	if e.Target.empty() {
		return e, cfgErr("target", "", "must name a service, a policy or an operation")
	}
	for _, f := range []struct{ name, v string }{
		{"target.service", e.Target.Service}, {"target.policy", e.Target.Policy},
		{"target.operation", e.Target.Operation}, {"target.region", e.Target.Region},
	} {
		if len(f.v) > maxTargetString || !printable(f.v) || strings.TrimSpace(f.v) != f.v {
			return e, cfgErr(f.name, q(f.v), "must be printable, without surrounding space, at most 1024 bytes")
		}
	}
	if strings.Contains(e.Target.Operation, "**") {
		return e, cfgErr("target.operation", q(e.Target.Operation), `"**" is not a pattern; '*' already matches any run`)
	}
	for i, t := range e.Target.Tiers {
		if !t.Valid() {
			return e, cfgErr("target.tiers["+strconv.Itoa(i)+"]", strconv.Itoa(int(t)), "unknown tier")
		}
		if t == baldur.TierCritical && !s.allowCritical {
			return e, cfgErr("target.tiers["+strconv.Itoa(i)+"]", "critical", "the critical tier needs allow_critical in the chaos configuration")
		}
	}
	switch e.Fault.Kind {
	case FaultLatency:
		if e.Fault.Delay <= 0 || e.Fault.Delay.D() > maxDelay {
			return e, cfgErr("fault.delay", e.Fault.Delay.String(), "a latency fault needs a delay in (0, 1m]")
		}
		if e.Fault.Jitter < 0 || e.Fault.Jitter.D() > maxDelay {
			return e, cfgErr("fault.jitter", e.Fault.Jitter.String(), "must be in [0, 1m]")
		}
		switch e.Fault.Distribution {
		case "":
			e.Fault.Distribution = Fixed
		case Fixed, Uniform, Exponential:
		default:
			return e, cfgErr("fault.distribution", q(string(e.Fault.Distribution)), "unknown distribution (want fixed, uniform or exponential)")
		}
		if e.Fault.Distribution != Fixed && e.Fault.Jitter == 0 {
			return e, cfgErr("fault.jitter", "0s", "a "+string(e.Fault.Distribution)+" delay needs a jitter")
		}
	case FaultError:
		if e.Fault.HTTPStatus == 0 {
			e.Fault.HTTPStatus = 503
		}
		if e.Fault.GRPCCode == 0 {
			e.Fault.GRPCCode = 14
		}
		if e.Fault.HTTPStatus < 400 || e.Fault.HTTPStatus > 599 {
			return e, cfgErr("fault.http_status", strconv.Itoa(e.Fault.HTTPStatus), "must be an error status, 400..599")
		}
		if e.Fault.GRPCCode < 1 || e.Fault.GRPCCode > 16 {
			return e, cfgErr("fault.grpc_code", strconv.Itoa(e.Fault.GRPCCode), "must be a gRPC error code, 1..16")
		}
	case FaultAbort:
	default:
		return e, cfgErr("fault.kind", q(string(e.Fault.Kind)), "unknown fault (want latency, error or abort)")
	}
	if e.Fault.Kind != FaultLatency && (e.Fault.Delay != 0 || e.Fault.Jitter != 0 || e.Fault.Distribution != "") {
		return e, cfgErr("fault.delay", e.Fault.Delay.String(), "only a latency fault has a delay")
	}
	if e.Fault.Kind != FaultError && (e.Fault.HTTPStatus != 0 || e.Fault.GRPCCode != 0) {
		return e, cfgErr("fault.http_status", strconv.Itoa(e.Fault.HTTPStatus), "only an error fault has a status")
	}
	if e.Rate == 0 {
		e.Rate = s.defaultRate
	}
	if math.IsNaN(e.Rate) || e.Rate <= 0 || e.Rate > s.maxRate {
		return e, cfgErr("rate", ftoa(e.Rate), "must be in (0, max_rate "+ftoa(s.maxRate)+"]")
	}
	if e.TTL < 0 || e.TTL.D() > s.ttl {
		return e, cfgErr("ttl", e.TTL.String(), "must be in [0, the configuration's ttl "+s.ttl.String()+"]")
	}
	if e.TTL == 0 {
		e.TTL = baldur.Duration(s.ttl)
	}
	if e.Duration < 0 {
		return e, cfgErr("duration", e.Duration.String(), "must not be negative")
	}
	if e.Duration == 0 {
		e.Duration = baldur.Duration(min(s.duration, e.TTL.D()))
	}
	if e.Duration > e.TTL {
		return e, cfgErr("duration", e.Duration.String(), "must not exceed the TTL "+e.TTL.String())
	}
	if !e.StartAt.IsZero() && e.StartAt.Before(now.Add(-startAtGrace)) {
		return e, cfgErr("start_at", e.StartAt.UTC().Format(time.RFC3339), "is in the past")
	}
	for i, w := range e.Windows {
		if _, err := blastradius.ParseWindow(w); err != nil {
			return e, cfgErr("windows["+strconv.Itoa(i)+"]", q(w), `must be "HH:MM-HH:MM" (UTC)`)
		}
	}
	switch e.Scope {
	case "":
		e.Scope = blastradius.ScopeInstance
	case blastradius.ScopeInstance, blastradius.ScopeService, blastradius.ScopeRegion:
	default:
		return e, cfgErr("scope", q(string(e.Scope)), "unknown scope (want instance, service or region)")
	}
	if len(e.Hypothesis) > maxTextLen || !printable(e.Hypothesis) {
		return e, cfgErr("hypothesis", "", "must be printable, at most 1024 bytes")
	}
	if s.dryRun {
		e.DryRun = true
	}
	return e, nil
}

// windows returns e's parsed windows, or the configuration's.
func (e Experiment) windows(s *settings) []blastradius.Window {
	if len(e.Windows) == 0 {
		return s.windows
	}
	out := make([]blastradius.Window, 0, len(e.Windows))
	for _, w := range e.Windows {
		if pw, err := blastradius.ParseWindow(w); err == nil {
			out = append(out, pw)
		}
	}
	return out
}
