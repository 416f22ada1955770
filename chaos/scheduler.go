package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
)

// ErrNotApproved: Start of an experiment that awaits approval.
var ErrNotApproved = errors.New("chaos: experiment awaits approval")

// maxRuns bounds the experiments (and reports) a scheduler keeps; the
// oldest finished ones go first.
const maxRuns = 256

// maxSeries bounds the points of one report's time series.
const maxSeries = 2000

// Scheduler runs experiments on this replica and keeps every replica's
// Injector in step with the fleet store. Each pass (Tick, every Poll once
// Start is called) it moves its own experiments through their phases
// (scheduled -> before -> during -> after -> done), re-runs the guard's
// continuing checks and, every CheckInterval during injection, the stop
// conditions; it refreshes the leases of its running experiments and
// installs the store's active set into the Injector with a lease of its
// own. An experiment is never retried: once it ends, it stays ended.
//
// Scheduler implements the package's Scheduler, ReportGenerator and, with
// Guard, SafetyGuard. It is safe for concurrent use.
type Scheduler struct {
	s      settings
	inj    *Injector
	store  Store
	guard  *Guard
	notify notify.Manager
	pols   PolicySource
	owner  string
	clock  baldur.Clock
	log    *slog.Logger

	mu       sync.Mutex
	runs     map[string]*runState
	gen      uint64 // the store's generation this replica last saw
	lastPoll time.Time
	pollErrs uint64
	denials  map[string]uint64
	stops    map[string]uint64
	timer    baldur.Timer
	running  bool
	closed   bool
	remote   []Entry // the active set's entries owned by other replicas, at the last poll
}

var (
	_ Controller      = (*Scheduler)(nil)
	_ ReportGenerator = (*Scheduler)(nil)
)

type runState struct {
	run        Run
	breaches   int
	lastCheck  time.Time
	checkSnap  [numCohorts]Snapshot // at lastCheck, during
	pointSnap  [len(phases)][numCohorts]Snapshot
	series     []Point
	budgetPre  float64
	budgetPost float64
	open       map[string]cohort // breaker partitions open at the last pass, by key
	breakers   [len(phases)][numCohorts][2]int
	begun      bool // registered with the blast-radius manager
	aborted    bool // injection aborted; observing recovery before ending
	approved   bool
	report     *Report
}

// New returns a Scheduler for cfg. It does nothing until Tick or Start.
func New(cfg Config) (*Scheduler, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = baldur.SystemClock()
	}
	if cfg.Store == nil {
		cfg.Store = NewMemory(cfg.Clock)
	}
	sc := &Scheduler{
		s: s, inj: cfg.Injector, store: cfg.Store, notify: cfg.Notify, pols: cfg.Policies,
		owner: cfg.Owner, clock: cfg.Clock, log: cfg.Logger,
		runs: map[string]*runState{}, denials: map[string]uint64{}, stops: map[string]uint64{},
	}
	sc.guard = newGuard(&sc.s, cfg)
	if sc.inj == nil {
		sc.inj = NewInjector(cfg.Clock)
	}
	if sc.notify == nil {
		sc.notify = notify.NoOp{}
	}
	if sc.owner == "" {
		sc.owner = "local"
	}
	if sc.log == nil {
		sc.log = slog.Default()
	}
	return sc, nil
}

// Injector returns the injector the scheduler keeps in step.
func (sc *Scheduler) Injector() *Injector { return sc.inj }

// Guard returns the scheduler's safety guard.
func (sc *Scheduler) Guard() *Guard { return sc.guard }

// Enabled reports whether the configuration lets experiments start.
func (sc *Scheduler) Enabled() bool { return sc.s.enabled }

// DryRun reports whether the configuration makes every experiment dry.
func (sc *Scheduler) DryRun() bool { return sc.s.dryRun }

// Schedule validates e, runs the guard and keeps the experiment: scheduled
// for its StartAt, or awaiting approval when its scope needs one. Invalid
// input is a *baldur.ConfigError; a refusal wraps ErrBlocked and lists
// the reasons; chaos disabled is ErrDisabled.
func (sc *Scheduler) Schedule(ctx context.Context, e Experiment) (Run, error) {
	if !sc.s.enabled {
		return Run{}, ErrDisabled
	}
	now := sc.clock.Now()
	e, err := e.normalize(&sc.s, now)
	if err != nil {
		return Run{}, err
	}
	dupErr := cfgErr("id", e.ID, "an experiment with this ID exists (experiments are never re-run; pick a new ID)")
	sc.mu.Lock()
	_, dup := sc.runs[e.ID]
	sc.mu.Unlock()
	if dup {
		return Run{}, dupErr
	}
	v := sc.guard.Evaluate(ctx, e, e.Force)
	if len(v.Reasons) > 0 {
		sc.countDenials(v.Reasons)
		return Run{}, fmt.Errorf("%w: %v", ErrBlocked, v.Reasons)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, dup := sc.runs[e.ID]; dup {
		return Run{}, dupErr
	}
	sc.trimLocked()
	rs := &runState{run: Run{Experiment: e, State: StateScheduled, ScheduledAt: now, Owner: sc.owner}}
	if v.RequiresApproval {
		rs.run.State = StateAwaitingApproval
	}
	sc.runs[e.ID] = rs
	return rs.run, nil
}

// trimLocked drops the oldest ended runs beyond maxRuns.
func (sc *Scheduler) trimLocked() {
	if len(sc.runs) < maxRuns {
		return
	}
	var ended []*runState
	for _, rs := range sc.runs {
		if rs.run.State.Ended() {
			ended = append(ended, rs)
		}
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].run.EndedAt.Before(ended[j].run.EndedAt) })
	for _, rs := range ended[:max(0, len(sc.runs)-maxRuns+1)] {
		delete(sc.runs, rs.run.Experiment.ID)
		sc.inj.forget(rs.run.Experiment.ID)
	}
}

// Approve approves an experiment that awaits approval; it starts at its
// StartAt (Start starts it at once).
func (sc *Scheduler) Approve(ctx context.Context, id string) (Run, error) {
	if sc.guard.blast == nil {
		return Run{}, fmt.Errorf("%w: [%s]", ErrBlocked, ReasonNoBlastRadius)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	rs, ok := sc.runs[id]
	if !ok {
		return Run{}, ErrNotFound
	}
	if rs.run.State != StateAwaitingApproval {
		return rs.run, nil
	}
	sc.guard.blast.Approve(id)
	rs.approved = true
	rs.run.State = StateScheduled
	return rs.run, nil
}

// Start moves a scheduled experiment's start to now and runs a pass.
func (sc *Scheduler) Start(ctx context.Context, id string) (Run, error) {
	sc.mu.Lock()
	rs, ok := sc.runs[id]
	if !ok {
		sc.mu.Unlock()
		return Run{}, ErrNotFound
	}
	switch rs.run.State {
	case StateAwaitingApproval:
		sc.mu.Unlock()
		return rs.run, ErrNotApproved
	case StateScheduled:
		rs.run.Experiment.StartAt = sc.clock.Now()
	}
	sc.mu.Unlock()
	sc.Tick(ctx)
	return sc.Get(id)
}

// Get returns the experiment with id.
func (sc *Scheduler) Get(id string) (Run, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	rs, ok := sc.runs[id]
	if !ok {
		return Run{}, ErrNotFound
	}
	return rs.run, nil
}

// List returns every experiment this scheduler keeps, newest first, then
// the running experiments of other replicas as the last poll saw them
// (their state is their phase; their reports are on their owners).
func (sc *Scheduler) List() []Run {
	sc.mu.Lock()
	out := make([]Run, 0, len(sc.runs)+len(sc.remote))
	for _, rs := range sc.runs {
		out = append(out, rs.run)
	}
	for _, e := range sc.remote {
		if _, mine := sc.runs[e.Experiment.ID]; !mine {
			out = append(out, Run{Experiment: e.Experiment, State: State(e.Phase), Owner: e.Owner})
		}
	}
	sc.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ScheduledAt.Equal(out[j].ScheduledAt) {
			return out[i].ScheduledAt.After(out[j].ScheduledAt)
		}
		return out[i].Experiment.ID < out[j].Experiment.ID
	})
	return out
}

// Running implements the Scheduler interface: the experiments not ended.
func (sc *Scheduler) Running(context.Context) ([]Run, error) {
	var out []Run
	for _, r := range sc.List() {
		if !r.State.Ended() {
			out = append(out, r)
		}
	}
	return out, nil
}

// Cancel implements the Scheduler interface: Stop with reason "stopped".
func (sc *Scheduler) Cancel(ctx context.Context, id string) error {
	_, err := sc.Stop(ctx, id, "stopped")
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Stop ends experiment id with reason. An experiment of another replica
// (in the active set, not kept here) is removed from the store; its owner
// sees it gone at its next refresh and ends it.
func (sc *Scheduler) Stop(ctx context.Context, id, reason string) (Run, error) {
	return sc.stop(ctx, id, StateStopped, "stopped", reason)
}

func (sc *Scheduler) stop(ctx context.Context, id string, st State, reason, detail string) (Run, error) {
	sc.mu.Lock()
	rs, ok := sc.runs[id]
	if !ok {
		sc.mu.Unlock()
		return sc.stopRemote(ctx, id, reason, detail)
	}
	var fin func()
	if !rs.run.State.Ended() {
		fin = sc.endLocked(ctx, rs, st, reason, detail)
	}
	run := rs.run
	sc.mu.Unlock()
	if fin != nil {
		fin()
	}
	sc.poll(ctx, sc.clock.Now())
	return run, nil
}

// stopRemote removes another replica's experiment from the active set:
// every replica stops injecting it at its next poll, and its owner ends it
// at its next refresh (which finds it gone).
func (sc *Scheduler) stopRemote(ctx context.Context, id, reason, detail string) (Run, error) {
	_, entries, err := sc.store.Load(ctx)
	if err != nil {
		return Run{}, err
	}
	for _, e := range entries {
		if e.Experiment.ID != id {
			continue
		}
		if err := sc.store.Remove(ctx, id); err != nil {
			return Run{}, err
		}
		sc.poll(ctx, sc.clock.Now())
		return Run{Experiment: e.Experiment, State: StateStopped, StopReason: reason, Detail: detail,
			EndedAt: sc.clock.Now(), Owner: e.Owner}, nil
	}
	return Run{}, ErrNotFound
}

// KillAll empties the fleet's active set and moves its generation, so
// that every replica stops injecting at its next poll and no owner can
// refresh its lease again; this replica stops at once. It works whether or
// not chaos is enabled. It returns how many experiments it stopped.
func (sc *Scheduler) KillAll(ctx context.Context, reason string) (int, error) {
	sc.inj.clear()
	removed, gen, err := sc.store.KillAll(ctx)
	sc.inj.clear() // a pass that loaded the set before the kill may have installed it again
	sc.mu.Lock()
	if err == nil {
		sc.gen = gen
	}
	var fins []func()
	local := 0
	for _, rs := range sc.runs {
		if !rs.run.State.Ended() {
			local++
			fins = append(fins, sc.endLocked(ctx, rs, StateStopped, "kill_all", reason))
		}
	}
	sc.mu.Unlock()
	for _, f := range fins {
		f()
	}
	if err != nil {
		// The store is unreachable: this replica stopped, and every other
		// stops within one lease since no refresh can succeed either way.
		return local, fmt.Errorf("chaos: kill-all stopped %d local experiments; the store failed: %w", local, err)
	}
	return max(removed, local), nil
}

// Run runs Tick every Poll on the scheduler's clock until Close or ctx
// ends.
func (sc *Scheduler) Run(ctx context.Context) {
	sc.mu.Lock()
	if sc.closed || sc.running {
		sc.mu.Unlock()
		return
	}
	sc.running = true
	sc.mu.Unlock()
	var loop func()
	loop = func() {
		sc.Tick(ctx)
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.closed || ctx.Err() != nil {
			return
		}
		sc.timer = sc.clock.AfterFunc(sc.s.poll, loop)
	}
	sc.mu.Lock()
	sc.timer = sc.clock.AfterFunc(0, loop)
	sc.mu.Unlock()
}

// Close stops the loop of Run. Experiments this replica owns stop being
// refreshed, so they end fleet-wide within one lease.
func (sc *Scheduler) Close() {
	sc.mu.Lock()
	sc.closed = true
	if sc.timer != nil {
		sc.timer.Stop()
	}
	sc.mu.Unlock()
}

// Tick runs one pass at the scheduler's clock: phases, guard, stop
// conditions, lease refresh, then the poll of the active set.
func (sc *Scheduler) Tick(ctx context.Context) {
	now := sc.clock.Now()
	sc.mu.Lock()
	ids := make([]string, 0, len(sc.runs))
	for id, rs := range sc.runs {
		if !rs.run.State.Ended() {
			ids = append(ids, id)
		}
	}
	known := sc.gen != 0
	sc.mu.Unlock()
	if !known && len(ids) > 0 {
		sc.poll(ctx, now) // learn the store's generation before putting
	}
	sort.Strings(ids)
	for _, id := range ids {
		sc.step(ctx, id, now)
	}
	sc.poll(ctx, now)
}

// poll installs the store's active set into the injector, valid for one
// lease from now. A failed load installs nothing: the copy held expires
// on its own.
func (sc *Scheduler) poll(ctx context.Context, now time.Time) {
	gen, entries, err := sc.store.Load(ctx)
	sc.mu.Lock()
	if err != nil {
		sc.pollErrs++
		sc.mu.Unlock()
		sc.log.LogAttrs(ctx, slog.LevelWarn, "chaos: active set unavailable; injection stops when the local lease ends",
			slog.String("error", err.Error()))
		return
	}
	sc.lastPoll = now
	if sc.gen == 0 {
		sc.gen = gen
	}
	sc.remote = sc.remote[:0]
	for _, e := range entries {
		if e.Owner != sc.owner {
			sc.remote = append(sc.remote, e)
		}
	}
	sc.mu.Unlock()
	sc.inj.install(entries, gen, now.Add(sc.s.lease), sc.s.allowCritical)
}

// step advances one owned experiment. The guard is asked before the lock
// is taken: its dependencies (governance, budget, blast radius) may be
// slow, and no lock is held across them.
func (sc *Scheduler) step(ctx context.Context, id string, now time.Time) {
	sc.mu.Lock()
	rs, ok := sc.runs[id]
	if !ok || rs.run.State.Ended() {
		sc.mu.Unlock()
		return
	}
	st, e, gen := rs.run.State, rs.run.Experiment, sc.gen
	sc.mu.Unlock()
	var fin func()
	switch st {
	case StateScheduled:
		if !e.StartAt.IsZero() && now.Before(e.StartAt) {
			return
		}
		v := sc.guard.evaluate(ctx, e, e.Force, true)
		var putErr error
		if v.Allowed {
			putErr = sc.store.MarkRun(ctx, e.Target.Service, now, sc.s.cooldown)
			if putErr == nil {
				putErr = sc.store.Put(ctx, gen, Entry{Experiment: e, Phase: PhaseBefore, Owner: sc.owner}, sc.s.lease, true)
			}
		}
		sc.mu.Lock()
		if rs.run.State != StateScheduled { // stopped meanwhile: undo the start
			sc.mu.Unlock()
			if v.Allowed {
				_ = sc.store.Remove(ctx, e.ID)
				if sc.guard.blast != nil {
					_ = sc.guard.blast.End(ctx, e.ID)
				}
			}
			return
		}
		fin = sc.beginLocked(ctx, rs, now, v, putErr)
		sc.mu.Unlock()
	case StateBefore, StateDuring, StateAfter:
		why := sc.guard.continuing(ctx, now, sc.s.abortBudget)
		_, burn := sc.guard.budgetStatus(now)
		var refresh *Entry
		sc.mu.Lock()
		if !rs.run.State.Ended() {
			fin, refresh = sc.advanceLocked(ctx, rs, now, why, burn)
		}
		sc.mu.Unlock()
		if refresh != nil {
			if f := sc.refresh(ctx, rs, gen, *refresh); f != nil {
				prev := fin
				fin = func() {
					if prev != nil {
						prev()
					}
					f()
				}
			}
		}
	}
	if fin != nil {
		fin()
	}
}

// refresh puts e's lease back for another lease, outside the lock; an
// entry killed or gone ends the experiment. Any other error leaves the
// lease to run out: every replica stops injecting on its own, and the next
// pass finds it gone.
func (sc *Scheduler) refresh(ctx context.Context, rs *runState, gen uint64, e Entry) func() {
	err := sc.store.Put(ctx, gen, e, sc.s.lease, false)
	var st State
	var reason, detail string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrKilled):
		st, reason, detail = StateStopped, "kill_all", "the active set was killed"
	case errors.Is(err, ErrGone):
		st, reason, detail = StateStopped, "lease_lost", "the experiment left the active set (stopped elsewhere, or its lease ran out)"
	default:
		sc.log.LogAttrs(ctx, slog.LevelWarn, "chaos: lease refresh failed", slog.String("id", e.Experiment.ID), slog.String("error", err.Error()))
		return nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if rs.run.State.Ended() {
		return nil
	}
	return sc.endLocked(ctx, rs, st, reason, detail)
}

// beginLocked starts an experiment's steady-state observation once the
// guard (with the blast-radius manager's Begin) allowed it in v.
func (sc *Scheduler) beginLocked(ctx context.Context, rs *runState, now time.Time, v Verdict, putErr error) func() {
	e := rs.run.Experiment
	if v.RequiresApproval && len(v.Reasons) == 0 {
		rs.run.State = StateAwaitingApproval
		return nil
	}
	if !v.Allowed {
		sc.countDenialsLocked(v.Reasons)
		return sc.endLocked(ctx, rs, StateRefused, v.Reasons[0], fmt.Sprint(v.Reasons))
	}
	rs.begun = true
	if putErr != nil {
		reason := ReasonStoreError
		if errors.Is(putErr, ErrKilled) {
			reason = "kill_all"
		}
		return sc.endLocked(ctx, rs, StateRefused, reason, putErr.Error())
	}
	rs.run.State, rs.run.StartedAt = StateBefore, now
	rs.budgetPre, _ = sc.guard.budgetStatus(now)
	rs.lastCheck = now
	sc.log.LogAttrs(ctx, slog.LevelInfo, "chaos: experiment started", slog.String("id", e.ID),
		slog.String("fault", string(e.Fault.Kind)), slog.Float64("rate", e.Rate), slog.Bool("dry_run", e.DryRun))
	return func() {
		sc.send(ctx, notify.PriorityWarning, e.ID, "chaos experiment started: "+e.ID,
			fmt.Sprintf("fault %s on %s at rate %g for %s (dry run %v); hypothesis: %s",
				e.Fault.Kind, targetString(e.Target), e.Rate, e.Duration, e.DryRun, e.Hypothesis))
	}
}

func targetString(t Target) string {
	s := ""
	for _, p := range [][2]string{{"service", t.Service}, {"policy", t.Policy}, {"operation", t.Operation}, {"region", t.Region}} {
		if p[1] != "" {
			if s != "" {
				s += " "
			}
			s += p[0] + "=" + p[1]
		}
	}
	return s
}

// advanceLocked runs the checks of a started experiment and moves its
// phase.
func (sc *Scheduler) advanceLocked(ctx context.Context, rs *runState, now time.Time, why []string, burn float64) (func(), *Entry) {
	e := &rs.run.Experiment
	sc.pointLocked(rs, now)
	// The guard's continuing checks abort at once, in every phase but
	// after (nothing is injected then; ending early would lose the
	// recovery).
	if rs.run.State != StateAfter {
		if len(why) > 0 {
			sc.countDenialsLocked(why)
			return sc.abortLocked(ctx, rs, now, why[0], fmt.Sprint(why))
		}
	}
	if rs.run.State == StateDuring {
		if now.Sub(rs.run.InjectAt) >= e.TTL.D() {
			return sc.endLocked(ctx, rs, StateAborted, "ttl", "the experiment reached its TTL "+e.TTL.String()), nil
		}
		if now.Sub(rs.lastCheck) >= sc.s.interval {
			if reason, detail := sc.checkLocked(rs, now, burn); reason != "" {
				return sc.abortLocked(ctx, rs, now, reason, detail)
			}
		}
	}
	next := rs.run.State
	switch rs.run.State {
	case StateBefore:
		if now.Sub(rs.run.StartedAt) >= sc.s.steady {
			next = StateDuring
			rs.run.InjectAt, rs.lastCheck = now, now
			rs.checkSnap = sc.cohortSnap(e.ID, PhaseDuring)
		}
	case StateDuring:
		if now.Sub(rs.run.InjectAt) >= e.Duration.D() {
			next = StateAfter
			rs.run.InjectEnd = now
		}
	case StateAfter:
		if now.Sub(rs.run.InjectEnd) >= sc.s.steady {
			if rs.aborted {
				return sc.endLocked(ctx, rs, StateAborted, rs.run.StopReason, rs.run.Detail), nil
			}
			return sc.endLocked(ctx, rs, StateDone, "", ""), nil
		}
	}
	rs.run.State = next
	return nil, &Entry{Experiment: *e, Phase: Phase(next), Owner: sc.owner}
}

// abortLocked stops injecting at once for reason. An experiment that was
// injecting goes on to its after phase, observed only, so the report
// shows whether the cohorts recovered, and then ends aborted; one still
// in its steady state ends at once. The abort is notified now.
func (sc *Scheduler) abortLocked(ctx context.Context, rs *runState, now time.Time, reason, detail string) (func(), *Entry) {
	if rs.run.State != StateDuring {
		return sc.endLocked(ctx, rs, StateAborted, reason, detail), nil
	}
	sc.pointLocked(rs, now)
	rs.aborted = true
	rs.run.State, rs.run.InjectEnd, rs.run.StopReason, rs.run.Detail = StateAfter, now, reason, detail
	sc.stops[reason]++
	e := rs.run.Experiment
	sc.log.LogAttrs(ctx, slog.LevelWarn, "chaos: experiment aborted; observing recovery", slog.String("id", e.ID),
		slog.String("reason", reason), slog.String("detail", detail))
	return func() {
		sc.send(ctx, notify.PriorityHigh, e.ID, "chaos experiment aborted: "+e.ID,
			fmt.Sprintf("reason %q (%s); injection stopped, recovery observed for %s", reason, detail, sc.s.steady))
	}, &Entry{Experiment: e, Phase: PhaseAfter, Owner: sc.owner}
}

// cohortSnap returns both cohorts' counts in phase p.
func (sc *Scheduler) cohortSnap(id string, p Phase) [numCohorts]Snapshot {
	all, _ := sc.inj.snapshot(id)
	return all[p.index()]
}

// checkLocked evaluates the stop conditions over the calls since the last
// check; it returns a reason once Breaches consecutive checks breached.
func (sc *Scheduler) checkLocked(rs *runState, now time.Time, burn float64) (reason, detail string) {
	cur := sc.cohortSnap(rs.run.Experiment.ID, PhaseDuring)
	exp, ctl := cur[cohortExperiment].sub(rs.checkSnap[cohortExperiment]), cur[cohortControl].sub(rs.checkSnap[cohortControl])
	rs.checkSnap, rs.lastCheck = cur, now
	reason, detail = sc.s.breached(exp, ctl, burn)
	if reason == "" {
		rs.breaches = 0
		return "", ""
	}
	rs.breaches++
	if rs.breaches < sc.s.breaches {
		return "", ""
	}
	return reason, detail
}

// breached returns the first stop condition exp and ctl (one interval's
// counts) breach, with the fastest burn rate of the error budget.
func (s *settings) breached(exp, ctl Snapshot, burn float64) (reason, detail string) {
	if burn > s.burn {
		return ReasonBurnRate, fmt.Sprintf("error budget burn rate %.1f above %.1f", burn, s.burn)
	}
	min := uint64(s.minCalls)
	if exp.Calls-exp.Injected < min || ctl.Calls < min {
		return "", ""
	}
	if d := exp.ErrorRate() - ctl.ErrorRate(); d > s.errDelta {
		return ReasonErrorRateDelta, fmt.Sprintf("experiment error rate %.1f %% vs control %.1f %% (delta above %.1f %%)",
			100*exp.ErrorRate(), 100*ctl.ErrorRate(), 100*s.errDelta)
	}
	if d := exp.Percentile(0.95) - ctl.Percentile(0.95); d > s.p95 {
		return ReasonP95Delta, fmt.Sprintf("experiment p95 %s vs control %s (delta above %s)", exp.Percentile(0.95), ctl.Percentile(0.95), s.p95)
	}
	if d := exp.Percentile(0.99) - ctl.Percentile(0.99); d > s.p99 {
		return ReasonP99Delta, fmt.Sprintf("experiment p99 %s vs control %s (delta above %s)", exp.Percentile(0.99), ctl.Percentile(0.99), s.p99)
	}
	return "", ""
}

// pointLocked appends a series point and polls the breakers.
func (sc *Scheduler) pointLocked(rs *runState, now time.Time) {
	ph := Phase(rs.run.State)
	if !ph.valid() {
		return
	}
	pi := ph.index()
	cur := sc.cohortSnap(rs.run.Experiment.ID, ph)
	if len(rs.series) < maxSeries {
		pt := Point{At: now, Phase: ph}
		for c, dst := range []*PointStats{&pt.Exp, &pt.Ctl} {
			d := cur[c].sub(rs.pointSnap[pi][c])
			*dst = PointStats{Calls: d.Calls, SuccessRate: d.SuccessRate(), P99: baldur.Duration(d.Percentile(0.99))}
		}
		rs.series = append(rs.series, pt)
	}
	rs.pointSnap[pi] = cur
	sc.pollBreakersLocked(rs, pi)
}

// pollBreakersLocked counts the target policy's breaker partitions of
// cohort keys that opened or closed since the last pass.
func (sc *Scheduler) pollBreakersLocked(rs *runState, pi int) {
	e := rs.run.Experiment
	if sc.pols == nil || e.Target.Policy == "" {
		return
	}
	p, ok := sc.pols.PolicyByName(e.Target.Policy)
	if !ok {
		return
	}
	now := map[string]cohort{}
	for _, g := range p.Gates() {
		br, ok := g.(baldur.BreakerReporter)
		if !ok {
			continue
		}
		for _, part := range br.OpenPartitions() {
			if part.State != "open" && part.State != "forced_open" {
				continue
			}
			switch Cohort(e.ID, e.Rate, part.Key) {
			case "experiment":
				now[part.Key] = cohortExperiment
			case "control":
				now[part.Key] = cohortControl
			}
		}
	}
	for k, c := range now {
		if _, was := rs.open[k]; !was {
			rs.breakers[pi][c][0]++
		}
	}
	for k, c := range rs.open {
		if _, still := now[k]; !still {
			rs.breakers[pi][c][1]++
		}
	}
	rs.open = now
}

// endLocked moves rs to a final state and returns what must run outside
// the lock: the store removal, the blast-radius End, the notification.
func (sc *Scheduler) endLocked(ctx context.Context, rs *runState, st State, reason, detail string) func() {
	now := sc.clock.Now()
	if p := Phase(rs.run.State); p.valid() {
		sc.pointLocked(rs, now)
	}
	if rs.run.State == StateDuring {
		rs.run.InjectEnd = now
	}
	notified := rs.aborted && st == StateAborted // abortLocked counted and notified it
	rs.run.State, rs.run.StopReason, rs.run.Detail, rs.run.EndedAt = st, reason, detail, now
	rs.budgetPost, _ = sc.guard.budgetStatus(now)
	if reason != "" && !notified {
		sc.stops[reason]++
	}
	rep := sc.reportLocked(rs)
	rs.report = &rep
	e := rs.run.Experiment
	begun := rs.begun
	sc.log.LogAttrs(ctx, slog.LevelInfo, "chaos: experiment ended", slog.String("id", e.ID),
		slog.String("state", string(st)), slog.String("reason", reason), slog.String("verdict", rep.Verdict))
	return func() {
		_ = sc.store.Remove(context.WithoutCancel(ctx), e.ID)
		if begun && sc.guard.blast != nil {
			_ = sc.guard.blast.End(context.WithoutCancel(ctx), e.ID)
		}
		if st == StateRefused || notified {
			return
		}
		prio, title := notify.PriorityInfo, "chaos experiment finished: "+e.ID
		if st == StateAborted {
			prio, title = notify.PriorityHigh, "chaos experiment aborted: "+e.ID
		} else if st == StateStopped {
			prio, title = notify.PriorityWarning, "chaos experiment stopped: "+e.ID
		}
		sc.send(ctx, prio, e.ID, title, fmt.Sprintf("reason %q (%s); verdict %s: %s", reason, detail, rep.Verdict, rep.VerdictDetail))
	}
}

func (sc *Scheduler) send(ctx context.Context, p notify.Priority, id, title, body string) {
	_, err := sc.notify.Notify(context.WithoutCancel(ctx), notify.Notification{Priority: p, Source: "chaos", Title: title, Body: body, Key: "chaos:" + id + ":" + title})
	if err != nil {
		sc.log.LogAttrs(ctx, slog.LevelWarn, "chaos: notification failed", slog.String("id", id), slog.String("error", err.Error()))
	}
}

// reportLocked builds rs's report from the injector's counts.
func (sc *Scheduler) reportLocked(rs *runState) Report {
	e := rs.run.Experiment
	r := Report{
		ExperimentID: e.ID, Hypothesis: e.Hypothesis, Target: e.Target, Fault: e.Fault, Rate: e.Rate, DryRun: e.DryRun,
		State: rs.run.State, StopReason: rs.run.StopReason, Detail: rs.run.Detail,
		StartedAt: rs.run.StartedAt, InjectAt: rs.run.InjectAt, InjectEnd: rs.run.InjectEnd, EndedAt: rs.run.EndedAt,
		BudgetBeforePct: rs.budgetPre, BudgetAfterPct: rs.budgetPost,
		Series: append([]Point(nil), rs.series...),
	}
	if !rs.run.State.Ended() {
		r.BudgetAfterPct, _ = sc.guard.budgetStatus(sc.clock.Now())
	}
	all, _ := sc.inj.snapshot(e.ID)
	for pi := range phases {
		for c, dst := range []*CohortReport{&r.Experiment, &r.Control} {
			ps := phaseStats(all[pi][c])
			ps.BreakerOpened, ps.BreakerClosed = rs.breakers[pi][c][0], rs.breakers[pi][c][1]
			*dst.phase(pi) = ps
		}
	}
	judge(&r, &sc.s)
	return r
}

// Generate implements ReportGenerator: the stored report of an ended
// experiment, or the report so far of a running one.
func (sc *Scheduler) Generate(_ context.Context, id string) (Report, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	rs, ok := sc.runs[id]
	if !ok {
		return Report{}, ErrNotFound
	}
	if rs.report != nil {
		return *rs.report, nil
	}
	return sc.reportLocked(rs), nil
}

func (sc *Scheduler) countDenials(reasons []string) {
	sc.mu.Lock()
	sc.countDenialsLocked(reasons)
	sc.mu.Unlock()
}

func (sc *Scheduler) countDenialsLocked(reasons []string) {
	for _, r := range reasons {
		sc.denials[r]++
	}
}

// SchedulerStats are the scheduler's counters, for metrics.
type SchedulerStats struct {
	// Experiments counts the kept experiments by state.
	Experiments map[State]int
	// GuardDenials counts refusals and aborts by the guard, by reason.
	GuardDenials map[string]uint64
	// Stops counts ended experiments by stop reason.
	Stops map[string]uint64
	// PollErrors counts failed loads of the active set.
	PollErrors uint64
	// LastPoll is when the active set was last loaded.
	LastPoll time.Time
	Injector InjectorStats
}

// Stats returns the counters.
func (sc *Scheduler) Stats() SchedulerStats {
	sc.mu.Lock()
	st := SchedulerStats{Experiments: map[State]int{}, GuardDenials: map[string]uint64{}, Stops: map[string]uint64{},
		PollErrors: sc.pollErrs, LastPoll: sc.lastPoll}
	for _, rs := range sc.runs {
		st.Experiments[rs.run.State]++
	}
	for k, v := range sc.denials {
		st.GuardDenials[k] = v
	}
	for k, v := range sc.stops {
		st.Stops[k] = v
	}
	sc.mu.Unlock()
	st.Injector = sc.inj.Stats()
	return st
}
