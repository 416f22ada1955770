package dlq_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/middleware"
)

func allEntries(t *testing.T, r dlq.Repository) []dlq.Entry {
	t.Helper()
	es, err := r.List(context.Background(), dlq.Filter{Limit: 1000})
	require.NoError(t, err)
	return es
}

func TestTransportCapturesFinalFailures(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/ok" {
			return
		}
		w.WriteHeader(http.StatusBadGateway) // not a cooldown status
	}))
	t.Cleanup(srv.Close)
	repo := dlq.NewMemory(dlq.MemoryConfig{Clock: clock.NewFake(t0)})
	q := newQueue(t, dlq.Config{Repository: repo, ThrottleCapture: dlq.ThrottleCapture{StandardSample: -1}})
	g := &gate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "up", Gates: []baldur.Gate{g}})
	require.NoError(t, err)
	tiers := map[string]baldur.Tier{"critical": baldur.TierCritical, "standard": baldur.TierStandard, "non_essential": baldur.TierNonEssential}
	client := &http.Client{Transport: middleware.NewTransport(baldur.Static(p), middleware.TransportConfig{
		DLQ: q.CapturePoint("payments"), Tier: func(r *http.Request) baldur.Tier { return tiers[r.Header.Get("X-Tier")] }})}
	send := func(path, tier string) {
		u := strings.Replace(srv.URL, "http://", "http://user:pw@", 1) + path
		req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"amount":10,"password":"x"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer secret")
		req.Header.Set("X-Tier", tier)
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	send("/ok", "standard")
	send("/charges", "standard") // 502
	g.reject.Store(true)
	for _, tier := range []string{"critical", "standard", "non_essential"} {
		send("/charges", tier)
	}
	closeNow(t, q)
	es := allEntries(t, repo)
	require.Len(t, es, 2, "the 502 and the critical throttle rejection; standard sampled at 0, non_essential never, success never")
	byType := map[string]dlq.Entry{}
	for _, e := range es {
		byType[e.FailureType] = e
	}
	e := byType["http_502"]
	assert.Equal(t, dlq.OriginHTTP, e.Origin)
	assert.Equal(t, http.MethodPost, e.Method)
	assert.NotContains(t, e.URL, "pw", "userinfo stripped")
	assert.True(t, strings.HasSuffix(e.URL, "/charges"), e.URL)
	assert.Equal(t, map[string]string{"Content-Type": "application/json"}, e.Header, "headers reduced to the allow-list")
	assert.JSONEq(t, `{"amount":10,"password":"[MASKED]"}`, string(e.Payload), "the body, via GetBody, masked")
	r := byType["throttled"]
	assert.Equal(t, baldur.TierCritical, r.Tier)
	assert.JSONEq(t, `{"amount":10,"password":"[MASKED]"}`, string(r.Payload))
}

func TestHTTPHandlerReplaysWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	var got struct {
		key, body, ctype string
	}
	answer := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.key, got.body, got.ctype = r.Header.Get("Idempotency-Key"), string(b), r.Header.Get("Content-Type")
		w.WriteHeader(answer)
	}))
	t.Cleanup(srv.Close)
	h := dlq.HTTPHandler(srv.Client())
	e := dlq.Entry{ID: "x", Method: http.MethodPost, URL: srv.URL + "/charges", Header: map[string]string{"Content-Type": "application/json"}, Payload: []byte(`{"a":1}`)}
	require.NoError(t, h(context.Background(), e, "dlq:x:1"))
	assert.Equal(t, "dlq:x:1", got.key)
	assert.Equal(t, `{"a":1}`, got.body)
	assert.Equal(t, "application/json", got.ctype)
	answer = http.StatusTooManyRequests
	err := h(context.Background(), e, "dlq:x:1")
	assert.ErrorIs(t, err, baldur.ErrRejected, "429 puts the entry back uncounted")
	answer = http.StatusBadGateway
	err = h(context.Background(), e, "dlq:x:1")
	require.Error(t, err)
	assert.False(t, errors.Is(err, baldur.ErrRejected))
	e.Truncated = true
	assert.Error(t, h(context.Background(), e, "dlq:x:1"), "a truncated payload is not the request")
	_ = time.Second
}
