package middleware

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// ErrCooldown matches the rejections of requests to an upstream that is
// cooling down after a 429 or 503. They match baldur.ErrRejected too, and
// baldur.ErrThrottled (after a 429) or baldur.ErrBreakerOpen (after a 503).
var ErrCooldown = errors.New("baldur: upstream cooling down")

// Cooldown configures how Transport backs off from an upstream host that
// answers 429 Too Many Requests or 503 Service Unavailable.
//
// After such a response the host cools down: its requests are rejected
// without network I/O until the cooldown ends. Then exactly one request, the
// probe, goes through while the others are still rejected; when the probe's
// response arrives, another 429/503 starts a longer cooldown and anything
// else ends the episode. A probe that fails without a response (transport
// error, cancellation) decides nothing, and the next request probes.
//
// The n-th consecutive cooldown of a host lasts the backoff
// Initial×2^(n-1), capped at Max, with ±Jitter, or the upstream's
// Retry-After (seconds or an HTTP date, capped at MaxRetryAfter) when that
// is longer: the upstream's advice is a floor that jitter never shortens.
// Responses to requests that were already in flight when the cooldown
// began only lengthen it to their Retry-After; they do not count as
// consecutive hits. A 429 maps to the throttled reason, a 503 to
// breaker_open (the upstream is cut off and probed, as an open breaker is).
//
// Cooldown is a plain value; the zero value gives the defaults.
type Cooldown struct {
	// Initial is the first cooldown when the response has no Retry-After.
	// Zero means 5 s.
	Initial time.Duration
	// Max caps the exponential backoff (not an upstream's Retry-After).
	// Zero means 60 s.
	Max time.Duration
	// MaxRetryAfter caps the Retry-After honored. Zero means 1 h.
	MaxRetryAfter time.Duration
	// Jitter is the random spread of the backoff, as a fraction: 0.3 is
	// ±30 %. Zero means 0.3; negative means none.
	Jitter float64
	// Disabled turns cooldowns off.
	Disabled bool
}

func (c Cooldown) withDefaults() Cooldown {
	if c.Initial <= 0 {
		c.Initial = 5 * time.Second
	}
	if c.Max <= 0 {
		c.Max = 60 * time.Second
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = time.Hour
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = 0.3
	case c.Jitter < 0:
		c.Jitter = 0
	case c.Jitter > 1:
		c.Jitter = 1
	}
	return c
}

// duration is the n-th (from 1) consecutive cooldown; retryAfter is the
// upstream's advice (hasRA false when absent) and u a uniform draw in [0,1).
func (c Cooldown) duration(n int, retryAfter time.Duration, hasRA bool, u float64) time.Duration {
	d := c.Initial
	for i := 1; i < n && d < c.Max; i++ {
		if d > c.Max/2 {
			d = c.Max
			break
		}
		d *= 2
	}
	d = min(d, c.Max)
	d = time.Duration(float64(d) * (1 + c.Jitter*(2*u-1)))
	if hasRA {
		d = max(d, min(retryAfter, c.MaxRetryAfter))
	}
	return max(d, 0)
}

func isCooldownStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
}

// cooldowns is the per-host cooldown state of one Transport, sharded by
// host so that unrelated hosts do not contend. Hosts leave the table when
// their probe succeeds, so it holds only hosts that are cooling down.
type cooldowns struct {
	cfg    Cooldown
	active atomic.Int64 // hosts in the table; zero keeps the hot path lock-free
	shards [32]coolShard
}

type coolShard struct {
	mu sync.Mutex
	m  map[string]*hostCooldown
	_  [40]byte // keep shards on separate cache lines
}

type hostCooldown struct {
	until   time.Time
	hits    int
	probing bool
	reason  baldur.Reason
}

func (c *cooldowns) init() {
	c.cfg = c.cfg.withDefaults()
	for i := range c.shards {
		c.shards[i].m = make(map[string]*hostCooldown)
	}
}

func (c *cooldowns) any() bool { return !c.cfg.Disabled && c.active.Load() != 0 }

func (c *cooldowns) shard(host string) *coolShard {
	return &c.shards[fnv32(fnvOffset, host)%uint32(len(c.shards))]
}

// cooldownError is a cooldown rejection. Its one pointer field makes it
// pointer-shaped, so returning it as an error allocates nothing.
type cooldownError struct{ rej *baldur.Rejection }

func (e cooldownError) Error() string { return "baldur: upstream cooling down: " + e.rej.Error() }
func (e cooldownError) Unwrap() error { return e.rej }

// Is matches ErrCooldown; ErrRejected and the reason's sentinel match
// through Unwrap, on the Rejection itself.
func (e cooldownError) Is(target error) bool { return target == ErrCooldown }

// check admits a request to host at now, reporting whether it is the probe.
func (c *cooldowns) check(host string, now time.Time) (probe bool, err error) {
	sh := c.shard(host)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.m[host]
	switch {
	case st == nil:
		return false, nil
	case now.Before(st.until):
		return false, cooldownError{baldur.Reject(st.reason, st.until.Sub(now))}
	case st.probing:
		return false, cooldownError{baldur.Reject(st.reason, time.Second)}
	}
	st.probing = true
	return true, nil
}

// abandon gives back the probe of a request that got no response.
func (c *cooldowns) abandon(host string) {
	sh := c.shard(host)
	sh.mu.Lock()
	if st := sh.m[host]; st != nil {
		st.probing = false
	}
	sh.mu.Unlock()
}

// record learns from a response that is a 429/503 or a probe's.
func (c *cooldowns) record(host string, now time.Time, resp *http.Response, probe bool) {
	if c.cfg.Disabled {
		return
	}
	hit := isCooldownStatus(resp.StatusCode)
	var ra time.Duration
	var hasRA bool
	if hit {
		ra, hasRA = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	sh := c.shard(host)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.m[host]
	switch {
	case !hit:
		if probe && st != nil { // the upstream is back
			delete(sh.m, host)
			c.active.Add(-1)
		}
		return
	case st == nil:
		st = &hostCooldown{}
		sh.m[host] = st
		c.active.Add(1)
	case !probe: // in flight before the cooldown began: not a new hit
		if hasRA {
			if until := now.Add(min(ra, c.cfg.MaxRetryAfter)); until.After(st.until) {
				st.until = until
			}
		}
		return
	}
	st.hits++
	st.probing = false
	st.reason = baldur.ReasonBreakerOpen
	if resp.StatusCode == http.StatusTooManyRequests {
		st.reason = baldur.ReasonThrottled
	}
	st.until = now.Add(c.cfg.duration(st.hits, ra, hasRA, rand.Float64()))
}

// parseRetryAfter reads a Retry-After value: delta-seconds or an HTTP date
// (relative to now). Negative, malformed or past values are absent; huge
// ones saturate rather than overflow.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return time.Duration(1<<63 - 1), true
			}
			return 0, false
		}
		if secs > uint64((1<<63-1)/int64(time.Second)) {
			return time.Duration(1<<63 - 1), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, true // the date has passed: retry now
	}
	return d, true
}
