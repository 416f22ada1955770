package chaos

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// Phase is a stage of an experiment's life, as the report splits it.
type Phase string

// Phases, in order.
const (
	// PhaseBefore: both cohorts observed, nothing injected (steady state).
	PhaseBefore Phase = "before"
	// PhaseDuring: the fault injected into the experiment cohort.
	PhaseDuring Phase = "during"
	// PhaseAfter: injection over, both cohorts observed for recovery.
	PhaseAfter Phase = "after"
)

var phases = [...]Phase{PhaseBefore, PhaseDuring, PhaseAfter}

func (p Phase) index() int {
	switch p {
	case PhaseDuring:
		return 1
	case PhaseAfter:
		return 2
	}
	return 0
}

func (p Phase) valid() bool { return p == PhaseBefore || p == PhaseDuring || p == PhaseAfter }

// Latency histogram: 16 exact buckets of 1 µs, then 8 per power of two (at
// most 12.5 % wide) up to 2^44 µs.
const (
	histLinear  = 16
	histSub     = 8
	histBuckets = histLinear + (44-4)*histSub
)

func histIndex(d time.Duration) int {
	us := uint64(max(d, 0) / time.Microsecond)
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - 1 // >= 4
	i := histLinear + (e-4)*histSub + int((us>>(e-3))&(histSub-1))
	return min(i, histBuckets-1)
}

// histUpper is the upper bound of bucket i.
func histUpper(i int) time.Duration {
	if i < histLinear {
		return time.Duration(i+1) * time.Microsecond
	}
	e := (i-histLinear)/histSub + 4
	sub := (i - histLinear) % histSub
	us := (uint64(histSub+sub+1) << (e - 3))
	return time.Duration(us) * time.Microsecond
}

// cohortStats counts one cohort's calls in one phase. Its Release records
// the outcome of a call the fault gate admitted; token is the call's
// Call.Now in Unix nanoseconds, for a latency the adapter did not measure.
type cohortStats struct {
	clock    baldur.Clock
	s        [stripes]scalars // spread over cache lines: a cohort's calls come from every core
	rejected [maxReason]atomic.Uint64
	hist     [histBuckets]atomic.Uint64
}

// An injected error is one atomic add of injected on the call path;
// snapshot counts it as a call, a failure and an injected_fault
// rejection, with no latency (it did not run).

// stripes is how many cache lines a cohort's scalar counters are spread
// over; snapshot sums them.
const stripes = 8

// scalars are one stripe of a cohort's counters, one cache line.
type scalars struct {
	calls, successes, failures, ignored, injected, delayed, wouldInject atomic.Uint64
	_                                                                   [8]byte
}

// one returns a stripe chosen at random (runtime-cheap, no shared state).
func (s *cohortStats) one() *scalars { return &s.s[rand.Uint32()%stripes] }

// sum adds up the stripes.
func (s *cohortStats) sum() (out [7]uint64) {
	for i := range s.s {
		st := &s.s[i]
		for j, c := range [7]*atomic.Uint64{&st.calls, &st.successes, &st.failures, &st.ignored, &st.injected, &st.delayed, &st.wouldInject} {
			out[j] += c.Load()
		}
	}
	return out
}

// maxReason bounds the reasons counted per cohort.
const maxReason = 16

func (s *cohortStats) Release(token uint64, o baldur.Outcome) {
	st := s.one()
	st.calls.Add(1)
	switch o.Result {
	case baldur.Success:
		st.successes.Add(1)
	case baldur.Failure:
		st.failures.Add(1)
	default:
		st.ignored.Add(1)
	}
	lat := o.Latency
	if lat <= 0 && token != 0 {
		lat = time.Duration(s.clock.Now().UnixNano() - int64(token&^delayedToken))
	}
	s.hist[histIndex(lat)].Add(1)
}

// rejections is a cohortStats seen by the observe gate: its Release counts
// calls a later gate rejected, by reason, and ignores the rest (the fault
// gate records those).
type rejections cohortStats

func (r *rejections) Release(_ uint64, o baldur.Outcome) {
	if o.Rejected == 0 || o.Rejected == baldur.ReasonInjectedFault || o.Rejected >= maxReason {
		return
	}
	(*cohortStats)(r).one().calls.Add(1)
	r.rejected[o.Rejected].Add(1)
}

// Snapshot is one cohort's counts in one phase.
type Snapshot struct {
	// Calls counts every call of the cohort: run, injected or rejected.
	Calls uint64 `json:"calls"`
	// Successes, Failures and Ignored classify the calls that ran (and the
	// injected errors, as failures).
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	Ignored   uint64 `json:"ignored"`
	// Injected counts the injected errors and aborts; WouldInject what a
	// dry run would have injected (delays included).
	Injected    uint64 `json:"injected"`
	WouldInject uint64 `json:"would_inject"`
	// Delayed counts the calls an injected latency held.
	Delayed uint64 `json:"delayed"`
	// Rejected counts rejections by reason code ("breaker_open",
	// "injected_fault").
	Rejected map[string]uint64 `json:"rejected,omitempty"`
	hist     [histBuckets]uint64
}

func (s *cohortStats) snapshot() Snapshot {
	n := s.sum()
	inj := n[4]
	out := Snapshot{
		Calls: n[0] + inj, Successes: n[1], Failures: n[2] + inj,
		Ignored: n[3], Injected: inj, Delayed: n[5], WouldInject: n[6],
	}
	if inj > 0 {
		out.Rejected = map[string]uint64{baldur.ReasonInjectedFault.String(): inj}
	}
	for r := range s.rejected {
		if n := s.rejected[r].Load(); n > 0 {
			if out.Rejected == nil {
				out.Rejected = map[string]uint64{}
			}
			out.Rejected[baldur.Reason(r).String()] = n
		}
	}
	for i := range s.hist {
		out.hist[i] = s.hist[i].Load()
	}
	return out
}

// sub returns s minus an earlier snapshot of the same counters.
func (s Snapshot) sub(prev Snapshot) Snapshot {
	out := Snapshot{
		Calls: s.Calls - prev.Calls, Successes: s.Successes - prev.Successes, Failures: s.Failures - prev.Failures,
		Ignored: s.Ignored - prev.Ignored, Injected: s.Injected - prev.Injected, WouldInject: s.WouldInject - prev.WouldInject,
		Delayed: s.Delayed - prev.Delayed,
	}
	for k, v := range s.Rejected {
		if d := v - prev.Rejected[k]; d > 0 {
			if out.Rejected == nil {
				out.Rejected = map[string]uint64{}
			}
			out.Rejected[k] = d
		}
	}
	for i := range s.hist {
		out.hist[i] = s.hist[i] - prev.hist[i]
	}
	return out
}

// SuccessRate is successes over the calls that were judged (ignored ones
// left out); 1 when there were none.
func (s Snapshot) SuccessRate() float64 {
	n := s.Calls - min(s.Ignored, s.Calls)
	if n == 0 {
		return 1
	}
	return float64(s.Successes) / float64(n)
}

// ErrorRate is the share of judged calls that did not succeed, injected
// errors left out: what the fault caused rather than what it was.
func (s Snapshot) ErrorRate() float64 {
	n := s.Calls - min(s.Ignored+s.Injected, s.Calls)
	if n == 0 {
		return 0
	}
	bad := s.Calls - min(s.Ignored+s.Injected+s.Successes, s.Calls)
	return float64(bad) / float64(n)
}

// Percentile returns the q-quantile (0 < q <= 1) of the latencies of the
// calls that ran, as the upper bound of its histogram bucket (at most
// 12.5 % high); zero when none ran.
func (s Snapshot) Percentile(q float64) time.Duration {
	var total uint64
	for _, n := range s.hist {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.999999)
	rank = max(rank, 1)
	var seen uint64
	for i, n := range s.hist {
		seen += n
		if seen >= rank {
			return histUpper(i)
		}
	}
	return histUpper(histBuckets - 1)
}
