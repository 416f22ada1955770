package chaos

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// StageObserve is the observe gate's place: before every other gate, so
// that it sees the rejections of the gates after it. It never rejects.
const StageObserve baldur.Stage = 5

// deadlineMargin is the time an injected delay leaves before the call's
// deadline, so the delay alone never makes the call miss it.
const deadlineMargin = time.Millisecond

// Injector is one process's copy of the active experiment set, read by the
// fault and observe gates of every policy. The scheduler installs the set
// it reads from the fleet store with a lease: past the lease, without a
// refresh, the gates stop injecting on their own (fail-closed), so a
// replica cut off from the store, a dead scheduler or a deleted experiment
// never leaves a fault running.
//
// With no active experiment a gate's Admit is one atomic load. Injector
// is safe for concurrent use.
type Injector struct {
	set   atomic.Pointer[activeSet]
	clock baldur.Clock

	mu    sync.Mutex
	stats map[string]*expStats   // by experiment ID; survives re-installs
	views map[string]*policyView // by policy name; one per name ever asked for

	retired      InjectorStats // counts of forgotten experiments, so totals never fall
	leaseExpired atomic.Uint64
	installs     atomic.Uint64
}

// activeSet is an immutable set of armed experiments. Its first 64 bytes
// are what the fault gate reads to decide a call of a set of one
// experiment (the common case), so that the decision for a call the
// experiment does not take touches one cache line past the gate.
type activeSet struct {
	tiers   uint8 // the union of the experiments' tiers: a call of another tier is never targeted
	opExact bool  // op is the whole operation, not a prefix
	scoped  bool  // one's target names a service or region
	// op is one's operation test when its pattern compares as words, run
	// before the lease so that a call of another operation costs a few
	// compares.
	op      words
	expires int64  // Unix ns on the calls' clock; past it the set is dead
	salt    uint64 // one's
	expCut  uint64 // one's
	// one is the set's experiment when it has one, which the fault gate
	// matches without the loop over exps.
	one  *armed
	exps []*armed
	gen  uint64
	_    [32]byte // to 128 bytes, a size class whose objects start a cache line
}

// setOne sets the fields of a set of one experiment (one and its copies).
func (s *activeSet) setOne() {
	if len(s.exps) != 1 {
		return
	}
	a := s.exps[0]
	s.one, s.salt, s.expCut, s.scoped = a, a.salt, a.expCut, a.service != "" || a.region != ""
	if a.prefixWords.n != 0 {
		s.op, s.opExact = a.prefixWords, a.opKind == opExact
	}
}

// policyView is the active set as the gates of one policy see it: only
// the experiments that may target the policy, nil when there are none, so
// that a policy no experiment targets pays one atomic load even while
// other policies inject.
type policyView struct {
	set atomic.Pointer[activeSet]
}

// viewLocked returns the view of policy; mu is held.
func (inj *Injector) viewLocked(policy string) *policyView {
	v := inj.views[policy]
	if v == nil {
		v = &policyView{}
		if s := inj.set.Load(); s != nil {
			v.set.Store(s.filter(policy))
		}
		inj.views[policy] = v
	}
	return v
}

// filter returns the part of s that may target policy, or nil.
func (s *activeSet) filter(policy string) *activeSet {
	var exps []*armed
	var tiers uint8
	for _, a := range s.exps {
		if a.policy == "" || a.policy == policy {
			exps = append(exps, a)
			tiers |= a.tiers
		}
	}
	if len(exps) == 0 {
		return nil
	}
	v := &activeSet{exps: exps, expires: s.expires, gen: s.gen, tiers: tiers}
	v.setOne()
	return v
}

// expStats holds an experiment's counts per phase and cohort.
type expStats struct {
	c    [len(phases)][numCohorts]cohortStats
	kind int // kindIndex of the experiment's fault
}

// add adds the experiment's injections to out.
func (st *expStats) add(out *InjectorStats) {
	for p := range st.c {
		for c := range st.c[p] {
			cs := &st.c[p][c]
			n := cs.sum()
			out.injected[st.kind] += n[4] + n[5]
			out.WouldInject += n[6]
		}
	}
}

// NewInjector returns an Injector with no active experiment. clock times
// injected delays and the latency of calls whose adapter measured none;
// nil means baldur.SystemClock().
func NewInjector(clock baldur.Clock) *Injector {
	if clock == nil {
		clock = baldur.SystemClock()
	}
	return &Injector{clock: clock, stats: map[string]*expStats{}, views: map[string]*policyView{}}
}

// Gates returns the observe gate and the fault gate of the named policy.
// The registry puts both into every policy when the chaos section is
// present; the observe gate may be left out when the policy has no room
// (baldur.MaxGates), and the report then lacks the rejections of earlier
// gates.
func (inj *Injector) Gates(policy string) (observe, fault baldur.Gate) {
	inj.mu.Lock()
	v := inj.viewLocked(policy)
	inj.mu.Unlock()
	return &ObserveGate{set: &v.set, inj: inj, policy: policy}, &FaultGate{set: &v.set, inj: inj, policy: policy}
}

// Entry is one experiment of the active set as the fleet store keeps it.
type Entry struct {
	Experiment Experiment `json:"experiment"`
	// Phase is the experiment's current phase.
	Phase Phase `json:"phase"`
	// Owner is the replica whose scheduler refreshes the lease.
	Owner string `json:"owner"`
}

// install replaces the active set with entries, valid until expires.
func (inj *Injector) install(entries []Entry, gen uint64, expires time.Time, allowCritical bool) {
	inj.installs.Add(1)
	inj.mu.Lock()
	defer inj.mu.Unlock()
	var s *activeSet
	if len(entries) > 0 {
		s = &activeSet{expires: expires.UnixNano(), gen: gen}
		for _, e := range entries {
			a := inj.arm(e, allowCritical)
			s.exps = append(s.exps, a)
			s.tiers |= a.tiers
		}
		s.setOne()
	}
	inj.set.Store(s)
	for name, v := range inj.views {
		if s == nil {
			v.set.Store(nil)
		} else {
			v.set.Store(s.filter(name))
		}
	}
}

// arm compiles e; mu is held.
func (inj *Injector) arm(e Entry, allowCritical bool) *armed {
	x := e.Experiment
	st := inj.stats[x.ID]
	if st == nil {
		st = &expStats{kind: kindIndex(x.Fault.Kind)}
		for p := range st.c {
			for c := range st.c[p] {
				st.c[p][c].clock = inj.clock
			}
		}
		inj.stats[x.ID] = st
	}
	a := &armed{
		policy: x.Target.Policy, service: x.Target.Service, region: x.Target.Region,
		salt: salt(x.ID), expCut: cut(x.Rate), kind: x.Fault.Kind, dist: x.Fault.Distribution,
		delay: int64(x.Fault.Delay), jitter: int64(x.Fault.Jitter), id: x.ID,
		stats: &st.c[e.Phase.index()],
	}
	a.compileOp(x.Target.Operation)
	if len(x.Target.Tiers) == 0 {
		a.tiers = 1<<baldur.TierStandard | 1<<baldur.TierNonEssential
	}
	for _, t := range x.Target.Tiers {
		if t != baldur.TierCritical || allowCritical {
			a.tiers |= 1 << t
		}
	}
	if e.Phase == PhaseDuring {
		a.inject, a.dry = !x.DryRun, x.DryRun
	}
	switch x.Fault.Kind {
	case FaultError:
		a.rej = baldur.RejectInjected(x.Fault.HTTPStatus, uint32(x.Fault.GRPCCode))
	case FaultAbort:
		a.rej = baldur.RejectInjected(502, 14)
	}
	return a
}

// clear drops the active set at once (kill-all, a stop).
func (inj *Injector) clear() {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.set.Store(nil)
	for _, v := range inj.views {
		v.set.Store(nil)
	}
}

// forget drops the counts of an experiment no longer reported on.
func (inj *Injector) forget(id string) {
	inj.mu.Lock()
	if st := inj.stats[id]; st != nil {
		st.add(&inj.retired)
		delete(inj.stats, id)
	}
	inj.mu.Unlock()
}

// snapshot returns experiment id's counts per phase and cohort.
func (inj *Injector) snapshot(id string) (out [len(phases)][numCohorts]Snapshot, ok bool) {
	inj.mu.Lock()
	st := inj.stats[id]
	inj.mu.Unlock()
	if st == nil {
		return out, false
	}
	for p := range st.c {
		for c := range st.c[p] {
			out[p][c] = st.c[p][c].snapshot()
		}
	}
	return out, true
}

// Active returns the IDs of the experiments the gates act on now, sorted;
// none once the lease has passed.
func (inj *Injector) Active() []string {
	s := inj.live(inj.clock.Now().UnixNano())
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.exps))
	for _, a := range s.exps {
		out = append(out, a.id)
	}
	sort.Strings(out)
	return out
}

// live returns the set when its lease holds at now, else drops it.
func (inj *Injector) live(now int64) *activeSet { return inj.liveIn(&inj.set, now) }

// liveIn returns the set in p (the whole set, or a policy's view) when its
// lease holds at now; past the lease it empties p, and the whole set's
// expiry is counted once.
func (inj *Injector) liveIn(p *atomic.Pointer[activeSet], now int64) *activeSet {
	if s := p.Load(); s != nil && now < s.expires {
		return s // small enough to inline: the call path's case
	}
	return inj.expire(p, now)
}

// liveFor returns a gate's view p when one of its experiments may target
// c's tier and its lease holds at c.Now; else nil. The tier comes first:
// a call no experiment can target (critical calls, by default) never
// converts the clock reading.
func (inj *Injector) liveFor(p *atomic.Pointer[activeSet], c *baldur.Call) *activeSet {
	s := p.Load()
	if s == nil || s.tiers&(1<<c.Tier) == 0 {
		return nil
	}
	if now := c.Now.UnixNano(); now >= s.expires {
		return inj.expire(p, now)
	}
	return s
}

// expire is liveIn for a set that is gone or past its lease.
func (inj *Injector) expire(p *atomic.Pointer[activeSet], now int64) *activeSet {
	s := p.Load()
	if s == nil {
		return nil
	}
	if now >= s.expires {
		p.CompareAndSwap(s, nil)
		if all := inj.set.Load(); all != nil && now >= all.expires && inj.set.CompareAndSwap(all, nil) {
			inj.leaseExpired.Add(1)
		}
		return nil
	}
	return s
}

// InjectorStats are an Injector's counters, for metrics.
type InjectorStats struct {
	// Injected counts injected faults by kind.
	Injected map[FaultKind]uint64
	// WouldInject counts what dry runs would have injected.
	WouldInject uint64
	// LeaseExpired counts the times the local copy expired unrefreshed and
	// injection stopped on its own.
	LeaseExpired uint64
	// Active is how many experiments the gates act on now.
	Active int

	injected [3]uint64
}

// Stats returns the counters.
// Stats returns the counters, summed over the experiments' counts (the
// call path keeps no counter of its own beyond the cohort's).
func (inj *Injector) Stats() InjectorStats {
	inj.mu.Lock()
	out := inj.retired
	for _, st := range inj.stats {
		st.add(&out)
	}
	inj.mu.Unlock()
	out.Injected = map[FaultKind]uint64{FaultLatency: out.injected[0], FaultError: out.injected[1], FaultAbort: out.injected[2]}
	out.LeaseExpired, out.Active = inj.leaseExpired.Load(), len(inj.Active())
	return out
}

func kindIndex(k FaultKind) int {
	switch k {
	case FaultError:
		return 1
	case FaultAbort:
		return 2
	}
	return 0
}

// FaultGate is the fault stage of one policy (baldur.StageFault, after the
// bulkhead). For a call in an experiment cohort during injection it delays
// the call (holding its permits; the call's outcome then reaches every
// gate marked Injected, see Injected), or rejects it with the experiment's
// injected_fault rejection, which the policy releases to the earlier
// gates as a failure marked Injected. Control-cohort calls and every
// call of a dry run or a steady-state phase only get counted. Safe for
// concurrent use.
type FaultGate struct {
	set    *atomic.Pointer[activeSet] // the policy's view: one load on the fast path
	inj    *Injector
	policy string
}

// Stage returns baldur.StageFault.
func (*FaultGate) Stage() baldur.Stage { return baldur.StageFault }

// Admit implements baldur.Gate. With no active experiment it is one atomic
// load and returns the zero Permit.
func (g *FaultGate) Admit(ctx context.Context, c baldur.Call) (p baldur.Permit, err error) {
	if g.set.Load() != nil {
		p, err = g.admit(ctx, &c)
	}
	return p, err
}

func (g *FaultGate) admit(ctx context.Context, c *baldur.Call) (baldur.Permit, error) {
	// liveFor, written out: the call path's one function call fewer.
	s := g.set.Load()
	if s == nil || s.tiers&(1<<c.Tier) == 0 {
		return baldur.Permit{}, nil
	}
	a := s.one
	if a == nil {
		return g.admitAny(ctx, s, c)
	}
	// The view's one experiment: a.match written out from the set's copy
	// of its fields, so that a call the experiment does not target, or
	// whose key is in neither cohort, costs no call and no load of a. The
	// set's tiers are the experiment's.
	if w := &s.op; w.n != 0 {
		op := c.Operation
		if len(op) < w.n || (s.opExact && len(op) != w.n) || word(op, 0) != w.w0 || word(op, w.n-8) != w.w1 {
			return baldur.Permit{}, nil
		}
	} else if a.opKind != opAny && !a.opMatch(c.Operation) {
		return baldur.Permit{}, nil
	}
	if c.Key == "" || (s.scoped && !a.inScope(c)) {
		return baldur.Permit{}, nil
	}
	var h uint64
	if k := c.Key; len(k) >= 8 && len(k) <= 16 {
		// cohortHash of a key of 8 to 16 bytes (an address, a tenant)
		// written out: the function is over the inlining budget.
		h = mix(hashP2^uint64(len(k)), mix(word(k, 0)^hashP1, word(k, len(k)-8)^s.salt))
	} else {
		h = cohortHash(s.salt, k)
	}
	var co cohort
	switch {
	case h < s.expCut:
		co = cohortExperiment
	case h-s.expCut < s.expCut: // h < 2·cut without overflow
		co = cohortControl
	default:
		// In neither cohort: nothing to inject or count, whether or not
		// the lease is still good, so the lease is read only past here.
		return baldur.Permit{}, nil
	}
	if now := c.Now.UnixNano(); now >= s.expires {
		if n := g.inj.expire(g.set, now); n != s {
			if n == nil {
				return baldur.Permit{}, nil
			}
			return g.admitAny(ctx, n, c) // refreshed meanwhile: match afresh
		}
	}
	return g.decide(ctx, a, c, co, h)
}

// admitAny is admit for a set of several experiments: the first whose
// cohort c is in decides.
func (g *FaultGate) admitAny(ctx context.Context, s *activeSet, c *baldur.Call) (baldur.Permit, error) {
	if now := c.Now.UnixNano(); now >= s.expires {
		if s = g.inj.expire(g.set, now); s == nil {
			return baldur.Permit{}, nil
		}
	}
	for _, a := range s.exps {
		if co, h, ok := a.match(c); ok {
			return g.decide(ctx, a, c, co, h)
		}
	}
	return baldur.Permit{}, nil
}

// decide is the fault gate's decision for c, in cohort co of a with key
// hash h: inject (or count what a dry run would), or count the call.
func (g *FaultGate) decide(ctx context.Context, a *armed, c *baldur.Call, co cohort, h uint64) (baldur.Permit, error) {
	st := &a.stats[co]
	if co == cohortExperiment {
		stripe := &st.s[h%stripes] // the hash's low bits: no random draw on the decision
		if a.dry {
			stripe.wouldInject.Add(1)
		} else if a.inject {
			if a.rej != nil {
				stripe.injected.Add(1) // a call, a failure, an injected_fault rejection (snapshot)
				return baldur.Permit{}, a.rej
			}
			stripe.delayed.Add(1)
			slept, err := g.delay(ctx, a, c)
			if err != nil {
				return baldur.Permit{}, err
			}
			if slept {
				return baldur.NewPermit(st, uint64(c.Now.UnixNano())|delayedToken), nil
			}
		}
	}
	return baldur.NewPermit(st, uint64(c.Now.UnixNano())), nil
}

// delayedToken marks the permit token (the admission time in Unix
// nanoseconds, never negative) of a call the gate delayed.
const delayedToken = 1 << 63

// Injected implements baldur.InjectionMarker: a permit of a call the gate
// delayed stands for an injected fault, so the call's outcome reaches
// every gate marked Injected.
func (*FaultGate) Injected(token uint64) bool { return token&delayedToken != 0 }

// delay sleeps a's delay on the injector's clock, cut to leave
// deadlineMargin before the call's deadline, and reports whether it slept;
// a done ctx ends it with ctx.Err().
func (g *FaultGate) delay(ctx context.Context, a *armed, c *baldur.Call) (bool, error) {
	d := time.Duration(a.delay)
	switch a.dist {
	case Uniform:
		d += time.Duration(rand.Int64N(a.jitter + 1))
	case Exponential:
		d += time.Duration(min(rand.ExpFloat64(), 8) * float64(a.jitter))
	}
	if !c.Deadline.IsZero() {
		d = min(d, c.Deadline.Sub(c.Now)-deadlineMargin)
	}
	if d <= 0 {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	done := make(chan struct{})
	t := g.inj.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true, nil
	case <-ctx.Done():
		t.Stop()
		return false, ctx.Err()
	}
}

// ObserveGate is the observe stage of one policy (StageObserve, first in
// the chain): for a call in an experiment's cohort it takes a permit whose
// release counts the call when a later gate rejected it (breaker_open,
// throttled, ...), by reason, so the report compares what the cohorts
// suffered, not only what they ran. It never rejects. Safe for concurrent
// use.
type ObserveGate struct {
	set    *atomic.Pointer[activeSet] // the policy's view
	inj    *Injector
	policy string
}

// Stage returns StageObserve.
func (*ObserveGate) Stage() baldur.Stage { return StageObserve }

// Admit implements baldur.Gate. With no active experiment it is one atomic
// load and returns the zero Permit.
func (g *ObserveGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	if g.set.Load() == nil {
		return baldur.Permit{}, nil
	}
	return g.admit(&c), nil
}

func (g *ObserveGate) admit(c *baldur.Call) baldur.Permit {
	s := g.inj.liveFor(g.set, c)
	if s == nil {
		return baldur.Permit{}
	}
	for _, a := range s.exps {
		if co, _, ok := a.match(c); ok {
			return baldur.NewPermit((*rejections)(&a.stats[co]), 0)
		}
	}
	return baldur.Permit{}
}
