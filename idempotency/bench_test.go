package idempotency_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/idempotency"
)

// BenchmarkMemoryFirstRequest: claim + complete of a new key on the memory
// ledger with a small response, the fingerprint given (no hashing).
func BenchmarkMemoryFirstRequest(b *testing.B) {
	m := newMemory(b, clock.NewFake(epoch))
	ctx := context.Background()
	keys := make([]idempotency.Key, b.N)
	for i := range keys {
		keys[i] = idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "k-" + strconv.Itoa(i)}
	}
	resp := &idempotency.Response{Status: 201, Body: []byte(`{"id":1}`)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i], Lease: time.Minute})
		if err != nil || c.Outcome != idempotency.Claimed {
			b.Fatal(err, c.Outcome)
		}
		if err := m.Complete(ctx, &c, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryFirstRequestSteady: the same on a steady working set: keys
// cycle through 4096, the clock moves 1 ms per request and completions are
// kept 1 s, so about 1000 records are live and expired ones are reused.
func BenchmarkMemoryFirstRequestSteady(b *testing.B) { benchMemorySteady(b, 1000) }

// BenchmarkMemoryFirstRequestSteady100k: the same with about 100 000 live
// records (keys cycle through 400 000).
func BenchmarkMemoryFirstRequestSteady100k(b *testing.B) { benchMemorySteady(b, 100_000) }

func benchMemorySteady(b *testing.B, live int) {
	clk := &stepClock{}
	clk.t.Store(epoch.UnixNano())
	m, err := idempotency.NewMemory(idempotency.MemoryConfig{Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	keys := make([]idempotency.Key, 4*live)
	for i := range keys {
		keys[i] = idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "k-" + strconv.Itoa(i)}
	}
	resp := &idempotency.Response{Status: 201, Body: []byte(`{"id":1}`)}
	ttl := time.Duration(live) * time.Millisecond
	// Warm up to the steady state: every key used once.
	for i := range keys {
		clk.t.Add(int64(time.Millisecond))
		c, _ := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i], Lease: time.Minute, TTL: ttl})
		_ = m.Complete(ctx, &c, resp)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		clk.t.Add(int64(time.Millisecond))
		c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i%len(keys)], Lease: time.Minute, TTL: ttl})
		if err != nil || c.Outcome != idempotency.Claimed {
			b.Fatal(err, c.Outcome)
		}
		if err := m.Complete(ctx, &c, resp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// stepClock is a clock the benchmark steps by hand, as cheap to read as the
// system clock (clock.Fake's lock and timer bookkeeping would be most of
// what a steady-state benchmark measured). The ledger never sets timers.
type stepClock struct{ t atomic.Int64 }

func (c *stepClock) Now() time.Time { return time.Unix(0, c.t.Load()) }
func (c *stepClock) AfterFunc(time.Duration, func()) baldur.Timer {
	return stoppedTimer{}
}

type stoppedTimer struct{}

func (stoppedTimer) Stop() bool { return false }

// BenchmarkFingerprintPerKiB: SHA-256 of 1 KiB, the per-KiB cost a body
// adds to a guarded request.
func BenchmarkFingerprintPerKiB(b *testing.B) {
	buf := bytes.Repeat([]byte("x"), 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		_ = sha256.Sum256(buf)
	}
}

func benchMux(b *testing.B, body []byte) (*http.ServeMux, idempotency.Ledger) {
	m := newMemory(b, clock.NewFake(epoch))
	mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: m, Unscoped: true})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.Handle("POST /charges", mw(h))
	mux.Handle("GET /charges", mw(h))
	mux.Handle("POST /bare", h)
	return mux, m
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header       { return d.h }
func (*discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (*discardWriter) WriteHeader(int)             {}

// BenchmarkHTTPReplay1KiB: a duplicate answered from the memory ledger with
// a 1 KiB stored body (empty request body), against the bare handler
// writing the same body.
func BenchmarkHTTPReplay1KiB(b *testing.B) {
	body := bytes.Repeat([]byte("y"), 1024)
	mux, _ := benchMux(b, body)
	r := httptest.NewRequest("POST", "/charges", nil)
	r.Header.Set("Idempotency-Key", `"replay-key"`)
	w := &discardWriter{h: http.Header{}}
	mux.ServeHTTP(w, r)
	b.Run("bare", func(b *testing.B) {
		rb := httptest.NewRequest("POST", "/bare", nil)
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			mux.ServeHTTP(w, rb)
		}
	})
	b.Run("replay", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			r.Body = http.NoBody
			mux.ServeHTTP(w, r)
		}
	})
}

// BenchmarkHTTPFirstRequest: a first request through the middleware on the
// memory ledger (64-byte body, hashed), including the lease keeper (system
// clock) and the completion, against the bare handler given the same
// request. steady: keys cycle through 4096 with completions kept 1 s on the
// ledger's fake clock, 1 ms per request (about 1000 live records);
// growing: every key new, all kept.
func BenchmarkHTTPFirstRequest(b *testing.B) {
	reqBody := bytes.Repeat([]byte("z"), 64)
	// run serves b.N requests, the i-th with key keys(i) (keys is called
	// before the timer starts).
	run := func(b *testing.B, h http.Handler, keys func(n int) [][]string, step func()) {
		r := httptest.NewRequest("POST", "/charges", nil)
		w := &discardWriter{h: http.Header{}}
		rd := bytes.NewReader(nil)
		rc := readCloser{rd}
		ks := keys(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			step()
			clear(w.h)
			rd.Reset(reqBody)
			r.Body = rc
			r.Header["Idempotency-Key"] = ks[i%len(ks)]
			h.ServeHTTP(w, r)
		}
	}
	keyList := func(n int) [][]string {
		keys := make([][]string, max(n, 1))
		for i := range keys {
			keys[i] = []string{`"k-` + strconv.Itoa(i) + `"`}
		}
		return keys
	}
	b.Run("bare", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.Handle("POST /charges", chargeHandler([]byte(`{"id":1}`)))
		run(b, mux, func(int) [][]string { return keyList(1) }, func() {})
	})
	b.Run("steady", func(b *testing.B) {
		clk := clock.NewFake(epoch)
		mux := guardedMux(b, clk, []byte(`{"id":1}`), time.Second)
		run(b, mux, func(int) [][]string { return keyList(4096) }, func() { clk.Advance(time.Millisecond) })
	})
	b.Run("growing", func(b *testing.B) {
		mux, _ := benchMux(b, []byte(`{"id":1}`))
		run(b, mux, keyList, func() {})
	})
}

// chargeHandler answers a small JSON body, as the benchmarks' handler.
func chargeHandler(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// guardedMux is POST /charges behind the middleware, its memory ledger on
// clk with completions kept ttl; the keeper runs on the system clock.
func guardedMux(b *testing.B, clk *clock.Fake, body []byte, ttl time.Duration) *http.ServeMux {
	m, err := idempotency.NewMemory(idempotency.MemoryConfig{Clock: clk, TTL: ttl})
	if err != nil {
		b.Fatal(err)
	}
	mw, err := idempotency.Middleware(idempotency.HTTPOptions{Ledger: m, Unscoped: true, Config: idempotency.Config{TTL: baldur.Duration(ttl)}})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /charges", mw(chargeHandler(body)))
	return mux
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkHTTPPassThrough: an unconfigured method through the middleware
// against the bare handler, both called through http.Handler as a server
// calls them.
func BenchmarkHTTPPassThrough(b *testing.B) {
	m := newMemory(b, clock.NewFake(epoch))
	mw, _ := idempotency.Middleware(idempotency.HTTPOptions{Ledger: m, Unscoped: true})
	bare := opaque(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h := opaque(mw(bare))
	r := httptest.NewRequest("GET", "/charges", nil)
	w := &discardWriter{h: http.Header{}}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bare.ServeHTTP(w, r)
		}
	})
	b.Run("middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
}

// opaque hides h's concrete type from the compiler, so that the benchmark
// calls it through the interface, as a server does.
//
//go:noinline
func opaque(h http.Handler) http.Handler { return h }
