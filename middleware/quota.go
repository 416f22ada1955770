package middleware

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/ratelimit"
)

// Header values are interned so that writing the RateLimit fields on every
// admitted call allocates nothing: remaining counts below internRemaining
// and resets below internReset seconds have a slot each; a quota larger than
// that (a burst of 100,000) also keeps the values of other counts in a
// direct-mapped table of hotSlots rows, count mod hotSlots, so that the
// counts a busy quota reports (many partitions near full, a hot one counting
// down: runs of consecutive counts) stay until a count hotSlots away takes
// the slot. Only a count seen for the first time in its slot, or a reset of
// internReset seconds or more, is formatted. Interned []string values are shared between
// responses; the middleware only ever replaces them, never writes into them.
//
// The interned values of at most maxInternedQuotas distinct quotas are kept at
// once. Every reload that tunes a burst or window makes a new quota, so the
// cache must forget the old ones: when it is full, the quotas not looked up
// again since they were interned or since the previous sweep are dropped (a
// second chance for the ones in use), and if all of them were, an arbitrary
// quarter goes. A dropped quota that comes back is interned afresh. The cache
// is process-wide and safe for concurrent use.
const (
	internRemaining   = 1024
	internReset       = 16
	maxInternedQuotas = 256
	hotSlots          = 1024 // a power of two
)

// quotaValues are the interned header values of one quota. rows has one
// row per remaining count the quota can report (up to its limit, at most
// internRemaining), allocated on first use, so a quota costs about 8 bytes
// per unit of burst until traffic exercises it.
type quotaValues struct {
	quota       baldur.Quota
	policy      []string
	legacyLimit []string
	used        atomic.Bool // looked up again since it was interned or swept
	rows        []atomic.Pointer[resetRow]
	hot         []atomic.Pointer[hotRow] // counts past rows, by count mod hotSlots; nil for a small quota
}

// hotRow holds the values of one remaining count past a quota's rows: its
// RateLimit values by reset, and its X-RateLimit-Remaining value.
type hotRow struct {
	remaining int64
	resets    resetRow
	legacy    atomic.Pointer[[]string]
}

// resetRow holds the RateLimit values of one remaining count, by reset.
type resetRow [internReset]atomic.Pointer[[]string]

var (
	quotaCache struct {
		mu sync.RWMutex
		m  map[baldur.Quota]*quotaValues
	}
	smallInts [internRemaining]atomic.Pointer[[]string]
	// recent caches the last quotas seen in a few slots, so that the common
	// case compares one struct instead of hashing it for the map.
	recent [8]atomic.Pointer[quotaValues]
)

func valuesFor(q baldur.Quota) *quotaValues {
	slot := &recent[(uint64(q.Limit)^uint64(q.Window)^uint64(len(q.Name)))%uint64(len(recent))]
	qv := slot.Load()
	if qv == nil || qv.quota != q {
		var created bool
		if qv, created = loadValues(q); created {
			// Not marked used: a quota looked up once (an old
			// configuration's) is the first to go.
			slot.Store(qv)
			return qv
		}
		slot.Store(qv)
	}
	if !qv.used.Load() { // a load, not a store, on the hot path
		qv.used.Store(true)
	}
	return qv
}

// loadValues returns the interned values of q, and whether it had to
// create them.
func loadValues(q baldur.Quota) (*quotaValues, bool) {
	c := &quotaCache
	c.mu.RLock()
	qv := c.m[q]
	c.mu.RUnlock()
	if qv != nil {
		return qv, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if qv = c.m[q]; qv != nil {
		return qv, false
	}
	if c.m == nil {
		c.m = make(map[baldur.Quota]*quotaValues)
	}
	if len(c.m) >= maxInternedQuotas {
		sweepQuotasLocked()
	}
	rows := internRemaining
	if q.Limit >= 0 && q.Limit < internRemaining {
		rows = int(q.Limit) + 1
	}
	qv = &quotaValues{
		quota:       q,
		policy:      []string{FormatRateLimitPolicy(q)},
		legacyLimit: []string{strconv.FormatInt(q.Limit, 10)},
		rows:        make([]atomic.Pointer[resetRow], rows),
	}
	if q.Limit >= internRemaining {
		qv.hot = make([]atomic.Pointer[hotRow], hotSlots)
	}
	c.m[q] = qv
	return qv, true
}

// sweepQuotasLocked makes room in the full cache: it drops the quotas not
// looked up since the last sweep and clears the mark of the others; when
// every quota was in use it drops a quarter of them.
func sweepQuotasLocked() {
	m := quotaCache.m
	for q, qv := range m {
		if !qv.used.Swap(false) {
			delete(m, q)
		}
	}
	if len(m) < maxInternedQuotas {
		return
	}
	drop := len(m) / 4
	for q := range m {
		if drop == 0 {
			break
		}
		delete(m, q)
		drop--
	}
}

func (qv *quotaValues) rateLimitValue(name string, remaining, reset int64) []string {
	if v := qv.internedRateLimit(name, remaining, reset); v != nil {
		return *v
	}
	return formattedRateLimit(name, remaining, reset)
}

// formattedRateLimit is the RateLimit value of a count and reset the
// cache does not intern, formatted afresh; negative counts are 0.
func formattedRateLimit(name string, remaining, reset int64) []string {
	return []string{FormatRateLimit(name, max(remaining, 0), reset)}
}

// internedRateLimit returns the interned RateLimit value of a remaining
// count and reset, interning it if it is new, or nil for a value that is
// not interned (a reset of internReset seconds or more, a count past the
// quota's limit).
func (qv *quotaValues) internedRateLimit(name string, remaining, reset int64) *[]string {
	remaining = max(remaining, 0)
	if reset < 0 || reset >= internReset {
		return nil
	}
	var row *resetRow
	if remaining >= int64(len(qv.rows)) {
		hr := qv.hotRow(remaining)
		if hr == nil {
			return nil
		}
		row = &hr.resets
	} else {
		rp := &qv.rows[remaining]
		if row = rp.Load(); row == nil {
			row = new(resetRow)
			if !rp.CompareAndSwap(nil, row) {
				row = rp.Load()
			}
		}
	}
	slot := &row[reset]
	if p := slot.Load(); p != nil {
		return p
	}
	v := []string{FormatRateLimit(name, remaining, reset)}
	slot.Store(&v)
	return &v
}

// hotRow returns the row of a count past the quota's rows, from its slot
// of qv.hot: the slot of count mod hotSlots, so that any hotSlots
// consecutive counts (the partitions near full, one counting down) keep
// their rows at once. Nil when the quota has no hot table.
func (qv *quotaValues) hotRow(remaining int64) *hotRow {
	if qv.hot == nil { // a count above the quota's limit: not worth keeping
		return nil
	}
	slot := &qv.hot[uint64(remaining)&(hotSlots-1)]
	hr := slot.Load()
	if hr == nil || hr.remaining != remaining {
		hr = &hotRow{remaining: remaining}
		slot.Store(hr)
	}
	return hr
}

// remainingValue is the X-RateLimit-Remaining value of n: interned below
// internRemaining, else kept in the quota's hot rows.
func (qv *quotaValues) remainingValue(n int64) []string {
	if n < internRemaining {
		return intValue(n)
	}
	hr := qv.hotRow(n)
	if hr == nil {
		return intValue(n)
	}
	if p := hr.legacy.Load(); p != nil {
		return *p
	}
	v := []string{strconv.FormatInt(n, 10)}
	hr.legacy.Store(&v)
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
	reset := ratelimit.Seconds(q.Reset)
	if s.ietfHeaders {
		h["Ratelimit-Policy"] = qv.policy
		h["Ratelimit"] = qv.rateLimitValue(q.Name, q.Remaining, reset)
	}
	if s.legacyHeaders {
		h["X-Ratelimit-Limit"] = qv.legacyLimit
		h["X-Ratelimit-Remaining"] = qv.remainingValue(max(q.Remaining, 0))
		h["X-Ratelimit-Reset"] = intValue(reset)
	}
}
