package admin_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/registry"
)

const (
	operatorKey = "op-key-0123456789abcdef"
	viewerKey   = "view-key-0123456789abcdef"
)

// testConfig guards "GET /api/*" with governance, a breaker partitioned by
// key and a bulkhead.
const testConfig = `{
  "service": "shop",
  "region": "eu",
  "governance": {"budget_window": "10m", "budget_bucket": "10s"},
  "breakers": {"up": {"partition_by": "key"}},
  "bulkheads": {"api": {"max_concurrent": 4}},
  "policies": [{"name": "api", "operations": ["GET /api/*"], "governance": true, "breaker": "up", "bulkhead": "api"}]
}`

type env struct {
	reg   *registry.Registry
	clock *clock.Fake
	logs  *logtest.Buffer
	srv   *admin.Server
}

// newEnv builds a registry loaded with testConfig (unless bare) and an admin
// server with both keys, unlocked; mut adjusts the admin config.
func newEnv(t testing.TB, bare bool, mut func(*admin.Config)) *env {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	reg := registry.New(registry.WithClock(clk))
	if !bare {
		cfg, err := registry.ParseConfig(strings.NewReader(testConfig))
		require.NoError(t, err)
		require.NoError(t, reg.Load(cfg))
	}
	logs := &logtest.Buffer{}
	cfg := admin.Config{
		Registry:    reg,
		OperatorKey: operatorKey,
		ViewerKey:   viewerKey,
		Unlock:      true,
		Clock:       clk,
		// Tests send many requests from one peer at a frozen time; the
		// rate limit has its own tests.
		RateLimit: admin.RateLimit{PerMinute: -1},
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mut != nil {
		mut(&cfg)
	}
	srv, err := admin.New(cfg)
	require.NoError(t, err)
	return &env{reg: reg, clock: clk, logs: logs, srv: srv}
}

// callPeer is the peer address of call.
const callPeer = "192.0.2.7:40000"

// call runs one request through the handler from a non-loopback peer; a
// write is sent as application/json (hdr may replace it).
func (e *env) call(method, path, key, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = callPeer
	if method != http.MethodGet {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set(admin.KeyHeader, key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	return w
}

// op calls as an operator (ADMIN when the server is unlocked).
func (e *env) op(method, path, body string) *httptest.ResponseRecorder {
	return e.call(method, path, operatorKey, body)
}

// decodeBody decodes a JSON answer into a map.
func decodeBody(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"), "body: %s", w.Body)
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), "body: %s", w.Body)
	return m
}

func (e *env) status(t testing.TB, key string) map[string]any {
	t.Helper()
	w := e.call(http.MethodGet, "/status", key, "")
	require.Equal(t, http.StatusOK, w.Code, "body: %s", w.Body)
	return decodeBody(t, w)
}

// over sends a real request to a loopback httptest server.
func over(t testing.TB, url, method, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set(admin.KeyHeader, key)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := overClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// overClient has a transport of its own: http.DefaultTransport is shared with
// every parallel test, and httptest.Server.Close drops its idle connections.
var overClient = &http.Client{Transport: &http.Transport{}}

// trustProxies makes the named prefixes the server's trusted proxies.
func trustProxies(prefixes ...string) func(*admin.Config) {
	return func(c *admin.Config) {
		for _, p := range prefixes {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}
