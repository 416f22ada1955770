package baldur

import "context"

// Gate is one admission check of a Policy. Gates are built by the gate
// packages (governance, throttle, blast, bulkhead) and composed by NewPolicy.
//
// Implementations must be safe for concurrent use and must not allocate on
// the admit path.
type Gate interface {
	// Stage returns the gate's place in a Policy's chain (StageGovernance,
	// StageThrottle, StageBlast, StageBulkhead, or a stage of the gate's
	// own package). It must not change over the gate's life.
	Stage() Stage
	// Admit admits c and returns a Permit (possibly the zero Permit when
	// nothing needs releasing), or rejects it with a *Rejection. A gate
	// that waits returns ctx.Err() unwrapped when ctx is done first.
	Admit(ctx context.Context, c Call) (Permit, error)
}

// Releaser takes back what a gate granted and learns from the call's outcome.
// Release is called at most once per Permit by a Ticket.
type Releaser interface {
	Release(token uint64, o Outcome)
}

// Permit is what a gate grants an admitted call: the Releaser to give it back
// to and a gate-defined token (a slot index, a generation). Only gates make
// Permits, with NewPermit; the zero Permit holds nothing, so a permit that was
// never granted cannot be released.
type Permit struct {
	r     Releaser
	token uint64
}

// NewPermit returns a Permit that Release hands back to r with token. A nil
// r yields the zero Permit.
func NewPermit(r Releaser, token uint64) Permit { return Permit{r: r, token: token} }

// Held reports whether the permit has something to release.
func (p Permit) Held() bool { return p.r != nil }

// Release hands the permit back with the call's outcome and empties p, so a
// second Release through the same variable is a no-op.
func (p *Permit) Release(o Outcome) {
	if r := p.r; r != nil {
		p.r = nil
		r.Release(p.token, o)
	}
}
