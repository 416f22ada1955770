// Package ours assembles baldur's side of the benchmarks from whatever has
// landed in the library: the policy chain (real gates where their packages
// exist, zero-cost fakes otherwise), the HTTP middleware and the gRPC
// interceptor. Describe says which is which, and the commands print it, so
// that every published number names what it measured.
package ours

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/fake"
	"github.com/baldur-go/baldur/middleware"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Parts names what the "baldur" chain of the load and overload commands is
// built from right now. Update it with the code below as packages land.
var Parts = []string{
	"HTTP: middleware.New",
	"gRPC: inline unary interceptor in bench/internal/ours (TODO: interceptor package not landed)",
	"gates: zero-cost fakes for governance, throttle, blast, bulkhead (TODO: real gate packages not landed)",
}

// Describe returns Parts as one line.
func Describe() string { return strings.Join(Parts, "; ") }

// Policy returns the full chain used by the load command; every call is
// admitted.
func Policy() *baldur.Policy { return fake.Chain("load") }

// Middleware wraps next in the HTTP middleware guarding it with p.
func Middleware(p *baldur.Policy, next http.Handler) http.Handler {
	return middleware.New(baldur.Static(p))(next)
}

// Unary returns a unary server interceptor guarding calls with p.
//
// TODO(bench): replace with the interceptor package once it has landed.
// Until then this is the minimal adapter: one Call, Admit, the handler,
// Release, rejections mapped to status errors by the rejection's gRPC code.
func Unary(p *baldur.Policy) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		c := baldur.Call{Operation: info.FullMethod}
		if d, ok := ctx.Deadline(); ok {
			c.Deadline = d
		}
		t, err := p.Admit(ctx, c)
		if err != nil {
			if rej, ok := err.(*baldur.Rejection); ok {
				return nil, status.Error(codes.Code(rej.GRPCCode()), rej.Error())
			}
			return nil, status.FromContextError(err).Err()
		}
		resp, err := handler(ctx, req)
		o := baldur.Outcome{Result: baldur.Success}
		if err != nil {
			o.Result = baldur.Failure
		}
		t.Release(o)
		return resp, err
	}
}

// OverloadParts names what the "baldur" config of the overload experiment
// is built from right now.
var OverloadParts = []string{
	"HTTP: middleware.New",
	"bulkhead stage: bench/internal/fake.Semaphore (TODO: replace with bulkhead package once landed)",
}

// OverloadPolicy returns the policy protecting a service of concurrency
// capacity: a bulkhead of capacity slots that waits at most maxWait.
func OverloadPolicy(capacity int, maxWait time.Duration) *baldur.Policy {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{
		Name:  "overload",
		Gates: []baldur.Gate{fake.NewSemaphore(capacity, maxWait)},
	})
	if err != nil {
		panic(err) // static config
	}
	return p
}
