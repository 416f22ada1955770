// Package baldur is the shared contract of the baldur-go toolkit: the
// per-call descriptor, the gate and permit contract, the rejection type with
// its reasons, tiers, the clock, and the protocols (interfaces) of every slot
// of the provider registry.
//
// # The call path
//
// One guarded call is two steps:
//
//	t, err := policy.Admit(ctx, call)
//	if err != nil {
//		// err is a *Rejection (errors.Is(err, baldur.ErrRejected)) or ctx.Err().
//		return err
//	}
//	defer t.Release(outcome)
//
// A [Policy] runs its gates in the order of their [Stage]: governance,
// throttle, blast radius, bulkhead, and any stage a gate package declares
// between them. Cheap, stateless checks run first and resource-holding gates
// last, so a rejected call takes as little as possible.
// The first rejection stops the chain and the permits already taken are
// released in reverse order. The [Ticket] returned on admission releases every
// permit exactly once and reports the call's [Outcome] to every gate, so that
// breakers and the error budget learn from it.
//
// # Zero allocation
//
// A call is described by a [Call] value, passed by value so that it never
// escapes to the heap. Permits are values. Rejections with the same reason and
// Retry-After (in whole seconds) are interned, so the reject path allocates
// nothing either.
//
// # Adapters and gates
//
// Adapters (HTTP middleware, the outbound transport, gRPC interceptors) see
// only this package and internal helpers, never a gate: they build a Call, ask
// a [Resolver] for the operation's Policy, and map a [Rejection] to a response
// with [Reason.HTTPStatus] and [Reason.GRPCCode]. Gates implement [Gate].
// Adding a gate never edits an adapter.
//
// # Registry slots
//
// Every role that several packages read from the registry (governance
// checker, emergency manager, error budget, bulkhead registry, admin
// identity) is an interface here. Where the role has a safe default, a NoOp
// implementation sits beside the interface and the registry returns it from
// Get when nothing is set. The default follows the role's fail mode:
// NoOpGovernance allows everything (fail-open). Roles without a safe default
// have none, and SafeGet reports them unset.
//
// # Capabilities
//
// Admin views and metrics read a gate through small optional interfaces
// ([KeyReporter], [CompartmentReporter], [BreakerReporter], [BreakerForcer])
// found by type assertion, as net/http finds http.Flusher, so a new kind of
// gate shows up in both without a change there. A gate's place in the chain
// is its Stage; stages are spaced so that a new kind of gate declares its
// own between two others.
package baldur
