package idempotency_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
)

// api is a test service: POST /charges behind the middleware, counting
// handler runs; its handler answers what the test sets.
type api struct {
	runs    atomic.Int64
	handler http.HandlerFunc
	mux     *http.ServeMux
	metrics *idempotency.Metrics
}

func newAPI(t testing.TB, edit func(*idempotency.HTTPOptions)) *api {
	t.Helper()
	a := &api{metrics: &idempotency.Metrics{}}
	clk := clock.NewFake(epoch)
	o := idempotency.HTTPOptions{Ledger: newMemory(t, clk), Clock: clk, Logger: slog.New(slog.DiscardHandler), Scope: func(r *http.Request) string { return r.Header.Get("X-Tenant") },
		Domain: "payments", Metrics: a.metrics}
	if edit != nil {
		edit(&o)
	}
	mw, err := idempotency.Middleware(o)
	require.NoError(t, err)
	a.handler = func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/charges/1")
		w.Header().Set("X-Not-Stored", "v")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"charge":1,"echo":`))
		_, _ = w.Write(b)
		_, _ = w.Write([]byte("}\n"))
	}
	a.mux = http.NewServeMux()
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.runs.Add(1); a.handler(w, r) }))
	a.mux.Handle("POST /charges", h)
	a.mux.Handle("PATCH /charges/{id}", h)
	a.mux.Handle("GET /charges", h)
	return a
}

func (a *api) do(method, path, key, tenant, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	r.Header.Set("X-Tenant", tenant)
	w := httptest.NewRecorder()
	a.mux.ServeHTTP(w, r)
	return w
}

func code(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	b := w.Body.String()
	if i := strings.Index(b, `"code":"`); i >= 0 {
		b = b[i+8:]
		return b[:strings.IndexByte(b, '"')]
	}
	return ""
}

// TestHTTPReplayIsByteIdentical: the duplicate of a completed request gets
// the stored status, allow-listed headers and body, byte for byte, marked
// Idempotent-Replayed, and the handler ran once.
func TestHTTPReplayIsByteIdentical(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	first := a.do("POST", "/charges", `"k-1"`, "t1", `{"amount":10}`)
	require.Equal(t, http.StatusCreated, first.Code)
	assert.Empty(t, first.Header().Get("Idempotent-Replayed"))
	second := a.do("POST", "/charges", `"k-1"`, "t1", `{"amount":10}`)
	assert.Equal(t, first.Code, second.Code)
	assert.Equal(t, first.Body.Bytes(), second.Body.Bytes())
	assert.Equal(t, first.Header()["Content-Type"], second.Header()["Content-Type"])
	assert.Equal(t, first.Header()["Location"], second.Header()["Location"])
	assert.Empty(t, second.Header().Get("X-Not-Stored"), "only allow-listed headers are stored")
	assert.Equal(t, "true", second.Header().Get("Idempotent-Replayed"))
	assert.EqualValues(t, 1, a.runs.Load())
	assert.EqualValues(t, 1, a.metrics.First.Load())
	assert.EqualValues(t, 1, a.metrics.Replayed.Load())
}

// TestHTTPStatusRules: each rule of the middleware, one request sequence
// per row.
func TestHTTPStatusRules(t *testing.T) {
	t.Parallel()
	f := false
	reject := idempotency.ModeReject
	tests := []struct {
		name    string
		edit    func(*idempotency.HTTPOptions)
		handler http.HandlerFunc
		run     func(t *testing.T, a *api)
	}{
		{"unconfigured method passes through", nil, nil, func(t *testing.T, a *api) {
			w := a.do("GET", "/charges", `"k"`, "t", "")
			assert.Equal(t, http.StatusCreated, w.Code)
			a.do("GET", "/charges", `"k"`, "t", "")
			assert.EqualValues(t, 2, a.runs.Load())
		}},
		{"missing key when required is 400, handler not run", func(o *idempotency.HTTPOptions) { o.Require = true }, nil, func(t *testing.T, a *api) {
			w := a.do("POST", "/charges", "", "t", "{}")
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.Equal(t, "idempotency_key_missing", code(t, w))
			assert.Zero(t, a.runs.Load())
			assert.EqualValues(t, 1, a.metrics.Missing.Load())
		}},
		{"missing key when not required runs unguarded", nil, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", "", "t", "{}")
			a.do("POST", "/charges", "", "t", "{}")
			assert.EqualValues(t, 2, a.runs.Load())
		}},
		{"route rule requires the key, another route not", func(o *idempotency.HTTPOptions) {
			o.Require = true
			o.Routes = []idempotency.Route{{Match: "PATCH /charges/*", Require: &f}}
		}, nil, func(t *testing.T, a *api) {
			assert.Equal(t, http.StatusCreated, a.do("PATCH", "/charges/1", "", "t", "{}").Code)
			assert.Equal(t, http.StatusBadRequest, a.do("POST", "/charges", "", "t", "{}").Code)
		}},
		{"off route passes through", func(o *idempotency.HTTPOptions) {
			o.Routes = []idempotency.Route{{Match: "POST /charges", Off: true}}
		}, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "t", "{}")
			a.do("POST", "/charges", `"k"`, "t", "{}")
			assert.EqualValues(t, 2, a.runs.Load())
		}},
		{"malformed keys are 400", nil, nil, func(t *testing.T, a *api) {
			for _, k := range []string{`k-unquoted`, `"unterminated`, `""`, `"` + strings.Repeat("a", 256) + `"`, `"a\qb"`, `"a";p=1`, "\"a\tb\""} {
				w := a.do("POST", "/charges", k, "t", "{}")
				assert.Equal(t, http.StatusBadRequest, w.Code, "%q", k)
				assert.Equal(t, "idempotency_key_invalid", code(t, w))
			}
			r := httptest.NewRequest("POST", "/charges", strings.NewReader("{}"))
			r.Header.Add("Idempotency-Key", `"a"`)
			r.Header.Add("Idempotency-Key", `"b"`)
			w := httptest.NewRecorder()
			a.mux.ServeHTTP(w, r)
			assert.Equal(t, http.StatusBadRequest, w.Code, "two key fields")
			assert.Zero(t, a.runs.Load())
		}},
		{"body over the limit is 413", func(o *idempotency.HTTPOptions) { o.MaxBody = 8 }, nil, func(t *testing.T, a *api) {
			assert.Equal(t, http.StatusRequestEntityTooLarge, a.do("POST", "/charges", `"k"`, "t", "123456789").Code)
			assert.Equal(t, http.StatusCreated, a.do("POST", "/charges", `"k"`, "t", "12345678").Code)
			assert.EqualValues(t, 1, a.runs.Load())
		}},
		{"same key, other body is 422 and does not run", nil, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "t", `{"amount":10}`)
			w := a.do("POST", "/charges", `"k"`, "t", `{"amount":11}`)
			assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
			assert.Equal(t, "idempotency_key_mismatch", code(t, w))
			assert.EqualValues(t, 1, a.runs.Load())
			assert.EqualValues(t, 1, a.metrics.Mismatch.Load())
		}},
		{"same key, other route is 422", func(o *idempotency.HTTPOptions) {
			o.Operation = func(*http.Request) string { return "one namespace" }
		}, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "t", `{}`)
			assert.Equal(t, http.StatusUnprocessableEntity, a.do("PATCH", "/charges/1", `"k"`, "t", `{}`).Code)
		}},
		{"same key, other scope is independent", nil, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "tenant-a", `{}`)
			w := a.do("POST", "/charges", `"k"`, "tenant-b", `{}`)
			assert.Empty(t, w.Header().Get("Idempotent-Replayed"))
			assert.EqualValues(t, 2, a.runs.Load())
		}},
		{"reject mode answers 409 to a completed key", func(o *idempotency.HTTPOptions) { o.Mode = idempotency.ModeReject }, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "t", `{}`)
			w := a.do("POST", "/charges", `"k"`, "t", `{}`)
			assert.Equal(t, http.StatusConflict, w.Code)
			assert.Equal(t, "idempotency_duplicate", code(t, w))
		}},
		{"route mode overrides", func(o *idempotency.HTTPOptions) {
			o.Routes = []idempotency.Route{{Match: "POST *", Mode: &reject}}
		}, nil, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "t", `{}`)
			assert.Equal(t, http.StatusConflict, a.do("POST", "/charges", `"k"`, "t", `{}`).Code)
		}},
		{"5xx releases the key: the retry runs", nil, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, func(t *testing.T, a *api) {
			assert.Equal(t, 503, a.do("POST", "/charges", `"k"`, "t", `{}`).Code)
			assert.Equal(t, 503, a.do("POST", "/charges", `"k"`, "t", `{}`).Code)
			assert.EqualValues(t, 2, a.runs.Load())
			assert.EqualValues(t, 2, a.metrics.Released.Load())
		}},
		{"transient 4xx release the key", nil, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(map[string]int{"a": 408, "b": 409, "c": 425, "d": 429}[r.Header.Get("X-Tenant")])
		}, func(t *testing.T, a *api) {
			for _, tenant := range []string{"a", "b", "c", "d"} {
				a.do("POST", "/charges", `"k"`, tenant, `{}`)
				a.do("POST", "/charges", `"k"`, tenant, `{}`)
			}
			assert.EqualValues(t, 8, a.runs.Load())
		}},
		{"deterministic 4xx is stored and replayed", nil, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no such card", http.StatusNotFound)
		}, func(t *testing.T, a *api) {
			a.do("POST", "/charges", `"k"`, "t", `{}`)
			w := a.do("POST", "/charges", `"k"`, "t", `{}`)
			assert.Equal(t, http.StatusNotFound, w.Code)
			assert.Equal(t, "no such card\n", w.Body.String())
			assert.Equal(t, "true", w.Header().Get("Idempotent-Replayed"))
			assert.EqualValues(t, 1, a.runs.Load())
		}},
		{"a panic releases the key and is re-raised", nil, func(http.ResponseWriter, *http.Request) { panic("boom") }, func(t *testing.T, a *api) {
			assert.PanicsWithValue(t, "boom", func() { a.do("POST", "/charges", `"k"`, "t", `{}`) })
			assert.PanicsWithValue(t, "boom", func() { a.do("POST", "/charges", `"k"`, "t", `{}`) })
			assert.EqualValues(t, 2, a.runs.Load())
		}},
		{"a response over MaxStored completes without replay: 409", func(o *idempotency.HTTPOptions) { o.MaxStored = 10 }, nil, func(t *testing.T, a *api) {
			assert.Equal(t, http.StatusCreated, a.do("POST", "/charges", `"k"`, "t", `{}`).Code)
			w := a.do("POST", "/charges", `"k"`, "t", `{}`)
			assert.Equal(t, http.StatusConflict, w.Code)
			assert.Equal(t, "idempotency_not_replayable", code(t, w))
			assert.EqualValues(t, 1, a.runs.Load())
		}},
		{"the handler reads the body it was sent", nil, nil, func(t *testing.T, a *api) {
			w := a.do("POST", "/charges", `"k"`, "t", `"hello"`)
			assert.Equal(t, `{"charge":1,"echo":"hello"}`+"\n", w.Body.String())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, tt.edit)
			if tt.handler != nil {
				a.handler = tt.handler
			}
			tt.run(t, a)
		})
	}
}

// TestHTTPInFlightDuplicate: a duplicate while the first request runs gets
// 409 with Retry-After (the lease left, in seconds) and does not run.
func TestHTTPInFlightDuplicate(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	a := newAPI(t, func(o *idempotency.HTTPOptions) { o.Ledger, o.Clock, o.Lease = newMemory(t, clk), clk, 7e9 })
	entered, release := make(chan struct{}), make(chan struct{})
	a.handler = func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		w.WriteHeader(201)
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.do("POST", "/charges", `"k"`, "t", `{}`) })
	<-entered
	w := a.do("POST", "/charges", `"k"`, "t", `{}`)
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "idempotency_in_progress", code(t, w))
	assert.Equal(t, "7", w.Header().Get("Retry-After"))
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, a.runs.Load())
	assert.EqualValues(t, 1, a.metrics.InFlight.Load())
}

// downLedger is a ledger whose store cannot be reached.
type downLedger struct{ idempotency.Ledger }

var errDown = errors.New("store unreachable")

func (downLedger) Claim(context.Context, idempotency.ClaimRequest) (idempotency.Claim, error) {
	return idempotency.Claim{}, errDown
}

// TestHTTPStoreDown: with the ledger unreachable the request gets 503 and
// the handler never runs; a fail-open route runs it, counted.
func TestHTTPStoreDown(t *testing.T) {
	t.Parallel()
	a := newAPI(t, func(o *idempotency.HTTPOptions) {
		o.Ledger = downLedger{}
		o.Routes = []idempotency.Route{{Match: "PATCH /charges/*", FailOpen: true}}
	})
	w := a.do("POST", "/charges", `"k"`, "t", `{}`)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "idempotency_unavailable", code(t, w))
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.Zero(t, a.runs.Load(), "fail closed: the handler never ran")
	assert.Equal(t, http.StatusCreated, a.do("PATCH", "/charges/1", `"k"`, "t", `{}`).Code)
	assert.EqualValues(t, 1, a.runs.Load())
	assert.EqualValues(t, 1, a.metrics.StoreError.Load())
	assert.EqualValues(t, 1, a.metrics.FailOpen.Load())
}

// TestHTTPDroppedHeartbeatFreesKey: a holder that dies mid-request (its
// claim made, its heartbeats gone) blocks retries only until its lease
// ends, on a fake clock; the retry then runs and completes.
func TestHTTPDroppedHeartbeatFreesKey(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	m := newMemory(t, clk)
	a := newAPI(t, func(o *idempotency.HTTPOptions) { o.Ledger, o.Clock, o.Lease = m, clk, 3e9 })
	// The crashed replica: it claimed the key with the same request and
	// died (no heartbeat, no release).
	r := httptest.NewRequest("POST", "/charges", strings.NewReader(`{}`))
	_, err := m.Claim(context.Background(), idempotency.ClaimRequest{Key: idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "k"},
		Fingerprint: fingerprintOf(t, a, r), Lease: 3 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, http.StatusConflict, a.do("POST", "/charges", `"k"`, "t", `{}`).Code)
	clk.Advance(3 * time.Second)
	assert.Equal(t, http.StatusCreated, a.do("POST", "/charges", `"k"`, "t", `{}`).Code, "free after the lease, not the TTL")
	assert.EqualValues(t, 1, a.runs.Load())
}

// fingerprintOf learns the fingerprint the middleware computes for r by
// letting it claim on a scratch ledger.
func fingerprintOf(t *testing.T, _ *api, r *http.Request) idempotency.Fingerprint {
	m := newMemory(t, clock.NewFake(epoch))
	mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: m, Unscoped: true})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /charges", mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	r.Header.Set("Idempotency-Key", `"probe"`)
	mux.ServeHTTP(httptest.NewRecorder(), r)
	rec, ok, err := m.Lookup(context.Background(), idempotency.Key{Operation: "POST /charges", Key: "probe"})
	require.NoError(t, err)
	require.True(t, ok)
	return rec.Fingerprint
}

// TestHTTPPassThroughAllocatesNothing: an unconfigured method costs no
// allocation over the bare handler.
func TestHTTPPassThroughAllocatesNothing(t *testing.T) {
	mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: newMemory(t, clock.NewFake(epoch)), Unscoped: true})
	require.NoError(t, err)
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	h := mw(bare)
	r := httptest.NewRequest("GET", "/charges", nil)
	r.Header.Set("Idempotency-Key", `"k"`)
	var w http.ResponseWriter = httptest.NewRecorder()
	base := testing.AllocsPerRun(1000, func() { bare.ServeHTTP(w, r) })
	got := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
	assert.Equal(t, base, got)
	assert.Zero(t, got)
}

func TestHTTPOptionsValidated(t *testing.T) {
	t.Parallel()
	m := newMemory(t, clock.NewFake(epoch))
	for name, o := range map[string]idempotency.HTTPOptions{
		"no ledger": {Unscoped: true},
		"no scope":  {Ledger: m},
		"bad ttl":   {Ledger: m, Unscoped: true, Config: idempotency.Config{TTL: -1}},
		"bad route": {Ledger: m, Unscoped: true, Config: idempotency.Config{Routes: []idempotency.Route{{}}}},
	} {
		_, err := idempotency.Middleware(o)
		assert.Error(t, err, name)
	}
}
