package peer

import (
	"context"
	"net/http"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/failsafegrpc"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Limit implements ratelimit.Limiter.
func (l Limiter) Limit(context.Context) error {
	if !l.L.Allow() {
		return ErrLimited
	}
	return nil
}

// FailsafeHTTP wraps next in failsafehttp's handler with FailsafePolicies.
func FailsafeHTTP(next http.Handler, m Mode) http.Handler {
	return failsafehttp.NewHandler(next, FailsafePolicies[*http.Response](m)...)
}

// HandrolledHTTP wraps next in the hand-rolled chain, answering 429 when
// rate limited and 503 when full or the breaker is open.
func HandrolledHTTP(next http.Handler, m Mode) http.Handler {
	h := NewHandrolled(m)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.lim.Allow() {
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		select {
		case h.sem <- struct{}{}:
		default:
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-h.sem }()
		done, err := h.cb.Allow()
		if err != nil {
			http.Error(w, "breaker open", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
		done(nil)
	})
}

// FailsafeUnary returns failsafegrpc's unary server interceptor with
// FailsafePolicies.
func FailsafeUnary(m Mode) grpc.UnaryServerInterceptor {
	return failsafegrpc.NewUnaryServerInterceptor[any](FailsafePolicies[any](m)...)
}

// RatelimitUnary returns go-grpc-middleware's ratelimit interceptor over an
// x/time/rate limiter.
func RatelimitUnary(m Mode) grpc.UnaryServerInterceptor {
	return ratelimit.UnaryServerInterceptor(NewLimiter(m))
}

// HandrolledUnary returns the hand-rolled chain as a unary interceptor.
func HandrolledUnary(m Mode) grpc.UnaryServerInterceptor {
	h := NewHandrolled(m)
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		err = h.Do(func() error {
			resp, err = handler(ctx, req)
			return err
		})
		if err == ErrLimited {
			return nil, status.Error(codes.ResourceExhausted, "rate limited")
		}
		return resp, err
	}
}

// BareUnary is the pass-through interceptor: the floor every interceptor is
// measured against.
func BareUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

// FailsafeHTTPWith wraps next in failsafehttp's handler with the given
// policies.
func FailsafeHTTPWith(next http.Handler, policies ...failsafe.Policy[*http.Response]) http.Handler {
	return failsafehttp.NewHandler(next, policies...)
}

// FailsafeRoundTripper wraps next in failsafehttp's RoundTripper with
// FailsafePolicies.
func FailsafeRoundTripper(next http.RoundTripper, m Mode) http.RoundTripper {
	return failsafehttp.NewRoundTripper(next, FailsafePolicies[*http.Response](m)...)
}
