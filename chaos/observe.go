package chaos

// What the scheduler records for reports: the series of points, the
// breaker partitions of each cohort, and the report itself.

import (
	"context"
	"time"

	"github.com/baldur-go/baldur"
)

// pointLocked appends a series point and polls the breakers.
func (sc *Scheduler) pointLocked(rs *runState, now time.Time) {
	ph := Phase(rs.run.State)
	if !ph.valid() {
		return
	}
	pi := ph.index()
	cur := sc.cohortSnap(rs.run.Experiment.ID, ph)
	if len(rs.series) < maxSeries {
		pt := Point{At: now, Phase: ph}
		for c, dst := range []*PointStats{&pt.Exp, &pt.Ctl} {
			d := cur[c].sub(rs.pointSnap[pi][c])
			*dst = PointStats{Calls: d.Calls, SuccessRate: d.SuccessRate(), P99: baldur.Duration(d.Percentile(0.99))}
		}
		rs.series = append(rs.series, pt)
	}
	rs.pointSnap[pi] = cur
	sc.pollBreakersLocked(rs, pi)
}

// pollBreakersLocked counts the target policy's breaker partitions of
// cohort keys that opened or closed since the last pass.
func (sc *Scheduler) pollBreakersLocked(rs *runState, pi int) {
	e := rs.run.Experiment
	if sc.pols == nil || e.Target.Policy == "" {
		return
	}
	p, ok := sc.pols.PolicyByName(e.Target.Policy)
	if !ok {
		return
	}
	now := map[string]cohort{}
	for _, g := range p.Gates() {
		br, ok := g.(baldur.BreakerReporter)
		if !ok {
			continue
		}
		for _, part := range br.OpenPartitions() {
			if part.State != "open" && part.State != "forced_open" {
				continue
			}
			switch Cohort(e.ID, e.Rate, part.Key) {
			case "experiment":
				now[part.Key] = cohortExperiment
			case "control":
				now[part.Key] = cohortControl
			}
		}
	}
	for k, c := range now {
		if _, was := rs.open[k]; !was {
			rs.breakers[pi][c][0]++
		}
	}
	for k, c := range rs.open {
		if _, still := now[k]; !still {
			rs.breakers[pi][c][1]++
		}
	}
	rs.open = now
}

// reportLocked builds rs's report from the injector's counts.
func (sc *Scheduler) reportLocked(rs *runState) Report {
	e := rs.run.Experiment
	r := Report{
		ExperimentID: e.ID, Hypothesis: e.Hypothesis, Target: e.Target, Fault: e.Fault, Rate: e.Rate, DryRun: e.DryRun,
		State: rs.run.State, StopReason: rs.run.StopReason, Detail: rs.run.Detail,
		StartedAt: rs.run.StartedAt, InjectAt: rs.run.InjectAt, InjectEnd: rs.run.InjectEnd, EndedAt: rs.run.EndedAt,
		BudgetBeforePct: rs.budgetPre, BudgetAfterPct: rs.budgetPost,
		Series: append([]Point(nil), rs.series...),
	}
	if !rs.run.State.Ended() {
		r.BudgetAfterPct, _ = sc.guard.budgetStatus(sc.clock.Now())
	}
	all, _ := sc.inj.snapshot(e.ID)
	for pi := range phases {
		for c, dst := range []*CohortReport{&r.Experiment, &r.Control} {
			ps := phaseStats(all[pi][c])
			ps.BreakerOpened, ps.BreakerClosed = rs.breakers[pi][c][0], rs.breakers[pi][c][1]
			*dst.phase(pi) = ps
		}
	}
	judge(&r, &sc.s)
	return r
}

// Generate implements ReportGenerator: the stored report of an ended
// experiment, or the report so far of a running one.
func (sc *Scheduler) Generate(_ context.Context, id string) (Report, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	rs, ok := sc.runs[id]
	if !ok {
		return Report{}, ErrNotFound
	}
	if rs.report != nil {
		return *rs.report, nil
	}
	return sc.reportLocked(rs), nil
}
