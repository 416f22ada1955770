package idempotency_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
)

// steadyKeys returns n keys that m has already claimed and completed once
// with ttl, so that claiming them again after ttl reuses their map slots
// (the steady state of a ledger whose records expire as they arrive).
func steadyKeys(t *testing.T, m *idempotency.Memory, clk *clock.Fake, n int, ttl time.Duration) []idempotency.Key {
	t.Helper()
	ctx := context.Background()
	keys := make([]idempotency.Key, n)
	for i := range keys {
		keys[i] = idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "k-" + strconv.Itoa(i)}
		c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i], TTL: ttl})
		require.NoError(t, err)
		require.NoError(t, m.Complete(ctx, &c, &idempotency.Response{Status: 201}))
	}
	clk.Advance(ttl)
	return keys
}

// TestMemoryFirstRequestAllocs: a claim allocates nothing; claim plus
// completion allocates the stored copy of the response only: two
// allocations with up to three header lines.
func TestMemoryFirstRequestAllocs(t *testing.T) {
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	ctx := context.Background()
	keys := steadyKeys(t, m, clk, 2100, time.Second)
	resp := &idempotency.Response{Status: 201, Header: []idempotency.HeaderField{{Name: "Content-Type", Value: "application/json"},
		{Name: "Location", Value: "/charges/1"}}, Body: []byte(`{"id":1}`)}
	i := 0
	claims := testing.AllocsPerRun(1000, func() {
		c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i], TTL: time.Second})
		if err != nil || c.Outcome != idempotency.Claimed {
			t.Fatal(err, c.Outcome)
		}
		i++
	})
	assert.Zero(t, claims, "claim")
	first := testing.AllocsPerRun(1000, func() {
		c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i], TTL: time.Second})
		if err != nil || c.Outcome != idempotency.Claimed {
			t.Fatal(err, c.Outcome)
		}
		if err := m.Complete(ctx, &c, resp); err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.LessOrEqual(t, first, 2.0, "claim + complete")
	replays := testing.AllocsPerRun(100, func() {
		c, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i-1], TTL: time.Second})
		if c.Outcome != idempotency.Done {
			t.Fatal(c.Outcome)
		}
	})
	assert.Zero(t, replays, "a duplicate's claim shares the stored response")
}

// TestHTTPFirstRequestAllocs: over what the bare handler allocates, a
// first request through the middleware (body read and hashed, claim,
// lease keeper on the system clock, completion) allocates only the
// ledger's stored copy of the response; a replay allocates one header
// slice per stored header line.
func TestHTTPFirstRequestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	keys := steadyKeys(t, m, clk, 1100, time.Second)
	mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: m, Unscoped: true})
	require.NoError(t, err)
	handler := chargeHandler([]byte(`{"id":1}`))
	bare, guarded := http.NewServeMux(), http.NewServeMux()
	bare.Handle("POST /charges", handler)
	guarded.Handle("POST /charges", mw(handler))

	body := bytes.Repeat([]byte("z"), 64)
	r := httptest.NewRequest("POST", "/charges", nil)
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(nil)
	headers := make([][]string, len(keys))
	for i := range keys {
		headers[i] = []string{strconv.Quote(keys[i].Key)}
	}
	i := 0
	serve := func(h http.Handler) func() {
		return func() {
			clear(w.h)
			rd.Reset(body)
			r.Body = readCloser{rd}
			r.Header["Idempotency-Key"] = headers[i]
			h.ServeHTTP(w, r)
			i++
		}
	}
	base := testing.AllocsPerRun(200, serve(bare))
	i = 0
	first := testing.AllocsPerRun(1000, serve(guarded))
	assert.LessOrEqual(t, first-base, 2.0, "first request over the bare handler (%v)", base)
	i = 0
	replay := testing.AllocsPerRun(200, serve(guarded))
	assert.LessOrEqual(t, replay, 1.0, "replay: one stored header line (Content-Type)")
	assert.Equal(t, "true", w.h.Get("Idempotent-Replayed"))
	t.Logf("allocations per request: bare handler %v, first request %v, replay %v", base, first, replay)
}
