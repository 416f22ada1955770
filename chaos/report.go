package chaos

import (
	"context"
	"math"
	"time"

	"github.com/baldur-go/baldur"
)

// Verdicts of a Report.
const (
	// VerdictHeld: the control cohort kept its steady state while the
	// experiment cohort took the fault, and the experiment cohort
	// recovered afterwards: the fault was contained.
	VerdictHeld = "held"
	// VerdictRefuted: the control cohort degraded, or the experiment
	// cohort did not recover.
	VerdictRefuted = "refuted"
	// VerdictInconclusive: too few calls to judge, or a dry run.
	VerdictInconclusive = "inconclusive"
)

// PhaseStats is one cohort in one phase.
type PhaseStats struct {
	Calls       uint64            `json:"calls"`
	Successes   uint64            `json:"successes"`
	Failures    uint64            `json:"failures"`
	Injected    uint64            `json:"injected"`
	Delayed     uint64            `json:"delayed"`
	WouldInject uint64            `json:"would_inject"`
	SuccessRate float64           `json:"success_rate"`
	P50         baldur.Duration   `json:"p50"`
	P95         baldur.Duration   `json:"p95"`
	P99         baldur.Duration   `json:"p99"`
	Rejected    map[string]uint64 `json:"rejected,omitempty"`
	// BreakerOpened and BreakerClosed count the breaker partitions of the
	// cohort's keys that opened and closed in the phase (the target
	// policy's breakers, polled each pass).
	BreakerOpened int `json:"breaker_opened"`
	BreakerClosed int `json:"breaker_closed"`
}

func phaseStats(s Snapshot) PhaseStats {
	return PhaseStats{
		Calls: s.Calls, Successes: s.Successes, Failures: s.Failures, Injected: s.Injected, Delayed: s.Delayed, WouldInject: s.WouldInject,
		SuccessRate: s.SuccessRate(), P50: baldur.Duration(s.Percentile(0.50)),
		P95: baldur.Duration(s.Percentile(0.95)), P99: baldur.Duration(s.Percentile(0.99)), Rejected: s.Rejected,
	}
}

// CohortReport is one cohort before, during and after injection.
type CohortReport struct {
	Before PhaseStats `json:"before"`
	During PhaseStats `json:"during"`
	After  PhaseStats `json:"after"`
}

func (c *CohortReport) phase(i int) *PhaseStats {
	switch i {
	case 1:
		return &c.During
	case 2:
		return &c.After
	}
	return &c.Before
}

// Point is one pass of the scheduler: each cohort's calls since the last.
type Point struct {
	At    time.Time  `json:"at"`
	Phase Phase      `json:"phase"`
	Exp   PointStats `json:"experiment"`
	Ctl   PointStats `json:"control"`
}

// PointStats is a cohort over one interval.
type PointStats struct {
	Calls       uint64          `json:"calls"`
	SuccessRate float64         `json:"success_rate"`
	P99         baldur.Duration `json:"p99"`
}

// Report is the account of one experiment: the steady state of both
// cohorts before, during and after injection, the verdict on the
// hypothesis and why the experiment ended. Counts are this replica's.
type Report struct {
	ExperimentID string       `json:"experiment_id"`
	Hypothesis   string       `json:"hypothesis,omitempty"`
	Target       Target       `json:"target"`
	Fault        Fault        `json:"fault"`
	Rate         float64      `json:"rate"`
	DryRun       bool         `json:"dry_run"`
	State        State        `json:"state"`
	StopReason   string       `json:"stop_reason,omitempty"`
	Detail       string       `json:"detail,omitempty"`
	StartedAt    time.Time    `json:"started_at,omitzero"`
	InjectAt     time.Time    `json:"inject_at,omitzero"`
	InjectEnd    time.Time    `json:"inject_end,omitzero"`
	EndedAt      time.Time    `json:"ended_at,omitzero"`
	Experiment   CohortReport `json:"experiment"`
	Control      CohortReport `json:"control"`
	// BudgetBeforePct and BudgetAfterPct are the remaining error budget at
	// the start and at the end (or now).
	BudgetBeforePct float64 `json:"budget_before_pct"`
	BudgetAfterPct  float64 `json:"budget_after_pct"`
	// Verdict is held, refuted or inconclusive; VerdictDetail says why,
	// with the two-proportion z score of the cohorts' error rates during
	// injection.
	Verdict       string  `json:"verdict"`
	VerdictDetail string  `json:"verdict_detail"`
	ErrorRateZ    float64 `json:"error_rate_z"`
	Series        []Point `json:"series,omitempty"`
}

// ReportGenerator builds experiment reports. There is no NoOp: an empty
// report would read as a clean run.
//
// Implementations must be safe for concurrent use.
type ReportGenerator interface {
	// Generate returns the report of experimentID, or ErrNotFound.
	Generate(ctx context.Context, experimentID string) (Report, error)
}

// twoProportionZ is the z score of the difference between the failure
// shares a/n and b/m (pooled); zero when either side is empty.
func twoProportionZ(a, n, b, m uint64) float64 {
	if n == 0 || m == 0 {
		return 0
	}
	p1, p2 := float64(a)/float64(n), float64(b)/float64(m)
	p := float64(a+b) / float64(n+m)
	se := math.Sqrt(p * (1 - p) * (1/float64(n) + 1/float64(m)))
	if se == 0 {
		return 0
	}
	return (p1 - p2) / se
}

// verdictTolerance is how far a success rate may fall below its steady
// state before the verdict calls it lost.
const verdictTolerance = 0.05

// judge sets the verdict of r from its phase stats: the control cohort
// must hold its steady state during injection, and the experiment cohort
// must be back to its own by the end of the after phase (its last series
// point: breakers take their open timeout to close).
func judge(r *Report, s *settings) {
	e, c := r.Experiment, r.Control
	r.ErrorRateZ = twoProportionZ(e.During.Calls-e.During.Successes, max(e.During.Calls, 1),
		c.During.Calls-c.During.Successes, max(c.During.Calls, 1))
	if math.IsNaN(r.ErrorRateZ) {
		r.ErrorRateZ = 0
	}
	recovered, afterCalls := e.After.SuccessRate, e.After.Calls
	for i := len(r.Series) - 1; i >= 0; i-- {
		if p := r.Series[i]; p.Phase == PhaseAfter && p.Exp.Calls > 0 {
			recovered, afterCalls = p.Exp.SuccessRate, p.Exp.Calls
			break
		}
	}
	minCalls := uint64(s.minCalls)
	switch {
	case r.DryRun:
		r.Verdict, r.VerdictDetail = VerdictInconclusive, "dry run: nothing was injected"
	case c.During.Calls < minCalls || e.During.Calls < minCalls:
		r.Verdict, r.VerdictDetail = VerdictInconclusive, "too few calls during injection to judge"
	case c.Before.Calls >= minCalls && c.Before.SuccessRate-c.During.SuccessRate > verdictTolerance:
		r.Verdict, r.VerdictDetail = VerdictRefuted, "the control cohort lost its steady state during injection (success "+
			pctString(100*c.Before.SuccessRate)+" -> "+pctString(100*c.During.SuccessRate)+")"
	case afterCalls > 0 && e.Before.Calls >= minCalls && e.Before.SuccessRate-recovered > verdictTolerance:
		r.Verdict, r.VerdictDetail = VerdictRefuted, "the experiment cohort had not recovered by the end (success "+
			pctString(100*e.Before.SuccessRate)+" before, "+pctString(100*recovered)+" at the end)"
	default:
		r.Verdict, r.VerdictDetail = VerdictHeld, "the control cohort held its steady state (success "+
			pctString(100*c.During.SuccessRate)+") while the experiment cohort took the fault (success "+
			pctString(100*e.During.SuccessRate)+"), and the experiment cohort recovered (success "+pctString(100*recovered)+" at the end)"
	}
}
