package canary

import (
	"context"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/enum"
)

// StageObserve is the observe gate's place in a policy's chain: after every
// gate that can reject, so that it sees exactly the calls a cohort
// admitted. It never rejects.
const StageObserve baldur.Stage = 250

// Cohort is which side of a split a call was resolved in.
type Cohort uint8

const (
	// Baseline: the running configuration.
	Baseline Cohort = iota
	// Candidate: the configuration under rollout.
	Candidate

	// NumCohorts is the number of cohorts.
	NumCohorts = 2
)

var cohortNames = enum.New[Cohort]("cohort", "baseline", "candidate")

// String returns "baseline" or "candidate".
func (c Cohort) String() string { return cohortNames.String(c) }

// stripes spread the recorder's counters over cache lines, so that two
// cores releasing at once rarely write the same line.
const stripes = 4

// Recorder counts one cohort's admitted calls from their released tickets:
// successes, failures and a log-linear latency histogram, as cumulative
// atomic counters. A window is the difference of two snapshots, so the
// call path never rotates anything. Ignored outcomes (4xx, cancellations)
// and injected faults are not counted.
//
// A Recorder is safe for concurrent use; its zero value is ready.
type Recorder struct {
	s [stripes]stripe
}

// stripe holds one histogram per result; a call without a measured
// latency counts in bucket 0 of its result's histogram, so that a release
// is one atomic add.
type stripe struct {
	hist [2][HistogramBuckets]atomic.Uint64 // [0]: success, [1]: failure
	_    [64]byte
}

// Gate returns the observe gate that records into r: add it last to each
// policy of the cohort's table (registry.StartCohorts does).
func (r *Recorder) Gate() baldur.Gate { return (*observeGate)(r) }

type observeGate Recorder

func (*observeGate) Stage() baldur.Stage { return StageObserve }

// Admit grants every call a permit whose token picks the counters' stripe
// from the call's key (its length and last byte: no hashing), so that
// concurrent calls of different tenants rarely share a cache line.
func (g *observeGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	t := uint64(len(c.Key))
	if t > 0 {
		t += uint64(c.Key[t-1])
	}
	return baldur.NewPermit(g, t), nil
}

// Release records the outcome.
func (g *observeGate) Release(token uint64, o baldur.Outcome) {
	(*Recorder)(g).Record(token, o)
}

// Record counts o in the stripe chosen by token: one atomic add.
func (r *Recorder) Record(token uint64, o baldur.Outcome) {
	if o.Injected || o.Result == baldur.Ignored {
		return
	}
	res := 0
	if o.Result == baldur.Failure {
		res = 1
	}
	b := 0
	if o.Latency > 0 {
		b = bucketOf(o.Latency)
	}
	r.s[token%stripes].hist[res][b].Add(1)
}

// Snapshot returns the cumulative counts.
func (r *Recorder) Snapshot() Counts {
	var c Counts
	for i := range r.s {
		s := &r.s[i]
		for res := range s.hist {
			for b := range s.hist[res] {
				n := s.hist[res][b].Load()
				if res == 0 {
					c.Success += n
				} else {
					c.Failure += n
				}
				if b > 0 {
					c.Latency[b] += n
				}
			}
		}
	}
	return c
}

// HistogramBuckets is the number of latency buckets: bucket 0 for calls
// without a latency (never counted in Counts.Latency), then 16 per power of
// two of microseconds, so a bucket is at most 1/16 (6.25 %) wide.
const HistogramBuckets = 1 + 16*38

// bucketOf returns the bucket of a positive d: 1 + exact microseconds
// below 16 µs, then 16 linear sub-buckets per power of two, the last
// bucket open-ended. Bucket 0 counts calls without a latency.
func bucketOf(d time.Duration) int {
	v := uint64(d / time.Microsecond)
	if v < 16 {
		return 1 + int(v)
	}
	e := bits.Len64(v) - 5 // v>>e is in [16, 32)
	i := (e+1)*16 + int(v>>e) - 16
	return 1 + min(i, HistogramBuckets-2)
}

// bucketUpper returns the largest latency bucket b holds.
func bucketUpper(b int) time.Duration {
	i := b - 1
	if i < 16 {
		return time.Duration(i+1)*time.Microsecond - 1
	}
	e := i/16 - 1
	m := uint64(i%16) + 16
	return time.Duration((m+1)<<e)*time.Microsecond - 1
}

// Counts are cumulative (or, subtracted, one window's) outcome counts of a
// cohort.
type Counts struct {
	Success, Failure uint64
	Latency          Histogram
}

// Histogram counts latencies per bucket.
type Histogram [HistogramBuckets]uint64

// Total returns the number of latencies counted.
func (h *Histogram) Total() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket holding quantile q (in
// (0, 1]), and false for an empty histogram.
func (h *Histogram) Quantile(q float64) (time.Duration, bool) {
	n := h.Total()
	if n == 0 {
		return 0, false
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return bucketUpper(i), true
		}
	}
	return bucketUpper(HistogramBuckets - 1), true
}

// Sub returns c minus an earlier snapshot of the same counters.
func (c Counts) Sub(earlier Counts) Counts {
	out := Counts{Success: c.Success - earlier.Success, Failure: c.Failure - earlier.Failure}
	for i := range c.Latency {
		out.Latency[i] = c.Latency[i] - earlier.Latency[i]
	}
	return out
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Success += o.Success
	c.Failure += o.Failure
	for i := range c.Latency {
		c.Latency[i] += o.Latency[i]
	}
}
