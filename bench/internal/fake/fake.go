// Package fake provides zero-cost gates for measuring the cost of the Policy
// chain itself, apart from any real gate's work.
//
// Every type here is safe for concurrent use.
package fake

import (
	"context"

	"github.com/baldur-go/baldur"
)

// Gate admits every call at once. When Hold is true it grants a Permit that
// must be released (as a bulkhead or breaker does); otherwise it grants the
// zero Permit (as governance and the throttle do).
type Gate struct {
	kind baldur.Stage
	hold bool
}

// NewGate returns a Gate of the given kind (baldur.StageGovernance, ...).
func NewGate(kind baldur.Stage, hold bool) *Gate { return &Gate{kind: kind, hold: hold} }

// Kind returns the gate's stage.
func (g *Gate) Stage() baldur.Stage { return g.kind }

// Admit admits c.
func (g *Gate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if !g.hold {
		return baldur.Permit{}, nil
	}
	return baldur.NewPermit(g, 0), nil
}

// Release does nothing; it exists so that held permits travel the real
// release path.
func (g *Gate) Release(uint64, baldur.Outcome) {}

// Rejecter rejects every call with one interned rejection.
type Rejecter struct {
	kind baldur.Stage
	rej  *baldur.Rejection
}

// NewRejecter returns a gate of the given kind that always rejects for reason.
func NewRejecter(kind baldur.Stage, reason baldur.Reason) *Rejecter {
	return &Rejecter{kind: kind, rej: baldur.RejectAtLeast(reason, 0, 1e9)}
}

// Kind returns the gate's stage.
func (g *Rejecter) Stage() baldur.Stage { return g.kind }

// Admit rejects c.
func (g *Rejecter) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, g.rej
}

// Chain returns the four-stage policy of zero-cost gates: governance and
// throttle grant nothing to release, blast and bulkhead hold a permit, as the
// real gates do.
func Chain(name string) *baldur.Policy {
	return chain(name, NewGate(baldur.StageThrottle, false))
}

// RejectingChain returns Chain with the throttle replaced by a gate that
// always rejects, so that the reject path runs governance, then stops.
func RejectingChain(name string) *baldur.Policy {
	return chain(name, NewRejecter(baldur.StageThrottle, baldur.ReasonThrottled))
}

func chain(name string, throttle baldur.Gate) *baldur.Policy {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{
		Name: name,
		Gates: []baldur.Gate{
			NewGate(baldur.StageGovernance, false),
			throttle,
			NewGate(baldur.StageBlast, true),
			NewGate(baldur.StageBulkhead, true),
		},
	})
	if err != nil {
		panic(err) // static config: a failure is a bug in this file
	}
	return p
}
