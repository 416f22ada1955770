package canary_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
)

// win builds a window of n calls: fail of them failures, rej rejected
// (throttled), the admitted ones at latency lat.
func win(t *testing.T, n, fail, rej int, lat time.Duration) canary.Window {
	t.Helper()
	var r canary.Recorder
	for i := range n - rej {
		res := baldur.Success
		if i < fail {
			res = baldur.Failure
		}
		r.Record(uint64(i), baldur.Outcome{Result: res, Latency: lat})
	}
	w := canary.Window{Counts: r.Snapshot()}
	if rej > 0 {
		w.Rejected = map[string]uint64{"throttled": uint64(rej)}
	}
	return w
}

func TestJudge(t *testing.T) {
	t.Parallel()
	base := func() canary.Window { return win(t, 1000, 10, 5, 20*time.Millisecond) }
	tests := []struct {
		name   string
		cand   canary.Window
		base   canary.Window
		want   canary.Verdict
		reason string
	}{
		{"equal", base(), base(), canary.Pass, ""},
		{"within margins", win(t, 1000, 15, 20, 22*time.Millisecond), base(), canary.Pass, ""},
		{"rejects more", win(t, 1000, 10, 300, 20*time.Millisecond), base(), canary.Fail, "rejection rate"},
		{"fails more than baseline + 1 pp", win(t, 1000, 30, 5, 20*time.Millisecond), base(), canary.Fail, "baseline 1.01 % + 1.0 pp"},
		{"fails more than 5 %", win(t, 1000, 80, 5, 20*time.Millisecond), win(t, 1000, 75, 5, 20*time.Millisecond), canary.Fail, "> 5.00 %"},
		{"p95 slower by more than 50 ms", win(t, 1000, 10, 5, 90*time.Millisecond), base(), canary.Fail, "p95"},
		{"p99 slower by more than 20 %", win(t, 1000, 10, 5, 300*time.Millisecond), win(t, 1000, 10, 5, 240*time.Millisecond), canary.Fail, "p99"},
		{"sparse candidate", win(t, 99, 0, 0, 20*time.Millisecond), base(), canary.Inconclusive, "too few calls"},
		{"empty candidate", canary.Window{}, base(), canary.Inconclusive, "too few calls"},
		{"sparse baseline", base(), win(t, 50, 0, 0, 20*time.Millisecond), canary.Inconclusive, "too few calls"},
		{"sparse but awful is still inconclusive", win(t, 99, 99, 0, time.Second), base(), canary.Inconclusive, "too few calls"},
		{"no latency measured", win(t, 1000, 10, 5, 0), win(t, 1000, 10, 5, 0), canary.Inconclusive, "no latency"},
		{"all rejected fails on rejections", win(t, 1000, 0, 1000, 0), base(), canary.Fail, "rejection rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := canary.Judge(canary.Criteria{}, tt.cand, tt.base)
			assert.Equal(t, tt.want, j.Verdict, "%v", j.Reasons)
			if tt.reason != "" {
				assert.Contains(t, j.Reasons[0]+" "+joined(j.Reasons), tt.reason)
			} else {
				assert.Empty(t, j.Reasons)
			}
		})
	}
}

func joined(rs []string) string {
	out := ""
	for _, r := range rs {
		out += r + "; "
	}
	return out
}

// TestJudgedByTheCalls drives scripted calls through the registry's cohort
// split on a fake clock and reads the verdict the service reaches: the
// candidate's own gates and outcomes decide, the judge needs no metric
// source.
func TestJudgedByTheCalls(t *testing.T) {
	t.Parallel()
	slow := func(cand bool, _ int) baldur.Outcome {
		if cand {
			return baldur.Outcome{Result: baldur.Success, Latency: 200 * time.Millisecond}
		}
		return baldur.Outcome{Result: baldur.Success, Latency: 20 * time.Millisecond}
	}
	failing := func(cand bool, i int) baldur.Outcome {
		if cand && i%5 == 0 {
			return baldur.Outcome{Result: baldur.Failure, Latency: 20 * time.Millisecond}
		}
		return baldur.Outcome{Result: baldur.Success, Latency: 20 * time.Millisecond}
	}
	injected := func(cand bool, i int) baldur.Outcome {
		o := baldur.Outcome{Result: baldur.Success, Latency: 20 * time.Millisecond}
		if cand && i%5 == 0 {
			o.Result, o.Injected = baldur.Failure, true
		}
		return o
	}
	ignored := func(cand bool, i int) baldur.Outcome {
		o := baldur.Outcome{Result: baldur.Success, Latency: 20 * time.Millisecond}
		if cand && i%3 == 0 {
			o = baldur.Outcome{Result: baldur.Ignored, Latency: time.Second, Status: 404}
		}
		return o
	}
	tests := []struct {
		name        string
		cand        []byte
		keys, calls int
		out         func(bool, int) baldur.Outcome
		want        canary.Verdict
	}{
		{"equal candidate passes", nil, 2000, 2, same(20 * time.Millisecond), canary.Pass},
		{"too-tight throttle fails on rejections", document(t, 0.001, 1), 2000, 3, same(20 * time.Millisecond), canary.Fail},
		{"failing candidate fails", nil, 2000, 2, failing, canary.Fail},
		{"slower candidate fails", nil, 2000, 2, slow, canary.Fail},
		{"sparse traffic is inconclusive", nil, 150, 1, same(20 * time.Millisecond), canary.Inconclusive},
		{"injected faults are excluded", nil, 2000, 2, injected, canary.Pass},
		{"ignored outcomes are excluded", nil, 2000, 2, ignored, canary.Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			cand := tt.cand
			if cand == nil {
				cand = document(t, 1000, 999) // a change that behaves the same
			}
			e.started(t, cand, 0.25, 1)
			st := e.window(t, tt.keys, tt.calls, tt.out)
			require.NotNil(t, st.Verdict, "no window judged")
			assert.Equal(t, tt.want, st.Verdict.Verdict, "%v cand=%+v base=%+v", st.Verdict.Reasons, st.Verdict.Candidate, st.Verdict.Baseline)
			assert.Equal(t, canary.Running, st.Current, "one window never moves a rollout by default")
		})
	}
}

func TestRecorderExcludesIgnoredAndInjected(t *testing.T) {
	t.Parallel()
	var r canary.Recorder
	r.Record(1, baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
	r.Record(2, baldur.Outcome{Result: baldur.Failure})
	r.Record(3, baldur.Outcome{Result: baldur.Ignored, Latency: time.Millisecond})
	r.Record(4, baldur.Outcome{Result: baldur.Failure, Injected: true, Latency: time.Millisecond})
	c := r.Snapshot()
	assert.Equal(t, uint64(1), c.Success)
	assert.Equal(t, uint64(1), c.Failure)
	assert.Equal(t, uint64(1), c.Latency.Total())
	q, ok := c.Latency.Quantile(0.99)
	require.True(t, ok)
	assert.InDelta(t, float64(time.Millisecond), float64(q), 0.07*float64(time.Millisecond), "bucket within 6.25 %%")
}

func TestHistogramQuantileBounds(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{time.Microsecond, 15 * time.Microsecond, 17 * time.Microsecond, time.Millisecond,
		47 * time.Millisecond, time.Second, time.Minute, 1000 * time.Hour} {
		var r canary.Recorder
		r.Record(0, baldur.Outcome{Latency: d})
		h := r.Snapshot().Latency
		q, ok := h.Quantile(0.5)
		require.True(t, ok)
		if d < 100*time.Hour {
			assert.GreaterOrEqual(t, q, d-time.Microsecond, "%v: upper bound below the value", d)
			assert.LessOrEqual(t, float64(q), float64(d)*1.0625+float64(time.Microsecond), "%v: bucket wider than 6.25 %%", d)
		}
	}
	var empty canary.Histogram
	_, ok := empty.Quantile(0.95)
	assert.False(t, ok)
}

func TestObserveGateAllocatesNothing(t *testing.T) {
	var r canary.Recorder
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{r.Gate()}})
	require.NoError(t, err)
	ctx := context.Background()
	c := baldur.Call{Key: "k", Now: t0}
	n := testing.AllocsPerRun(1000, func() {
		tk, _ := p.Admit(ctx, c)
		tk.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
	})
	assert.Zero(t, n)
	assert.Equal(t, uint64(1001), r.Snapshot().Success)
}

// nopGate is a bare gate with a permit, the peer of the observe gate.
type nopGate struct{}

func (nopGate) Stage() baldur.Stage { return canary.StageObserve }
func (g nopGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 1), nil
}
func (nopGate) Release(uint64, baldur.Outcome) {}

// BenchmarkObserve measures the observe gate on the call path (admit and
// release through a Policy) next to a gate that records nothing.
func BenchmarkObserve(b *testing.B) {
	var r canary.Recorder
	ctx := context.Background()
	o := baldur.Outcome{Result: baldur.Success, Latency: 3 * time.Millisecond}
	for _, bc := range []struct {
		name string
		g    baldur.Gate
	}{{"bare_permit", nopGate{}}, {"observe", r.Gate()}} {
		p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{bc.g}})
		require.NoError(b, err)
		c := baldur.Call{Key: "k", Now: t0}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tk, _ := p.Admit(ctx, c)
				tk.Release(o)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			var n atomic.Int32
			b.RunParallel(func(pb *testing.PB) {
				c := c
				c.Key = "tenant-" + strconv.Itoa(int(n.Add(1)))
				for pb.Next() {
					c.Now = c.Now.Add(1024)
					tk, _ := p.Admit(ctx, c)
					tk.Release(o)
				}
			})
		})
	}
	b.Run("record_only", func(b *testing.B) {
		b.ReportAllocs()
		var i uint64
		for b.Loop() {
			i++
			r.Record(i, o)
		}
	})
}

// BenchmarkJudge judges two windows of 50 000 calls each.
func BenchmarkJudge(b *testing.B) {
	mk := func(lat time.Duration) canary.Window {
		var r canary.Recorder
		for i := range 50_000 {
			r.Record(uint64(i), baldur.Outcome{Result: baldur.Success, Latency: lat + time.Duration(i%997)*time.Microsecond})
		}
		return canary.Window{Counts: r.Snapshot(), Rejected: map[string]uint64{"throttled": 10}}
	}
	cand, base := mk(22*time.Millisecond), mk(20*time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		if canary.Judge(canary.Criteria{}, cand, base).Verdict != canary.Pass {
			b.Fatal("not pass")
		}
	}
}
