package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/throttle"
)

//go:embed gcra.lua
var gcraSource string

// GCRAScript is the script GCRA runs. Pass it in Config.Scripts (or to
// OnConnect) to have it loaded before the first take.
var GCRAScript = NewScript(nsmathSource + gcraSource)

// GCRA applies throttle.Decide to buckets in Redis, one script call (one
// round trip) per take, atomically per key. Decisions are exactly those of
// throttle.Decide on the bucket's state, in integer nanoseconds: the script
// holds every value as seconds and nanoseconds so that Lua's doubles lose
// nothing.
//
// A bucket's key holds its TAT (decimal nanoseconds) and expires when the
// bucket is full again, so idle buckets cost no memory; a missing key is a
// full bucket. A denied take writes nothing.
//
// GCRA is the primitive a fleet throttle store builds on; it has no local
// layer and no fail mode of its own: an unavailable Redis is an error
// matching ErrUnavailable. Safe for concurrent use.
type GCRA struct {
	guard *Guard
	extra string // extra key lifetime, ms
}

// GCRAConfig configures a GCRA. The zero value is valid.
type GCRAConfig struct {
	// KeySlack is added to each key's lifetime (rounded down to whole
	// milliseconds). Zero, the default, expires a key when its bucket is
	// full. Give a slack when takes pass a caller's clock that does not
	// advance with real time (deterministic tests), so keys outlive it.
	KeySlack time.Duration
}

// NewGCRA returns a GCRA that calls Redis through g (normally a
// ClassThrottle guard).
func NewGCRA(g *Guard, cfg GCRAConfig) (*GCRA, error) {
	if g == nil {
		return nil, &baldur.ConfigError{Field: "Guard", Reason: "is required"}
	}
	if cfg.KeySlack < 0 {
		return nil, &baldur.ConfigError{Field: "KeySlack", Value: cfg.KeySlack.String(), Reason: "must not be negative"}
	}
	return &GCRA{guard: g, extra: strconv.FormatInt(cfg.KeySlack.Milliseconds(), 10)}, nil
}

// GCRAResult is the answer of one take.
type GCRAResult struct {
	// Decision is what throttle.Decide decides for this call.
	Decision throttle.Decision
	// TAT is the bucket's state after the call, in ns on the clock of Now;
	// throttle.Fresh when the bucket was never used (or expired) and the
	// call was denied.
	TAT int64
	// Now is the clock reading the decision used: the server's TIME, or
	// the caller's now.
	Now int64
}

// errDomain is returned for inputs on which int64 arithmetic (and so
// throttle.Decide) would saturate: the script computes exactly, and the two
// would differ.
var errDomain = errors.New("redisstore: gcra: now + tolerance + max wait + cost overflows int64 ns")

// Take applies throttle.Decide(state, now, l, maxWait) to key's bucket and
// stores the new state when the call is allowed. A zero now uses the
// server's TIME (the one clock every replica shares); a non-zero now is the
// caller's clock (deterministic tests, or a caller that owns the timeline)
// and must not be before 1970. Do not mix the two on one key.
func (s *GCRA) Take(ctx context.Context, key string, now time.Time, l throttle.Limit, maxWait time.Duration) (GCRAResult, error) {
	l = normLimit(l)
	if maxWait < 0 {
		maxWait = 0
	}
	nowArg := ""
	if !now.IsZero() {
		ns := now.UnixNano()
		if ns < 0 {
			return GCRAResult{}, fmt.Errorf("redisstore: gcra: now %v is before 1970", now)
		}
		if !fits(ns, l.Tolerance, int64(maxWait), l.Cost) {
			return GCRAResult{}, errDomain
		}
		nowArg = strconv.FormatInt(ns, 10)
	} else if !fits(time.Now().UnixNano()+int64(time.Hour), l.Tolerance, int64(maxWait), l.Cost) {
		return GCRAResult{}, errDomain
	}
	v, err := s.guard.Run(ctx, GCRAScript, []string{key},
		strconv.FormatInt(l.Cost, 10), strconv.FormatInt(l.Tolerance, 10),
		strconv.FormatInt(int64(maxWait), 10), nowArg, s.extra)
	if err != nil {
		if isReply(err) && strings.Contains(err.Error(), "malformed") {
			return GCRAResult{}, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
		}
		if isReply(err) && strings.Contains(err.Error(), "WRONGTYPE") {
			return GCRAResult{}, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
		}
		return GCRAResult{}, err
	}
	return parseGCRA(v, l)
}

func parseGCRA(v any, l throttle.Limit) (GCRAResult, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 6 {
		return GCRAResult{}, fmt.Errorf("redisstore: gcra: unexpected reply %v", v)
	}
	allowed, ok := a[0].(int64)
	var n [5]int64
	for i := 1; ok && i < 6; i++ {
		str, isStr := a[i].(string)
		switch {
		case !isStr:
			ok = false
		case i == 4 && str == "":
			n[i-1] = throttle.Fresh
		default:
			var err error
			n[i-1], err = strconv.ParseInt(str, 10, 64)
			ok = err == nil
		}
	}
	if !ok {
		return GCRAResult{}, fmt.Errorf("redisstore: gcra: unexpected reply %v", v)
	}
	wait, retry, reset, tat, now := n[0], n[1], n[2], n[3], n[4]
	d := throttle.Decision{
		Allowed:    allowed == 1,
		Wait:       time.Duration(wait),
		RetryAfter: time.Duration(retry),
		Reset:      time.Duration(reset),
	}
	if d.Allowed && reset <= l.Tolerance {
		d.Remaining = (l.Tolerance-reset)/l.Cost + 1
	}
	return GCRAResult{Decision: d, TAT: tat, Now: now}, nil
}

// normLimit is throttle's Limit normalization: Cost at least 1, Tolerance
// at least 0.
func normLimit(l throttle.Limit) throttle.Limit {
	if l.Cost < 1 {
		l.Cost = 1
	}
	if l.Tolerance < 0 {
		l.Tolerance = 0
	}
	return l
}

// fits reports whether the sum of non-negative terms stays within int64.
func fits(terms ...int64) bool {
	var s int64
	for _, t := range terms {
		if t > math.MaxInt64-s {
			return false
		}
		s += t
	}
	return true
}
