package chaos

// Stop conditions: the experiment cohort against the control cohort over
// the calls since the last check.

import (
	"fmt"
	"time"
)

// cohortSnap returns both cohorts' counts in phase p.
func (sc *Scheduler) cohortSnap(id string, p Phase) [numCohorts]Snapshot {
	all, _ := sc.inj.snapshot(id)
	return all[p.index()]
}

// checkLocked evaluates the stop conditions over the calls since the last
// check; it returns a reason once Breaches consecutive checks breached.
func (sc *Scheduler) checkLocked(rs *runState, now time.Time, burn float64) (reason, detail string) {
	cur := sc.cohortSnap(rs.run.Experiment.ID, PhaseDuring)
	exp, ctl := cur[cohortExperiment].sub(rs.checkSnap[cohortExperiment]), cur[cohortControl].sub(rs.checkSnap[cohortControl])
	rs.checkSnap, rs.lastCheck = cur, now
	reason, detail = sc.s.breached(exp, ctl, burn)
	if reason == "" {
		rs.breaches = 0
		return "", ""
	}
	rs.breaches++
	if rs.breaches < sc.s.breaches {
		return "", ""
	}
	return reason, detail
}

// breached returns the first stop condition exp and ctl (one interval's
// counts) breach, with the fastest burn rate of the error budget.
func (s *settings) breached(exp, ctl Snapshot, burn float64) (reason, detail string) {
	if burn > s.burn {
		return ReasonBurnRate, fmt.Sprintf("error budget burn rate %.1f above %.1f", burn, s.burn)
	}
	min := uint64(s.minCalls)
	if exp.Calls-exp.Injected < min || ctl.Calls < min {
		return "", ""
	}
	if d := exp.ErrorRate() - ctl.ErrorRate(); d > s.errDelta {
		return ReasonErrorRateDelta, fmt.Sprintf("experiment error rate %.1f %% vs control %.1f %% (delta above %.1f %%)",
			100*exp.ErrorRate(), 100*ctl.ErrorRate(), 100*s.errDelta)
	}
	if d := exp.Percentile(0.95) - ctl.Percentile(0.95); d > s.p95 {
		return ReasonP95Delta, fmt.Sprintf("experiment p95 %s vs control %s (delta above %s)", exp.Percentile(0.95), ctl.Percentile(0.95), s.p95)
	}
	if d := exp.Percentile(0.99) - ctl.Percentile(0.99); d > s.p99 {
		return ReasonP99Delta, fmt.Sprintf("experiment p99 %s vs control %s (delta above %s)", exp.Percentile(0.99), ctl.Percentile(0.99), s.p99)
	}
	return "", ""
}
