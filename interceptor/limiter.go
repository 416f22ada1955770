package interceptor

import (
	"context"

	"google.golang.org/grpc"

	"github.com/baldur-go/baldur"
)

// Limiter adapts a baldur Resolver to the ratelimit.Limiter interface of
// github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit, so
// that any policy (a throttle, a governance gate) drops into code built
// around that module's ratelimit interceptors.
//
// Like the tap handle, a Limiter can only check: it admits and releases at
// once (Ignored outcome), so it suits throttles, not bulkheads. Its
// rejections reach the client as ratelimit's RESOURCE_EXHAUSTED with the
// rejection's text, without RetryInfo or pushback; the interceptors of this
// package answer richer. A Limiter is safe for concurrent use.
type Limiter struct {
	r resolver
	c *config
}

// NewLimiter returns a Limiter admitting calls by the policy r resolves for
// the call's full method (grpc.Method of the context; "" on the client
// side, where grpc does not record it).
func NewLimiter(r baldur.Resolver, opts ...Option) *Limiter {
	return &Limiter{r: newResolver(r), c: newServerConfig(opts)}
}

// Limit admits the call of ctx. It returns nil when admitted, the
// *baldur.Rejection (errors.Is(err, baldur.ErrRejected)) when rejected, or
// the context's error when a waiting gate saw it end.
func (l *Limiter) Limit(ctx context.Context) error {
	method, _ := grpc.Method(ctx)
	var call baldur.Call
	p := l.r.server(ctx, l.c, method, &call)
	if p == nil {
		return nil
	}
	call.Now = l.c.now()
	t, err := p.Admit(ctx, call)
	if err != nil {
		return err
	}
	t.Release(baldur.Outcome{Result: baldur.Ignored})
	return nil
}
