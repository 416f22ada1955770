package interceptor

import (
	"context"

	"google.golang.org/grpc/tap"

	"github.com/baldur-go/baldur"
)

// InHandle returns a tap handle (grpc.InTapHandle) that sheds calls before
// grpc decodes them or starts a goroutine for them.
//
// It can only check: each call is admitted and its permits released at
// once with an Ignored outcome, so it suits gates that hold nothing across
// the call (governance, throttle), not bulkheads. grpc runs it under the
// connection's lock, so its gates must not wait. A rejection is a status
// error with the same code and details as the interceptors', but grpc sends
// no trailers for it, so there is no pushback. The handle is safe for
// concurrent use.
func InHandle(r baldur.Resolver, opts ...Option) tap.ServerInHandle {
	c, res := newServerConfig(opts), newResolver(r)
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		var call baldur.Call
		p := res.server(ctx, c, info.FullMethodName, &call)
		if p == nil {
			return ctx, nil
		}
		call.Now = c.now()
		t, err := p.Admit(ctx, call)
		if err != nil {
			_, e := admitError(err)
			return ctx, e
		}
		t.Release(baldur.Outcome{Result: baldur.Ignored})
		return ctx, nil
	}
}
