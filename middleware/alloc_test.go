package middleware_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// discard is a ResponseWriter that allocates nothing, so the counts below
// are the middleware's own.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// leanGate admits or rejects without recording anything, so that it
// allocates nothing itself.
type leanGate struct {
	kind   baldur.Stage
	reject *baldur.Rejection
}

func (g *leanGate) Stage() baldur.Stage { return g.kind }

func (g *leanGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.reject != nil {
		return baldur.Permit{}, g.reject
	}
	return baldur.NewPermit(g, 0), nil
}

func (g *leanGate) Release(uint64, baldur.Outcome) {}

func TestMiddlewareAddsNoAllocations(t *testing.T) {
	g := &leanGate{kind: baldur.StageGovernance}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	h := middleware.New(baldur.Static(policyOf(t, g)))(ok)
	req := httptest.NewRequest("GET", "/x", nil)
	w := &discard{h: http.Header{}}
	n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })
	require.Zero(t, n, "admit path allocates per request")
	rej := &leanGate{kind: baldur.StageBulkhead, reject: baldur.Reject(baldur.ReasonBulkheadFull, time.Second)}
	hr := middleware.New(baldur.Static(policyOf(t, rej)))(ok)
	hr.ServeHTTP(w, req) // render the rejection once
	n = testing.AllocsPerRun(1000, func() { hr.ServeHTTP(w, req) })
	require.Zero(t, n, "reject path allocates per request")
}

// fullDiscard is a discard that can also hijack and read from, as net/http's
// HTTP/1 writer can.
type fullDiscard struct{ *discard }

func (fullDiscard) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }
func (fullDiscard) ReadFrom(io.Reader) (int64, error)            { return 0, nil }

// TestMiddlewareCapabilityWrappersAddNoAllocations: choosing the wrapper
// with Hijack and ReadFrom, and using them, allocates nothing.
func TestMiddlewareCapabilityWrappersAddNoAllocations(t *testing.T) {
	g := &leanGate{kind: baldur.StageGovernance}
	src := io.LimitReader(nil, 0)
	h := middleware.New(baldur.Static(policyOf(t, g)))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.(io.ReaderFrom).ReadFrom(src)
		_, _, _ = w.(http.Hijacker).Hijack()
	}))
	req := httptest.NewRequest("GET", "/x", nil)
	w := fullDiscard{&discard{h: http.Header{}}}
	n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })
	require.Zero(t, n, "hijack/read-from wrapper allocates per request")
}
