package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// fakeGate rejects with reason when set, records outcomes and calls.
type fakeGate struct {
	kind     baldur.Stage
	reason   baldur.Reason
	retry    time.Duration
	released atomic.Int32
	last     atomic.Value // baldur.Outcome
	lastCall atomic.Value // baldur.Call
}

func (g *fakeGate) Stage() baldur.Stage { return g.kind }

func (g *fakeGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	g.lastCall.Store(c)
	if g.reason != 0 {
		return baldur.Permit{}, baldur.Reject(g.reason, g.retry)
	}
	return baldur.NewPermit(g, 0), nil
}

func (g *fakeGate) Release(_ uint64, o baldur.Outcome) {
	g.released.Add(1)
	g.last.Store(o)
}

func policyOf(t testing.TB, gates ...baldur.Gate) *baldur.Policy {
	t.Helper()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "test", Gates: gates})
	require.NoError(t, err)
	return p
}

func TestRejectionPerReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason baldur.Reason
		retry  time.Duration
		status int
		gate   string
		code   string
		after  string
	}{
		{baldur.ReasonKillSwitch, 30 * time.Second, 503, "governance", "kill_switch", "30"},
		{baldur.ReasonEmergency, 10 * time.Second, 503, "governance", "emergency", "10"},
		{baldur.ReasonErrorBudget, time.Minute, 503, "governance", "error_budget", "60"},
		{baldur.ReasonThrottled, 1500 * time.Millisecond, 429, "throttle", "throttled", "2"},
		{baldur.ReasonShareCap, time.Second, 429, "blast", "share_cap", "1"},
		{baldur.ReasonBreakerOpen, 42 * time.Second, 503, "blast", "breaker_open", "42"},
		{baldur.ReasonBulkheadFull, time.Second, 503, "bulkhead", "bulkhead_full", "1"},
		{baldur.ReasonDeadline, 0, 503, "deadline", "deadline", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			g := &fakeGate{kind: baldur.StageThrottle, reason: tc.reason, retry: tc.retry}
			var ran atomic.Bool
			h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran.Store(true) }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			assert.False(t, ran.Load(), "handler ran for a rejected request")
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.after, rec.Header().Get("Retry-After"))
			assert.Equal(t, tc.gate, rec.Header().Get("X-Baldur-Gate"))
			assert.Equal(t, tc.code, rec.Header().Get("X-Baldur-Reason"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body struct {
				Code       string `json:"code"`
				Gate       string `json:"gate"`
				RetryAfter int64  `json:"retry_after_s"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tc.code, body.Code)
			assert.Equal(t, tc.gate, body.Gate)
			assert.Equal(t, tc.after, strconv.FormatInt(body.RetryAfter, 10))
		})
	}
}

func TestOutcomeClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		cancel  bool
		want    baldur.Result
		status  int
	}{
		{"200", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }, false, baldur.Success, 200},
		{"302", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(302) }, false, baldur.Success, 302},
		{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(404) }, false, baldur.Ignored, 404},
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, false, baldur.Failure, 500},
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, false, baldur.Failure, 503},
		{"103 then 200", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(103); w.WriteHeader(200) }, false, baldur.Success, 200},
		{"client gone", func(w http.ResponseWriter, _ *http.Request) {}, true, baldur.Ignored, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &fakeGate{kind: baldur.StageBulkhead}
			h := middleware.New(baldur.Static(policyOf(t, g)))(tc.handler)
			req := httptest.NewRequest("GET", "/x", nil)
			if tc.cancel {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			require.EqualValues(t, 1, g.released.Load())
			o := g.last.Load().(baldur.Outcome)
			assert.Equal(t, tc.want, o.Result)
			assert.Equal(t, tc.status, o.Status)
		})
	}
}

func TestPanicReleasesAndRepanics(t *testing.T) {
	t.Parallel()
	g := &fakeGate{kind: baldur.StageBulkhead}
	h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	func() {
		defer func() {
			assert.Equal(t, "boom", recover())
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	require.EqualValues(t, 1, g.released.Load())
	assert.Equal(t, baldur.Failure, g.last.Load().(baldur.Outcome).Result)
}

func TestRejectReleasesEarlierPermitsInReverse(t *testing.T) {
	t.Parallel()
	gov := &fakeGate{kind: baldur.StageGovernance}
	bh := &fakeGate{kind: baldur.StageBulkhead, reason: baldur.ReasonBulkheadFull, retry: time.Second}
	h := middleware.New(baldur.Static(policyOf(t, bh, gov)))(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 503, rec.Code)
	assert.EqualValues(t, 1, gov.released.Load(), "governance permit taken before the bulkhead rejected must be released")
	assert.Equal(t, baldur.Ignored, gov.last.Load().(baldur.Outcome).Result)
}

func TestShadowModeCountsButAdmits(t *testing.T) {
	t.Parallel()
	g := &fakeGate{kind: baldur.StageThrottle, reason: baldur.ReasonThrottled, retry: time.Second}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "shadow", Gates: []baldur.Gate{g}, Shadow: []baldur.Stage{baldur.StageThrottle}})
	require.NoError(t, err)
	h := middleware.New(baldur.Static(p))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, 204, rec.Code)
	}
	assert.EqualValues(t, 3, p.Shadowed(baldur.ReasonThrottled))
	assert.EqualValues(t, 0, p.Rejected(baldur.ReasonThrottled))
}

func TestOperationFromMuxPattern(t *testing.T) {
	t.Parallel()
	g := &fakeGate{kind: baldur.StageBulkhead}
	seen := make(chan string, 4)
	res := baldur.ResolverFunc(func(op string) *baldur.Policy { seen <- op; return policyOf(t, g) })
	mw := middleware.New(res)
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", mw(http.NotFoundHandler()))
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/7", nil))
	assert.Equal(t, "GET /items/{id}", <-seen)

	// Wrapping the whole mux: WithMux finds the pattern.
	outer := middleware.New(res, middleware.WithMux(mux))(mux)
	outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/9", nil))
	assert.Equal(t, "GET /items/{id}", <-seen) // outer
	assert.Equal(t, "GET /items/{id}", <-seen) // inner
}

func TestTierClassification(t *testing.T) {
	t.Parallel()
	trusted, err := middleware.ParseTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	tests := []struct {
		name, method, path, remote, header string
		want                               baldur.Tier
	}{
		{"rule method+path", "POST", "/pay", "1.2.3.4:1", "", baldur.TierCritical},
		{"rule prefix", "GET", "/recs/abc", "1.2.3.4:1", "", baldur.TierNonEssential},
		{"default", "GET", "/other", "1.2.3.4:1", "", baldur.TierStandard},
		{"header from untrusted ignored", "GET", "/other", "1.2.3.4:1", "critical", baldur.TierStandard},
		{"header from trusted honored", "GET", "/recs/x", "10.1.1.1:1", "critical", baldur.TierCritical},
		{"garbage header from trusted ignored", "GET", "/other", "10.1.1.1:1", "\x00\xffgold", baldur.TierStandard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &fakeGate{kind: baldur.StageBulkhead}
			h := middleware.New(baldur.Static(policyOf(t, g)),
				middleware.WithTrustedProxies(trusted),
				middleware.WithTierHeader("X-Baldur-Tier"),
				middleware.WithTierRules(
					middleware.TierRule{Method: "POST", Path: "/pay", Tier: baldur.TierCritical},
					middleware.TierRule{Path: "/recs/", Tier: baldur.TierNonEssential},
				))(http.NotFoundHandler())
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set("X-Baldur-Tier", tc.header)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			assert.Equal(t, tc.want, g.lastCall.Load().(baldur.Call).Tier)
		})
	}
}

func TestResponseControllerReachesUnderlyingWriter(t *testing.T) {
	t.Parallel()
	g := &fakeGate{kind: baldur.StageBulkhead}
	flushed := make(chan error, 1)
	h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("part"))
		flushed <- http.NewResponseController(w).Flush()
		_, ok := w.(http.Flusher)
		assert.True(t, ok, "wrapper should implement http.Flusher")
		assert.NotNil(t, w.(interface{ Unwrap() http.ResponseWriter }).Unwrap())
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.NoError(t, <-flushed)

	// Hijack works through the controller on a real server.
	hj := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if !assert.NoError(t, err) {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = buf.Flush()
		_ = conn.Close()
	}))
	srv2 := httptest.NewServer(hj)
	defer srv2.Close()
	resp, err = srv2.Client().Get(srv2.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}

func TestDeadlineFromContext(t *testing.T) {
	t.Parallel()
	g := &fakeGate{kind: baldur.StageBulkhead}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "d", Gates: []baldur.Gate{g}, MinTimeLeft: 50 * time.Millisecond})
	require.NoError(t, err)
	h := middleware.New(baldur.Static(p))(http.NotFoundHandler())
	req := httptest.NewRequest("GET", "/", nil)
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req.WithContext(ctx))
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, "deadline", rec.Header().Get("X-Baldur-Reason"))
	assert.Equal(t, "0", rec.Header().Get("Retry-After"))
}

func TestNilPolicyPassesThrough(t *testing.T) {
	t.Parallel()
	h := middleware.New(baldur.Static(nil))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 201, rec.Code)
}

func TestRejectionErrorsMatch(t *testing.T) {
	t.Parallel()
	for _, r := range baldur.Reasons() {
		err := error(baldur.Reject(r, time.Second))
		assert.True(t, errors.Is(err, baldur.ErrRejected), r.String())
		assert.True(t, errors.Is(err, r.Sentinel()), r.String())
	}
}

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(7 * time.Millisecond)
	return c.now
}

func (c *stepClock) AfterFunc(d time.Duration, f func()) baldur.Timer { return time.AfterFunc(d, f) }

func TestLatencyAndDomainOptions(t *testing.T) {
	t.Parallel()
	g := &fakeGate{kind: baldur.StageBulkhead}
	clk := &stepClock{now: time.Unix(0, 0)}
	h := middleware.New(baldur.Static(policyOf(t, g)), middleware.WithLatency(), middleware.WithDomain("payments"),
		middleware.WithClock(clk))(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 7*time.Millisecond, g.last.Load().(baldur.Outcome).Latency)
	assert.Equal(t, "payments", g.lastCall.Load().(baldur.Call).Domain)

	// Without WithLatency the clock is read once and latency is zero.
	g2 := &fakeGate{kind: baldur.StageBulkhead}
	middleware.New(baldur.Static(policyOf(t, g2)), middleware.WithClock(clk))(http.NotFoundHandler()).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	assert.Zero(t, g2.last.Load().(baldur.Outcome).Latency)
}
