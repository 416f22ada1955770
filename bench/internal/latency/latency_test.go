package latency

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	s := NewSample(0)
	for i := 1000; i >= 1; i-- {
		s.Add(time.Duration(i) * time.Millisecond)
	}
	got := s.Summarize()
	want := Summary{N: 1000, Min: time.Millisecond, P50: 500 * time.Millisecond, P90: 900 * time.Millisecond,
		P99: 990 * time.Millisecond, P999: 999 * time.Millisecond, Max: 1000 * time.Millisecond, Mean: 500500 * time.Microsecond}
	require.Equal(t, want, got, "Summarize()")
	require.Equal(t, Summary{}, NewSample(0).Summarize(), "empty sample should summarize to zero")
}
