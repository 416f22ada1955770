package interceptor

import (
	"context"
	"time"

	"github.com/baldur-go/baldur"
)

// resolver is the Resolver of a tap handle or Limiter and, when it
// resolves per key (a registry during a canary rollout), the same value as
// a KeyedResolver, asserted once when it is built. The interceptors make
// the same choice once, between two closures, so that a resolver by
// operation pays nothing for it.
type resolver struct {
	r     baldur.Resolver
	keyed baldur.KeyedResolver
}

func newResolver(r baldur.Resolver) resolver {
	k, _ := r.(baldur.KeyedResolver)
	return resolver{r: r, keyed: k}
}

// server returns the policy of a server-side call and, when there is one,
// fills call with everything but Now. A keyed resolver is asked with the
// call's key, so a tenant sees its cohort's policy; any other is asked by
// method, and the key is only computed for a guarded call.
func (r resolver) server(ctx context.Context, c *config, method string, call *baldur.Call) *baldur.Policy {
	if r.keyed != nil {
		c.fillServerCall(ctx, method, time.Time{}, call)
		return r.keyed.PolicyFor(method, call.Key)
	}
	p := r.r.Policy(method)
	if p != nil {
		c.fillServerCall(ctx, method, time.Time{}, call)
	}
	return p
}
