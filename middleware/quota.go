package middleware

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/baldur-go/baldur"
)

// Header values are interned so that writing the RateLimit fields on every
// admitted call allocates nothing for the common values: remaining counts
// below internRemaining and resets below internReset seconds. Others are
// formatted per call. Interned []string values are shared between
// responses; the middleware only ever replaces them, never writes into them.
const (
	internRemaining = 1024
	internReset     = 16
)

// quotaValues are the interned header values of one quota.
type quotaValues struct {
	quota       baldur.Quota
	policy      []string
	legacyLimit []string
	rateLimit   [internRemaining * internReset]atomic.Pointer[[]string]
}

var (
	quotaCache sync.Map // baldur.Quota -> *quotaValues
	smallInts  [internRemaining]atomic.Pointer[[]string]
	// recent caches the last quotas seen in a few slots, so that the common
	// case compares one struct instead of hashing it for the sync.Map.
	recent [8]atomic.Pointer[quotaValues]
)

func valuesFor(q baldur.Quota) *quotaValues {
	slot := &recent[(uint64(q.Limit)^uint64(q.Window)^uint64(len(q.Name)))%uint64(len(recent))]
	if qv := slot.Load(); qv != nil && qv.quota == q {
		return qv
	}
	qv := loadValues(q)
	slot.Store(qv)
	return qv
}

func loadValues(q baldur.Quota) *quotaValues {
	if v, ok := quotaCache.Load(q); ok {
		return v.(*quotaValues)
	}
	qv := &quotaValues{
		quota:       q,
		policy:      []string{FormatRateLimitPolicy(q)},
		legacyLimit: []string{strconv.FormatInt(q.Limit, 10)},
	}
	v, _ := quotaCache.LoadOrStore(q, qv)
	return v.(*quotaValues)
}

func (qv *quotaValues) rateLimitValue(name string, remaining, reset int64) []string {
	if remaining < 0 {
		remaining = 0
	}
	if remaining >= internRemaining || reset < 0 || reset >= internReset {
		return []string{FormatRateLimit(name, remaining, reset)}
	}
	slot := &qv.rateLimit[remaining*internReset+reset]
	if p := slot.Load(); p != nil {
		return *p
	}
	v := []string{FormatRateLimit(name, remaining, reset)}
	slot.Store(&v)
	return v
}

func intValue(n int64) []string {
	if n < 0 || n >= internRemaining {
		return []string{strconv.FormatInt(n, 10)}
	}
	if p := smallInts[n].Load(); p != nil {
		return *p
	}
	v := []string{strconv.FormatInt(n, 10)}
	smallInts[n].Store(&v)
	return v
}

// writeQuota writes the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers -10/-11) and, when asked, the legacy
// X-RateLimit-* fields. The partition key is never written.
func (s *server) writeQuota(h http.Header, q baldur.QuotaStatus) {
	if !s.ietfHeaders && !s.legacyHeaders {
		return
	}
	qv := valuesFor(q.Quota)
	reset := ceilSeconds(q.Reset)
	if s.ietfHeaders {
		h["Ratelimit-Policy"] = qv.policy
		h["Ratelimit"] = qv.rateLimitValue(q.Name, q.Remaining, reset)
	}
	if s.legacyHeaders {
		h["X-Ratelimit-Limit"] = qv.legacyLimit
		h["X-Ratelimit-Remaining"] = intValue(max(q.Remaining, 0))
		h["X-Ratelimit-Reset"] = intValue(reset)
	}
}
