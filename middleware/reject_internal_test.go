package middleware

import (
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
	cached := func(rej *baldur.Rejection) bool {
		_, ok := renderedCache.Load(rej)
		return ok
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
		rd := render(rej)
		require.Equal(t, tc.cached, cached(rej), "wait %v", tc.wait)
		require.Equal(t, []string{strconv.FormatInt(rej.RetryAfterSeconds(), 10)}, rd.retryAfter)
	}
}
