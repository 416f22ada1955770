package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
	kind   string
	reject *baldur.Rejection
}

func (g *leanGate) Kind() string { return g.kind }

func (g *leanGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.reject != nil {
		return baldur.Permit{}, g.reject
	}
	return baldur.NewPermit(g, 0), nil
}

func (g *leanGate) Release(uint64, baldur.Outcome) {}

func TestMiddlewareAddsNoAllocations(t *testing.T) {
	g := &leanGate{kind: baldur.GateGovernance}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	h := middleware.New(baldur.Static(policyOf(t, g)))(ok)
	req := httptest.NewRequest("GET", "/x", nil)
	w := &discard{h: http.Header{}}
	if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Fatalf("admit path allocates %.1f per request, want 0", n)
	}
	rej := &leanGate{kind: baldur.GateBulkhead, reject: baldur.Reject(baldur.ReasonBulkheadFull, time.Second)}
	hr := middleware.New(baldur.Static(policyOf(t, rej)))(ok)
	hr.ServeHTTP(w, req) // render the rejection once
	if n := testing.AllocsPerRun(1000, func() { hr.ServeHTTP(w, req) }); n != 0 {
		t.Fatalf("reject path allocates %.1f per request, want 0", n)
	}
}
