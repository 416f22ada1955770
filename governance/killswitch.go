package governance

import (
	"fmt"
	"math"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/clip"
)

// Scope is what a kill switch covers.
type Scope uint8

const (
	// ScopeAll covers every call: the whole system is disabled.
	ScopeAll Scope = iota
	// ScopeService covers calls whose Service matches the pattern.
	ScopeService
	// ScopeOperation covers calls whose Operation matches the pattern.
	ScopeOperation
)

var scopeNames = [...]string{"all", "service", "operation"}

// String returns "all", "service" or "operation".
func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return fmt.Sprintf("scope(%d)", uint8(s))
}

// ParseScope returns the Scope named s ("all", "service", "operation").
func ParseScope(s string) (Scope, error) {
	for i, n := range scopeNames {
		if n == s {
			return Scope(i), nil
		}
	}
	return 0, &baldur.ConfigError{Field: "Scope", Value: quote(clip.String(s)), Reason: "want all, service or operation"}
}

// KillSwitch is one active kill switch. Calls in its scope are rejected with
// baldur.ReasonKillSwitch until it is deactivated or expires; exempt
// operations (health, admin) are never blocked.
type KillSwitch struct {
	// Scope is what the switch covers.
	Scope Scope
	// Pattern selects the services (ScopeService) or operations
	// (ScopeOperation) covered: '*' matches any run of characters, '\*' a
	// literal star; everything else matches itself ("GET /items/*",
	// "/pkg.Orders/*", "payments"). It must be empty for ScopeAll.
	Pattern string
	// Reason says why the switch was thrown. Required.
	Reason string
	// Actor is who threw it; empty is recorded as "anonymous".
	Actor string
	// Since is when it was activated; Activate sets it from the clock.
	Since time.Time
	// ExpiresAt turns the switch off on its own; zero means until
	// deactivated. A time past 2262 (beyond unix nanoseconds) applies as
	// "until deactivated".
	ExpiresAt time.Time
}

// active reports whether ks still applies at now.
func (ks *KillSwitch) active(now time.Time) bool {
	return ks.ExpiresAt.IsZero() || now.Before(ks.ExpiresAt)
}

// validate checks ks as given to Activate.
func (ks *KillSwitch) validate() (pattern, error) {
	if ks.Scope > ScopeOperation {
		return pattern{}, &baldur.ConfigError{Field: "Scope", Value: ks.Scope.String(), Reason: "want ScopeAll, ScopeService or ScopeOperation"}
	}
	if ks.Reason == "" {
		return pattern{}, &baldur.ConfigError{Field: "Reason", Reason: "is required"}
	}
	if ks.Scope == ScopeAll {
		if ks.Pattern != "" {
			return pattern{}, &baldur.ConfigError{Field: "Pattern", Value: quote(ks.Pattern), Reason: "must be empty for ScopeAll"}
		}
		return pattern{}, nil
	}
	return compilePattern("Pattern", ks.Pattern)
}

// compiledSwitch is a kill switch ready for matching on the per-call path.
type compiledSwitch struct {
	pat       pattern
	reason    string
	actor     string
	expiresAt int64 // unix nanoseconds; 0 means never
}

// switchSet is the immutable set of active kill switches of one snapshot.
type switchSet struct {
	all      *compiledSwitch
	services []compiledSwitch
	ops      []compiledSwitch
}

func (s *switchSet) empty() bool { return s.all == nil && len(s.services) == 0 && len(s.ops) == 0 }

// match returns the switch that covers (service, operation) at now, or nil.
func (s *switchSet) match(service, operation string, now int64) *compiledSwitch {
	if a := s.all; a != nil && a.live(now) {
		return a
	}
	for i := range s.services {
		if ks := &s.services[i]; ks.live(now) && ks.pat.match(service) {
			return ks
		}
	}
	for i := range s.ops {
		if ks := &s.ops[i]; ks.live(now) && ks.pat.match(operation) {
			return ks
		}
	}
	return nil
}

func (ks *compiledSwitch) live(now int64) bool { return ks.expiresAt == 0 || now < ks.expiresAt }

// Times UnixNano can represent: 1677-09-21 to 2262-04-11.
var (
	minUnixNano = time.Unix(0, math.MinInt64)
	maxUnixNano = time.Unix(0, math.MaxInt64)
)

// unixNano returns t in unix nanoseconds, 0 for the zero time. Outside
// the int64 range it saturates instead of wrapping (time.Time.UnixNano
// would turn an expiry in 2300 into one in 1715, so a switch listed as
// active would never block): an expiry after 2262 is "never" in practice.
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.After(maxUnixNano):
		return math.MaxInt64
	case t.Before(minUnixNano):
		return math.MinInt64
	}
	return t.UnixNano()
}
