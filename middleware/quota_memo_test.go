package middleware_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/throttle"
)

// memoRoute is a server of two policies, by path: /a with a throttle of
// burst 40, /b with one of burst 80 at the same rate, so that a full
// bucket of either leaves the same permit token; /a/recs is non-essential
// (a quota of its own). Partitions are keyed by the X-Tenant header.
func memoRoute(t testing.TB, clk baldur.Clock, opts ...middleware.Option) http.Handler {
	t.Helper()
	policy := func(name string, burst int) *baldur.Policy {
		th, err := throttle.New(throttle.Config{Name: name, Rate: 100, Burst: burst, Clock: clk})
		require.NoError(t, err)
		p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: name, Gates: []baldur.Gate{th}, Clock: clk})
		require.NoError(t, err)
		return p
	}
	a, b := policy("a", 40), policy("b", 80)
	r := baldur.ResolverFunc(func(op string) *baldur.Policy {
		if strings.HasPrefix(op, "/b") {
			return b
		}
		return a
	})
	opts = append(opts,
		middleware.WithClock(clk),
		middleware.WithOperation(func(r *http.Request) string { return r.URL.Path }),
		middleware.WithKey(func(r *http.Request) string { return r.Header.Get("X-Tenant") }),
		middleware.WithTierRules(middleware.TierRule{Path: "/a/recs", Tier: baldur.TierNonEssential}))
	return middleware.New(r, opts...)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
}

func memoRequest(path, tenant string) *http.Request {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("X-Tenant", tenant)
	return req
}

// A server that writes the IETF fields alone keeps the values of recent
// quota tokens; one that also writes the legacy fields decodes every
// call's status. Fed the same calls on the same clock, their RateLimit
// fields must agree on every call: fresh partitions (the memo's case),
// partitions counting down and refilling, two policies whose full buckets
// leave equal tokens, two tiers of one policy.
func TestQuotaMemoAnswersAsTheStatus(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	memo := memoRoute(t, clk)
	full := memoRoute(t, clk, middleware.WithLegacyRateLimitHeaders(true))
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"/a", "/b", "/a/recs"}
	hits := 0
	for i := range 4000 {
		path := paths[rng.IntN(len(paths))]
		tenant := fmt.Sprintf("t%d", rng.IntN(8)) // a few hot partitions
		if rng.IntN(2) == 0 {
			tenant = fmt.Sprintf("fresh%d", i) // a full bucket
		}
		if rng.IntN(10) == 0 {
			clk.Advance(time.Duration(rng.IntN(200)) * time.Millisecond)
		}
		m, f := httptest.NewRecorder(), httptest.NewRecorder()
		memo.ServeHTTP(m, memoRequest(path, tenant))
		full.ServeHTTP(f, memoRequest(path, tenant))
		require.Equal(t, f.Code, m.Code, "call %d %s %s: status", i, path, tenant)
		require.Equal(t, f.Header().Get("RateLimit-Policy"), m.Header().Get("RateLimit-Policy"), "call %d %s %s", i, path, tenant)
		require.Equal(t, f.Header().Get("RateLimit"), m.Header().Get("RateLimit"), "call %d %s %s", i, path, tenant)
		if m.Code == 204 && strings.HasPrefix(tenant, "fresh") {
			hits++
		}
	}
	assert.Greater(t, hits, 1000, "the memo's case was exercised")
}

// Callers on every core write and read the memos at once. A call of a
// fresh partition must get its own policy's fields whatever another call
// left in the memo: never the other policy's, never another count.
func TestQuotaMemoConcurrent(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	h := memoRoute(t, clk)
	want := map[string][2]string{
		"/a": {`"a";q=40;w=1`, `"a";r=39;t=1`},
		"/b": {`"b";q=80;w=1`, `"b";r=79;t=1`},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			w := &discard{h: http.Header{}}
			for i := range 2000 {
				path := []string{"/a", "/b"}[(g+i)%2]
				tenant := fmt.Sprintf("g%d-%d", g, i)
				if g%2 == 1 {
					tenant = fmt.Sprintf("hot%d", g) // counts down: other tokens
				}
				clear(w.h)
				h.ServeHTTP(w, memoRequest(path, tenant))
				if g%2 == 1 {
					continue
				}
				got := [2]string{w.h.Get("RateLimit-Policy"), w.h.Get("RateLimit")}
				if got != want[path] {
					errs <- fmt.Errorf("%s for %s: fields %q, want %q", path, tenant, got, want[path])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// tierQuota is a quota gate whose token says nothing of the tier: every
// permit carries token 7, and the tier decides the quota.
type tierQuota struct{}

func (tierQuota) Stage() baldur.Stage { return baldur.StageThrottle }
func (g tierQuota) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 7), nil
}
func (tierQuota) Release(uint64, baldur.Outcome) {}
func (tierQuota) Quota(tier baldur.Tier) (baldur.Quota, bool) {
	return baldur.Quota{Name: "q", Limit: 10 * int64(tier+1), Window: time.Second}, true
}
func (g tierQuota) QuotaStatus(tier baldur.Tier, _ uint64) baldur.QuotaStatus {
	q, _ := g.Quota(tier)
	return baldur.QuotaStatus{Quota: q, Remaining: q.Limit - 1, Reset: time.Second}
}

// The memo is kept by tier as well as by token: a gate's token need not
// record the tier its status depends on.
func TestQuotaMemoKeepsTiersApart(t *testing.T) {
	t.Parallel()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{tierQuota{}}})
	require.NoError(t, err)
	h := middleware.New(baldur.Static(p),
		middleware.WithTierRules(middleware.TierRule{Path: "/recs", Tier: baldur.TierNonEssential}))(http.NotFoundHandler())
	for i := range 6 {
		path, want := "/items", `"q";r=9;t=1`
		if i%2 == 1 {
			path, want = "/recs", fmt.Sprintf(`"q";r=%d;t=1`, 10*int64(baldur.TierNonEssential+1)-1)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, want, rec.Header().Get("RateLimit"), path)
	}
}
