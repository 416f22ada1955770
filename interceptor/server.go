package interceptor

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/baldur-go/baldur"
)

// UnaryServerInterceptor guards unary calls with the policy r resolves for
// the call's full method. The permits are held while the handler runs and
// released with the outcome of its error (also when it panics). A rejected
// call never reaches the handler: it gets a status error with RetryInfo and
// the grpc-retry-pushback-ms trailer. The interceptor is safe for
// concurrent use and allocates nothing of its own when the policy admits.
//
// When the policy holds a worker-pool bulkhead (a baldur.Runner, such as
// bulkhead.Pool), the handler runs on one of the pool's workers with a
// context that carries the call's values: a full pool rejects at once, and
// when the pool's Timeout passes first the call is answered with a status
// error with the code, RetryInfo and pushback trailer of a full bulkhead
// (UNAVAILABLE) and the timeout's message, while the handler, its context
// cancelled, runs on and its late response is dropped. A handler on a pool
// must not keep using the call (headers, trailers) once its context is
// done.
func UnaryServerInterceptor(r baldur.Resolver, opts ...Option) grpc.UnaryServerInterceptor {
	c := newServerConfig(opts)
	if k, ok := r.(baldur.KeyedResolver); ok {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			var call baldur.Call
			c.fillServerCall(ctx, info.FullMethod, time.Time{}, &call)
			p := k.PolicyFor(info.FullMethod, call.Key)
			if p == nil {
				return handler(ctx, req)
			}
			call.Now = c.now() // read only for a guarded call: with WithClock or WithLatency it is a real clock read
			return c.unaryServer(ctx, p, &call, req, handler)
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p := r.Policy(info.FullMethod)
		if p == nil {
			return handler(ctx, req)
		}
		var call baldur.Call
		c.fillServerCall(ctx, info.FullMethod, c.now(), &call)
		return c.unaryServer(ctx, p, &call, req, handler)
	}
}

// unaryServer guards a unary call with p, its policy.
func (c *config) unaryServer(ctx context.Context, p *baldur.Policy, call *baldur.Call, req any, handler grpc.UnaryHandler) (any, error) {
	g := guard{c: c, start: call.Now}
	if err := p.AdmitInto(ctx, call, &g.t); err != nil {
		return nil, rejectUnary(ctx, err)
	}
	defer g.unwind()
	var resp any
	var err error
	if g.t.Runs() {
		resp, err = handleOnPool(ctx, &g.t, req, handler)
	} else {
		resp, err = handler(ctx, req)
	}
	g.end(err)
	return resp, err
}

// StreamServerInterceptor guards streams with the policy r resolves for the
// stream's full method. The permits are held for the whole stream, until
// the handler returns, and released with the outcome of its error (also
// when it panics). A rejected stream never reaches the handler. Streams
// never run on a worker pool: a pool in the policy holds one of its places
// (Workers+QueueSize) for the whole stream, as a semaphore permit would.
// The interceptor is safe for concurrent use.
func StreamServerInterceptor(r baldur.Resolver, opts ...Option) grpc.StreamServerInterceptor {
	c := newServerConfig(opts)
	if k, ok := r.(baldur.KeyedResolver); ok {
		return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			var call baldur.Call
			c.fillServerCall(ss.Context(), info.FullMethod, time.Time{}, &call)
			p := k.PolicyFor(info.FullMethod, call.Key)
			if p == nil {
				return handler(srv, ss)
			}
			call.Now = c.now() // read only for a guarded call: with WithClock or WithLatency it is a real clock read
			return c.streamServer(p, &call, srv, ss, handler)
		}
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		p := r.Policy(info.FullMethod)
		if p == nil {
			return handler(srv, ss)
		}
		var call baldur.Call
		c.fillServerCall(ss.Context(), info.FullMethod, c.now(), &call)
		return c.streamServer(p, &call, srv, ss, handler)
	}
}

// streamServer guards a stream with p, its policy.
func (c *config) streamServer(p *baldur.Policy, call *baldur.Call, srv any, ss grpc.ServerStream, handler grpc.StreamHandler) error {
	g := guard{c: c, start: call.Now}
	if err := p.AdmitInto(ss.Context(), call, &g.t); err != nil {
		md, e := admitError(err)
		if md != nil {
			ss.SetTrailer(md)
		}
		return e
	}
	defer g.unwind()
	err := handler(srv, ss)
	g.end(err)
	return err
}
