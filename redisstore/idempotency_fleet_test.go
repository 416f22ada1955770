package redisstore

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIdempotencyFleetExactlyOnce: 200 concurrent identical requests spread
// over three replicas (each its own client, backend, ledger and
// middleware) sharing one real Redis run the handler exactly once; every
// other request gets 409 (in progress) or the byte-identical replay.
func TestIdempotencyFleetExactlyOnce(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	var runs atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs.Add(1)
		time.Sleep(30 * time.Millisecond) // keep the first in flight while the others arrive
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"charge":"ch_1"}`))
	})
	var replicas []http.Handler
	for range 3 {
		// A pool for the burst: with go-redis's default (10 per CPU) most of
		// the 67 requests per replica would wait for a connection past the
		// control deadline and get 503, which is the fail mode, not the test.
		b := newBackend(t, s.Client(t, func(o *redis.Options) { o.PoolSize = 80 }), Config{Scripts: IdempotencyScripts, Logger: discard(), ControlTimeout: 2 * time.Second})
		l, err := NewIdempotency(t.Context(), b, IdempotencyConfig{Prefix: kp, Server: ServerPolicy{Logger: discard()}})
		require.NoError(t, err)
		mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: l, Domain: "payments", Logger: slog.New(slog.NewTextHandler(tlog{t}, nil)),
			Scope: func(r *http.Request) string { return r.Header.Get("X-Tenant") }})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle("POST /charges", mw(handler))
		replicas = append(replicas, mux)
	}
	send := func(i int) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/charges", strings.NewReader(`{"amount":100}`))
		r.Header.Set("Idempotency-Key", `"order-42"`)
		r.Header.Set("X-Tenant", "acme")
		w := httptest.NewRecorder()
		replicas[i%3].ServeHTTP(w, r)
		return w
	}
	var (
		wg                       sync.WaitGroup
		start                    = make(chan struct{})
		first, busy, replay, bad atomic.Int64
	)
	for i := range 200 {
		wg.Go(func() {
			<-start
			w := send(i)
			switch {
			case w.Code == http.StatusCreated && w.Header().Get("Idempotent-Replayed") == "":
				first.Add(1)
			case w.Code == http.StatusCreated && w.Body.String() == `{"charge":"ch_1"}`:
				replay.Add(1)
			case w.Code == http.StatusConflict:
				busy.Add(1)
			default:
				bad.Add(1)
				t.Errorf("request %d: %d %s", i, w.Code, w.Body.String())
			}
		})
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, runs.Load(), "the handler ran once")
	assert.EqualValues(t, 1, first.Load())
	assert.Zero(t, bad.Load())
	assert.EqualValues(t, 199, busy.Load()+replay.Load())
	t.Logf("first %d, in progress 409 %d, replayed %d", first.Load(), busy.Load(), replay.Load())
	for i := range 3 {
		w := send(i)
		assert.Equal(t, http.StatusCreated, w.Code)
		assert.Equal(t, "true", w.Header().Get("Idempotent-Replayed"), "replica %d replays", i)
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	}
	assert.EqualValues(t, 1, runs.Load())
}

// TestIdempotencyHTTPStoreDown: the middleware on a Redis ledger whose link
// is blackholed answers 503 within the control deadline, and the handler
// never runs (fail closed).
func TestIdempotencyHTTPStoreDown(t *testing.T) {
	redistest.NoLeaks(t)
	s := redistest.Start(t, redistest.Options{})
	p := redistest.NewProxy(t, "unix", s.Socket())
	l := newIdem(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() }), IdempotencyConfig{})
	var runs atomic.Int64
	mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: l, Unscoped: true, Logger: discard()})
	require.NoError(t, err)
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { runs.Add(1) }))
	p.Blackhole()
	for range 5 {
		r := httptest.NewRequest("POST", "/charges", strings.NewReader(`{}`))
		r.Header.Set("Idempotency-Key", `"k"`)
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Less(t, time.Since(start), time.Second)
	}
	assert.Zero(t, runs.Load(), "the handler never ran")
	p.Heal()
}

type tlog struct{ t *testing.T }

func (l tlog) Write(b []byte) (int, error) { l.t.Log(string(b)); return len(b), nil }
