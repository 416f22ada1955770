package redisstore

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/registry"
)

// TestAdminRateLimitFleetWide backs the admin rate limit's promise on a real
// redis-server: with a ThrottleStore as admin.RateLimit.Store, two replicas
// hold one client to PerMinute together (not PerMinute each); while one
// replica's link to Redis is blackholed, that replica holds each client to
// DegradedPerMinute on its own, the other keeps the shared limit; healed, the
// shared limit is back.
func TestAdminRateLimitFleetWide(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	clk := clock.NewFake(epoch)
	const perMinute, degraded = 20, 3
	replica := func(name string) (*admin.Server, *redistest.Proxy) {
		p := redistest.NewProxy(t, "unix", s.Socket())
		c := s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() })
		store, _, _ := newStore(t, c, Config{Clock: clk, ThrottleTimeout: 100 * time.Millisecond},
			ThrottleStoreConfig{Name: name, CallerClock: true, KeySlack: time.Hour})
		srv, err := admin.New(admin.Config{Registry: registry.New(), ViewerKey: "viewer-key-0123456789abcdef", Clock: clk,
			Logger: discard(), RateLimit: admin.RateLimit{PerMinute: perMinute, DegradedPerMinute: degraded, Store: store}})
		require.NoError(t, err)
		return srv, p
	}
	name := "admin-rate-" + sanitize(prefix(t))
	a, pa := replica(name)
	b, _ := replica(name)
	get := func(srv *admin.Server, peer string) int {
		r := httptest.NewRequest(http.MethodGet, "/status", nil)
		r.RemoteAddr = peer
		r.Header.Set(admin.KeyHeader, "viewer-key-0123456789abcdef")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code == http.StatusTooManyRequests {
			require.NotEmpty(t, w.Header().Get("Retry-After"))
		}
		return w.Code
	}
	count := func(srv *admin.Server, peer string, n int) (ok int) {
		for range n {
			if get(srv, peer) == http.StatusOK {
				ok++
			}
		}
		return ok
	}

	// Time is frozen: the bucket only spends.
	okA, okB := 0, 0
	for range 30 {
		okA += count(a, "192.0.2.1:1", 1)
		okB += count(b, "192.0.2.1:1", 1)
	}
	assert.LessOrEqual(t, okA+okB, perMinute, "the replicas share one bucket per client")
	assert.Positive(t, okA)
	assert.Positive(t, okB)

	pa.Blackhole()
	assert.Equal(t, degraded, count(a, "192.0.2.2:1", 10), "replica a, cut off from Redis, holds a client to DegradedPerMinute")
	assert.Greater(t, count(b, "192.0.2.3:1", 10), degraded, "replica b still decides through Redis")

	pa.Heal()
	clk.Advance(2 * time.Second) // past the breaker's open timeout: the next call probes
	assert.Greater(t, count(a, "192.0.2.4:1", 10), degraded, "healed: the shared limit is back")
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == '/' || c == ':' || c == ' ' || c == '#' {
			out[i] = '-'
		}
	}
	return string(out)
}
