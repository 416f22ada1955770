package idempotency_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

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
func BenchmarkMemoryFirstRequestSteady(b *testing.B) {
	clk := clock.NewFake(epoch)
	m := newMemory(b, clk)
	ctx := context.Background()
	keys := make([]idempotency.Key, 4096)
	for i := range keys {
		keys[i] = idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "t", Key: "k-" + strconv.Itoa(i)}
	}
	resp := &idempotency.Response{Status: 201, Body: []byte(`{"id":1}`)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		clk.Advance(time.Millisecond)
		c, err := m.Claim(ctx, idempotency.ClaimRequest{Key: keys[i%len(keys)], Lease: time.Minute, TTL: time.Second})
		if err != nil || c.Outcome != idempotency.Claimed {
			b.Fatal(err, c.Outcome)
		}
		if err := m.Complete(ctx, &c, resp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

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
// memory ledger (64-byte body, hashed), including the lease keeper and the
// completion.
func BenchmarkHTTPFirstRequest(b *testing.B) {
	mux, _ := benchMux(b, []byte(`{"id":1}`))
	reqBody := bytes.Repeat([]byte("z"), 64)
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = `"k-` + strconv.Itoa(i) + `"`
	}
	r := httptest.NewRequest("POST", "/charges", nil)
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clear(w.h)
		rd.Reset(reqBody)
		r.Body = readCloser{rd}
		r.Header["Idempotency-Key"] = []string{keys[i]}
		mux.ServeHTTP(w, r)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkHTTPPassThrough: an unconfigured method through the middleware
// against the bare handler.
func BenchmarkHTTPPassThrough(b *testing.B) {
	m := newMemory(b, clock.NewFake(epoch))
	mw, _ := idempotency.Middleware(idempotency.HTTPOptions{Ledger: m, Unscoped: true})
	bare := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := mw(bare)
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
