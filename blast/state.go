package blast

// State is the state of one partition's breaker.
type State uint8

const (
	// StateClosed admits every call and counts outcomes.
	StateClosed State = iota
	// StateHalfOpen admits a limited number of probe calls; their outcomes
	// close or reopen the breaker.
	StateHalfOpen
	// StateOpen rejects every call until the open timeout has passed.
	StateOpen
	// StateForcedOpen rejects every call until an operator's force expires
	// or is lifted; automatic transitions are suspended.
	StateForcedOpen
	// StateForcedClosed admits every call until an operator's force expires
	// or is lifted; outcomes are not counted and the breaker cannot trip.
	StateForcedClosed
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfOpen:
		return "half_open"
	case StateOpen:
		return "open"
	case StateForcedOpen:
		return "forced_open"
	case StateForcedClosed:
		return "forced_closed"
	}
	return "unknown"
}

// Forced reports whether s is an operator's force.
func (s State) Forced() bool { return s == StateForcedOpen || s == StateForcedClosed }
