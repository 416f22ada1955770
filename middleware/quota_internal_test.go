package middleware

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/ratelimit"
)

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// Reloads that tune a burst each make a new distinct quota. The interned
// header values of quotas no longer seen must not stay for the life of the
// process: 400 distinct quotas (each with a large burst and window, the most
// expensive kind) may not keep more than a few MiB. Not parallel: it
// measures the heap, and parallel tests only run after it.
func TestQuotaValuesBounded(t *testing.T) {
	quotaCache.mu.Lock()
	quotaCache.m = nil // start empty whatever ran before (-count)
	quotaCache.mu.Unlock()
	hot := baldur.Quota{Name: "live", Limit: 50, Window: time.Second}
	hotValues := valuesFor(hot)
	before := heapInUse()
	for i := range 400 {
		q := baldur.Quota{Name: "tuned", Limit: int64(2000 + i), Window: time.Minute}
		h := quotaHeaderValue(q, int64(i%1000), 7)
		require.Equal(t, FormatRateLimit(q.Name, int64(i%1000), 7), h)
		if i%16 == 0 {
			// A quota still serving traffic keeps its values through
			// the sweeps (asked of the map: the fast-path slots would
			// answer for an evicted one too).
			qv, created := loadValues(hot)
			require.False(t, created, "a quota in use was evicted (after %d others)", i)
			require.Same(t, hotValues, qv)
			valuesFor(hot)
		}
	}
	grew := heapInUse() - before
	assert.Less(t, grew, int64(8<<20), "400 distinct quotas kept %d KiB", grew>>10)
	quotaCache.mu.RLock()
	n := len(quotaCache.m)
	quotaCache.mu.RUnlock()
	assert.LessOrEqual(t, n, maxInternedQuotas)
}

// quotaHeaderValue writes the RateLimit field of q through the cache and
// returns it.
func quotaHeaderValue(q baldur.Quota, remaining, reset int64) string {
	return valuesFor(q).rateLimitValue(q.Name, remaining, reset)[0]
}

// Values stay right for every quota, whether it is still cached, was
// evicted and comes back, or collides with another in the fast-path slots.
func TestQuotaValuesCorrectUnderChurn(t *testing.T) {
	t.Parallel()
	qs := make([]baldur.Quota, 0, 600)
	for i := range 600 {
		qs = append(qs, baldur.Quota{Name: "churn" + strconv.Itoa(i%7), Limit: int64(1 + i), Window: time.Duration(1+i%30) * time.Second})
	}
	for round := range 3 {
		for i, q := range qs {
			rem, reset := int64((i+round)%int(q.Limit+1)), int64(i%int(ratelimit.Seconds(q.Window)+1))
			require.Equal(t, FormatRateLimit(q.Name, rem, reset), quotaHeaderValue(q, rem, reset), "quota %+v", q)
			qv := valuesFor(q)
			require.Equal(t, []string{FormatRateLimitPolicy(q)}, qv.policy)
			require.Equal(t, []string{strconv.FormatInt(q.Limit, 10)}, qv.legacyLimit)
			// Out-of-range values are formatted, never indexed.
			require.Equal(t, FormatRateLimit(q.Name, q.Limit+5000, 99), quotaHeaderValue(q, q.Limit+5000, 99))
			require.Equal(t, FormatRateLimit(q.Name, 0, 0), quotaHeaderValue(q, -3, 0))
		}
	}
}

// TestLargeQuotaValuesAllocateNothing: a quota far past the interned range
// (a burst of 100,000) reports the counts of many partitions near full, and
// of one counting down, without formatting them per call once seen, and
// every value is the formatted one.
func TestLargeQuotaValuesAllocateNothing(t *testing.T) {
	q := baldur.Quota{Name: "tenant", Limit: 100_000, Window: 10 * time.Second}
	qv := valuesFor(q)
	counts := make([]int64, 0, 300)
	for i := range int64(200) { // partitions near full
		counts = append(counts, q.Limit-1-i%50)
	}
	for i := range int64(100) { // a hot one counting down
		counts = append(counts, 60_000-i)
	}
	for _, legacy := range []bool{false, true} {
		for _, r := range counts {
			want := FormatRateLimit(q.Name, r, 1)
			require.Equal(t, want, qv.rateLimitValue(q.Name, r, 1)[0])
			require.Equal(t, strconv.FormatInt(r, 10), qv.remainingValue(r)[0])
		}
		i := 0
		allocs := testing.AllocsPerRun(len(counts), func() {
			r := counts[i%len(counts)]
			i++
			_ = qv.rateLimitValue(q.Name, r, 1)
			if legacy {
				_ = qv.remainingValue(r)
			}
		})
		assert.Zero(t, allocs, "allocs per value (legacy fields %v)", legacy)
	}
}
