package throttle

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// bucketTokens is the token count the GCRA state stands for at now.
func bucketTokens(tat, now int64, l Limit) float64 {
	ahead := max(tat, now) - now
	return float64(l.Tolerance+l.Cost-ahead) / float64(l.Cost)
}

type trace struct {
	rate  float64
	burst int
	gaps  []int64 // ns between arrivals
}

func randomTrace(rng *rand.Rand, rates []float64, grid int64, n int) trace {
	tr := trace{rate: rates[rng.IntN(len(rates))], burst: 1 + rng.IntN(20)}
	meanGap := 1e9 / tr.rate / []float64{0.5, 0.9, 1, 1.1, 2, 5}[rng.IntN(6)]
	for range n {
		var g int64
		if rng.IntN(8) != 0 { // else: same instant, a burst
			g = int64(rng.ExpFloat64() * meanGap)
		}
		if grid > 1 {
			g -= g % grid
		}
		tr.gaps = append(tr.gaps, g)
	}
	return tr
}

// TestDecideMatchesXTimeRateExactly feeds random traces whose rates and
// arrival times are exact in both representations (T a whole number of
// nanoseconds, arrivals on a millisecond grid) to Decide and to
// rate.Limiter.AllowN(t, 1): every decision and every remaining count must
// agree, with no tolerance.
func TestDecideMatchesXTimeRateExactly(t *testing.T) {
	t.Parallel()
	rates := []float64{1, 2, 4, 5, 10, 20, 100, 1000, 1e6}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		tr := randomTrace(rng, rates, int64(time.Millisecond), 500)
		runDifferential(t, seed, tr, 0)
	}
}

// TestDecideMatchesXTimeRate does the same with arbitrary rates and
// nanosecond arrivals. Here the two differ by rounding only: Decide rounds
// 1/rate to whole nanoseconds (at most 0.5 ns per call taken since the
// bucket was last full) and x/time/rate computes in float64. A decision may
// differ only when the arrival is within that bound of the boundary (the
// test then adopts x/time/rate's state and goes on), and such near-ties
// must stay rare: at most 1 in 2,000 decisions.
func TestDecideMatchesXTimeRate(t *testing.T) {
	t.Parallel()
	rates := []float64{0.1, 0.3, 1, 3, 7.5, 10, 33.3, 100, 999.9, 1234.5, 12345.6, 1e5}
	var events, diffs int
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 2))
		tr := randomTrace(rng, rates, 1, 1000)
		events += len(tr.gaps)
		diffs += runDifferential(t, seed, tr, 1)
	}
	require.LessOrEqual(t, diffs*2000, events, "%d of %d decisions differ from x/time/rate: more than rounding explains", diffs, events)
	t.Logf("%d events, %d near-tie disagreements", events, diffs)
}

// runDifferential runs one trace; tolerant = 0 demands exact agreement.
func runDifferential(t *testing.T, seed uint64, tr trace, tolerant int) (diffs int) {
	t.Helper()
	l, ok := NewLimit(tr.rate, tr.burst)
	require.True(t, ok, "NewLimit(%v, %d) invalid", tr.rate, tr.burst)
	lim := rate.NewLimiter(rate.Limit(tr.rate), tr.burst)
	base := time.Unix(1_700_000_000, 0)
	state, now := Fresh, int64(0)
	taken := 0 // calls taken since the bucket was last full
	for i, g := range tr.gaps {
		now += g
		at := base.Add(time.Duration(now))
		if state <= now {
			taken = 0
		}
		// 0.5 ns of rounding per call taken, 1 ns for x/time/rate's
		// truncation of sub-nanosecond waits, and float64 noise.
		tolNs := 0.5*float64(taken) + 1 + 1e-12*float64(l.Tolerance+l.Cost)
		tolTokens := float64(tolerant) * tolNs / float64(l.Cost)
		theirs := lim.TokensAt(at)
		mine := bucketTokens(state, now, l)
		// tolTokens is 0 when tolerant is 0: exact agreement up to 1e-9.
		require.InDelta(t, theirs, mine, tolTokens+1e-9, "seed %d rate %v burst %d event %d: tokens %v, x/time/rate %v", seed, tr.rate, tr.burst, i, mine, theirs)
		d, next := Decide(state, now, l, 0)
		want := lim.AllowN(at, 1)
		if d.Allowed != want {
			// A disagreement is tolerated only at a near-tie.
			require.NotZero(t, tolerant, "seed %d rate %v burst %d event %d at %d ns: allowed = %v, x/time/rate %v (tokens %v / %v)",
				seed, tr.rate, tr.burst, i, now, d.Allowed, want, mine, theirs)
			require.InDelta(t, 1.0, theirs, tolTokens+1e-9, "seed %d rate %v burst %d event %d at %d ns: allowed = %v, x/time/rate %v (tokens %v / %v)",
				seed, tr.rate, tr.burst, i, now, d.Allowed, want, mine, theirs)
			diffs++
			after := lim.TokensAt(at)
			state = now + int64(math.Round((float64(tr.burst)-after)*float64(l.Cost)))
			continue
		}
		if d.Allowed {
			state = next
			taken++
			// float64 noise can put x/time/rate a hair under a whole token.
			after := lim.TokensAt(at)
			if got := math.Floor(after + 1e-9); float64(d.Remaining) != got {
				// A difference is tolerated only at a near-whole token count.
				require.NotZero(t, tolerant, "seed %d event %d: Remaining = %d, x/time/rate floor(tokens) = %v", seed, i, d.Remaining, got)
				require.InDelta(t, math.Round(after), after, tolTokens+1e-9, "seed %d event %d: Remaining = %d, x/time/rate floor(tokens) = %v", seed, i, d.Remaining, got)
			}
		} else {
			require.Equal(t, state, next, "denied call changed the state")
		}
	}
	return diffs
}

func TestDecide(t *testing.T) {
	t.Parallel()
	l, _ := NewLimit(10, 3) // T = 100ms, τ = 200ms
	ms := int64(time.Millisecond)
	tests := []struct {
		name      string
		tat, now  int64
		maxWait   int64
		allowed   bool
		remaining int64
		retry     time.Duration
		wait      time.Duration
		reset     time.Duration
	}{
		{"fresh", Fresh, 0, 0, true, 2, 0, 0, 100 * time.Millisecond},
		{"full past", -5 * ms, 0, 0, true, 2, 0, 0, 100 * time.Millisecond},
		{"one used", 100 * ms, 0, 0, true, 1, 0, 0, 200 * time.Millisecond},
		{"last token", 200 * ms, 0, 0, true, 0, 0, 0, 300 * time.Millisecond},
		{"empty", 300 * ms, 0, 0, false, 0, 100 * time.Millisecond, 0, 300 * time.Millisecond},
		{"empty, 1 ns late", 300*ms - 1, 0, 0, false, 0, 100*time.Millisecond - 1, 0, 300*time.Millisecond - 1},
		{"wait fits", 300 * ms, 0, 100 * ms, true, 0, 0, 100 * time.Millisecond, 400 * time.Millisecond},
		{"wait too short", 300 * ms, 0, 100*ms - 1, false, 0, 100 * time.Millisecond, 0, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, next := Decide(tt.tat, tt.now, l, tt.maxWait)
			want := Decision{Allowed: tt.allowed, Remaining: tt.remaining, RetryAfter: tt.retry, Wait: tt.wait, Reset: tt.reset}
			require.Equal(t, want, d, "Decide")
			if d.Allowed {
				require.Equal(t, max(tt.tat, tt.now)+l.Cost, next, "TAT")
			} else {
				require.Equal(t, tt.tat, next, "denied call moved TAT")
			}
		})
	}
}

func TestLimitScaledGrantsNoTokens(t *testing.T) {
	t.Parallel()
	l, _ := NewLimit(10, 10)
	tests := []struct {
		f     float64
		burst int64
	}{{1, 10}, {0.8, 8}, {0.5, 5}}
	for _, tt := range tests {
		s := l.scaled(tt.f)
		assert.Equal(t, tt.burst, s.Burst(), "factor %v: burst", tt.f)
		// A bucket 450 ms from full: the scaled limit must not admit more
		// calls than the unscaled one.
		count := func(l Limit) (n int) {
			tat := int64(450 * time.Millisecond)
			for {
				d, next := Decide(tat, 0, l, 0)
				if !d.Allowed {
					return n
				}
				tat, n = next, n+1
			}
		}
		assert.LessOrEqual(t, count(s), count(l), "factor %v admits more than unscaled", tt.f)
	}
}

// TestConformIsDecide holds Admit's cut-down decision to Decide with
// maxWait 0 on random states, times and limits, extremes included.
func TestConformIsDecide(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	edge := []int64{Fresh, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	pick := func() int64 {
		if rng.IntN(4) == 0 {
			return edge[rng.IntN(len(edge))]
		}
		return rng.Int64N(1<<40) - 1<<39
	}
	for range 200_000 {
		tat, now := pick(), pick()
		l := Limit{Cost: 1 + rng.Int64N(1<<30), Tolerance: rng.Int64N(1 << 40)}
		if rng.IntN(8) == 0 {
			l = Limit{Cost: 1 + rng.Int64N(maxSpan), Tolerance: rng.Int64N(maxSpan)}
		}
		d, next := Decide(tat, now, l, 0)
		ok, next2, v := conform(tat, now, l)
		want := int64(d.RetryAfter)
		if ok {
			want = int64(d.Reset)
		}
		msg := []any{"conform(%d, %d, %+v) = %v %d %d, Decide = %+v %d", tat, now, l, ok, next2, v, d, next}
		require.Equal(t, d.Allowed, ok, msg...)
		require.Equal(t, next, next2, msg...)
		require.Equal(t, want, v, msg...)
	}
}
