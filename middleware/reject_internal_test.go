package middleware

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestRenderCachesOnlyInternedRejections: a wait beyond the interning bound
// gives a fresh Rejection every time, and caching those would grow the cache
// with every rejected request.
func TestRenderCachesOnlyInternedRejections(t *testing.T) {
	t.Parallel()
	cached := func(rej *baldur.Rejection) bool { // the same rendering twice
		first := renderedCache.Get(rej)
		return renderedCache.Get(rej) == first
	}
	for _, tc := range []struct {
		wait   time.Duration
		cached bool
	}{
		{0, true},
		{baldur.MaxInternedRetryAfter * time.Second, true},
		{(baldur.MaxInternedRetryAfter + 1) * time.Second, false},
		{2 * time.Hour, false},
	} {
		rej := baldur.Reject(baldur.ReasonKillSwitch, tc.wait)
		rd := renderedCache.Get(rej)
		require.Equal(t, tc.cached, cached(rej), "wait %v", tc.wait)
		require.Equal(t, []string{strconv.FormatInt(rej.RetryAfterSeconds(), 10)}, rd.retryAfter)
	}
}

// TestRenderHealsInPlaceEdits: a rendered rejection whose shared values
// were written in place is replaced in the cache at its next use, and the
// replacement is reused without allocating.
func TestRenderHealsInPlaceEdits(t *testing.T) { // not parallel: AllocsPerRun
	rej := baldur.Reject(baldur.ReasonShareCap, 1234*time.Second) // a wait no other test uses
	require.Same(t, renderedCache.Get(rej), renderedCache.Get(rej), "cached")
	for i := range 6 {
		rd := renderedCache.Get(rej)
		values := [][]string{rd.retryAfter, rd.gate, rd.reason, rd.contentType, rd.length, rd.noSniff}
		values[i][0] = "edited"
		healed := renderedCache.Get(rej)
		require.NotSame(t, rd, healed, "value %d", i)
		require.True(t, healed.intact())
		require.Equal(t, []string{"1234"}, healed.retryAfter)
		require.Equal(t, []string{"share_cap"}, healed.reason)
		require.Equal(t, []string{"application/json"}, healed.contentType)
		require.Same(t, healed, renderedCache.Get(rej), "the replacement is cached")
	}
	w := &benchWriter{h: http.Header{}}
	n := testing.AllocsPerRun(100, func() { WriteRejection(w, rej) })
	require.Zero(t, n, "WriteRejection after a heal: allocs")
}
