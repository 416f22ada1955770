package baldur

import "context"

// AdminPrincipal is an authenticated admin operator. It is an immutable
// per-request fact.
type AdminPrincipal struct {
	Username string
}

// HeaderGetter reads a header value; http.Header and grpc metadata wrappers
// satisfy it.
type HeaderGetter interface {
	Get(key string) string
}

// AdminIdentityResolver resolves the operator behind an admin request. The
// registry's "admin_identity_resolver" slot exists only with a real
// implementation: SafeGet reports it unset by default, and the actor is then
// "anonymous".
//
// Contract: when trusted is false (the admin server is not behind a trusted
// proxy) Resolve must return ok == false, and so must it for an absent,
// empty or whitespace-only identity header. Implementations never log the
// header value. They must be safe for concurrent use.
type AdminIdentityResolver interface {
	Resolve(ctx context.Context, h HeaderGetter, trusted bool) (p AdminPrincipal, ok bool)
}

// AnonymousActor is the actor recorded when no principal is resolved.
const AnonymousActor = "anonymous"
