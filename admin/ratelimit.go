package admin

import (
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/throttle"
)

// Default rates of the admin rate limit, in requests per minute per client.
const (
	DefaultRateLimit         = 100
	DefaultDegradedRateLimit = 10
)

// rateKeys bounds the clients the in-process buckets remember; the table
// is fixed-size (throttle.Memory), so a flood of addresses cannot grow it.
const rateKeys = 4096

// RateLimit bounds the requests one client makes to the admin server (API
// and console alike), so that a script in a loop, a stuck browser tab or a
// guessing attacker cannot turn the control plane into load. A client is
// the actor resolved for a request from a trusted proxy, else the peer's
// IP address. A request over the limit is answered 429 with Retry-After,
// X-Baldur-Gate and X-Baldur-Reason and the rejection body of the
// middleware ({"code":"throttled",...}), before any other check.
type RateLimit struct {
	// PerMinute is how many requests a client may make per minute: a
	// token bucket of PerMinute requests refilled at PerMinute per minute.
	// Zero means DefaultRateLimit (100); negative turns the limit off.
	PerMinute int

	// Store, when set, keeps the buckets where every replica sees them
	// (redisstore.ThrottleStore), so the limit holds across the fleet.
	// Nil keeps them in this process: PerMinute per replica.
	Store throttle.Store

	// DegradedPerMinute is the stricter per-replica limit that applies,
	// on top of the store's own answer, while Store cannot decide: a Take
	// that returns an error, or one its fail mode decided (a Store that
	// implements throttle.FallbackCounter counts those; Redis unreachable,
	// its breaker open). Zero means DefaultDegradedRateLimit (10), or
	// PerMinute when that is lower; it must not exceed PerMinute.
	DegradedPerMinute int
}

func (rl *RateLimit) validate() error {
	if rl.PerMinute == 0 {
		rl.PerMinute = DefaultRateLimit
	}
	if rl.DegradedPerMinute == 0 {
		rl.DegradedPerMinute = min(DefaultDegradedRateLimit, max(rl.PerMinute, 1))
	}
	if rl.PerMinute < 0 {
		return nil
	}
	if rl.DegradedPerMinute < 0 || rl.DegradedPerMinute > rl.PerMinute {
		return &baldur.ConfigError{Field: "RateLimit.DegradedPerMinute", Value: strconv.Itoa(rl.DegradedPerMinute),
			Reason: "must be between 1 and RateLimit.PerMinute"}
	}
	if _, ok := throttle.NewLimit(float64(rl.PerMinute)/60, rl.PerMinute); !ok {
		return &baldur.ConfigError{Field: "RateLimit.PerMinute", Value: strconv.Itoa(rl.PerMinute), Reason: "is not a valid rate"}
	}
	return nil
}

// limiter applies a RateLimit. It is safe for concurrent use.
type limiter struct {
	off             bool
	seed            maphash.Seed
	limit, degraded throttle.Limit
	shared          throttle.Store
	fallbacks       throttle.FallbackCounter // shared's, when it counts them
	local, strict   *throttle.Memory         // PerMinute without a store; DegradedPerMinute while it fails
}

func newLimiter(rl RateLimit, now time.Time) *limiter {
	if rl.PerMinute < 0 {
		return &limiter{off: true}
	}
	l := &limiter{seed: maphash.MakeSeed(), shared: rl.Store, strict: throttle.NewMemory(rateKeys, now)}
	l.limit, _ = throttle.NewLimit(float64(rl.PerMinute)/60, rl.PerMinute)
	l.degraded, _ = throttle.NewLimit(float64(rl.DegradedPerMinute)/60, rl.DegradedPerMinute)
	if l.shared == nil {
		l.local = throttle.NewMemory(rateKeys, now)
	} else {
		l.fallbacks, _ = l.shared.(throttle.FallbackCounter)
	}
	return l
}

// allow decides one request of client at now, and the Retry-After of a
// refusal.
func (l *limiter) allow(r *http.Request, client string, now time.Time) (bool, time.Duration) {
	if l.off {
		return true, 0
	}
	k := throttle.Key{Hash: maphash.String(l.seed, client), Partition: client, Tier: baldur.TierStandard}
	if l.shared == nil {
		d, _ := l.local.Take(r.Context(), k, now, l.limit, 0)
		return d.Allowed, d.RetryAfter
	}
	var before uint64
	if l.fallbacks != nil {
		before = l.fallbacks.Fallbacks()
	}
	d, err := l.shared.Take(r.Context(), k, now, l.limit, 0)
	// A fallback counted during the take is taken as this one's (another
	// request's at the same moment would see the same outage).
	degraded := err != nil || (l.fallbacks != nil && l.fallbacks.Fallbacks() != before)
	if err == nil && !d.Allowed {
		return false, d.RetryAfter
	}
	if !degraded {
		return true, 0
	}
	sd, _ := l.strict.Take(r.Context(), k, now, l.degraded, 0)
	return sd.Allowed, sd.RetryAfter
}

// client names the caller for the rate limit: the actor a trusted proxy
// vouched for, else the peer's address.
func (s *Server) client(r *http.Request, actor string) string {
	if actor != baldur.AnonymousActor && s.fromTrustedProxy(r) {
		return "actor:" + actor
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// rateLimited answers 429 and reports true when r's client is over the
// limit.
func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request) bool {
	if s.limit.off {
		return false
	}
	client := s.client(r, s.actor(r))
	ok, after := s.limit.allow(r, client, s.clock.Now())
	if ok {
		return false
	}
	// Debug only: a flood of refused requests must not become a flood of
	// log records.
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "admin: rate limited", slog.String("route", r.Method+" "+r.URL.Path))
	middleware.WriteRejection(w, baldur.RejectAtLeast(baldur.ReasonThrottled, after, time.Second))
	return true
}
