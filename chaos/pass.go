package chaos

// The scheduler's pass: phases, the guard's continuing checks, lease
// refreshes, the poll of the active set, and the end of an experiment.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/baldur-go/baldur/notify"
)

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
