package canary

import (
	"fmt"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// Verdict is the judge's answer for one stage window.
type Verdict uint8

const (
	// Inconclusive: too few calls, or a criterion could not be evaluated.
	// It is the zero Verdict: what was not judged never passes.
	Inconclusive Verdict = iota
	// Pass: every criterion held.
	Pass
	// Fail: at least one criterion was broken.
	Fail

	// NumVerdicts is the number of verdicts.
	NumVerdicts = 3
)

var verdictNames = enum.New[Verdict]("verdict", "inconclusive", "pass", "fail")

// String returns "inconclusive", "pass" or "fail".
func (v Verdict) String() string { return verdictNames.String(v) }

// Criteria are the pass criteria of a stage window, candidate against
// baseline. The zero value of a field means its default.
type Criteria struct {
	// MinRequests is how many calls (admitted and rejected) each cohort
	// needs in a window for a verdict. Default 100.
	MinRequests uint64
	// MaxErrorRate bounds the candidate's failure rate. Default 0.05.
	MaxErrorRate float64
	// ErrorMargin is how far the candidate's failure rate may exceed the
	// baseline's. Default 0.01 (one percentage point).
	ErrorMargin float64
	// P95Margin is how far the candidate's p95 latency may exceed the
	// baseline's. Default 50 ms.
	P95Margin time.Duration
	// P99Factor is how far, relatively, the candidate's p99 latency may
	// exceed the baseline's. Default 0.2 (20 %).
	P99Factor float64
	// RejectionMargin is how far the candidate's rejection rate (calls its
	// gates rejected, of all its calls) may exceed the baseline's. Default
	// 0.02 (two percentage points).
	RejectionMargin float64
}

func (c Criteria) withDefaults() Criteria {
	if c.MinRequests == 0 {
		c.MinRequests = 100
	}
	if c.MaxErrorRate == 0 {
		c.MaxErrorRate = 0.05
	}
	if c.ErrorMargin == 0 {
		c.ErrorMargin = 0.01
	}
	if c.P95Margin == 0 {
		c.P95Margin = 50 * time.Millisecond
	}
	if c.P99Factor == 0 {
		c.P99Factor = 0.2
	}
	if c.RejectionMargin == 0 {
		c.RejectionMargin = 0.02
	}
	return c
}

// Window is one cohort's calls over one observation window.
type Window struct {
	Counts
	// Rejected counts the cohort's rejected calls by reason code
	// ("throttled", ...).
	Rejected map[string]uint64
}

// Rejections returns the window's rejected calls.
func (w *Window) Rejections() uint64 {
	var n uint64
	for _, c := range w.Rejected {
		n += c
	}
	return n
}

// Requests returns the window's calls: judged outcomes plus rejections.
func (w *Window) Requests() uint64 { return w.Success + w.Failure + w.Rejections() }

// Summary is what the judge read from one cohort's window.
type Summary struct {
	Requests      uint64        `json:"requests"`
	Success       uint64        `json:"success"`
	Failure       uint64        `json:"failure"`
	Rejected      uint64        `json:"rejected"`
	ErrorRate     float64       `json:"error_rate"`
	RejectionRate float64       `json:"rejection_rate"`
	P95           time.Duration `json:"p95_ns"`
	P99           time.Duration `json:"p99_ns"`
	// Rejections by reason code.
	ByReason map[string]uint64 `json:"by_reason,omitempty"`

	hasErr, hasLatency bool
}

func summarize(w *Window) Summary {
	s := Summary{Requests: w.Requests(), Success: w.Success, Failure: w.Failure, Rejected: w.Rejections(), ByReason: w.Rejected}
	if s.Requests > 0 {
		s.RejectionRate = float64(s.Rejected) / float64(s.Requests)
	}
	if judged := w.Success + w.Failure; judged > 0 {
		s.ErrorRate, s.hasErr = float64(w.Failure)/float64(judged), true
	}
	if p95, ok := w.Latency.Quantile(0.95); ok {
		s.P95, s.hasLatency = p95, true
		s.P99, _ = w.Latency.Quantile(0.99)
	}
	return s
}

// Judgement is a verdict with its evidence.
type Judgement struct {
	Verdict Verdict `json:"verdict"`
	// Reasons lists every broken criterion (for Fail) or what kept the
	// judge from deciding (for Inconclusive); empty for Pass.
	Reasons   []string `json:"reasons,omitempty"`
	Candidate Summary  `json:"candidate"`
	Baseline  Summary  `json:"baseline"`
}

// Judge compares the candidate's window with the baseline's. Fewer than
// MinRequests calls in either cohort is Inconclusive, never Pass and never
// Fail; otherwise any broken criterion is Fail, any criterion that could
// not be evaluated (no judged outcome, no latency measured) Inconclusive,
// and Pass only when every criterion held.
func Judge(c Criteria, cand, base Window) Judgement {
	c = c.withDefaults()
	j := Judgement{Candidate: summarize(&cand), Baseline: summarize(&base)}
	cs, bs := &j.Candidate, &j.Baseline
	if cs.Requests < c.MinRequests || bs.Requests < c.MinRequests {
		j.Reasons = []string{fmt.Sprintf("too few calls: candidate %d, baseline %d, need %d each", cs.Requests, bs.Requests, c.MinRequests)}
		return j
	}
	var fails, unsure []string
	if cs.RejectionRate > bs.RejectionRate+c.RejectionMargin {
		fails = append(fails, fmt.Sprintf("rejection rate %.1f %% > baseline %.1f %% + %.1f pp", 100*cs.RejectionRate, 100*bs.RejectionRate, 100*c.RejectionMargin))
	}
	switch {
	case !cs.hasErr || !bs.hasErr:
		unsure = append(unsure, "no admitted call finished in a cohort: error rate not evaluated")
	default:
		if cs.ErrorRate > c.MaxErrorRate {
			fails = append(fails, fmt.Sprintf("error rate %.2f %% > %.2f %%", 100*cs.ErrorRate, 100*c.MaxErrorRate))
		}
		if cs.ErrorRate > bs.ErrorRate+c.ErrorMargin {
			fails = append(fails, fmt.Sprintf("error rate %.2f %% > baseline %.2f %% + %.1f pp", 100*cs.ErrorRate, 100*bs.ErrorRate, 100*c.ErrorMargin))
		}
	}
	switch {
	case !cs.hasLatency || !bs.hasLatency:
		unsure = append(unsure, "no latency measured in a cohort: p95 and p99 not evaluated")
	default:
		if cs.P95 > bs.P95+c.P95Margin {
			fails = append(fails, fmt.Sprintf("p95 %v > baseline %v + %v", cs.P95, bs.P95, c.P95Margin))
		}
		if float64(cs.P99) > float64(bs.P99)*(1+c.P99Factor) {
			fails = append(fails, fmt.Sprintf("p99 %v > baseline %v + %.0f %%", cs.P99, bs.P99, 100*c.P99Factor))
		}
	}
	switch {
	case len(fails) > 0:
		j.Verdict, j.Reasons = Fail, fails
	case len(unsure) > 0:
		j.Verdict, j.Reasons = Inconclusive, unsure
	default:
		j.Verdict = Pass
	}
	return j
}
