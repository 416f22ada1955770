package chaos

// The scheduler's counters, for metrics.

import (
	"time"
)

func (sc *Scheduler) countDenials(reasons []string) {
	sc.mu.Lock()
	sc.countDenialsLocked(reasons)
	sc.mu.Unlock()
}

func (sc *Scheduler) countDenialsLocked(reasons []string) {
	for _, r := range reasons {
		sc.denials[r]++
	}
}

// SchedulerStats are the scheduler's counters, for metrics.
type SchedulerStats struct {
	// Experiments counts the kept experiments by state.
	Experiments map[State]int
	// GuardDenials counts refusals and aborts by the guard, by reason.
	GuardDenials map[string]uint64
	// Stops counts ended experiments by stop reason.
	Stops map[string]uint64
	// PollErrors counts failed loads of the active set.
	PollErrors uint64
	// LastPoll is when the active set was last loaded.
	LastPoll time.Time
	Injector InjectorStats
}

// Stats returns the counters.
func (sc *Scheduler) Stats() SchedulerStats {
	sc.mu.Lock()
	st := SchedulerStats{Experiments: map[State]int{}, GuardDenials: map[string]uint64{}, Stops: map[string]uint64{},
		PollErrors: sc.pollErrs, LastPoll: sc.lastPoll}
	for _, rs := range sc.runs {
		st.Experiments[rs.run.State]++
	}
	for k, v := range sc.denials {
		st.GuardDenials[k] = v
	}
	for k, v := range sc.stops {
		st.Stops[k] = v
	}
	sc.mu.Unlock()
	st.Injector = sc.inj.Stats()
	return st
}
