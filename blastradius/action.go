package blastradius

import (
	"time"
)

// Scope is how far a risky action may reach.
type Scope string

// Blast-radius scopes, narrowest first.
const (
	ScopeInstance Scope = "instance"
	ScopeService  Scope = "service"
	ScopeRegion   Scope = "region"
)

// Action is a proposed risky action: a chaos experiment, a canary stage, an
// automated recovery.
type Action struct {
	// ID identifies the action; required to register it.
	ID string
	// Kind is "chaos", "canary", "recovery" or another name of the
	// caller's.
	Kind           string
	Scope          Scope
	TargetService  string
	TargetDomain   string
	Region         string
	TrafficPercent float64
	// WaiveWindow skips the time-window rule for an action an operator
	// forced (a chaos experiment with force): the window is reported in
	// Decision.WithinWindow but is no violation. Every other limit holds.
	WaiveWindow bool
}

// Decision is the blast-radius manager's answer.
type Decision struct {
	Allowed          bool
	RequiresApproval bool
	// Violations lists every rule the action breaks, empty when allowed.
	Violations        []string
	MaxTrafficPercent float64
	MaxConcurrent     int
	CurrentConcurrent int
	WithinWindow      bool
}

// ActiveAction is a registered action and when it began.
type ActiveAction struct {
	Action
	Started time.Time
}
