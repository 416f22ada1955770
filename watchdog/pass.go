package watchdog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// maxSubject bounds an observation's subject: it becomes a lock-free map
// key, an incident key and a page's title.
const maxSubject = 512

// failing are the finding kinds that make a pass not good: no heartbeat
// follows it and Status reports its error.
var failing = map[string]bool{KindCheckError: true, KindLockError: true, KindIncidentError: true,
	KindNotifyError: true, KindDeadline: true, KindStillRunning: true, KindInvalid: true}

// run is one pass: every check in its own goroutine, all bounded by the
// pass deadline on the runner's clock.
func (r *Runner) run(ctx context.Context, dry bool) (Report, error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	start := r.clock.Now()
	pctx, cancel := context.WithCancelCause(ctx)
	timer := r.clock.AfterFunc(r.deadline, func() { cancel(ErrPassDeadline) })
	type result struct {
		i        int
		findings []Finding
	}
	out := make(chan result, len(r.checks))
	results := make([][]Finding, len(r.checks))
	started := make([]bool, len(r.checks))
	pending := 0
	for i, cs := range r.checks {
		if !cs.busy.CompareAndSwap(false, true) {
			results[i] = []Finding{{Check: cs.name, Kind: KindStillRunning, Detail: "abandoned by an earlier pass and not returned yet"}}
			continue
		}
		started[i] = true
		pending++
		go func() {
			fs := r.runCheckSafe(pctx, cs, start, dry)
			// Free the check before reporting, so that the next pass,
			// which may start as soon as this one has its results, runs
			// it.
			cs.busy.Store(false)
			out <- result{i, fs}
		}()
	}
wait:
	for pending > 0 {
		select {
		case res := <-out:
			results[res.i], started[res.i] = res.findings, false
			pending--
		case <-pctx.Done():
			break wait
		}
	}
	for pending > 0 { // the checks that finished as the deadline came
		select {
		case res := <-out:
			results[res.i], started[res.i] = res.findings, false
			pending--
			continue
		default:
		}
		break
	}
	timer.Stop()
	// A pass whose context ended is cut whether or not its checks were
	// still out: a check that returned because the deadline cancelled it
	// (a store call that honours ctx) may deliver its result before the
	// select above sees the context done.
	cause := context.Cause(pctx)
	cancel(nil)
	var err error
	if cause != nil {
		err = cause
		if !errors.Is(cause, ErrPassDeadline) {
			err = ctx.Err()
		}
	}
	if pending > 0 {
		for i, cs := range r.checks {
			if started[i] {
				results[i] = []Finding{{Check: cs.name, Kind: KindDeadline, Detail: err.Error()}}
				cs.setErr(err.Error())
			}
		}
	}
	end := r.clock.Now()
	rep := Report{At: start, DryRun: dry, Duration: end.Sub(start)}
	n := 0
	for _, fs := range results {
		n += len(fs)
	}
	rep.Findings = make([]Finding, 0, n)
	var kinds map[string]uint64
	firstErr := ""
	for _, fs := range results {
		rep.Findings = append(rep.Findings, fs...)
		for i := range fs {
			if kinds == nil {
				kinds = map[string]uint64{}
			}
			kinds[fs[i].Kind]++
			if firstErr == "" && failing[fs[i].Kind] {
				firstErr = fs[i].Check + ": " + fs[i].Kind
				if fs[i].Detail != "" {
					firstErr += ": " + fs[i].Detail
				}
			}
		}
	}
	if dry {
		r.m.passesDry.Add(1)
		return rep, err
	}
	for k, v := range kinds {
		r.m.add(k, v)
	}
	if firstErr == "" && err == nil && r.heartbeat != "" {
		if herr := r.ping(ctx); herr != nil {
			firstErr = "heartbeat: " + herr.Error()
			rep.Findings = append(rep.Findings, Finding{Kind: KindHeartbeatFailed, Detail: herr.Error()})
			r.m.heartbeatFailures.Add(1)
		} else {
			r.m.heartbeats.Add(1)
		}
	}
	if firstErr == "" && err == nil {
		r.m.passesOK.Add(1)
	} else {
		r.m.passesFailed.Add(1)
		if firstErr == "" {
			firstErr = err.Error()
		}
	}
	r.m.lastPassNs.Store(end.UnixNano())
	r.m.lastDurationNs.Store(int64(rep.Duration))
	r.mu.Lock()
	r.passes++
	r.lastPass, r.lastErr, r.last = end, firstErr, rep
	r.mu.Unlock()
	return rep, err
}

// runCheckSafe is runCheck with a check's panic turned into its error:
// one broken check must not take the process down with it.
func (r *Runner) runCheckSafe(ctx context.Context, cs *checkState, now time.Time, dry bool) (fs []Finding) {
	defer func() {
		if p := recover(); p != nil {
			msg := "panic: " + truncate(fmt.Sprint(p), 256)
			cs.setErr(msg)
			fs = append(fs, Finding{Check: cs.name, Kind: KindCheckError, Detail: msg})
			r.log.LogAttrs(ctx, slog.LevelError, "watchdog: check panicked", slog.String("check", cs.name), slog.String("panic", msg))
		}
	}()
	return r.runCheck(ctx, cs, now, dry)
}

// runCheck is one check's part of a pass: lead, observe, act, page,
// resolve.
func (r *Runner) runCheck(ctx context.Context, cs *checkState, now time.Time, dry bool) []Finding {
	var fs []Finding
	add := func(kind, subject, action, detail string) {
		fs = append(fs, Finding{Check: cs.name, Kind: kind, Subject: subject, Action: action, Detail: detail})
	}
	role, token := r.lead(ctx, cs, dry, add)
	obs, err := cs.check.Observe(ctx, now)
	if err != nil {
		add(KindCheckError, "", "", err.Error())
		if !dry {
			cs.setErr(err.Error())
		}
		return fs
	}
	acting := !dry && (role == RoleLeader || role == RoleLocal)
	fs = append(make([]Finding, 0, len(fs)+len(obs)+2), fs...)
	open, listed := r.openIncidents(ctx, cs, acting, dry, token, add)
	if acting && listed {
		r.syncBrake(ctx, cs, open, now, token, add)
	}
	cs.mu.Lock()
	brake := cs.brake
	cs.mu.Unlock()
	cs.seq++
	seq := cs.seq
	fenced := false
	for i := range obs {
		o := &obs[i]
		if o.Subject == "" || len(o.Subject) > maxSubject {
			add(KindInvalid, truncate(o.Subject, 64), o.Action, "subject must be 1 to "+strconv.Itoa(maxSubject)+" bytes")
			continue
		}
		if o.Page && !o.Priority.Valid() {
			add(KindInvalid, o.Subject, o.Action, "priority "+strconv.Itoa(int(o.Priority))+" is not a notification priority")
			continue
		}
		b := cs.backoff[o.Subject]
		if !dry {
			if b == nil {
				b = &subjectBackoff{}
				cs.backoff[o.Subject] = b
			}
			b.seen = seq
		}
		waiting := b != nil && now.Before(b.next)
		switch {
		case o.Apply == nil:
			add(KindObserved, o.Subject, o.Action, o.Detail)
		case o.OperatorHeld:
			add(KindOperatorHeld, o.Subject, o.Action, o.Detail)
		case dry:
			kind := KindWouldAct
			switch {
			case role == RoleStandby:
				kind = KindStandby
			case role == RoleUnknown:
				kind = KindLockError
			case brake:
				kind = KindBraked
			case waiting:
				kind = KindBackoff
			}
			add(kind, o.Subject, o.Action, o.Detail)
		case !acting || fenced || (role == RoleLeader && !r.clock.Now().Before(cs.leaseEnd())):
			add(KindStandby, o.Subject, o.Action, o.Detail)
		case brake:
			add(KindBraked, o.Subject, o.Action, o.Detail)
		case waiting:
			add(KindBackoff, o.Subject, o.Action, "next attempt after "+b.next.Format(time.RFC3339))
		case ctx.Err() != nil:
			// The pass is over: what is left waits for the next one.
		case !cs.spend(now):
			brake = true
			r.engageBrake(ctx, cs, now, token, add)
			add(KindBraked, o.Subject, o.Action, o.Detail)
		default:
			err := o.Apply(ctx, token)
			b.attempts++
			b.next = now.Add(r.backoffFor(b.attempts))
			switch {
			case err == nil:
				add(KindActed, o.Subject, o.Action, o.Detail)
				cs.countAction(o.Action)
				r.log.LogAttrs(ctx, slog.LevelInfo, "watchdog: acted", slog.String("check", cs.name),
					slog.String("subject", o.Subject), slog.String("action", o.Action), slog.Uint64("token", token))
			case errors.Is(err, lock.ErrStaleToken):
				fenced = true
				r.fencedOff(ctx, cs, token)
				add(KindFenced, o.Subject, o.Action, err.Error())
			default:
				add(KindActionFailed, o.Subject, o.Action, err.Error())
				r.log.LogAttrs(ctx, slog.LevelWarn, "watchdog: action failed", slog.String("check", cs.name),
					slog.String("subject", o.Subject), slog.String("action", o.Action), slog.String("error", err.Error()))
			}
		}
		if !o.Page {
			continue
		}
		if _, isOpen := open[o.Subject]; isOpen {
			continue
		}
		switch {
		case dry:
			add(KindWouldPage, o.Subject, o.Action, o.Detail)
		case acting && listed && !fenced && ctx.Err() == nil:
			inc := Incident{Check: cs.incKey, Subject: o.Subject, Title: title(cs.name, o.Subject), Detail: o.Detail,
				Priority: o.Priority, OpenedAt: now, Session: r.session}
			switch err := r.openAndPage(ctx, cs, inc, token, add); {
			case err == nil:
				open[o.Subject] = inc
			case err == errFenced:
				fenced = true
			default:
				cs.cache = nil // the store and the cache may differ now
			}
		}
	}
	if acting && listed && !fenced {
		for subject, inc := range open {
			if subject == "" {
				continue
			}
			if b := cs.backoff[subject]; b != nil && b.seen == seq {
				continue
			}
			if ctx.Err() != nil {
				break
			}
			resolved, err := cs.store.Resolve(ctx, inc.Check, subject, token)
			if errors.Is(err, lock.ErrStaleToken) {
				r.fencedOff(ctx, cs, token)
				add(KindFenced, subject, "", "incident: "+err.Error())
				break
			}
			if err != nil {
				add(KindIncidentError, subject, "", "resolve: "+err.Error())
				cs.cache = nil
				continue
			}
			delete(open, subject)
			if resolved {
				r.sendResolve(ctx, inc)
				add(KindResolved, subject, "", inc.Title)
			}
		}
	}
	openCount := len(open)
	if !dry && len(cs.backoff) > len(obs) {
		for subject, b := range cs.backoff {
			if b.seen != seq {
				delete(cs.backoff, subject)
			}
		}
	}
	if !dry {
		cs.mu.Lock()
		cs.observed, cs.open, cs.lastErr = len(obs), openCount, ""
		cs.mu.Unlock()
	}
	return fs
}

// cacheRefresh is how many passes a check's cached open incidents serve
// before the store is read again.
const cacheRefresh = 10

// openIncidents returns the check's open incidents by subject, and whether
// they are known. A dry run reads the store. A replica acting on the check
// keeps them cached between passes while its token is unchanged: every
// write to the check's incidents is then its own (a new leader means a new
// token), except an operator's brake release, which marks the cache stale,
// and writes the fence let through from an older leader that never saw
// ours, which the refresh every cacheRefresh passes catches. The brake's
// incident is read every pass while the brake is engaged, so that a release
// on another replica is seen at once.
func (r *Runner) openIncidents(ctx context.Context, cs *checkState, acting, dry bool, token uint64, add func(kind, subject, action, detail string)) (map[string]Incident, bool) {
	if !acting && !dry {
		return nil, false
	}
	cs.mu.Lock()
	engaged := cs.brake
	cs.mu.Unlock()
	if acting && !cs.cacheStale.Swap(false) && !engaged && cs.cache != nil && cs.cacheToken == token && cs.cacheAge < cacheRefresh {
		cs.cacheAge++
		return cs.cache, true
	}
	list, err := cs.store.List(ctx, cs.incKey)
	if err != nil {
		add(KindIncidentError, "", "", "list: "+err.Error())
		if acting {
			cs.cache = nil
		}
		return nil, false
	}
	open := make(map[string]Incident, len(list))
	for _, inc := range list {
		open[inc.Subject] = inc
	}
	if acting {
		cs.cache, cs.cacheToken, cs.cacheAge = open, token, 0
	}
	return open, true
}

// lead settles the runner's role in cs for this pass: local checks lead
// themselves; a dry run keeps the last role; otherwise the check's lock is
// taken (or its lease pushed) for LeaseTTL. An unreachable lock makes the
// role unknown, and the runner does not act (fail closed: two replicas
// acting at once is what the lock is for).
func (r *Runner) lead(ctx context.Context, cs *checkState, dry bool, add func(kind, subject, action, detail string)) (Role, uint64) {
	if cs.local {
		return RoleLocal, 0
	}
	cs.mu.Lock()
	role, token := cs.role, cs.token
	cs.mu.Unlock()
	if dry {
		return role, token
	}
	lease, held, err := r.lock.AcquireFenced(ctx, cs.ns, r.session, r.leaseTTL, false)
	prev := role
	switch {
	case err != nil:
		role, token = RoleUnknown, 0
		add(KindLockError, "", "", err.Error())
	case held:
		role, token = RoleLeader, lease.Token
	default:
		role, token = RoleStandby, 0
	}
	cs.mu.Lock()
	cs.role, cs.token, cs.until = role, token, lease.Until
	cs.mu.Unlock()
	if role != prev {
		r.log.LogAttrs(ctx, slog.LevelInfo, "watchdog: role changed", slog.String("check", cs.name),
			slog.String("from", string(prev)), slog.String("to", string(role)), slog.Uint64("token", token))
	}
	return role, token
}

func (cs *checkState) leaseEnd() time.Time {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.until
}

func (cs *checkState) setErr(msg string) {
	cs.mu.Lock()
	cs.lastErr = msg
	cs.mu.Unlock()
}

// fencedOff drops the leadership a store just refused: another replica
// holds a newer token. The next pass takes the lock again, or stands by.
func (r *Runner) fencedOff(ctx context.Context, cs *checkState, token uint64) {
	cs.cache = nil
	cs.mu.Lock()
	if cs.token == token {
		cs.role, cs.token = RoleStandby, 0
	}
	cs.mu.Unlock()
	r.log.LogAttrs(ctx, slog.LevelWarn, "watchdog: fenced off: another replica leads the check",
		slog.String("check", cs.name), slog.Uint64("token", token))
}

func (r *Runner) backoffFor(attempts int) time.Duration {
	d := r.backoffBase
	for i := 1; i < attempts && d < r.backoffMax; i++ {
		d *= 2
	}
	return min(d, r.backoffMax)
}

// syncBrake reconciles the brake with the store: an incident of the brake
// opened by an earlier leader engages it here; one resolved by an operator
// on any replica releases it and starts the budget afresh; a brake whose
// incident could not be stored is stored (and paged) now.
func (r *Runner) syncBrake(ctx context.Context, cs *checkState, open map[string]Incident, now time.Time, token uint64, add func(kind, subject, action, detail string)) {
	inc, inStore := open[""]
	cs.mu.Lock()
	retry := false
	switch {
	case inStore && !cs.brake:
		cs.brake, cs.brakeSince, cs.brakeStored = true, inc.OpenedAt, true
	case !inStore && cs.brake && cs.brakeStored:
		cs.brake, cs.brakeSince, cs.brakeStored, cs.actions = false, time.Time{}, false, cs.actions[:0]
	case !inStore && cs.brake:
		retry = true
	}
	cs.mu.Unlock()
	if retry {
		r.storeBrake(ctx, cs, now, token, add)
	}
}

// engageBrake engages cs's brake: no more actions, a CRITICAL page once,
// until an operator releases it.
func (r *Runner) engageBrake(ctx context.Context, cs *checkState, now time.Time, token uint64, add func(kind, subject, action, detail string)) {
	cs.mu.Lock()
	already := cs.brake
	if !already {
		cs.brake, cs.brakeSince = true, now
	}
	cs.mu.Unlock()
	if already {
		return
	}
	cs.cacheStale.Store(true)
	add(KindBrakeEngaged, "", "", strconv.Itoa(cs.maxActions)+" actions in the last hour")
	r.log.LogAttrs(ctx, slog.LevelError, "watchdog: brake engaged: the check stops acting until an operator releases it",
		slog.String("check", cs.name), slog.Int("max_actions_per_hour", cs.maxActions))
	r.storeBrake(ctx, cs, now, token, add)
}

func (r *Runner) storeBrake(ctx context.Context, cs *checkState, now time.Time, token uint64, add func(kind, subject, action, detail string)) {
	inc := Incident{Check: cs.incKey, Title: brakeTitle(cs.name), Priority: notify.PriorityCritical, OpenedAt: now, Session: r.session,
		Detail: "more than " + strconv.Itoa(cs.maxActions) + " actions within an hour; release the brake once the cause is fixed"}
	if err := r.openAndPage(ctx, cs, inc, token, add); err == nil {
		cs.mu.Lock()
		cs.brakeStored = true
		cs.mu.Unlock()
	}
}

var errFenced = errors.New("fenced")

// openAndPage opens inc and pages it when this call opened it. A page that
// fails gives the incident back, so that the next pass pages again.
func (r *Runner) openAndPage(ctx context.Context, cs *checkState, inc Incident, token uint64, add func(kind, subject, action, detail string)) error {
	opened, err := cs.store.Open(ctx, inc, token)
	switch {
	case errors.Is(err, lock.ErrStaleToken):
		r.fencedOff(ctx, cs, token)
		add(KindFenced, inc.Subject, "", "incident: "+err.Error())
		return errFenced
	case err != nil:
		add(KindIncidentError, inc.Subject, "", "open: "+err.Error())
		return err
	case !opened:
		return nil
	}
	n := notify.Notification{Priority: inc.Priority, Source: "watchdog", Title: inc.Title, Body: inc.Detail, Key: incidentKey(inc)}
	if _, err := r.notifier.Notify(ctx, n); err != nil {
		add(KindNotifyError, inc.Subject, "", err.Error())
		if _, rerr := cs.store.Resolve(ctx, inc.Check, inc.Subject, token); rerr != nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "watchdog: an incident whose page failed stays open", slog.String("check", cs.name),
				slog.String("subject", inc.Subject), slog.String("error", rerr.Error()))
		}
		return err
	}
	r.m.pages.Add(1)
	add(KindPaged, inc.Subject, "", inc.Title)
	return nil
}

// sendResolve closes inc's page by its key: through the notifier's Resolve
// when it has one, else as a "resolved" notification.
func (r *Runner) sendResolve(ctx context.Context, inc Incident) {
	n := notify.Notification{Priority: inc.Priority, Source: "watchdog", Title: inc.Title, Key: incidentKey(inc)}
	var err error
	if r.resolver != nil {
		_, err = r.resolver.Resolve(ctx, n)
	} else {
		n.Title, n.Key = truncate("resolved: "+inc.Title, maxTitle), n.Key+":resolved"
		_, err = r.notifier.Notify(ctx, n)
	}
	r.m.resolves.Add(1)
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "watchdog: resolve notification failed", slog.String("check", inc.Check),
			slog.String("subject", inc.Subject), slog.String("error", err.Error()))
	}
}

// maxTitle bounds a page's title.
const maxTitle = 200

func title(check, subject string) string { return truncate("watchdog "+check+": "+subject, maxTitle) }

func brakeTitle(check string) string { return "watchdog brake engaged on " + check }

// incidentKey is the notification key of inc: pages and resolves of one
// incident share it (the notifier's cooldown and dedup key).
func incidentKey(inc Incident) string {
	if inc.Brake() {
		return "watchdog:" + inc.Check + "#brake"
	}
	return "watchdog:" + inc.Check + ":" + inc.Subject
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return s[:n]
}
