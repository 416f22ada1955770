package throttle

import (
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// The quota a token bucket advertises (RateLimit-Policy) is its burst per
// the time it takes to refill from empty: q = burst, w = burst/rate rounded
// up to whole seconds (at least 1). A client that spends q calls and then
// waits w seconds finds the bucket full again; the sustained rate q/w never
// exceeds the configured rate. "r" is the calls left now and "t" the time
// until the bucket is full again. Under an emergency factor the effective
// burst and window are advertised.

func quotaOf(name string, l Limit) baldur.Quota {
	l = l.norm()
	return baldur.Quota{
		Name:   name,
		Limit:  l.Burst(),
		Window: time.Duration(max(1, ceilDiv(l.Tolerance+l.Cost, int64(time.Second)))) * time.Second,
	}
}

// Quota returns the quota that applies now to calls of tier; false for an
// invalid tier.
func (t *Throttle) Quota(tier baldur.Tier) (baldur.Quota, bool) {
	if !tier.Valid() {
		return baldur.Quota{}, false
	}
	return t.quotas[t.factor()][tier], true
}

// QuotaStatus decodes the token of a permit Admit granted: the quota then
// in effect, the calls remaining after the call and the time until the
// bucket was to be full. The tier is the one the token records (the
// argument only stands in for tokens this package did not make).
func (t *Throttle) QuotaStatus(tier baldur.Tier, token uint64) baldur.QuotaStatus {
	fi := uint32(token>>62) % uint32(numFactors)
	if tt := baldur.Tier(token>>60) & 3; tt.Valid() {
		tier = tt
	} else if !tier.Valid() {
		tier = baldur.TierStandard
	}
	q := t.quotas[fi][tier]
	v := int64(token & maxAfter)
	if token&long != 0 { // the bucket was more than maxAfter from full
		return baldur.QuotaStatus{Quota: q, Remaining: v, Reset: maxResetMs * time.Millisecond}
	}
	return baldur.QuotaStatus{
		Quota:     q,
		Remaining: remaining(v, t.limits[fi][tier]),
		Reset:     time.Duration(min(ceilDiv(v, int64(time.Millisecond)), maxResetMs)) * time.Millisecond,
	}
}

// remaining is how many calls conform when the bucket is after ns from
// full, as Decide computes Decision.Remaining, capped at maxRemaining.
func remaining(after int64, l Limit) int64 {
	l = l.norm()
	if after > l.Tolerance {
		return 0
	}
	return min((l.Tolerance-after)/l.Cost+1, maxRemaining)
}

// RejectedStatus is the quota status to advertise with a throttle
// rejection, whose permit carries no token: nothing remains, and the bucket
// is full again within the window q.Window.
func RejectedStatus(q baldur.Quota) baldur.QuotaStatus {
	return baldur.QuotaStatus{Quota: q, Remaining: 0, Reset: q.Window}
}

// The reported remaining calls and reset time are capped (about 49 days).
const (
	maxRemaining = 1<<30 - 1
	maxResetMs   = 0xffffffff
)

// A permit token is the factor index (2 bits), the tier (2 bits), a flag
// and 59 bits of value: the time until the bucket is full, in ns, or, with
// the flag (a bucket more than about 18 years from full, whose reset time
// saturates anyway), the remaining calls. The division that turns the time
// into remaining calls is left to QuotaStatus, which only runs when
// headers are written.
const (
	long     = 1 << 59
	maxAfter = long - 1
)

// encode packs an allowed call of limit l into a permit token; after is
// the time until its bucket is full.
func encode(fi uint32, tier baldur.Tier, after int64, l Limit) uint64 {
	tok := uint64(fi)<<62 | uint64(tier&3)<<60
	if after > maxAfter {
		return tok | long | uint64(remaining(after, l))
	}
	return tok | uint64(max(after, 0))
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b > 0 {
		q++
	}
	return q
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
