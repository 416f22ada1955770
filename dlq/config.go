package dlq

import (
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/internal/enum"
)

// Overflow is what a full queue (or a full domain) does with a new entry.
type Overflow uint8

const (
	// DropOldest evicts the domain's oldest entry (the queue's oldest when
	// the total is full) to make room: the default, because the newest
	// failures are the ones an operator replays.
	DropOldest Overflow = iota
	// Reject refuses the new entry (counted as dropped, reason overflow).
	Reject
)

var overflowNames = enum.New[Overflow]("DLQ overflow", "drop_oldest", "reject")

// String returns "drop_oldest" or "reject".
func (o Overflow) String() string { return overflowNames.String(o) }

// Valid reports whether o is defined.
func (o Overflow) Valid() bool { return overflowNames.Valid(o) }

// MarshalText implements encoding.TextMarshaler.
func (o Overflow) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *Overflow) UnmarshalText(b []byte) error {
	v, err := overflowNames.Parse(string(b))
	if err == nil {
		*o = v
	}
	return err
}

// Defaults of Config.
const (
	DefaultCapacity       = 100_000
	DefaultDomainCapacity = 20_000
	DefaultExpiry         = 72 * time.Hour
	DefaultMaxAttempts    = 2
	DefaultLease          = 5 * time.Minute
	DefaultOutbox         = 10_000
	DefaultBatch          = 256
	DefaultMaxCapture     = 64 << 10
	DefaultSpillBytes     = 64 << 20
	DefaultRetry          = time.Second
	DefaultAutoMax        = 100
	DefaultAutoRate       = 100.0 // entries per second (10 per 100 ms)
	DefaultAutoBurst      = 10
	DefaultSample         = 0.1
)

// DefaultDeny are the field names masked when Mask.Deny is not set.
var DefaultDeny = []string{"password", "passwd", "secret", "token", "access_token", "refresh_token", "api_key", "apikey",
	"authorization", "card_number", "cvv", "cvc", "ssn", "iban", "pin"}

// DefaultHeaders are the request headers an HTTP capture keeps when
// Config.Headers is not set.
var DefaultHeaders = []string{"Content-Type", "Accept", "Content-Encoding", "Traceparent", "X-Request-Id"}

// Config is the "dlq" section of the registry's JSON tree. Zero fields
// take the defaults named on each.
type Config struct {
	// Capacity bounds the entries of all domains. Default 100000.
	Capacity int `json:"capacity,omitempty"`
	// DomainCapacity bounds each domain's entries (a domain's own
	// capacity overrides it). Default 20000.
	DomainCapacity int `json:"domain_capacity,omitempty"`
	// Overflow is drop_oldest (default) or reject.
	Overflow Overflow `json:"overflow,omitempty"`
	// Expiry is how long an entry is kept after capture. Default 72h.
	Expiry baldur.Duration `json:"expiry,omitempty"`
	// MaxAttempts is the failed replays after which an entry requires
	// review. Default 2.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Lease is how long a replay holds an entry before the watchdog may
	// reclaim it. Default 5m.
	Lease baldur.Duration `json:"lease,omitempty"`
	// Domains are the known domains: the metric labels (others are
	// "other") and their per-domain settings.
	Domains []Domain `json:"domains,omitempty"`
	// Mask is applied to every payload before it is capped and stored.
	Mask Mask `json:"mask,omitempty"`
	// Headers is the allow-list of request headers an HTTP capture keeps
	// (case-insensitive). Default DefaultHeaders.
	Headers []string `json:"headers,omitempty"`
	// Outbox bounds the captures queued for the writer; a capture that
	// finds it full is dropped and counted (outbox_full). Default 10000.
	Outbox int `json:"outbox,omitempty"`
	// Batch is the most entries the writer stores in one repository call.
	// Default 256.
	Batch int `json:"batch,omitempty"`
	// MaxCapture is the largest payload a capture copies for masking; a
	// larger one is cut to MaxPayload when masking is off and dropped
	// (metadata kept) when it is on. Default 64 KiB.
	MaxCapture int `json:"max_capture,omitempty"`
	// SpillDir is the directory of the spill files, written while the
	// repository is slow or down and re-ingested on recovery and at
	// start. Empty: no spill (entries the repository cannot take are
	// dropped and counted).
	SpillDir string `json:"spill_dir,omitempty"`
	// SpillBytes bounds the spill files' total size. Default 64 MiB.
	SpillBytes int64 `json:"spill_bytes,omitempty"`
	// Retry is how often a down repository is retried (re-ingesting the
	// spill). Default 1s.
	Retry baldur.Duration `json:"retry,omitempty"`
	// ThrottleCapture says which tiers' throttle rejections are captured:
	// critical always, standard sampled at StandardSample, non_essential
	// never, unless set otherwise.
	ThrottleCapture ThrottleCapture `json:"throttle_capture,omitempty"`
	// AutoReplay paces replays armed by a breaker closing.
	AutoReplay AutoReplay `json:"auto_replay,omitempty"`

	// The wiring, set in code.

	// Repository stores the entries. Required.
	Repository Repository `json:"-"`
	// Clock dates captures, leases and the retry timer. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
	// Governance vets each replay (CheckAll with EmergencyMinLevel 2,
	// operation "dlq.replay"). Nil means baldur.NoOpGovernance (allow).
	Governance baldur.GovernanceChecker `json:"-"`
	// Budget, when set, is asked ReplayAllowed before each replay.
	Budget baldur.ErrorBudgetDecider `json:"-"`
	// Policies resolves the policy of an entry's operation: a replay is
	// admitted by it (its throttle, breaker and bulkhead) like live
	// traffic. Nil replays unguarded.
	Policies baldur.Resolver `json:"-"`
	// Handlers replay entries, by domain; Handler serves the others. A
	// domain with neither cannot be replayed.
	Handlers map[string]Handler `json:"-"`
	Handler  Handler            `json:"-"`
	// Steps, when set, runs each replay at most once per key
	// dlq:{id}:{attempt} across the fleet (idempotency.Steps on the
	// shared ledger).
	Steps *idempotency.Steps `json:"-"`
	// Logger receives the writer's and the replays' warnings. Nil means
	// slog.Default().
	Logger *slog.Logger `json:"-"`
	// OnAutoReplay, when set, is told the result of every auto-replay
	// batch, and whether the run stopped after it. It runs on the
	// run's timer goroutine, never under a lock.
	OnAutoReplay func(domain string, r BatchResult, stopped bool) `json:"-"`
}

// Domain is one known domain.
type Domain struct {
	// Name is the domain (Entry.Domain). Required, unique.
	Name string `json:"name"`
	// Capacity overrides Config.DomainCapacity.
	Capacity int `json:"capacity,omitempty"`
	// AutoReplay arms replay of the domain when a breaker partition whose
	// key or operation is in Partitions (default: the domain's name)
	// closes.
	AutoReplay bool     `json:"auto_replay,omitempty"`
	Partitions []string `json:"partitions,omitempty"`
}

// Mask configures payload masking.
type Mask struct {
	// Deny lists JSON field paths whose values are replaced by "[MASKED]":
	// a bare name ("password") matches the field at any depth, a dotted
	// path ("card.number", "items.*.pan") matches from the root with '*'
	// for any one field name; array elements are transparent. Names
	// compare case-insensitively. Nil means DefaultDeny; an empty list
	// masks no field.
	Deny []string `json:"deny,omitempty"`
	// Redact are regular expressions (RE2) whose matches in string values
	// (the whole payload when it is not JSON) become "[REDACTED]".
	Redact []string `json:"redact,omitempty"`
	// Off stores payloads unmasked.
	Off bool `json:"off,omitempty"`
}

// ThrottleCapture selects the throttle rejections captured, per tier.
type ThrottleCapture struct {
	// Critical: capture all (default true; set "critical_off" to stop).
	CriticalOff bool `json:"critical_off,omitempty"`
	// StandardSample is the fraction of standard-tier rejections captured,
	// 0..1. Zero means DefaultSample (0.1); negative captures none.
	StandardSample float64 `json:"standard_sample,omitempty"`
	// non_essential rejections are never captured.
}

// AutoReplay paces auto-replay.
type AutoReplay struct {
	// Max is the most entries one arming replays. Default 100.
	Max int `json:"max,omitempty"`
	// Rate is the entries per second, Burst the bucket. Defaults 100/s, 10
	// (10 per 100 ms).
	Rate  float64 `json:"rate,omitempty"`
	Burst int     `json:"burst,omitempty"`
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Capacity == 0 {
		d.Capacity = DefaultCapacity
	}
	if d.DomainCapacity == 0 {
		d.DomainCapacity = min(DefaultDomainCapacity, d.Capacity)
	}
	if d.Expiry == 0 {
		d.Expiry = baldur.Duration(DefaultExpiry)
	}
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Lease == 0 {
		d.Lease = baldur.Duration(DefaultLease)
	}
	if d.Mask.Deny == nil {
		d.Mask.Deny = DefaultDeny
	}
	if len(d.Headers) == 0 {
		d.Headers = DefaultHeaders
	}
	if d.Outbox == 0 {
		d.Outbox = DefaultOutbox
	}
	if d.Batch == 0 {
		d.Batch = DefaultBatch
	}
	if d.MaxCapture == 0 {
		d.MaxCapture = DefaultMaxCapture
	}
	if d.SpillBytes == 0 {
		d.SpillBytes = DefaultSpillBytes
	}
	if d.Retry == 0 {
		d.Retry = baldur.Duration(DefaultRetry)
	}
	if d.ThrottleCapture.StandardSample == 0 {
		d.ThrottleCapture.StandardSample = DefaultSample
	}
	if d.AutoReplay.Max == 0 {
		d.AutoReplay.Max = DefaultAutoMax
	}
	if d.AutoReplay.Rate == 0 {
		d.AutoReplay.Rate = DefaultAutoRate
	}
	if d.AutoReplay.Burst == 0 {
		d.AutoReplay.Burst = DefaultAutoBurst
	}
	return d
}

func cfgErr(field, value, reason string) error {
	return &baldur.ConfigError{Field: field, Value: value, Reason: reason}
}

// Validate checks c; the error is a *baldur.ConfigError naming the field
// by its JSON path. New calls it.
func (c *Config) Validate() error {
	itoa := strconv.Itoa
	for _, f := range []struct {
		name   string
		v, max int
	}{{"capacity", c.Capacity, 10_000_000}, {"domain_capacity", c.DomainCapacity, 10_000_000}, {"max_attempts", c.MaxAttempts, 100},
		{"outbox", c.Outbox, 1_000_000}, {"batch", c.Batch, 10_000}, {"max_capture", c.MaxCapture, 16 << 20},
		{"auto_replay.max", c.AutoReplay.Max, 100_000}, {"auto_replay.burst", c.AutoReplay.Burst, 100_000}} {
		if f.v < 0 || f.v > f.max {
			return cfgErr(f.name, itoa(f.v), "must be between 0 (default) and "+itoa(f.max))
		}
	}
	if c.Capacity > 0 && c.DomainCapacity > c.Capacity {
		return cfgErr("domain_capacity", itoa(c.DomainCapacity), "must not exceed capacity")
	}
	if c.MaxCapture > 0 && c.MaxCapture < MaxPayload {
		return cfgErr("max_capture", itoa(c.MaxCapture), "must be at least 4096 (the payload cap)")
	}
	if !c.Overflow.Valid() {
		return cfgErr("overflow", c.Overflow.String(), `must be "drop_oldest" or "reject"`)
	}
	for _, d := range []struct {
		name string
		v    baldur.Duration
	}{{"expiry", c.Expiry}, {"lease", c.Lease}, {"retry", c.Retry}} {
		if d.v < 0 || d.v.D() > 90*24*time.Hour {
			return cfgErr(d.name, d.v.String(), "must be between 0 (default) and 2160h")
		}
	}
	if c.SpillBytes < 0 || c.SpillBytes > 1<<40 {
		return cfgErr("spill_bytes", strconv.FormatInt(c.SpillBytes, 10), "must be between 0 (default 64 MiB) and 1 TiB")
	}
	if s := c.ThrottleCapture.StandardSample; s > 1 || s != s {
		return cfgErr("throttle_capture.standard_sample", strconv.FormatFloat(s, 'g', -1, 64), "must be at most 1")
	}
	if r := c.AutoReplay.Rate; r < 0 || r > 1e6 || r != r {
		return cfgErr("auto_replay.rate", strconv.FormatFloat(r, 'g', -1, 64), "must be between 0 (default 100) and 1e6 per second")
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		at := "domains[" + itoa(i) + "]"
		if err := validName(d.Name); err != nil {
			return cfgErr(at+".name", d.Name, err.Error())
		}
		if seen[d.Name] {
			return cfgErr(at+".name", d.Name, "is declared twice")
		}
		seen[d.Name] = true
		if d.Capacity < 0 || (c.Capacity > 0 && d.Capacity > c.Capacity) || d.Capacity > 10_000_000 {
			return cfgErr(at+".capacity", itoa(d.Capacity), "must be between 0 (default domain_capacity) and capacity")
		}
	}
	for i, p := range c.Mask.Deny {
		if p == "" || strings.Contains(p, "..") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") {
			return cfgErr("mask.deny["+itoa(i)+"]", p, "must be a field name or a dotted path")
		}
	}
	for i, r := range c.Mask.Redact {
		if _, err := regexp.Compile(r); err != nil {
			return cfgErr("mask.redact["+itoa(i)+"]", r, err.Error())
		}
	}
	for i, h := range c.Headers {
		if h == "" || strings.ContainsAny(h, " \t:\r\n") {
			return cfgErr("headers["+itoa(i)+"]", h, "must be a header name")
		}
	}
	return nil
}

type nameError string

func (e nameError) Error() string { return string(e) }

// validName checks a domain name: 1..64 bytes of [a-zA-Z0-9._-], so that
// it can be a Redis key part and a metric label.
func validName(s string) error {
	if s == "" || len(s) > 64 {
		return nameError("must be 1 to 64 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return nameError("must be letters, digits, '.', '_' or '-'")
		}
	}
	return nil
}

// ValidDomain reports whether s can be an entry's domain.
func ValidDomain(s string) error { return validName(s) }

// Limits are the bounds a Repository enforces.
type Limits struct {
	// Capacity and DomainCapacity bound the entries (defaults 100000 and
	// 20000); Domains overrides DomainCapacity per domain.
	Capacity, DomainCapacity int
	Domains                  map[string]int
	// Overflow is the policy at capacity.
	Overflow Overflow
}

// Limits returns the repository bounds c configures.
func (c *Config) Limits() Limits {
	d := c.withDefaults()
	l := Limits{Capacity: d.Capacity, DomainCapacity: d.DomainCapacity, Overflow: d.Overflow}
	for _, dm := range d.Domains {
		if dm.Capacity > 0 {
			if l.Domains == nil {
				l.Domains = map[string]int{}
			}
			l.Domains[dm.Name] = dm.Capacity
		}
	}
	return l
}

func (l *Limits) withDefaults() Limits {
	d := *l
	if d.Capacity <= 0 {
		d.Capacity = DefaultCapacity
	}
	if d.DomainCapacity <= 0 {
		d.DomainCapacity = min(DefaultDomainCapacity, d.Capacity)
	}
	return d
}

// DomainCap returns domain's capacity.
func (l *Limits) DomainCap(domain string) int {
	if n, ok := l.Domains[domain]; ok && n > 0 {
		return n
	}
	if l.DomainCapacity <= 0 {
		return min(DefaultDomainCapacity, l.Capacity)
	}
	return l.DomainCapacity
}
