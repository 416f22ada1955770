package governance

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// Budget is the error-budget service: it counts call outcomes in a ring of
// time buckets covering the rolling SLO window and reports the remaining
// budget and burn rates. It implements baldur.ErrorBudgetService and is safe
// for concurrent use.
//
// Record is lock-free and allocation-free: a call adds one packed counter
// (calls in the high 32 bits, failures in the low 32) to the bucket of its
// time with one atomic add, in one of up to four striped rings (chosen at
// random, so cores rarely contend; memory is stripes × 16 B × buckets, about
// 2.8 MB for 4 stripes and the 30-day, 1-minute default). A bucket is recycled by the first writer of a
// new period, which claims it with a CAS; readers skip buckets outside the
// window, so no reset sweep is ever needed.
type Budget struct {
	target   float64
	window   time.Duration
	width    int64 // bucket width, ns
	n        int64 // ring length
	minCalls uint64
	burn     []BurnWindow
	windows  []time.Duration // distinct burn windows, ascending

	stripes []stripe
	mask    uint64 // len(stripes)-1, a power of two minus one
	lost    atomic.Uint64
}

// stripe is one ring of buckets. Writers pick a stripe at random, so that
// parallel Records on different cores rarely add to the same cache line;
// readers sum all stripes. Each stripe's ring is its own allocation and its
// header is padded, so current buckets of different stripes never share a
// cache line.
type stripe struct {
	ring []bucket
	cur  atomic.Pointer[bucket] // the bucket written last: the fast path
	_    [64]byte
}

type bucket struct {
	epoch  atomic.Int64 // bucket index (time / width); 0 empty; resetting while recycled
	counts atomic.Uint64
	// No padding: only the current bucket is written, so neighbours do not
	// share writes, and 16 bytes a bucket keeps a 30-day ring under 1 MB.
}

const (
	maxStripes = 4
	resetting  = math.MinInt64
	oneCall    = 1 << 32
)

var _ baldur.ErrorBudgetService = (*Budget)(nil)

func newBudget(s *settings) *Budget {
	n := int64(s.window/s.bucket) + 1 // +1: the current, partial bucket
	b := &Budget{
		target:   s.target,
		window:   s.window,
		width:    int64(s.bucket),
		n:        n,
		minCalls: s.minCalls,
		burn:     s.burn,
	}
	ns := 1
	for ns < runtime.GOMAXPROCS(0) && ns < maxStripes {
		ns *= 2
	}
	b.stripes = make([]stripe, ns)
	b.mask = uint64(ns - 1)
	for i := range b.stripes {
		st := &b.stripes[i]
		st.ring = make([]bucket, n) // epoch 0 is "empty": no real call is from 1970
		st.cur.Store(&st.ring[0])
	}
	seen := map[time.Duration]bool{}
	for _, w := range s.burn {
		for _, d := range [2]time.Duration{w.Short, w.Long} {
			if !seen[d] {
				seen[d] = true
				b.windows = append(b.windows, d)
			}
		}
	}
	sort.Slice(b.windows, func(i, j int) bool { return b.windows[i] < b.windows[j] })
	return b
}

// Target returns the SLO target.
func (b *Budget) Target() float64 { return b.target }

// Record feeds one call's result at now. Ignored results are skipped.
func (b *Budget) Record(now time.Time, r baldur.Result) {
	if r == baldur.Ignored {
		return
	}
	b.record(now.UnixNano(), r == baldur.Failure)
}

func (b *Budget) record(ns int64, failed bool) {
	delta := uint64(oneCall)
	if failed {
		delta++
	}
	// Fast path: the call falls in the bucket written last.
	st := &b.stripes[0]
	if b.mask != 0 {
		st = &b.stripes[rand.Uint64()&b.mask]
	}
	cur := st.cur.Load()
	if e := cur.epoch.Load(); e > 0 {
		if start := e * b.width; ns >= start && ns-start < b.width {
			cur.counts.Add(delta)
			return
		}
	}
	if ns < b.width {
		b.lost.Add(1)
		return
	}
	idx := ns / b.width
	c := &st.ring[idx%b.n]
	for spin := 0; spin < 128; spin++ {
		e := c.epoch.Load()
		switch {
		case e == idx:
			c.counts.Add(delta)
			st.advance(c, idx)
			return
		case e == resetting:
			continue // another writer is recycling it; a few ns
		case e > idx:
			// A straggler from a full window ago: outside the window anyway.
			b.lost.Add(1)
			return
		}
		if c.epoch.CompareAndSwap(e, resetting) {
			c.counts.Store(delta)
			c.epoch.Store(idx)
			st.advance(c, idx)
			return
		}
	}
	b.lost.Add(1)
}

// advance makes c the fast-path bucket if it is newer than the current one.
func (st *stripe) advance(c *bucket, idx int64) {
	if cur := st.cur.Load(); cur != c && cur.epoch.Load() < idx {
		st.cur.CompareAndSwap(cur, c)
	}
}

// window sums: calls and failures over the last k buckets ending at nowIdx.
type sums struct{ total, failed uint64 }

// scan walks the ring backwards from now and returns the sums over the SLO
// window and over each of b.windows.
func (b *Budget) scan(now time.Time) (all sums, per []sums) {
	nowIdx := now.UnixNano() / b.width
	per = make([]sums, len(b.windows))
	// buckets covering each burn window, the partial current one included
	limits := make([]int64, len(b.windows))
	for i, w := range b.windows {
		limits[i] = min((int64(w)+b.width-1)/b.width, b.n)
	}
	next := 0
	for k := int64(0); k < b.n; k++ {
		idx := nowIdx - k
		if idx <= 0 {
			break
		}
		for i := range b.stripes {
			c := &b.stripes[i].ring[idx%b.n]
			if c.epoch.Load() == idx {
				v := c.counts.Load()
				if c.epoch.Load() == idx {
					all.total += v >> 32
					all.failed += v & (oneCall - 1)
				}
			}
		}
		for next < len(limits) && limits[next] == k+1 {
			per[next] = all
			next++
		}
	}
	for ; next < len(limits); next++ {
		per[next] = all
	}
	return all, per
}

// remainingPct is the share of the budget left given the sums.
func (b *Budget) remainingPct(s sums) float64 {
	if s.total == 0 || s.total < b.minCalls {
		return 100
	}
	allowed := (1 - b.target) * float64(s.total)
	rem := (1 - float64(s.failed)/allowed) * 100
	// Round away float noise ((1-0.99) is not 0.01) so that thresholds
	// compare as an operator reads them.
	rem = math.Round(rem*1e9) / 1e9
	return math.Max(0, math.Min(100, rem))
}

func (b *Budget) burnRate(s sums) float64 {
	if s.total == 0 {
		return 0
	}
	return float64(s.failed) / float64(s.total) / (1 - b.target)
}

// RemainingPct returns the share of the budget left at now, 0..100.
func (b *Budget) RemainingPct(now time.Time) float64 {
	all, _ := b.scan(now)
	return b.remainingPct(all)
}

// Status returns the budget at now, with the burn rates over every distinct
// window of the burn alerts, shortest first. Burn windows longer than the SLO
// window are computed over the SLO window.
func (b *Budget) Status(now time.Time) baldur.ErrorBudgetStatus {
	all, per := b.scan(now)
	st := baldur.ErrorBudgetStatus{
		Target:       b.target,
		Window:       b.window,
		Total:        all.total,
		Failed:       all.failed,
		RemainingPct: b.remainingPct(all),
		BurnRates:    make([]baldur.BurnRate, len(b.windows)),
	}
	for i, w := range b.windows {
		st.BurnRates[i] = baldur.BurnRate{Window: w, Rate: b.burnRate(per[i])}
	}
	return st
}

// BurnAlert is the state of one multi-window burn-rate alert.
type BurnAlert struct {
	BurnWindow
	LongRate, ShortRate float64
	// Firing is true when both rates exceed Factor.
	Firing bool
}

// BurnAlerts evaluates the configured burn-rate alerts at now, in the order
// configured (fastest first with the defaults).
func (b *Budget) BurnAlerts(now time.Time) []BurnAlert {
	_, per := b.scan(now)
	rate := func(d time.Duration) float64 {
		i := sort.Search(len(b.windows), func(i int) bool { return b.windows[i] >= d })
		return b.burnRate(per[i])
	}
	out := make([]BurnAlert, len(b.burn))
	for i, w := range b.burn {
		a := BurnAlert{BurnWindow: w, LongRate: rate(w.Long), ShortRate: rate(w.Short)}
		a.Firing = a.LongRate > w.Factor && a.ShortRate > w.Factor
		out[i] = a
	}
	return out
}

// Lost returns how many outcomes could not be counted (recorded for a
// bucket already recycled, or under extreme contention on a bucket change).
func (b *Budget) Lost() uint64 { return b.lost.Load() }

func (b *Budget) reset() {
	for i := range b.stripes {
		for j := range b.stripes[i].ring {
			c := &b.stripes[i].ring[j]
			c.epoch.Store(0)
			c.counts.Store(0)
		}
	}
}
