// Package ours assembles baldur's side of the benchmarks from the library:
// the full chain of real gates resolved from the registry, the HTTP
// middleware and the gRPC interceptor. Parts says what is measured, and the
// commands print it, so that every published number names what it measured.
package ours

import (
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/interceptor"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/throttle"
	"google.golang.org/grpc"
)

// Parts names what the "baldur" chain of the load command is built from.
var Parts = []string{
	"HTTP: middleware.New",
	"gRPC: interceptor.UnaryServerInterceptor",
	"policy resolved per call from registry.Registry",
	"gates: governance.Checker.Gate, throttle.New (1e9/s, burst 1000, per key), blast.NewBreakers (per operation), bulkhead.New (1024)",
}

// Describe returns Parts as one line.
func Describe() string { return strings.Join(Parts, "; ") }

// Resolver returns the full chain used by the load command, as the registry
// resolves it; every call is admitted.
func Resolver() baldur.Resolver {
	reg, err := FullRegistry("127.0.0.1", None)
	if err != nil {
		panic(err) // static config: a failure is a bug in the library or here
	}
	return reg
}

// Middleware wraps next in the HTTP middleware guarding it with r.
func Middleware(r baldur.Resolver, next http.Handler) http.Handler {
	return middleware.New(r)(next)
}

// Unary returns the unary server interceptor guarding calls with r.
func Unary(r baldur.Resolver) grpc.UnaryServerInterceptor {
	return interceptor.UnaryServerInterceptor(r)
}

// OverloadParts names what the "baldur" config of the overload experiment
// is built from.
var OverloadParts = []string{
	"middleware.New over a registry-resolved policy of",
	"governance.Checker.Gate,",
	"throttle.New (Global bucket at 1.25 x capacity, or two calls per max wait if more, burst = concurrency),",
	"bulkhead.New (MaxConcurrent = concurrency, MaxWait as configured)",
}

// OverloadResolver returns the policy protecting a service of concurrency
// slots serving capacity calls per second: a global throttle just above
// capacity sheds the bulk of an overload for the price of a CAS, and a
// bulkhead of concurrency slots waiting at most maxWait keeps the service
// busy without letting a queue build.
//
// Under overload the throttle passes calls evenly spaced at its rate, so
// the rate is also at least two calls per maxWait: a slower one leaves the
// bulkhead with no waiter when a slot frees (one slot of 5 ms behind a
// throttle at 1.25 x capacity passes a call every 4 ms, and one wait in
// four outlasts a 2.5 ms max wait), and the slot idles until the next
// call passes.
func OverloadResolver(concurrency int, capacity float64, maxWait time.Duration) (baldur.Resolver, error) {
	gov, err := governance.New(governance.Config{Audit: discardAudit{}})
	if err != nil {
		return nil, err
	}
	rate := max(capacity*1.25, 2/maxWait.Seconds())
	thr, err := throttle.New(throttle.Config{Name: "overload", Rate: rate, Burst: concurrency, KeyBy: throttle.Global})
	if err != nil {
		return nil, err
	}
	bh, err := bulkhead.New(bulkhead.Config{Name: "overload", MaxConcurrent: concurrency, MaxWait: baldur.Duration(maxWait)})
	if err != nil {
		return nil, err
	}
	return NewRegistry("overload", gov.Gate(), thr, bh)
}
