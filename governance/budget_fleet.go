package governance

import (
	"time"
)

// The fleet view of a Budget.
//
// An SLO belongs to a service, not to one of its replicas. A Budget counts
// the outcomes its own process records; a fleet store (package redisstore's
// FleetBudget) shares those counts with the other replicas and pushes the
// others' counts back with UpdateFleet. While the fleet view is attached
// and fresh, every evaluation (RemainingPct, Status, BurnAlerts, the
// decider and the snapshot) is over fleet totals: this replica's own counts,
// read from its ring as always, plus the others' counts per bucket. While
// it is stale the Budget evaluates its local counts alone, reports it in
// FleetState and counts the fallback.
//
// Record is untouched: the per-call path never sees the fleet view. The
// others' counts are read on evaluation only, from memory under the
// evaluation lock: a ring of the local one's length plus fleetAhead
// buckets (24 B a bucket, allocated by AttachFleet) and running sums per window kept like
// the local ones, so an evaluation stays O(windows) and an update of k
// buckets costs O(k × windows).

// BucketCounts are the calls and failures of one budget bucket.
type BucketCounts struct {
	Total, Failed uint64
}

// FleetBucket is the rest of the fleet's counts in one budget bucket:
// Period is the bucket's index (unix ns / Budget.Bucket()).
type FleetBucket struct {
	Period int64
	BucketCounts
}

// FleetUpdate is what a fleet store pushes into a Budget after reading the
// fleet's counts.
type FleetUpdate struct {
	// Reset forgets every count pushed before (the store lost its data, or
	// the view is being rebuilt), before Buckets apply.
	Reset bool
	// Buckets set the other replicas' counts of their periods. Values are
	// absolute: a bucket given twice with the same counts changes nothing.
	// Periods outside the window are ignored.
	Buckets []FleetBucket
	// Fresh reports that the view is complete and current. While false the
	// Budget evaluates its local counts alone (the fallback).
	Fresh bool
}

// FleetState reports whether a Budget evaluates fleet totals.
type FleetState struct {
	// Attached is true between AttachFleet and DetachFleet.
	Attached bool
	// Fleet is true while evaluations are over fleet totals: attached and
	// the last update was fresh.
	Fleet bool
	// Fallback is true while attached but evaluating local counts alone:
	// the fleet view is stale (the store is unreachable) or not yet
	// complete.
	Fallback bool
	// Fallbacks counts the times the view went from fresh to stale.
	Fallbacks uint64
	// Others are the other replicas' calls and failures over the SLO
	// window as of the last evaluation (zero while not Fleet).
	Others BucketCounts
}

// fleetView is the others' counts: a ring like the local one, and for each
// evaluator window the running sum of the ring's buckets from start on.
type fleetView struct {
	fresh     bool
	fallbacks uint64
	ring      []fleetSlot // by slot(period)
	newest    int64       // highest period held
	ready     bool        // start and acc are set
	start     []int64     // per window: acc covers ring buckets with period >= start
	acc       []sums
	others    sums // SLO window, last evaluation
}

// fleetAhead is how many buckets a peer's clock may run ahead of this
// replica's before its newest buckets displace the oldest of the window.
const fleetAhead = 64

func (f *fleetView) slot(p int64) int64 { return p % int64(len(f.ring)) }

type fleetSlot struct {
	period int64 // 0: empty
	c      sums
}

// Bucket returns the width of a budget bucket: fleet stores name periods
// by index (unix ns / Bucket()).
func (b *Budget) Bucket() time.Duration { return time.Duration(b.width) }

// Window returns the rolling SLO window.
func (b *Budget) Window() time.Duration { return b.window }

// Buckets returns how many buckets the ring holds: the window's, plus the
// current partial one.
func (b *Budget) Buckets() int64 { return b.n }

// Counts returns this replica's counts in bucket period (zero when the ring
// no longer holds it). It reads every stripe; not for the per-call path.
func (b *Budget) Counts(period int64) BucketCounts {
	s := b.read(period)
	return BucketCounts{Total: s.total, Failed: s.failed}
}

// AttachFleet makes b evaluate fleet totals once a fresh FleetUpdate
// arrives; until then it evaluates its local counts and reports Fallback.
// Attaching an attached Budget changes nothing.
func (b *Budget) AttachFleet() {
	b.evalMu.Lock()
	defer b.evalMu.Unlock()
	if b.fleet == nil {
		b.fleet = &fleetView{ring: make([]fleetSlot, b.n+fleetAhead), start: make([]int64, len(b.ev.wins)), acc: make([]sums, len(b.ev.wins))}
	}
}

// DetachFleet returns b to local counts and drops the others' counts.
func (b *Budget) DetachFleet() {
	b.evalMu.Lock()
	b.fleet = nil
	b.evalMu.Unlock()
}

// UpdateFleet applies u, when attached (otherwise it does nothing). It
// holds the evaluation lock for O(len(u.Buckets) × windows), or one pass
// over the ring on Reset.
func (b *Budget) UpdateFleet(u FleetUpdate) {
	b.evalMu.Lock()
	defer b.evalMu.Unlock()
	f := b.fleet
	if f == nil {
		return
	}
	if u.Reset {
		clear(f.ring)
		f.newest, f.ready = 0, false
	}
	for _, fb := range u.Buckets {
		b.setOther(f, fb.Period, sums{total: fb.Total, failed: fb.Failed})
	}
	if f.fresh && !u.Fresh {
		f.fallbacks++
	}
	f.fresh = u.Fresh
}

// setOther sets the others' counts of period p, keeping the running sums.
func (b *Budget) setOther(f *fleetView, p int64, v sums) {
	if p <= 0 {
		return
	}
	c := &f.ring[f.slot(p)]
	var old sums
	switch {
	case c.period == p:
		old = c.c
	case c.period > p:
		return // a ring ago: outside every window
	case c.period != 0 && f.ready:
		// Recycled: the older period leaves the sums it is still in (only
		// possible for a period ahead of the evaluations, on a skewed clock).
		for i := range f.acc {
			if c.period >= f.start[i] {
				f.acc[i].sub(c.c)
			}
		}
	}
	c.period, c.c = p, v
	f.newest = max(f.newest, p)
	if !f.ready {
		return
	}
	for i := range f.acc {
		if p >= f.start[i] {
			f.acc[i].sub(old)
			f.acc[i].add(v)
		}
	}
}

// other returns the others' counts held for period p.
func (b *Budget) other(f *fleetView, p int64) sums {
	if p <= 0 {
		return sums{}
	}
	if c := &f.ring[f.slot(p)]; c.period == p {
		return c.c
	}
	return sums{}
}

// addFleetLocked adds the others' counts of each window ending at nowIdx
// to out (the local sums of the same windows), when the view is fresh.
// Called with evalMu held, after evaluateLocked.
func (b *Budget) addFleetLocked(nowIdx int64, out []sums) {
	f := b.fleet
	if f == nil || !f.fresh {
		return
	}
	// Buckets ahead of this replica's clock (a skewed peer) are held but
	// not counted until the clock gets there.
	var ahead sums
	for p := nowIdx + 1; p <= min(f.newest, nowIdx+fleetAhead); p++ {
		ahead.add(b.other(f, p))
	}
	for i := range f.acc {
		from := nowIdx - b.ev.wins[i].k + 1
		switch {
		case !f.ready || from < f.start[i] || from-f.start[i] >= int64(len(f.ring)):
			// First use, a time behind the last evaluation, or a jump of a
			// whole ring: one pass over the ring.
			f.acc[i] = sums{}
			for j := range f.ring {
				if c := &f.ring[j]; c.period != 0 && c.period >= from {
					f.acc[i].add(c.c)
				}
			}
		default:
			for p := f.start[i]; p < from; p++ {
				f.acc[i].sub(b.other(f, p))
			}
		}
		f.start[i] = from
		out[i].add(f.acc[i])
		out[i].sub(ahead)
	}
	f.ready = true
	f.others = f.acc[0]
	f.others.sub(ahead)
}

// FleetState returns whether b evaluates fleet totals, and the others'
// share of the last evaluation.
func (b *Budget) FleetState() FleetState {
	b.evalMu.Lock()
	defer b.evalMu.Unlock()
	f := b.fleet
	if f == nil {
		return FleetState{}
	}
	st := FleetState{Attached: true, Fleet: f.fresh, Fallback: !f.fresh, Fallbacks: f.fallbacks}
	if f.fresh {
		st.Others = BucketCounts{Total: f.others.total, Failed: f.others.failed}
	}
	return st
}

// Reevaluate lets the error-budget decider re-evaluate at now, as a record
// at now would (at most once per BudgetEvalInterval): a fleet store calls
// it after an update, so that a replica without traffic of its own follows
// the fleet's budget across a threshold within one interval.
func (b *Budget) Reevaluate(now time.Time) {
	if g := b.decider; g != nil {
		if ns := now.UnixNano(); ns-g.lastEval.Load() >= g.every {
			g.reevaluate(ns)
		}
	}
}
