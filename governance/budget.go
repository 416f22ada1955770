package governance

import (
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/proc"
)

// Budget is the error-budget service: it counts call outcomes in a ring of
// time buckets covering the rolling SLO window and reports the remaining
// budget and burn rates. It implements baldur.ErrorBudgetService and is safe
// for concurrent use.
//
// Record is lock-free and allocation-free: a call adds one packed counter
// (calls in the high 32 bits, failures in the low 32) to the bucket of its time
// with one atomic add, in one of up to four striped rings (the ring of the P
// the call runs on, so that each core adds to its own cache line; memory is
// stripes × 16 B × buckets, about 2.8 MB for 4 stripes and the 30-day,
// 1-minute default). A bucket is recycled by the first
// writer of a new period, which claims it with a CAS; readers skip buckets
// outside the window, so no reset sweep is ever needed. A writer that meets a
// bucket being recycled falls back to another stripe (or yields) rather than
// drop its outcome.
//
// Reading is cheap too: running sums over the SLO window and every burn
// window are kept up to date as buckets age (each bucket is read once when
// sealed, two buckets after its period, and subtracted when it leaves a
// window), so RemainingPct, Status and BurnAlerts cost O(burn windows)
// rather than a walk over the 43 200 buckets of the default window (plus
// 16 B per bucket for the sealed sums). A record more than two buckets
// late is kept by the ring but missed by the sums; a query for a time
// before the last one starts the sums over from there (one walk of the
// ring, like the first query).
//
// With a fleet view attached (AttachFleet, fed by a fleet store such as
// package redisstore's FleetBudget through UpdateFleet), every evaluation
// adds the other replicas' counts to this replica's own, so the budget,
// its decider and its burn alerts are the service's; Record is unchanged
// (budget_fleet.go).
type Budget struct {
	target   float64
	window   time.Duration
	width    int64 // bucket width, ns
	n        int64 // ring length
	minCalls uint64
	burn     []BurnWindow
	windows  []time.Duration // distinct burn windows, ascending

	stripes []stripe
	mask    int // len(stripes)-1, a power of two minus one
	lost    atomic.Uint64
	decider *BudgetDecider // re-evaluated, rate limited, after a record

	evalMu sync.Mutex
	ev     evaluator
	fleet  *fleetView // the other replicas' counts (budget_fleet.go); guarded by evalMu
}

// stripe is one ring of buckets. Writers pick the stripe of the P they run
// on (package internal/proc), so that parallel Records on different cores
// add to different cache lines; readers sum all stripes. Each stripe's ring
// is its own allocation and its header is padded, so current buckets of
// different stripes never share a cache line.
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
	ns := proc.Stripes(maxStripes)
	b.stripes = make([]stripe, ns)
	b.mask = ns - 1
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
	b.ev.memo = make([]sums, n)
	b.ev.wins = make([]window, 1+len(b.windows))
	b.ev.out = make([]sums, len(b.ev.wins))
	b.ev.wins[0].k = n
	for i, w := range b.windows {
		b.ev.wins[1+i].k = b.limit(w)
	}
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

// record counts one outcome at ns, then lets the decider re-evaluate if its
// interval has passed (one atomic load otherwise).
func (b *Budget) record(ns int64, failed bool) {
	b.count(ns, failed)
	if g := b.decider; g != nil && ns-g.lastEval.Load() >= g.every {
		g.reevaluate(ns)
	}
}

func (b *Budget) count(ns int64, failed bool) {
	delta := uint64(oneCall)
	if failed {
		delta++
	}
	// Fast path: the call falls in the bucket written last.
	si := proc.Stripe(b.mask)
	st := &b.stripes[si]
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
	b.countSlow(si, ns/b.width, delta)
}

// recycleSpins bounds the wait on a bucket another writer is recycling
// before the next stripe is tried.
const recycleSpins = 64

// countSlow counts delta in bucket idx, starting with stripe first. It
// never drops an outcome of the window: a bucket held by a writer that is
// recycling it (two stores, but that writer may be preempted in between)
// is waited for a few spins, then the same period's bucket of the next
// stripe is used (readers sum all stripes, so any stripe counts); when
// every stripe is held, it yields to let the recyclers finish and goes
// round again.
func (b *Budget) countSlow(i int, idx int64, delta uint64) {
	for {
		for range b.stripes {
			switch b.countIn(&b.stripes[i], idx, delta) {
			case counted:
				return
			case stale:
				b.lost.Add(1)
				return
			}
			i = (i + 1) & b.mask
		}
		runtime.Gosched()
	}
}

type countResult uint8

const (
	counted countResult = iota
	stale               // the slot holds a later period: idx left the window
	busy                // another writer is recycling the slot
)

// countIn adds delta to bucket idx of st, claiming the slot when it holds
// an older period.
func (b *Budget) countIn(st *stripe, idx int64, delta uint64) countResult {
	c := &st.ring[idx%b.n]
	for range recycleSpins {
		e := c.epoch.Load()
		switch {
		case e == idx:
			c.counts.Add(delta)
			st.advance(c, idx)
			return counted
		case e == resetting:
			continue // another writer is recycling it; a few ns unless preempted
		case e > idx:
			// A straggler from a full window ago: outside the window anyway.
			return stale
		}
		if c.epoch.CompareAndSwap(e, resetting) {
			c.counts.Store(delta)
			c.epoch.Store(idx)
			st.advance(c, idx)
			return counted
		}
	}
	return busy
}

// advance makes c the fast-path bucket if it is newer than the current one.
func (st *stripe) advance(c *bucket, idx int64) {
	if cur := st.cur.Load(); cur != c && cur.epoch.Load() < idx {
		st.cur.CompareAndSwap(cur, c)
	}
}

// sums are calls and failures over some buckets.
type sums struct{ total, failed uint64 }

func (s *sums) add(o sums) { s.total += o.total; s.failed += o.failed }
func (s *sums) sub(o sums) { s.total -= o.total; s.failed -= o.failed }

// read sums bucket idx over all stripes; a slot holding another period
// reads as empty.
func (b *Budget) read(idx int64) (s sums) {
	if idx <= 0 {
		return s
	}
	for i := range b.stripes {
		c := &b.stripes[i].ring[idx%b.n]
		if c.epoch.Load() == idx {
			v := c.counts.Load()
			if c.epoch.Load() == idx {
				s.total += v >> 32
				s.failed += v & (oneCall - 1)
			}
		}
	}
	return s
}

// limit returns how many buckets, the partial current one included, cover
// d (at most the ring).
func (b *Budget) limit(d time.Duration) int64 {
	return min((int64(d)+b.width-1)/b.width, b.n)
}

// sealLag is how many buckets before the current one stay unsealed:
// records for them (a call released a little after a bucket turned) are
// still counted exactly.
const sealLag = 2

// evaluator keeps running sums over the SLO window and every burn window,
// so that an evaluation costs O(windows + sealLag × stripes) instead of a
// walk over the whole ring (43 201 buckets per stripe with the defaults).
//
// A bucket older than sealLag buckets is sealed: its sums over all stripes
// are read once, remembered in sealed and added to the running sum of
// every window it falls in; it is subtracted (the remembered value, so the
// sums never drift) when it leaves a window. The few newest buckets are
// read on each evaluation. A record that lands in an already sealed bucket
// (more than sealLag buckets late) is counted by the ring but not by the
// running sums; Lost does not count it. Guarded by Budget.evalMu.
type evaluator struct {
	ready  bool
	last   int64  // bucket index of the last evaluation
	sealed int64  // every bucket up to this index is sealed
	memo   []sums // sealed sums, by idx mod n
	wins   []window
	out    []sums // results of the last evaluation, like wins
}

// window is one running sum: memo over [start, sealed] (empty when start
// is past sealed).
type window struct {
	k     int64 // buckets covered, the current one included
	start int64
	acc   sums
}

func (b *Budget) slot(idx int64) int64 { return ((idx % b.n) + b.n) % b.n }

// evaluateLocked fills b.ev.out for nowIdx. A time up to tolerance
// buckets before the last evaluation is answered as of the last one;
// further back, the sums start over from that time (one walk of the ring,
// as the first evaluation does).
func (b *Budget) evaluateLocked(nowIdx, tolerance int64) []sums {
	e := &b.ev
	if e.ready && nowIdx < e.last {
		if e.last-nowIdx <= tolerance {
			nowIdx = e.last
		} else {
			e.ready = false
		}
	}
	if !e.ready {
		e.ready, e.last, e.sealed = true, nowIdx, nowIdx-b.n
		for i := range e.wins {
			e.wins[i].start, e.wins[i].acc = e.sealed+1, sums{}
		}
	}
	e.last = nowIdx
	// Expire what left each window.
	for i := range e.wins {
		w := &e.wins[i]
		from := nowIdx - w.k + 1
		switch {
		case w.start >= from:
		case from > e.sealed:
			w.start, w.acc = from, sums{}
		default:
			for ; w.start < from; w.start++ {
				w.acc.sub(e.memo[b.slot(w.start)])
			}
		}
	}
	// Seal what is old enough; nothing below the SLO window matters.
	if to := nowIdx - min(sealLag, b.n-1); to > e.sealed {
		for idx := max(e.sealed+1, nowIdx-b.n+1); idx <= to; idx++ {
			v := b.read(idx)
			e.memo[b.slot(idx)] = v
			for i := range e.wins {
				if idx >= e.wins[i].start {
					e.wins[i].acc.add(v)
				}
			}
		}
		e.sealed = to
	}
	for i := range e.wins {
		e.out[i] = e.wins[i].acc
	}
	// Read the unsealed newest buckets.
	for idx := e.sealed + 1; idx <= nowIdx; idx++ {
		v := b.read(idx)
		for i := range e.wins {
			if idx > nowIdx-e.wins[i].k {
				e.out[i].add(v)
			}
		}
	}
	return e.out
}

// evalLocked is evaluateLocked plus the other replicas' counts when a
// fresh fleet view is attached (budget_fleet.go).
func (b *Budget) evalLocked(nowIdx, tolerance int64) []sums {
	out := b.evaluateLocked(nowIdx, tolerance)
	if b.fleet != nil {
		b.addFleetLocked(b.ev.last, out)
	}
	return out
}

// evaluate returns the sums over the SLO window and each of b.windows at
// now, exactly as a full scan would (but for the late records above).
func (b *Budget) evaluate(now time.Time, out []sums) {
	b.evalMu.Lock()
	copy(out, b.evalLocked(now.UnixNano()/b.width, 0))
	b.evalMu.Unlock()
}

// tryRemaining is the per-call path's evaluation: it never waits for
// another evaluation in progress (ok false) and never starts the sums over
// (a time behind the last evaluation is evaluated as of it).
func (b *Budget) tryRemaining(ns int64) (float64, bool) {
	if !b.evalMu.TryLock() {
		return 0, false
	}
	all := b.evalLocked(ns/b.width, math.MaxInt64)[0]
	b.evalMu.Unlock()
	return b.remainingPct(all), true
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
	return b.remainingAt(now.UnixNano(), 0)
}

// remainingAt is RemainingPct at ns, answering a time up to tolerance
// buckets before the last evaluation as of that evaluation (the gate's
// decisions: a clock read a little behind the newest record must not cost
// a walk of the ring).
func (b *Budget) remainingAt(ns, tolerance int64) float64 {
	b.evalMu.Lock()
	all := b.evalLocked(ns/b.width, tolerance)[0]
	b.evalMu.Unlock()
	return b.remainingPct(all)
}

// Status returns the budget at now, with the burn rates over every distinct
// window of the burn alerts, shortest first. Burn windows longer than the SLO
// window are computed over the SLO window.
func (b *Budget) Status(now time.Time) baldur.ErrorBudgetStatus {
	per := make([]sums, 1+len(b.windows))
	b.evaluate(now, per)
	all := per[0]
	st := baldur.ErrorBudgetStatus{
		Target:       b.target,
		Window:       b.window,
		Total:        all.total,
		Failed:       all.failed,
		RemainingPct: b.remainingPct(all),
		BurnRates:    make([]baldur.BurnRate, len(b.windows)),
	}
	for i, w := range b.windows {
		st.BurnRates[i] = baldur.BurnRate{Window: w, Rate: b.burnRate(per[1+i])}
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
	per := make([]sums, 1+len(b.windows))
	b.evaluate(now, per)
	rate := func(d time.Duration) float64 {
		i := sort.Search(len(b.windows), func(i int) bool { return b.windows[i] >= d })
		return b.burnRate(per[1+i])
	}
	out := make([]BurnAlert, len(b.burn))
	for i, w := range b.burn {
		a := BurnAlert{BurnWindow: w, LongRate: rate(w.Long), ShortRate: rate(w.Short)}
		a.Firing = a.LongRate > w.Factor && a.ShortRate > w.Factor
		out[i] = a
	}
	return out
}

// Lost returns how many outcomes could not be counted: recorded for a
// period a whole window older than a bucket already recycled (or before
// 1970). Contention never loses an outcome: a writer that finds the
// bucket being recycled by another counts in another stripe, or yields
// until the recycle is done.
func (b *Budget) Lost() uint64 { return b.lost.Load() }

func (b *Budget) reset() {
	b.evalMu.Lock()
	defer b.evalMu.Unlock()
	b.ev.ready = false
	for i := range b.stripes {
		for j := range b.stripes[i].ring {
			c := &b.stripes[i].ring[j]
			c.epoch.Store(0)
			c.counts.Store(0)
		}
	}
}
