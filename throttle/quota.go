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

// QuotaStatus decodes the token of a permit Admit granted for a call of
// tier: the quota then in effect, the calls remaining after it and the time
// until the bucket was to be full.
func (t *Throttle) QuotaStatus(tier baldur.Tier, token uint64) baldur.QuotaStatus {
	if !tier.Valid() {
		tier = baldur.TierStandard
	}
	fi := uint32(token>>62) % uint32(numFactors)
	return baldur.QuotaStatus{
		Quota:     t.quotas[fi][tier],
		Remaining: int64(token>>32) & maxRemaining,
		Reset:     time.Duration(token&0xffffffff) * time.Millisecond,
	}
}

// RejectedStatus is the quota status to advertise with a throttle
// rejection, whose permit carries no token: nothing remains, and the bucket
// is full again within the window q.Window.
func RejectedStatus(q baldur.Quota) baldur.QuotaStatus {
	return baldur.QuotaStatus{Quota: q, Remaining: 0, Reset: q.Window}
}

const maxRemaining = 1<<30 - 1

// encode packs a decision into a permit token: the factor index (2 bits),
// the remaining calls (30 bits, saturated) and the reset time in
// milliseconds rounded up (32 bits, saturated at about 49 days).
func encode(d Decision, fi uint32) uint64 {
	rem := uint64(min(max(d.Remaining, 0), maxRemaining))
	ms := uint64(min(max(ceilDiv(int64(d.Reset), int64(time.Millisecond)), 0), 0xffffffff))
	return uint64(fi)<<62 | rem<<32 | ms
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b > 0 {
		q++
	}
	return q
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
