package bulkhead

import "github.com/baldur-go/baldur"

var (
	_ baldur.CompartmentReporter = (*Semaphore)(nil)
	_ baldur.CompartmentReporter = (*Tiered)(nil)
	_ baldur.CompartmentReporter = (*Pool)(nil)
)

// CompartmentStates returns the semaphore's occupancy, for admin views and
// metrics.
func (s *Semaphore) CompartmentStates() []baldur.BulkheadState {
	return []baldur.BulkheadState{s.State()}
}

// CompartmentStates returns the occupancy of each tier's compartment, most
// protected tier first.
func (g *Tiered) CompartmentStates() []baldur.BulkheadState {
	cs := g.Compartments()
	out := make([]baldur.BulkheadState, len(cs))
	for i, s := range cs {
		out[i] = s.State()
	}
	return out
}

// CompartmentStates returns the pool's occupancy.
func (p *Pool) CompartmentStates() []baldur.BulkheadState {
	return []baldur.BulkheadState{p.State()}
}
