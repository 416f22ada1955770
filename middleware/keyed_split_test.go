package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

// splitDoc is a registry configuration whose one policy guards op with a
// per-key throttle of rate and burst.
func splitDoc(t *testing.T, op string, rate float64, burst int) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"throttles": map[string]any{"per_tenant": map[string]any{"rate": rate, "burst": burst}},
		"policies":  []any{map[string]any{"name": "p", "operations": []string{op}, "throttle": "per_tenant"}},
	})
	require.NoError(t, err)
	return b
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func tenant(r *http.Request) string { return r.Header.Get("X-Tenant") }

// Both HTTP adapters resolve a registry (a baldur.KeyedResolver) with the
// request's key: during a canary split a key of the candidate's cohort is
// admitted by the candidate's policy and any other by the running one.
func TestSplitRegistryServesTheKeysCohort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, op string
		send     func(r *registry.Registry, tenant string)
	}{
		{"server", "GET /items", func(r *registry.Registry, k string) {
			h := middleware.New(r, middleware.WithKey(tenant), middleware.WithOperation(func(*http.Request) string { return "GET /items" }))(
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			req := httptest.NewRequest("GET", "/items", nil)
			req.Header.Set("X-Tenant", k)
			h.ServeHTTP(httptest.NewRecorder(), req)
		}},
		{"transport", "GET up.example", func(r *registry.Registry, k string) {
			rt := middleware.NewTransport(r, middleware.TransportConfig{Key: tenant,
				Next: rtFunc(func(*http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
				})})
			req, err := http.NewRequest(http.MethodGet, "http://up.example/", nil)
			require.NoError(t, err)
			req.Header.Set("X-Tenant", k)
			resp, err := rt.RoundTrip(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := registry.New()
			require.NoError(t, r.LoadDocument(splitDoc(t, tc.op, 1000, 1000)))
			base := &fakeGate{kind: baldur.StageFault + 10}
			cand := &fakeGate{kind: baldur.StageFault + 10}
			require.NoError(t, r.StartCohorts(splitDoc(t, tc.op, 100, 100), "rollout-1", 0.5, base, cand))
			var baseKey, candKey string
			for i := 0; baseKey == "" || candKey == ""; i++ {
				if k := "tenant-" + strconv.Itoa(i); r.InCandidate(k) {
					candKey = k
				} else {
					baseKey = k
				}
			}
			for _, k := range []string{baseKey, candKey} {
				tc.send(r, k)
			}
			c, _ := cand.lastCall.Load().(baldur.Call)
			b, _ := base.lastCall.Load().(baldur.Call)
			assert.Equal(t, candKey, c.Key, "the candidate's cohort is admitted by the candidate's policy")
			assert.Equal(t, baseKey, b.Key, "the other keys by the running policy")
			assert.EqualValues(t, 1, cand.released.Load(), "one call each")
			assert.EqualValues(t, 1, base.released.Load(), "one call each")
		})
	}
}

// Resolving an outgoing request by key allocates nothing, with or without
// a split installed.
func TestTransportSplitRegistryAllocs(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.LoadDocument(splitDoc(t, "GET up.example", 1e9, 1e9)))
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	rt := middleware.NewTransport(r, middleware.TransportConfig{Key: tenant,
		Next: rtFunc(func(*http.Request) (*http.Response, error) { return resp, nil })})
	req, err := http.NewRequest(http.MethodGet, "http://up.example/", nil)
	require.NoError(t, err)
	for _, split := range []bool{false, true} {
		if split {
			require.NoError(t, r.StartCohorts(splitDoc(t, "GET up.example", 1e8, 1e8), "rollout-1", 0.5, nil, nil))
		}
		for _, k := range []string{"tenant-1", "tenant-2", "tenant-3"} {
			req.Header.Set("X-Tenant", k)
			_, _ = rt.RoundTrip(req) // the key's bucket
			n := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(req) })
			assert.Zero(t, n, "split %v, %s", split, k)
		}
	}
}
