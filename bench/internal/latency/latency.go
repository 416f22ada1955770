// Package latency records call latencies and reports percentiles from the
// sorted sample. Every run of the load and overload commands is bounded in
// requests, so keeping every sample (8 bytes each) is cheaper and more exact
// than a histogram.
package latency

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Sample is a set of latencies. It is safe for concurrent use.
type Sample struct {
	mu sync.Mutex
	d  []time.Duration
}

// NewSample returns a Sample with room for n latencies.
func NewSample(n int) *Sample { return &Sample{d: make([]time.Duration, 0, n)} }

// Add records one latency.
func (s *Sample) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Summary is the percentiles of a sample.
type Summary struct {
	N                  int
	Min, P50, P90, P99 time.Duration
	P999, Max, Mean    time.Duration
}

// Summarize sorts the sample and returns its percentiles (nearest rank).
func (s *Sample) Summarize() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.d)
	if n == 0 {
		return Summary{}
	}
	slices.Sort(s.d)
	var sum time.Duration
	for _, d := range s.d {
		sum += d
	}
	return Summary{
		N: n, Min: s.d[0], Max: s.d[n-1], Mean: sum / time.Duration(n),
		P50: rank(s.d, 0.50), P90: rank(s.d, 0.90), P99: rank(s.d, 0.99), P999: rank(s.d, 0.999),
	}
}

func rank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// Ms formats d in milliseconds with three decimals, as the result tables do.
func Ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
