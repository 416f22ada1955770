package interceptor

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/baldur-go/baldur"
)

// fillClientCall fills call, the zero Call, with an outgoing call keyed by
// the upstream, field by field (see fillServerCall).
func (c *config) fillClientCall(ctx context.Context, method, target string, now time.Time, call *baldur.Call) {
	call.Operation, call.Service, call.Region, call.Domain, call.Key, call.Now = method, c.service, c.region, c.domain, target, now
	if d, ok := ctx.Deadline(); ok {
		call.Deadline = d
	}
	if c.key != nil {
		call.Key = c.key(ctx, method)
	}
	if c.tier != nil {
		call.Tier = c.tier(ctx, method)
	}
}

func target(cc *grpc.ClientConn) string {
	if cc == nil {
		return ""
	}
	return cc.Target()
}

// UnaryClientInterceptor guards outgoing unary calls with the policy r
// resolves for the full method, keyed by default by the ClientConn's target.
// A rejected call does no network I/O and returns a status error with
// RetryInfo (the caller's own retry loop should honor it; grpc's built-in
// retry does not see it, as interceptors run outside it). The permits are
// held while the invoker runs, retries included. The interceptor is safe for
// concurrent use.
//
// When the policy holds a worker-pool bulkhead (a baldur.Runner, such as
// bulkhead.Pool), the invoker runs on one of the pool's workers: a full
// pool rejects at once (UNAVAILABLE with RetryInfo), and when the pool's
// Timeout passes first the caller gets a status error with the code,
// RetryInfo and pushback of a full bulkhead (UNAVAILABLE) and the
// timeout's message, which matches errors.Is(err, bulkhead.ErrTimeout);
// the invoker's context is cancelled. Until the invoker sees that, it may
// still be encoding req or decoding into reply: after a timeout error do
// not reuse req or read reply (generated clients drop reply on error).
func UnaryClientInterceptor(r baldur.Resolver, opts ...Option) grpc.UnaryClientInterceptor {
	c := newConfig(opts)
	if k, ok := r.(baldur.KeyedResolver); ok {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
			var call baldur.Call
			c.fillClientCall(ctx, method, target(cc), time.Time{}, &call)
			p := k.PolicyFor(method, call.Key)
			if p == nil {
				return invoker(ctx, method, req, reply, cc, callOpts...)
			}
			call.Now = c.now() // read only for a guarded call: with WithClock or WithLatency it is a real clock read
			return c.unaryClient(ctx, p, &call, method, req, reply, cc, invoker, callOpts)
		}
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		p := r.Policy(method)
		if p == nil {
			return invoker(ctx, method, req, reply, cc, callOpts...)
		}
		var call baldur.Call
		c.fillClientCall(ctx, method, target(cc), c.now(), &call)
		return c.unaryClient(ctx, p, &call, method, req, reply, cc, invoker, callOpts)
	}
}

// unaryClient guards an outgoing unary call with p, its policy.
func (c *config) unaryClient(ctx context.Context, p *baldur.Policy, call *baldur.Call, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts []grpc.CallOption) error {
	g := guard{c: c, start: call.Now}
	if err := p.AdmitInto(ctx, call, &g.t); err != nil {
		if c.dlq != nil {
			c.captureDLQ(ctx, method, req, err)
		}
		_, e := admitError(err)
		return e
	}
	defer g.unwind()
	var err error
	if g.t.Runs() {
		err = invokeOnPool(ctx, &g.t, method, req, reply, cc, invoker, callOpts)
	} else {
		err = invoker(ctx, method, req, reply, cc, callOpts...)
	}
	g.end(err)
	if err != nil && c.dlq != nil && ctx.Err() != context.Canceled {
		c.captureDLQ(ctx, method, req, err)
	}
	return err
}

// StreamClientInterceptor guards outgoing streams with the policy r
// resolves for the full method. The permits are held until the stream is
// over: RecvMsg returns io.EOF (success) or an error, the one response of a
// stream without server streaming arrives, Header or SendMsg fail, or the
// caller's context ends (Canceled is ignored, DeadlineExceeded a failure).
// They are released exactly once, whichever comes first. A stream the
// caller neither reads to the end nor cancels holds its permits, as it
// holds grpc's resources. Streams never run on a worker pool: a pool in the
// policy holds one of its places (Workers+QueueSize) for the whole stream,
// as a semaphore permit would. The interceptor is safe for concurrent use.
func StreamClientInterceptor(r baldur.Resolver, opts ...Option) grpc.StreamClientInterceptor {
	c := newConfig(opts)
	if k, ok := r.(baldur.KeyedResolver); ok {
		return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
			var call baldur.Call
			c.fillClientCall(ctx, method, target(cc), time.Time{}, &call)
			p := k.PolicyFor(method, call.Key)
			if p == nil {
				return streamer(ctx, desc, cc, method, callOpts...)
			}
			call.Now = c.now() // read only for a guarded call: with WithClock or WithLatency it is a real clock read
			return c.streamClient(ctx, p, &call, desc, cc, method, streamer, callOpts)
		}
	}
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
		p := r.Policy(method)
		if p == nil {
			return streamer(ctx, desc, cc, method, callOpts...)
		}
		var call baldur.Call
		c.fillClientCall(ctx, method, target(cc), c.now(), &call)
		return c.streamClient(ctx, p, &call, desc, cc, method, streamer, callOpts)
	}
}

// streamClient guards an outgoing stream with p, its policy.
func (c *config) streamClient(ctx context.Context, p *baldur.Policy, call *baldur.Call, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts []grpc.CallOption) (grpc.ClientStream, error) {
	g := guard{c: c, start: call.Now}
	if err := p.AdmitInto(ctx, call, &g.t); err != nil {
		_, e := admitError(err)
		return nil, e
	}
	defer g.unwind()
	cs, err := streamer(ctx, desc, cc, method, callOpts...)
	if err != nil {
		g.end(err)
		return nil, err
	}
	s := &clientStream{ClientStream: cs, c: c, serverStreams: desc.ServerStreams, start: g.start, t: g.handOff()}
	if ctx.Done() != nil {
		s.stop = context.AfterFunc(ctx, func() { s.finish(ctx.Err()) })
	}
	return s, nil
}

// clientStream releases its call's permits when the stream is over.
type clientStream struct {
	grpc.ClientStream
	c             *config
	serverStreams bool
	start         time.Time
	stop          func() bool // set before the stream is returned; nil for contexts that never end
	done          atomic.Bool // whoever flips it owns t
	t             baldur.Ticket
}

func (s *clientStream) finish(err error) {
	if !s.done.CompareAndSwap(false, true) {
		return
	}
	s.t.Release(outcomeOf(err, s.c.since(s.start)))
}

// finishCaller is finish called from the caller's goroutine, which may also
// drop the context callback.
func (s *clientStream) finishCaller(err error) {
	if s.done.Load() {
		return
	}
	if s.stop != nil {
		s.stop()
	}
	s.finish(err)
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		if !s.serverStreams {
			s.finishCaller(nil) // the one response ends the call
		}
	case err == io.EOF:
		s.finishCaller(nil)
	default:
		s.finishCaller(err)
	}
	return err
}

func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && err != io.EOF { // io.EOF: the status comes from RecvMsg
		s.finishCaller(err)
	}
	return err
}

func (s *clientStream) Header() (md metadata.MD, err error) {
	md, err = s.ClientStream.Header()
	if err != nil {
		s.finishCaller(err)
	}
	return md, err
}
