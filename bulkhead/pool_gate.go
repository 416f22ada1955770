package bulkhead

import (
	"context"

	"github.com/baldur-go/baldur"
)

// Stage returns baldur.StageBulkhead: a Policy runs the pool last, after the
// gates that hold nothing.
func (p *Pool) Stage() baldur.Stage { return baldur.StageBulkhead }

// Admit takes a place in the pool for c, the pool's baldur.Gate method: a
// worker or a queue slot, which the call's work then uses (Run). A pool
// whose workers are busy and whose queue is full rejects at once with the
// interned *baldur.Rejection (ReasonBulkheadFull), which costs no
// allocation; a done ctx is ctx.Err(); a closed pool is ErrClosed. A
// permit whose work never runs gives its place back on Release.
func (p *Pool) Admit(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	if err := ctx.Err(); err != nil {
		return baldur.Permit{}, err
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return baldur.Permit{}, ErrClosed
	}
	ok := p.reserve()
	p.mu.RUnlock()
	if !ok {
		p.noteReject(c.Now)
		return baldur.Permit{}, p.rej
	}
	return baldur.NewPermit((*place)(p), 0), nil
}

// Run runs fn on a worker, the pool's baldur.Runner method, and returns as
// Execute does. When permit holds a place Admit granted, Run takes it over
// (the permit is emptied) and the work uses it: it never waits for a place
// and is never rejected. Any other permit is left alone and the work takes
// a place anew, as with Execute. The Timeout counts from Run.
func (p *Pool) Run(ctx context.Context, permit *baldur.Permit, fn func(context.Context) error) error {
	if _, ok := permit.Claim((*place)(p)); ok {
		return p.execute(ctx, fn, true)
	}
	return p.Execute(ctx, fn)
}

// place is a Pool seen as the Releaser of the places Admit grants, so that
// only a granted permit can give one back.
type place Pool

func (pl *place) Release(uint64, baldur.Outcome) { (*Pool)(pl).leave() }
