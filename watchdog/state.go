package watchdog

import (
	"sync"
	"sync/atomic"
	"time"
)

// checkState is what the runner keeps per check. The pass goroutine of the
// check owns backoff and open (one runs at a time: busy); the fields under
// mu are also read by Status and changed by ReleaseBrake.
type checkState struct {
	check      Check
	name       string
	local      bool
	ns         string // the lock's namespace
	incKey     string // the incidents' check key
	store      IncidentStore
	maxActions int

	busy atomic.Bool // a pass goroutine (maybe abandoned) runs the check

	backoff map[string]*subjectBackoff
	seq     uint64 // passes that observed the check
	// cache holds the open incidents while acting under cacheToken (see
	// Runner.openIncidents); cacheStale asks the next pass to read the
	// store again.
	cache      map[string]Incident
	cacheToken uint64
	cacheAge   int
	cacheStale atomic.Bool

	mu         sync.Mutex
	role       Role
	token      uint64
	until      time.Time // the lease's end on our clock
	brake      bool
	brakeSince time.Time
	// brakeStored: the brake's incident is in the store, so its absence
	// there later means an operator released it.
	brakeStored bool
	actions     []time.Time // action times in the last hour, oldest first
	observed    int
	open        int
	lastErr     string
	acted       map[string]uint64 // actions applied by action name (bounded)
}

type subjectBackoff struct {
	attempts int
	next     time.Time
	seen     uint64 // the pass that last observed the subject
}

// maxActionNames bounds the action names counted per check (metrics
// labels); further names count as "other".
const maxActionNames = 32

func newCheckState(c Check, replica string, budget int) *checkState {
	cs := &checkState{check: c, name: c.Name(), ns: "watchdog:" + c.Name(), maxActions: budget,
		backoff: map[string]*subjectBackoff{}, role: RoleUnknown, acted: map[string]uint64{}}
	if lc, ok := c.(LocalCheck); ok && lc.Local() {
		cs.local, cs.role = true, RoleLocal
	}
	cs.incKey = cs.name
	if cs.local {
		cs.incKey = cs.name + "@" + replica
	}
	return cs
}

// pruneLocked drops the actions older than an hour before now.
func (cs *checkState) pruneLocked(now time.Time) {
	cut := now.Add(-time.Hour)
	i := 0
	for i < len(cs.actions) && !cs.actions[i].After(cut) {
		i++
	}
	if i > 0 {
		cs.actions = append(cs.actions[:0], cs.actions[i:]...)
	}
}

// spend takes one action from the budget at now, or reports that the
// budget is spent (the caller engages the brake).
func (cs *checkState) spend(now time.Time) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.pruneLocked(now)
	if len(cs.actions) >= cs.maxActions {
		return false
	}
	cs.actions = append(cs.actions, now)
	return true
}

func (cs *checkState) countAction(name string) {
	if name == "" {
		name = "apply"
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.acted[name]; !ok && len(cs.acted) >= maxActionNames {
		name = "other"
	}
	cs.acted[name]++
}

func (cs *checkState) status(now time.Time) CheckStatus {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.pruneLocked(now)
	return CheckStatus{Name: cs.name, Role: cs.role, Token: cs.token, Brake: cs.brake, BrakeSince: cs.brakeSince,
		ActionsLastHour: len(cs.actions), MaxActionsPerHour: cs.maxActions, Observed: cs.observed,
		OpenIncidents: cs.open, LastError: cs.lastErr}
}
