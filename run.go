package baldur

import "context"

// Runner is a gate that runs the work of the calls it admits on goroutines
// of its own and bounds each by a timeout of its own: a worker-pool
// bulkhead. NewPolicy discovers it with a type assertion, as net/http
// discovers http.Flusher; adapters never name the gate and reach it only
// through Ticket.Runs and Ticket.Run. Implementations must be safe for
// concurrent use.
type Runner interface {
	Gate
	// Run runs fn for an admitted call and returns fn's error, or its own
	// when it stops waiting first: ctx.Err() unwrapped, or a timeout error
	// that matches ErrRejected and unwraps (errors.As) to a *Rejection. On
	// a timeout the caller is freed while fn may still be running, with
	// its context cancelled. A panic in fn is raised again in the caller.
	//
	// p is the permit the gate's Admit granted the call: Run takes it over
	// with Permit.Claim and gives the call's place back itself when the
	// work ends. A permit the gate did not grant is left alone, and the
	// work is admitted anew.
	Run(ctx context.Context, p *Permit, fn func(context.Context) error) error
}

// Claim empties p and returns its token when p holds a permit that r
// granted; otherwise it leaves p unchanged and returns false. A gate that
// takes over its own permit (a Runner) uses it, so that the permit cannot
// also be released. r should be a pointer, as every Releaser of the gate
// packages is.
func (p *Permit) Claim(r Releaser) (token uint64, ok bool) {
	if p == nil || p.r == nil || p.r != r {
		return 0, false
	}
	token = p.token
	*p = Permit{}
	return token, true
}

// Runs reports whether a gate of the ticket's policy runs the call's work
// (a Runner admitted it): the adapter then hands the work to Run. It is one
// comparison, so that the common path, a policy without a Runner, calls
// the work directly and allocates nothing.
func (t *Ticket) Runs() bool { return t.run != 0 }

// Run runs fn, the admitted call's work: on the Runner that admitted the
// call when Runs reports true (the first Runner of the chain, when there
// are several; the others hold their permits until Release), else directly
// on the caller's goroutine. Its errors are the Runner's (see Runner.Run).
// Only the first Run goes to the Runner; later ones call fn directly. Run
// does not release the ticket: Release it when the call is done, as always.
//
// fn escapes to the heap once it reaches a Runner, so an adapter that
// wants a path free of allocations calls Run only when Runs is true.
func (t *Ticket) Run(ctx context.Context, fn func(context.Context) error) error {
	if t.run == 0 {
		return fn(ctx)
	}
	i, r := t.run-1, t.runner
	t.run, t.runner = 0, nil
	// The Runner gets a copy, so that the ticket itself never escapes.
	p := t.permits[i]
	t.permits[i] = Permit{}
	return r.Run(ctx, &p, fn)
}
