package baldur

import (
	"context"
	"time"
)

// BlastScope is how far a risky action may reach.
type BlastScope string

// Blast-radius scopes, narrowest first.
const (
	ScopeInstance BlastScope = "instance"
	ScopeService  BlastScope = "service"
	ScopeRegion   BlastScope = "region"
)

// Action is a proposed risky action: a chaos experiment, a canary stage, an
// automated recovery.
type Action struct {
	// ID identifies the action; required to register it.
	ID string
	// Kind is "chaos", "canary", "recovery" or another name of the caller's.
	Kind           string
	Scope          BlastScope
	TargetService  string
	TargetDomain   string
	Region         string
	TrafficPercent float64
}

// BlastDecision is the blast-radius manager's answer.
type BlastDecision struct {
	Allowed          bool
	RequiresApproval bool
	// Violations lists every rule the action breaks, empty when allowed.
	Violations        []string
	MaxTrafficPercent float64
	MaxConcurrent     int
	CurrentConcurrent int
	WithinWindow      bool
}

// BlastRadiusManager bounds risky actions by scope. The registry's
// "blast_radius_manager" slot; unset by default.
//
// Implementations must be safe for concurrent use.
type BlastRadiusManager interface {
	// Check evaluates a without registering it.
	Check(ctx context.Context, a Action) (BlastDecision, error)
	// Begin checks a and, when allowed, registers it as active.
	Begin(ctx context.Context, a Action) (BlastDecision, error)
	// End unregisters the action with id; ending an unknown id is a no-op.
	End(ctx context.Context, id string) error
	// Active lists the active actions.
	Active(ctx context.Context) []ActiveAction
}

// ActiveAction is a registered action and when it began.
type ActiveAction struct {
	Action
	Started time.Time
}
