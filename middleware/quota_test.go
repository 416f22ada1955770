package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/throttle"
)

func throttled(t testing.TB, opts ...middleware.Option) (http.Handler, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	th, err := throttle.New(throttle.Config{Name: "per_client", Rate: 1, Burst: 2, Clock: clk})
	require.NoError(t, err)
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{th}, Clock: clk})
	require.NoError(t, err)
	opts = append(opts, middleware.WithClock(clk))
	return middleware.New(baldur.Static(p), opts...)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(204)
	})), clk
}

func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	h, _ := throttled(t, middleware.WithLegacyRateLimitHeaders(true))
	do := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "203.0.113.7:1234"
		h.ServeHTTP(rec, req)
		for k, vs := range rec.Header() {
			for _, v := range vs {
				require.NotContains(t, v, "203.0.113.7", "header %s leaks the partition key", k)
			}
		}
		return rec
	}
	first := do()
	assert.Equal(t, 204, first.Code)
	assert.Equal(t, `"per_client";q=2;w=2`, first.Header().Get("RateLimit-Policy"))
	assert.True(t, strings.HasPrefix(first.Header().Get("RateLimit"), `"per_client";r=1;t=`), first.Header().Get("RateLimit"))
	assert.Equal(t, "2", first.Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, "1", first.Header().Get("X-RateLimit-Remaining"))

	second := do()
	assert.Equal(t, 204, second.Code)
	assert.True(t, strings.HasPrefix(second.Header().Get("RateLimit"), `"per_client";r=0;t=`))

	third := do()
	assert.Equal(t, 429, third.Code)
	assert.Equal(t, "throttled", third.Header().Get("X-Baldur-Reason"))
	assert.Equal(t, "1", third.Header().Get("Retry-After"))
	assert.Equal(t, `"per_client";q=2;w=2`, third.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"per_client";r=0;t=1`, third.Header().Get("RateLimit"))
}

func TestRateLimitHeadersCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	h, _ := throttled(t, middleware.WithRateLimitHeaders(false))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 204, rec.Code)
	assert.Empty(t, rec.Header().Get("RateLimit"))
	assert.Empty(t, rec.Header().Get("RateLimit-Policy"))
	assert.Empty(t, rec.Header().Get("X-RateLimit-Limit"))
}

func TestRateLimitHeadersAllocateNothing(t *testing.T) {
	h, clk := throttled(t, middleware.WithLegacyRateLimitHeaders(true))
	req := httptest.NewRequest("GET", "/", nil)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req) // intern the values
	n := testing.AllocsPerRun(200, func() {
		clk.Advance(time.Second) // one token back: admitted each time
		h.ServeHTTP(w, req)
	})
	assert.Zero(t, n)
}

// Calls of two tiers alternate between two quotas; each response must carry
// its own tier's policy, whatever the value cache holds.
func TestRateLimitHeadersPerTierQuota(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	th, err := throttle.New(throttle.Config{Name: "api", Rate: 100, Burst: 40, Clock: clk})
	require.NoError(t, err)
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{th}, Clock: clk})
	require.NoError(t, err)
	h := middleware.New(baldur.Static(p), middleware.WithClock(clk),
		middleware.WithTierRules(middleware.TierRule{Path: "/recs", Tier: baldur.TierNonEssential}))(http.NotFoundHandler())
	for i := range 10 {
		path, want := "/items", `"api";q=40;w=1`
		if i%2 == 1 {
			path, want = "/recs", `"api";q=20;w=1`
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, want, rec.Header().Get("RateLimit-Policy"), path)
	}
}
