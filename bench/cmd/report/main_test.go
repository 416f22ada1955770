package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line       string
		want       key
		ns, allocs float64
		cpu        float64
		ok         bool
	}{
		{"BenchmarkChain/path=admit/impl=baldur-2   \t 591518\t 390.1 ns/op\t 0 B/op\t 0 allocs/op", key{"Chain/path=admit", "baldur", 2}, 390.1, 0, 0, true},
		{"BenchmarkChain/path=admit/impl=baldur-fake \t 3458204\t 66.42 ns/op\t 0 B/op\t 0 allocs/op", key{"Chain/path=admit", "baldur-fake", 1}, 66.42, 0, 0, true},
		{"BenchmarkGate/gate=throttle/path=admit-2 1000000 415.8 ns/op 0 B/op 0 allocs/op", key{"Gate/gate=throttle/path=admit", "", 2}, 415.8, 0, 0, true},
		{"BenchmarkHTTP/path=admit/impl=failsafe-2 94545 2564 ns/op 1288 B/op 24 allocs/op", key{"HTTP/path=admit", "failsafe", 2}, 2564, 24, 0, true},
		{"BenchmarkRouteHTTP/path=admit/impl=baldur \t 469286\t 522.9 ns/op\t 521.6 cpu-ns/op\t 31 B/op\t 1 allocs/op", key{"RouteHTTP/path=admit", "baldur", 1}, 522.9, 1, 521.6, true},
		{"PASS", key{}, 0, 0, 0, false},
		{"goos: linux", key{}, 0, 0, 0, false},
	} {
		k, ns, allocs, cpu, ok := parse(tc.line)
		if assert.Equal(t, tc.ok, ok, "parse(%q) ok", tc.line) && ok {
			assert.Equal(t, tc.want, k, "parse(%q) key", tc.line)
			assert.Equal(t, tc.ns, ns, "parse(%q) ns/op", tc.line)
			assert.Equal(t, tc.allocs, allocs, "parse(%q) allocs/op", tc.line)
			assert.Equal(t, tc.cpu, cpu, "parse(%q) cpu-ns/op", tc.line)
		}
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}), "median odd")
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}), "median even")
}

// A ratio taken within each round and then the median over rounds
// cancels the machine's drift between rounds, which moves every row of a
// round together, and outvotes one disturbed sample; the ratio of the
// rows' medians pairs samples of different rounds.
func TestPairedMedianCancelsDrift(t *testing.T) {
	t.Parallel()
	// Three rounds at speeds 1, 1.6 and 1.3; the peer's overhead is 10x
	// ours in each, and ours was disturbed (+200 ns) in the first.
	bare := []float64{100, 160, 130}
	ours := []float64{300 + 200, 480, 390}
	peer := []float64{2100, 3360, 2730}
	got, ok := pairedMedian(overheadRatio, bare, ours, peer)
	assert.True(t, ok)
	assert.InDelta(t, 10.0, got, 1e-9)
	ofMedians := (median(peer) - median(bare)) / (median(ours) - median(bare))
	assert.InDelta(t, 7.43, ofMedians, 0.01, "the medians come from different rounds")

	_, ok = pairedMedian(overheadRatio, bare, ours[:2], peer)
	assert.False(t, ok, "rows of different lengths are not paired")
	_, ok = pairedMedian(overheadRatio)
	assert.False(t, ok)
}

// The CPU growth pairs the rounds too: a call that takes 1.2 times the CPU
// on two procs in every round is x1.2, whatever the speed of each round.
func TestCPUGrowthIsPaired(t *testing.T) {
	t.Parallel()
	one := []float64{100, 150, 120}
	two := []float64{120, 180, 144}
	got, ok := cpuGrowth(one, two)
	assert.True(t, ok)
	assert.InDelta(t, 1.2, got, 1e-9)
	_, ok = cpuGrowth(one, two[:1])
	assert.False(t, ok, "rows of different lengths are not paired")
}

func TestParseTurns(t *testing.T) {
	t.Parallel()
	got, ok := parseTurns("BenchmarkTurnsHTTP-2 \t 3858722\t 998.2 baldur-ns/op\t 289.4 bare-ns/op\t 732.0 floor-ns/op\t 16 B/op\t 1 allocs/op")
	assert.True(t, ok)
	assert.Equal(t, []turn{
		{key{"TurnsHTTP", "baldur", 2}, 998.2},
		{key{"TurnsHTTP", "bare", 2}, 289.4},
		{key{"TurnsHTTP", "floor", 2}, 732.0},
	}, got)
	_, ok = parseTurns("BenchmarkRouteHTTP/path=admit/impl=baldur 469286 522.9 ns/op")
	assert.False(t, ok, "not a Turns line")
	_, ok = parseTurns("BenchmarkTurnsGRPC 100 12.x baldur-ns/op")
	assert.False(t, ok, "a malformed value")
}

// turnRows reads the burst and reject targets from the turns, each a ratio
// of overheads over the same turns' bare route paired per round, and says
// met or missed by the target's bound. Not parallel: it captures stdout.
func TestTurnRows(t *testing.T) {
	samples := map[string][]float64{ // two rounds; the second host twice as slow
		"bare":          {100, 200},
		"floor":         {300, 600},
		"baldur":        {400, 800},
		"baldur-big":    {430, 860}, // 1.10x: on the bound, met
		"floor-reject":  {250, 500}, // 75 %
		"baldur-reject": {310, 620}, // 70 %: missed
	}
	wall := func(b, impl string, procs int) []float64 {
		if b != "TurnsHTTP" || procs != 1 {
			return nil
		}
		return samples[impl]
	}
	out := captureStdout(t, func() { turnRows("RouteHTTP", 1, wall) })
	rows := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, rows, 4, "%s", out)
	assert.Contains(t, rows[0], "| x1.50 | - |", "ours over the floor")
	assert.Contains(t, rows[1], "burst 100,000")
	assert.Contains(t, rows[1], "| 1.10x | met |")
	assert.Contains(t, rows[2], "| 70 % | **missed** |")
	assert.Contains(t, rows[3], "| 75 % | - |")
	assert.Empty(t, captureStdout(t, func() { turnRows("RouteHTTP", 2, wall) }), "no turns at 2 procs: no rows")
}

// captureStdout returns what f prints.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	f()
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out)
}
