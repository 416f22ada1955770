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
// Run is called) it moves its own experiments through their phases
// (scheduled -> before -> during -> after -> done), re-runs the guard's
// continuing checks and, every CheckInterval during injection, the stop
// conditions; it refreshes the leases of its running experiments and
// installs the store's active set into the Injector with a lease of its
// own. An experiment is never retried: once it ends, it stays ended.
//
// Scheduler implements Controller and ReportGenerator and, with
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

// New returns a Scheduler for cfg. It does nothing until Tick or Run.
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

// Running implements Controller: the experiments not ended.
func (sc *Scheduler) Running(context.Context) ([]Run, error) {
	var out []Run
	for _, r := range sc.List() {
		if !r.State.Ended() {
			out = append(out, r)
		}
	}
	return out, nil
}

// Cancel implements Controller: Stop with reason "stopped".
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
