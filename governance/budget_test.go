package governance

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func newTestBudget(t testing.TB, cfg Config) *Budget {
	t.Helper()
	s, err := validate(cfg)
	require.NoError(t, err)
	return newBudget(s)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestBudgetRemainingAndRollingWindow(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{SLOTarget: 0.99, BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1})
	now := t0
	st := b.Status(now)
	require.Equal(t, 100.0, st.RemainingPct, "empty: %+v", st)
	require.Zero(t, st.Total, "empty: %+v", st)
	for range 990 {
		b.Record(now, baldur.Success)
	}
	for range 5 {
		b.Record(now, baldur.Failure)
	}
	for range 100 {
		b.Record(now, baldur.Ignored)
	}
	st = b.Status(now)
	// 995 calls allow 9.95 failures; 5 spent.
	require.Equal(t, uint64(995), st.Total, "status: %+v", st)
	require.Equal(t, uint64(5), st.Failed, "status: %+v", st)
	require.True(t, near(st.RemainingPct, (1-5/9.95)*100), "status: %+v", st)
	// Half an hour later more failures, then the first batch leaves the window.
	now = now.Add(30 * time.Minute)
	for range 5 {
		b.Record(now, baldur.Failure)
	}
	st = b.Status(now)
	require.Equal(t, uint64(10), st.Failed, "within the window: %+v", st)
	require.Equal(t, 0.0, st.RemainingPct, "within the window: %+v", st)
	now = now.Add(31 * time.Minute)
	st = b.Status(now)
	require.Equal(t, uint64(5), st.Total, "after the window rolled: %+v", st)
	require.Equal(t, uint64(5), st.Failed, "after the window rolled: %+v", st)
	// A bucket is recycled a full window later.
	now = now.Add(time.Hour)
	b.Record(now, baldur.Success)
	st = b.Status(now)
	require.Equal(t, uint64(1), st.Total, "recycled: %+v", st)
	require.Zero(t, st.Failed, "recycled: %+v", st)
}

func TestBudgetMinCalls(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{})
	for range 10 {
		b.Record(t0, baldur.Failure)
	}
	require.Equal(t, 100.0, b.RemainingPct(t0), "below BudgetMinCalls")
}

func TestBudgetBurnRates(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{SLOTarget: 0.999, BudgetMinCalls: 1})
	now := t0
	// 3 hours of clean traffic, then 5 minutes at 2 % errors.
	for m := range 180 {
		for range 100 {
			b.Record(now.Add(time.Duration(m)*time.Minute), baldur.Success)
		}
	}
	now = now.Add(180 * time.Minute)
	for m := range 5 {
		at := now.Add(time.Duration(m) * time.Minute)
		for i := range 100 {
			r := baldur.Success
			if i < 2 {
				r = baldur.Failure
			}
			b.Record(at, r)
		}
	}
	now = now.Add(4*time.Minute + 30*time.Second)
	st := b.Status(now)
	want := []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}
	require.Len(t, st.BurnRates, len(want), "burn rates: %+v", st.BurnRates)
	for i, br := range st.BurnRates {
		require.Equal(t, want[i], br.Window, "window %d", i)
	}
	require.True(t, near(st.BurnRates[0].Rate, 20), "5m burn = %v", st.BurnRates[0].Rate) // 2 % / 0.1 %
	alerts := b.BurnAlerts(now)
	require.Len(t, alerts, 4, "alerts: %+v", alerts)
	require.Equal(t, 14.4, alerts[0].Factor, "alerts: %+v", alerts)
	require.True(t, near(alerts[0].ShortRate, 20), "alerts: %+v", alerts)
	// 1 h: 10 failures in 6000 calls = 1.67x, below 14.4: not firing.
	require.False(t, alerts[0].Firing, "1h/5m alert: %+v", alerts[0])
	require.True(t, near(alerts[0].LongRate, 10.0/6000/0.001), "1h/5m alert: %+v", alerts[0])
}

func TestBudgetConcurrentRecord(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1})
	var wg sync.WaitGroup
	const workers, per = 8, 2000
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				// Spread over a few buckets to exercise recycling claims.
				at := t0.Add(time.Duration(i%5) * time.Minute)
				r := baldur.Success
				if (i+w)%10 == 0 {
					r = baldur.Failure
				}
				b.Record(at, r)
			}
		}()
	}
	wg.Wait()
	st := b.Status(t0.Add(5 * time.Minute))
	require.Equal(t, uint64(workers*per), st.Total, "status %+v", st)
	require.Equal(t, uint64(workers*per/10), st.Failed, "status %+v", st)
	require.Zero(t, b.Lost(), "lost")
}

func TestBudgetRecordAllocs(t *testing.T) {
	b := newTestBudget(t, Config{})
	require.Zero(t, testing.AllocsPerRun(1000, func() { b.Record(t0, baldur.Failure) }), "Record allocates")
}

// TestBudgetRunningSumsMatchScan drives records and evaluations at random
// times and checks the running window sums against a full walk of the
// ring, for the SLO window and every burn window.
func TestBudgetRunningSumsMatchScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps int // each compares with a full walk of the ring
		cfg   Config
	}{
		{"hour", 3000, Config{BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1, BurnWindows: []BurnWindow{
			{Long: 30 * time.Minute, Short: 90 * time.Second, Factor: 2},
			{Long: 2 * time.Hour, Short: 30 * time.Second, Factor: 1}, // longer than the window; shorter than a bucket
		}}},
		{"two buckets", 3000, Config{BudgetWindow: baldur.Duration(time.Minute), BudgetBucket: baldur.Duration(time.Minute), BudgetMinCalls: 1}},
		{"defaults", 60, Config{BudgetMinCalls: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newTestBudget(t, tc.cfg)
			rng := rand.New(rand.NewPCG(1, 2))
			now := t0
			got := make([]sums, 1+len(b.windows))
			want := make([]sums, len(got))
			for step := range tc.steps {
				switch r := rng.IntN(100); {
				case r < 2:
					now = now.Add(time.Duration(rng.Int64N(int64(3 * b.window)))) // jump
				default:
					now = now.Add(time.Duration(rng.Int64N(int64(b.width) * 3)))
				}
				for range rng.IntN(20) {
					// Late, but not beyond the unsealed buckets: still
					// counted exactly.
					at := now
					if lag := min(sealLag, b.n-1) - 1; lag > 0 {
						at = now.Add(-time.Duration(rng.Int64N(lag * b.width)))
					}
					b.Record(at, baldur.Result(rng.IntN(2)))
				}
				at := now
				if rng.IntN(20) == 0 {
					// A look before the last evaluation starts the sums
					// over from there. (A look behind the
					// newest records but not before the last evaluation is
					// not compared: the ring itself may have recycled
					// buckets the query needs.)
					if past := now.Add(-time.Duration(rng.Int64N(int64(b.window)))); past.UnixNano()/b.width < b.ev.last {
						at = past
					}
				}
				b.evaluate(at, got)
				b.scan(at.UnixNano()/b.width, want)
				for i := range want {
					require.Equal(t, want[i], got[i], "step %d at %v window %d: running against scan", step, at.Sub(t0), i)
				}
			}
		})
	}
}

// TestBudgetConcurrentEvaluate records from several goroutines while
// another evaluates at the same minute; afterwards the running sums equal
// a full scan. (Minutes move in lockstep: a record later than the sealed
// buckets is, as documented, missed by the sums.)
func TestBudgetConcurrentEvaluate(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1})
	const minutes, writers, per = 90, 3, 100
	at := t0
	for m := range minutes {
		at = t0.Add(time.Duration(m) * time.Minute)
		var wg sync.WaitGroup
		for w := range writers + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					if w == writers {
						_ = b.Status(at)
						_, _ = b.tryRemaining(at.UnixNano())
						continue
					}
					b.Record(at.Add(time.Duration(i)*time.Millisecond), baldur.Result(i%2))
				}
			}()
		}
		wg.Wait()
	}
	got := make([]sums, 1+len(b.windows))
	want := make([]sums, len(got))
	b.evaluate(at, got)
	b.scan(at.UnixNano()/b.width, want)
	// The window holds the last 61 minutes, every record counted: Record
	// never drops an outcome of the current window, however contended.
	require.Equal(t, want[0], got[0], "running sums against a full scan")
	assert.Equal(t, uint64(61*writers*per), got[0].total)
	assert.Equal(t, uint64(61*writers*per/2), got[0].failed)
	assert.Zero(t, b.Lost())
}

// withStripes gives b n stripes (a power of two), whatever GOMAXPROCS is.
func withStripes(b *Budget, n int) {
	b.stripes = make([]stripe, n)
	b.mask = n - 1
	for i := range b.stripes {
		st := &b.stripes[i]
		st.ring = make([]bucket, b.n)
		st.cur.Store(&st.ring[0])
	}
}

// TestBudgetRecordFallsBackWhileRecycling: a writer paused in the middle
// of recycling a bucket (epoch "resetting") does not make other writers
// drop their outcomes: they count in another stripe.
func TestBudgetRecordFallsBackWhileRecycling(t *testing.T) {
	t.Parallel()
	b := newTestBudget(t, Config{BudgetWindow: baldur.Duration(time.Hour), BudgetMinCalls: 1})
	withStripes(b, 4)
	at := t0.Add(2 * time.Hour) // every slot is recycled from an older period
	idx := at.UnixNano() / b.width
	// Stripes 0..2 are held mid-recycle by paused writers.
	for i := range 3 {
		b.stripes[i].ring[idx%b.n].epoch.Store(resetting)
	}
	const calls = 1000
	for i := range calls {
		b.Record(at, baldur.Result(i%2))
	}
	assert.Zero(t, b.Lost(), "outcomes dropped behind a paused recycle")
	// The paused writers finish.
	for i := range 3 {
		c := &b.stripes[i].ring[idx%b.n]
		c.counts.Store(oneCall)
		c.epoch.Store(idx)
	}
	s := b.read(idx)
	assert.Equal(t, uint64(calls+3), s.total)
	assert.Equal(t, uint64(calls/2), s.failed)
}

// TestBudgetNoOutcomeLostUnderContention: many writers hit every bucket
// change at once (a two-bucket ring recycled on every period) and no
// outcome is lost, with one stripe (every writer on one ring) and four.
func TestBudgetNoOutcomeLostUnderContention(t *testing.T) {
	t.Parallel()
	for _, stripes := range []int{1, 4} {
		t.Run(strconv.Itoa(stripes), func(t *testing.T) {
			t.Parallel()
			b := newTestBudget(t, Config{BudgetWindow: baldur.Duration(time.Minute), BudgetBucket: baldur.Duration(time.Minute), BudgetMinCalls: 1})
			withStripes(b, stripes)
			const periods, writers, per = 200, 8, 50
			for p := range periods {
				at := t0.Add(time.Duration(p) * time.Minute)
				var start, wg sync.WaitGroup
				start.Add(1)
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start.Wait()
						for i := range per {
							b.Record(at, baldur.Result(i%2))
						}
					}()
				}
				start.Done()
				wg.Wait()
				s := b.read(at.UnixNano() / b.width)
				require.Equal(t, uint64(writers*per), s.total, "period %d", p)
				require.Equal(t, uint64(writers*per/2), s.failed, "period %d", p)
			}
			assert.Zero(t, b.Lost())
		})
	}
}

func TestBudgetEvaluateAllocs(t *testing.T) {
	b := newTestBudget(t, Config{})
	b.Record(t0, baldur.Failure)
	now := t0.Add(time.Hour)
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		_ = b.RemainingPct(now)
		_, _ = b.tryRemaining(now.UnixNano())
	}), "evaluation allocates")
}

// scan walks the whole ring backwards from nowIdx and returns the sums
// over the SLO window and over each of b.windows: the reference the
// running sums are tested against.
func (b *Budget) scan(nowIdx int64, out []sums) {
	clear(out)
	// out[0] is the SLO window (b.n buckets), out[1+i] b.windows[i]
	var all sums
	next := 0
	for k := int64(0); k < b.n; k++ {
		idx := nowIdx - k
		if idx <= 0 {
			break
		}
		all.add(b.read(idx))
		for next < len(b.windows) && b.limit(b.windows[next]) == k+1 {
			out[1+next] = all
			next++
		}
	}
	for ; next < len(b.windows); next++ {
		out[1+next] = all
	}
	out[0] = all
}
