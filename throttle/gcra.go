package throttle

import (
	"math"
	"time"
)

// MaxRate is the highest accepted rate, in calls per second: bucket
// arithmetic runs in whole nanoseconds, so one call costs at least 1 ns.
const MaxRate = 1e9

// maxSpan bounds Burst/Rate (the time a full bucket takes to refill) so that
// the arithmetic in Decide never overflows int64 nanoseconds.
const maxSpan = int64(100 * 365 * 24 * time.Hour)

// Limit is a token bucket in the form the decision function uses: GCRA
// (the generic cell rate algorithm) in nanoseconds. The bucket's whole state
// is one int64, its theoretical arrival time (TAT): the instant at which the
// bucket will be full again. A call conforms when TAT-now <= Tolerance, and
// a conforming call moves TAT forward by Cost.
//
// For rate r and burst b, Cost = 1e9/r ns (rounded to whole nanoseconds) and
// Tolerance = (b-1)·Cost: exactly the bucket of rate.NewLimiter(r, b).
// Limit is a plain value, safe to copy and share.
type Limit struct {
	// Cost is what one call takes from the bucket, in nanoseconds of refill
	// time: 1/rate, divided by the emergency factor. Values below 1 count
	// as 1.
	Cost int64
	// Tolerance is how far ahead of now TAT may be for a call to conform,
	// in nanoseconds: (burst-1)/rate. Negative values count as zero.
	Tolerance int64
}

// NewLimit returns the Limit of rate calls per second with the given burst,
// and false when rate is not in (0, MaxRate], burst < 1, or burst/rate is
// longer than a century.
func NewLimit(rate float64, burst int) (Limit, bool) {
	if !(rate > 0 && rate <= MaxRate) || burst < 1 {
		return Limit{}, false
	}
	cost := math.Round(1e9 / rate)
	if cost < 1 || cost*float64(burst) > float64(maxSpan) {
		return Limit{}, false
	}
	c := int64(cost)
	return Limit{Cost: c, Tolerance: int64(burst-1) * c}, true
}

// scaled returns l with each call costing 1/f times as much, so that the
// sustained rate is f·r. The tolerance is kept in time units, so a change
// of factor never grants tokens: a bucket that is d ns from full stays d ns
// from full. The effective burst becomes 1+floor((b-1)·f).
func (l Limit) scaled(f float64) Limit {
	if f >= 1 {
		return l
	}
	return Limit{Cost: int64(math.Round(float64(l.Cost) / f)), Tolerance: l.Tolerance}
}

// Burst returns how many calls a full bucket admits at once.
func (l Limit) Burst() int64 { return l.norm().Tolerance/l.norm().Cost + 1 }

func (l Limit) norm() Limit {
	if l.Cost < 1 {
		l.Cost = 1
	}
	if l.Tolerance < 0 {
		l.Tolerance = 0
	}
	return l
}

// Decision is the answer of Decide for one call.
type Decision struct {
	// Allowed reports whether the call conforms (possibly after Wait).
	Allowed bool
	// Wait is how long an allowed call must wait before it proceeds; zero
	// unless Decide was given a positive maxWait.
	Wait time.Duration
	// RetryAfter is, for a denied call, the time until one call conforms.
	RetryAfter time.Duration
	// Remaining is how many more calls would conform right now (after this
	// one, when it was allowed).
	Remaining int64
	// Reset is the time until the bucket is full again.
	Reset time.Duration
}

// Fresh is the state of a bucket nobody has used: full at any time.
const Fresh int64 = math.MinInt64

// Decide is the pure decision function of the token bucket: given a
// bucket's state (its TAT, or Fresh), the time now (both in nanoseconds on
// the same timeline), the limit, and how long the caller may wait
// (maxWait, ns; zero for a plain allow/deny), it returns the decision and
// the bucket's new state. A denied call leaves the state unchanged.
//
// For maxWait = 0 the decisions are those of x/time/rate's
// Limiter.AllowN(now, 1) with the same rate and burst (see the
// differential test for the rounding tolerance); for maxWait > 0 those of
// ReserveN(now, 1) with maxFutureReserve = maxWait.
//
// Decide keeps no state and never panics, so a store (in memory here, GCRA
// in Redis later) only has to apply it atomically.
func Decide(tat, now int64, l Limit, maxWait int64) (Decision, int64) {
	l = l.norm()
	if maxWait < 0 {
		maxWait = 0
	}
	start := tat
	if start < now {
		start = now // the bucket is full: as good as fresh
	}
	ahead := satSub(start, now)
	limit := satAdd(l.Tolerance, maxWait)
	if ahead > limit {
		return Decision{RetryAfter: time.Duration(ahead - l.Tolerance), Reset: time.Duration(ahead)}, tat
	}
	next := satAdd(start, l.Cost)
	after := satSub(next, now)
	d := Decision{Allowed: true, Reset: time.Duration(after)}
	if ahead > l.Tolerance {
		d.Wait = time.Duration(ahead - l.Tolerance)
	}
	if after <= l.Tolerance {
		d.Remaining = (l.Tolerance-after)/l.Cost + 1
	}
	return d, next
}

// conform is Decide with maxWait 0 cut down to what Admit needs, without
// building a Decision: whether the call conforms, the bucket's new state,
// and for an allowed call the time until the bucket is full again (Reset),
// for a denied one the time until a call conforms (RetryAfter). l must be
// normalized. TestConformIsDecide holds the two together.
func conform(tat, now int64, l Limit) (ok bool, next, v int64) {
	start := max(tat, now)
	ahead := satSub(start, now)
	if ahead > l.Tolerance {
		return false, tat, ahead - l.Tolerance
	}
	next = satAdd(start, l.Cost)
	return true, next, satSub(next, now)
}

func satAdd(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

func satSub(a, b int64) int64 {
	if b == math.MinInt64 {
		if a >= 0 {
			return math.MaxInt64
		}
		return a - b
	}
	return satAdd(a, -b)
}
