package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/throttle"
)

// callFrom sends a GET from peer with key.
func (e *env) callFrom(peer, path, key string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = peer
	if key != "" {
		r.Header.Set(admin.KeyHeader, key)
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// assertRejected checks a 429 answered as the middleware answers a
// throttled call.
func assertRejected(t *testing.T, w *httptest.ResponseRecorder, minRetry int) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, w.Code, "body: %s", w.Body)
	ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, ra, minRetry)
	assert.Equal(t, "throttled", w.Header().Get("X-Baldur-Reason"))
	var body struct {
		Code       string `json:"code"`
		RetryAfter int    `json:"retry_after_s"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "throttled", body.Code)
	assert.Equal(t, ra, body.RetryAfter)
}

// 100 requests per minute per client by default, API and console alike;
// the 101st is a 429 with Retry-After, another client is unaffected, and
// the bucket refills with time.
func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, func(c *admin.Config) { c.RateLimit = admin.RateLimit{} })
	const a, b = "192.0.2.1:1000", "192.0.2.2:1000"
	for i := range admin.DefaultRateLimit {
		path := "/status"
		if i%2 == 1 {
			path = "/console"
		}
		require.Equal(t, http.StatusOK, e.callFrom(a, path, viewerKey).Code, "request %d", i)
	}
	assertRejected(t, e.callFrom(a, "/console", ""), 1)
	assertRejected(t, e.callFrom("192.0.2.1:2000", "/status", operatorKey), 1) // another port, same client
	assert.Equal(t, http.StatusOK, e.callFrom(b, "/status", viewerKey).Code)

	e.clock.Advance(600 * time.Millisecond) // one request's worth at 100/min
	assert.Equal(t, http.StatusOK, e.callFrom(a, "/status", viewerKey).Code)
	assertRejected(t, e.callFrom(a, "/status", viewerKey), 1)
}

// Behind a trusted proxy the client is the actor it vouches for, so two
// people behind one proxy do not share a bucket.
func TestRateLimitKeysActorsBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, func(c *admin.Config) {
		c.RateLimit = admin.RateLimit{PerMinute: 2}
		trustProxies("10.0.0.0/8")(c)
	})
	e.reg.AdminIdentity.Set(admin.HeaderResolver{})
	get := func(email string) int {
		r := httptest.NewRequest(http.MethodGet, "/status", nil)
		r.RemoteAddr = "10.0.0.1:5000"
		r.Header.Set(admin.KeyHeader, viewerKey)
		r.Header.Set(admin.DefaultIdentityHeader, email)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, 200, get("alice@example.com"))
	assert.Equal(t, 200, get("alice@example.com"))
	assert.Equal(t, 429, get("alice@example.com"))
	assert.Equal(t, 200, get("bob@example.com"))
}

// sharedStore stands in for the fleet store: it counts its takes, fails
// while down, and counts a fail-mode decision while fallback is set (as
// redisstore.ThrottleStore does while Redis is unreachable).
type sharedStore struct {
	mem              *throttle.Memory
	takes            atomic.Int64
	down, fallback   atomic.Bool
	fallbackDecision atomic.Uint64
}

func (s *sharedStore) Take(ctx context.Context, k throttle.Key, now time.Time, l throttle.Limit, maxWait time.Duration) (throttle.Decision, error) {
	s.takes.Add(1)
	if s.down.Load() {
		return throttle.Decision{}, errors.New("redis: connection refused")
	}
	if s.fallback.Load() {
		s.fallbackDecision.Add(1)
		return throttle.Decision{Allowed: true}, nil // a fail-open store
	}
	// Hash is seeded per process; a fleet store keys by the strings.
	k.Hash = maphash.String(sharedSeed, k.Partition)
	return s.mem.Take(ctx, k, now, l, maxWait)
}

var sharedSeed = maphash.MakeSeed()

func (s *sharedStore) Refund(context.Context, throttle.Key, throttle.Limit) error { return nil }
func (s *sharedStore) Fallbacks() uint64                                          { return s.fallbackDecision.Load() }

// With a shared store, the store decides (two servers on one store share
// each client's bucket); while it fails or its fail mode decides, each
// server holds a client to DegradedPerMinute on its own.
func TestRateLimitSharedStoreAndDegradedMode(t *testing.T) {
	t.Parallel()
	store := &sharedStore{mem: throttle.NewMemory(64, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	cfg := func(c *admin.Config) {
		c.RateLimit = admin.RateLimit{PerMinute: 20, DegradedPerMinute: 3, Store: store}
	}
	e1, e2 := newEnv(t, false, cfg), newEnv(t, false, cfg)
	advance := func(d time.Duration) { e1.clock.Advance(d); e2.clock.Advance(d) }
	const peer = "192.0.2.9:1"
	for i := range 20 {
		srv := e1
		if i%2 == 1 {
			srv = e2
		}
		require.Equal(t, http.StatusOK, srv.callFrom(peer, "/status", viewerKey).Code, "request %d", i)
	}
	assertRejected(t, e1.callFrom(peer, "/status", viewerKey), 1)
	assertRejected(t, e2.callFrom(peer, "/status", viewerKey), 1)
	assert.EqualValues(t, 22, store.takes.Load())

	for name, fail := range map[string]*atomic.Bool{"store errors": &store.down, "fail-mode decisions": &store.fallback} {
		fail.Store(true)
		for _, srv := range []*env{e1, e2} {
			for i := range 3 {
				require.Equal(t, http.StatusOK, srv.callFrom("192.0.2.10:1", "/status", viewerKey).Code, "%s: request %d", name, i)
			}
			assertRejected(t, srv.callFrom("192.0.2.10:1", "/status", viewerKey), 20) // 3/min: one per 20 s
		}
		fail.Store(false)
		advance(time.Minute)
	}
}

func TestRateLimitConfig(t *testing.T) {
	t.Parallel()
	for _, rl := range []admin.RateLimit{{PerMinute: 5, DegradedPerMinute: 6}, {DegradedPerMinute: -2}} {
		_, err := admin.New(admin.Config{Registry: newEnv(t, true, nil).reg, OperatorKey: operatorKey, RateLimit: rl})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "RateLimit.DegradedPerMinute")
	}
	off := newEnv(t, false, func(c *admin.Config) { c.RateLimit = admin.RateLimit{PerMinute: -1} })
	for range 300 {
		require.Equal(t, http.StatusOK, off.callFrom("192.0.2.1:1", "/status", viewerKey).Code)
	}
}
