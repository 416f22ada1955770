package middleware

import (
	"net/http"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/partition"
)

// Option configures the server middleware.
type Option func(*server)

// KeyFunc returns a request's partition key. It must not allocate on the
// hot path if the middleware is to stay allocation-free: return substrings
// of the request's fields.
type KeyFunc func(*http.Request) string

// WithOperation names operations with f instead of the ServeMux pattern.
// Without it the operation is r.Pattern, which ServeMux sets when the
// middleware wraps a handler registered on it (mux.Handle("GET /x", mw(h))).
// When the middleware wraps the whole mux, use WithMux instead.
func WithOperation(f func(*http.Request) string) Option {
	return func(s *server) { s.operation = f }
}

// WithMux names operations by the pattern mux would route r to, for a
// middleware that wraps the whole mux (mw(mux)). It costs one extra route
// lookup per request.
func WithMux(mux *http.ServeMux) Option {
	return func(s *server) {
		s.operation = func(r *http.Request) string {
			_, pattern := mux.Handler(r)
			return pattern
		}
	}
}

// WithKey sets the partition key function. The default is the client IP
// as seen by WithTrustedProxies.
func WithKey(f KeyFunc) Option { return func(s *server) { s.key = f } }

// WithTrustedProxies sets the proxies whose X-Forwarded-For entries and tier
// header are believed. By default nobody is trusted: the client IP is the
// peer address and the tier header is ignored.
func WithTrustedProxies(t TrustedProxies) Option { return func(s *server) { s.trusted = t } }

// WithService sets Call.Service for every request (kill-switch scope).
func WithService(name string) Option { return func(s *server) { s.service = name } }

// WithDomain sets Call.Domain for every request.
func WithDomain(domain string) Option { return func(s *server) { s.domain = domain } }

// WithLatency measures each admitted request's duration and reports it in
// Outcome.Latency. It costs a second clock read per request; without it the
// middleware reads the clock once and reports a zero latency.
func WithLatency() Option { return func(s *server) { s.latency = true } }

// WithRegion sets Call.Region for every request.
func WithRegion(region string) Option { return func(s *server) { s.region = region } }

// WithTierRules classifies requests by method and path. The first matching
// rule wins; unmatched requests get the default tier (standard).
func WithTierRules(rules ...TierRule) Option {
	return func(s *server) { s.rules = append(s.rules, rules...) }
}

// WithDefaultTier sets the tier of requests no rule matches.
func WithDefaultTier(t baldur.Tier) Option { return func(s *server) { s.defaultTier = t } }

// WithTierHeader honors the named header ("X-Baldur-Tier") as the request's
// tier, but only from trusted proxies (WithTrustedProxies); an unknown
// value is ignored.
func WithTierHeader(name string) Option { return func(s *server) { s.tierHeader = name } }

// WithRateLimitHeaders turns the IETF RateLimit-Policy and RateLimit fields
// on or off (default on) for calls whose policy has a quota.
func WithRateLimitHeaders(on bool) Option { return func(s *server) { s.ietfHeaders = on } }

// WithLegacyRateLimitHeaders adds X-RateLimit-Limit, -Remaining and -Reset
// for clients that predate the IETF fields. Off by default.
func WithLegacyRateLimitHeaders(on bool) Option { return func(s *server) { s.legacyHeaders = on } }

// WithClock sets the clock read once per request (twice with WithLatency).
// Default: the process's coarse clock, a reading at most about 1 ms old
// that costs one atomic load (the gates need no finer time: token buckets
// refill in steps of a tick and hold their rate, budgets and breakers count
// in seconds), or the system clock with WithLatency.
func WithClock(c baldur.Clock) Option { return func(s *server) { s.clock = c } }

// TierRule maps requests to a tier by method and path.
type TierRule struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches the URL path exactly, or as a prefix when it ends in "/"
	// or "*" (the "*" is dropped).
	Path string
	Tier baldur.Tier
}

func (r TierRule) match(req *http.Request) bool {
	if r.Method != "" && r.Method != req.Method {
		return false
	}
	p := req.URL.Path
	switch {
	case strings.HasSuffix(r.Path, "*"):
		return strings.HasPrefix(p, r.Path[:len(r.Path)-1])
	case strings.HasSuffix(r.Path, "/"):
		return strings.HasPrefix(p, r.Path)
	default:
		return p == r.Path
	}
}

// KeyClientIP keys by client IP, believing X-Forwarded-For only from t.
func KeyClientIP(t TrustedProxies) KeyFunc { return t.ClientIP }

// KeyHeader keys by the named header (a tenant or API-key header),
// truncated to 256 bytes; requests without it fall back to fallback (nil:
// the empty key).
//
// Any client can send any header: a client that picks its own key picks its
// own bucket and share. Use it where an authenticating layer in front sets
// the header, or use KeyTrustedHeader.
func KeyHeader(name string, fallback KeyFunc) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	return func(r *http.Request) string {
		if v := r.Header.Get(name); v != "" {
			return partition.ClipKey(v)
		}
		if fallback != nil {
			return fallback(r)
		}
		return ""
	}
}

// KeyTrustedHeader is KeyHeader believing the header only from the trusted
// proxies t (which are expected to set or strip it); from anyone else, and
// when the header is absent, the key is fallback's (nil: the client IP as t
// sees it).
func KeyTrustedHeader(name string, t TrustedProxies, fallback KeyFunc) KeyFunc {
	if fallback == nil {
		fallback = t.ClientIP
	}
	header := KeyHeader(name, fallback)
	return func(r *http.Request) string {
		if !t.FromTrusted(r) {
			return fallback(r)
		}
		return header(r)
	}
}
