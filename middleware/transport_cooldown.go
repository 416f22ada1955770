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
	"github.com/baldur-go/baldur/internal/memo"
)

// ErrCooldown matches the rejections of requests to an upstream that is
// cooling down after a 429 or 503. They match baldur.ErrRejected too, and
// baldur.ErrThrottled (after a 429) or baldur.ErrBreakerOpen (after a 503).
var ErrCooldown = errors.New("baldur: upstream cooling down")

// Cooldown configures how the transport NewTransport returns backs off from an upstream host that
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
// A host whose cooldown ended is remembered for Max more (its single probe
// and its count of consecutive hits still hold); if no request probes it in
// that time it is forgotten, and its next 429/503 is a first hit again. At
// most MaxHosts hosts are remembered at once: a host that answers 429/503
// while the table is full is not tracked, and its responses reach the
// caller as they would without cooldowns. While no host is cooling down, a
// request reads one atomic counter and takes no lock.
//
// Cooldown is a plain value; the zero value gives the defaults. Validate
// reports out-of-range values; NewTransport, which cannot fail, clamps them.
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
	// MaxHosts bounds the hosts remembered at once (cooling down, or ended
	// less than Max ago). Zero means DefaultCooldownHosts; at most
	// MaxCooldownHosts. Each host costs about 150 bytes.
	MaxHosts int
	// Disabled turns cooldowns off.
	Disabled bool
}

// Bounds of Cooldown.MaxHosts.
const (
	DefaultCooldownHosts = 10_000
	MaxCooldownHosts     = 1 << 20
)

// Validate reports the first out-of-range field as a *baldur.ConfigError
// naming it ("Cooldown.MaxHosts"): a negative duration or MaxHosts, or a
// MaxHosts above MaxCooldownHosts.
func (c Cooldown) Validate() error {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Cooldown.Initial", c.Initial}, {"Cooldown.Max", c.Max}, {"Cooldown.MaxRetryAfter", c.MaxRetryAfter}} {
		if d.v < 0 {
			return &baldur.ConfigError{Field: d.field, Value: d.v.String(), Reason: "must be >= 0"}
		}
	}
	if c.MaxHosts < 0 || c.MaxHosts > MaxCooldownHosts {
		return &baldur.ConfigError{Field: "Cooldown.MaxHosts", Value: strconv.Itoa(c.MaxHosts),
			Reason: "must be between 0 (default " + strconv.Itoa(DefaultCooldownHosts) + ") and " + strconv.Itoa(MaxCooldownHosts)}
	}
	return nil
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
	case c.MaxHosts <= 0:
		c.MaxHosts = DefaultCooldownHosts
	case c.MaxHosts > MaxCooldownHosts:
		c.MaxHosts = MaxCooldownHosts
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

// cooldowns is the per-host cooldown state of one transport, sharded by
// host so that unrelated hosts do not contend. Hosts leave the table when
// their probe succeeds, or once they are stale: their cooldown ended more
// than cfg.Max ago and no probe is in flight.
//
// The counters below let a request skip the table without a lock: active
// is zero (the table is empty), or the request's shard is empty, or nothing
// in the table still matters (no probe in flight and every entry stale,
// which horizon bounds). The shard counters change only under the shard's
// lock; they are read without it.
type cooldowns struct {
	cfg     Cooldown
	base    time.Time    // origin of horizon, read from the clock at init
	active  atomic.Int64 // hosts in the table; zero keeps the hot path lock-free
	probes  atomic.Int64 // probes in flight
	horizon atomic.Int64 // no entry is fresh at or after base+horizon (a bound, never lowered)
	sweep   atomic.Bool  // one goroutine at a time sweeps the whole table
	shards  [32]coolShard
}

type coolShard struct {
	mu      sync.Mutex
	m       map[string]*hostCooldown
	n       atomic.Int32 // len(m)
	sweepAt int          // len(m) at which an insert first drops the shard's stale entries
	// staleFrom is when the first entry of the shard may be stale (a lower
	// bound): before it, sweeping the shard would find nothing.
	staleFrom time.Time
	_         [8]byte // keep shards on separate cache lines (64 bytes each)
}

// minSweep is the smallest shard that an insert sweeps.
const minSweep = 16

type hostCooldown struct {
	until   time.Time
	hits    int
	probing bool
	reason  baldur.Reason
}

func (c *cooldowns) init(now time.Time) {
	c.cfg = c.cfg.withDefaults()
	c.base = now
	for i := range c.shards {
		c.shards[i].m = make(map[string]*hostCooldown)
		c.shards[i].sweepAt = minSweep
	}
}

func (c *cooldowns) any() bool { return !c.cfg.Disabled && c.active.Load() != 0 }

func (c *cooldowns) shard(host string) *coolShard {
	return &c.shards[memo.Hash(memo.Offset, host)%uint32(len(c.shards))]
}

// offset is t as a duration since base; Sub saturates, so it never wraps.
func (c *cooldowns) offset(t time.Time) int64 { return int64(t.Sub(c.base)) }

// stale reports whether st can be forgotten at now.
func (c *cooldowns) stale(st *hostCooldown, now time.Time) bool {
	return !st.probing && !now.Before(st.until.Add(c.cfg.Max))
}

// extend raises horizon to cover an entry cooling down until until. Called
// under the entry's shard lock.
func (c *cooldowns) extend(until time.Time) {
	h := c.offset(until.Add(c.cfg.Max))
	for {
		cur := c.horizon.Load()
		if h <= cur || c.horizon.CompareAndSwap(cur, h) {
			return
		}
	}
}

// settled reports, without a lock, that nothing in the table affects a
// request at now: no probe is in flight and every entry is stale. It then
// drops the stale entries, once, so that active falls back to zero and
// later requests skip even the clock.
func (c *cooldowns) settled(now time.Time) bool {
	if c.probes.Load() != 0 || c.offset(now) < c.horizon.Load() {
		return false
	}
	if c.sweep.CompareAndSwap(false, true) {
		for i := range c.shards {
			sh := &c.shards[i]
			// TryLock: a busy shard is someone else's, and its stale entries
			// go with its next insert or the next sweep. Never wait here.
			if sh.n.Load() != 0 && sh.mu.TryLock() {
				c.dropStale(sh, now)
				sh.mu.Unlock()
			}
		}
		c.sweep.Store(false)
	}
	return true
}

// dropStale deletes the shard's stale entries, unless none can be stale
// yet. Called under sh.mu.
func (c *cooldowns) dropStale(sh *coolShard, now time.Time) {
	if now.Before(sh.staleFrom) {
		return
	}
	var next time.Time
	for h, e := range sh.m {
		switch {
		case c.stale(e, now):
			c.remove(sh, h)
		case e.probing:
			// Its probe decides; the earliest it can be stale is unknown.
			next = now
		default:
			if s := e.until.Add(c.cfg.Max); next.IsZero() || s.Before(next) {
				next = s
			}
		}
	}
	sh.staleFrom = next
	sh.sweepAt = max(2*len(sh.m), minSweep)
}

// reserve takes a place in the table for a new entry, unless it is full.
func (c *cooldowns) reserve() bool {
	if c.active.Add(1) > int64(c.cfg.MaxHosts) {
		c.active.Add(-1)
		return false
	}
	return true
}

// remove deletes host's entry, which is not probing. Called under sh.mu.
func (c *cooldowns) remove(sh *coolShard, host string) {
	delete(sh.m, host)
	sh.n.Add(-1)
	c.active.Add(-1)
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
	// settled first: it is what empties a table of stale entries, so that
	// active returns to zero even if their shards see no more requests.
	if c.settled(now) || sh.n.Load() == 0 {
		return false, nil
	}
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
	case c.stale(st, now):
		// Nobody probed it while it was remembered: the request goes as if
		// the host had never cooled down.
		c.remove(sh, host)
		return false, nil
	}
	st.probing = true
	c.probes.Add(1)
	return true, nil
}

// endProbe clears st's probe. Called under the entry's shard lock.
func (c *cooldowns) endProbe(st *hostCooldown) {
	if st.probing {
		st.probing = false
		c.probes.Add(-1)
	}
}

// abandon gives back the probe of a request that got no response.
func (c *cooldowns) abandon(host string) {
	sh := c.shard(host)
	sh.mu.Lock()
	if st := sh.m[host]; st != nil {
		c.endProbe(st)
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
			c.endProbe(st)
			c.remove(sh, host)
		}
		return
	case st == nil:
		if len(sh.m) >= sh.sweepAt {
			c.dropStale(sh, now)
		}
		// Reserve a place first, so that shards inserting at once never
		// take the table past MaxHosts.
		if !c.reserve() {
			c.dropStale(sh, now) // make room from this shard, if it has any
			if !c.reserve() {
				return // full: this host is not tracked
			}
		}
		st = &hostCooldown{}
		sh.m[host] = st
		sh.n.Add(1)
	case !probe: // in flight before the cooldown began: not a new hit
		if hasRA {
			if until := now.Add(min(ra, c.cfg.MaxRetryAfter)); until.After(st.until) {
				st.until = until
				c.extend(until)
			}
		}
		return
	}
	st.hits++
	c.endProbe(st)
	st.reason = baldur.ReasonBreakerOpen
	if resp.StatusCode == http.StatusTooManyRequests {
		st.reason = baldur.ReasonThrottled
	}
	st.until = now.Add(c.cfg.duration(st.hits, ra, hasRA, rand.Float64()))
	c.extend(st.until)
	if s := st.until.Add(c.cfg.Max); s.Before(sh.staleFrom) || len(sh.m) == 1 {
		sh.staleFrom = s
	}
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
