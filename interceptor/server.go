package interceptor

import (
	"context"

	"google.golang.org/grpc"

	"github.com/baldur-go/baldur"
)

// UnaryServerInterceptor guards unary calls with the policy r resolves for
// the call's full method. The permits are held while the handler runs and
// released with the outcome of its error (also when it panics). A rejected
// call never reaches the handler: it gets a status error with RetryInfo and
// the grpc-retry-pushback-ms trailer. The interceptor is safe for
// concurrent use and allocates nothing of its own when the policy admits.
func UnaryServerInterceptor(r baldur.Resolver, opts ...Option) grpc.UnaryServerInterceptor {
	c := newConfig(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p := r.Policy(info.FullMethod)
		if p == nil {
			return handler(ctx, req)
		}
		start := c.clock.Now()
		t, err := p.Admit(ctx, c.serverCall(ctx, info.FullMethod, start))
		if err != nil {
			return nil, rejectUnary(ctx, err)
		}
		// The deferred release runs only when the handler panics (or calls
		// runtime.Goexit); nothing is recovered, so the panic goes on with
		// its original stack once the permits are back.
		returned := false
		defer func() {
			if !returned {
				t.Release(panicked(c.since(start)))
			}
		}()
		resp, err := handler(ctx, req)
		returned = true
		t.Release(outcomeOf(err, c.since(start)))
		return resp, err
	}
}

// StreamServerInterceptor guards streams with the policy r resolves for the
// stream's full method. The permits are held for the whole stream, until
// the handler returns, and released with the outcome of its error (also
// when it panics). A rejected stream never reaches the handler. The
// interceptor is safe for concurrent use.
func StreamServerInterceptor(r baldur.Resolver, opts ...Option) grpc.StreamServerInterceptor {
	c := newConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		p := r.Policy(info.FullMethod)
		if p == nil {
			return handler(srv, ss)
		}
		ctx := ss.Context()
		start := c.clock.Now()
		t, err := p.Admit(ctx, c.serverCall(ctx, info.FullMethod, start))
		if err != nil {
			md, e := admitError(err)
			if md != nil {
				ss.SetTrailer(md)
			}
			return e
		}
		returned := false
		defer func() {
			if !returned {
				t.Release(panicked(c.since(start)))
			}
		}()
		err = handler(srv, ss)
		returned = true
		t.Release(outcomeOf(err, c.since(start)))
		return err
	}
}
