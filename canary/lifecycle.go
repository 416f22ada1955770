package canary

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// Create validates plan and its candidate and records a rollout in
// Created, with the running configuration snapshotted for rollback.
// Nothing is applied; an invalid candidate records nothing.
func (s *Service) Create(ctx context.Context, plan Plan, op Op) (Status, error) {
	defer s.persist()
	if err := checkOp(op); err != nil {
		return Status{}, err
	}
	if err := plan.Validate(s.cfg.ConfigTypes); err != nil {
		return Status{}, err
	}
	if err := s.cfg.Applier.Validate(ctx, plan.Candidate); err != nil {
		return Status{}, fmt.Errorf("canary: candidate: %w", err)
	}
	snap, err := s.cfg.Applier.Snapshot(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("canary: snapshot: %w", err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("r%d-%d", now.Unix(), s.seq)
	r := &rollout{plan: plan, snapshot: snap, judged: -1, st: Status{RolloutID: id, Type: plan.ConfigType, Current: Created,
		Stages: len(plan.Stages), Share: 0, Created: now, CandidateHash: ConfigHash(plan.Candidate), BaselineHash: ConfigHash(snap), Version: 1}}
	s.byID[id] = r
	st := r.status()
	s.mu.Unlock()
	s.audit(st, "create", op, TriggerOperator)
	return st, nil
}

// Start applies stage 0 of a created rollout, behind the governance gates,
// the config type's lock and the blast-radius manager. On error the
// rollout stays in Created and nothing is applied.
func (s *Service) Start(ctx context.Context, id string, op Op) (Status, error) {
	if err := checkOp(op); err != nil {
		return Status{}, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	r, err := s.expect(id, Created)
	if err != nil {
		return Status{}, err
	}
	if err := s.gates(ctx, op, true); err != nil {
		return Status{}, err
	}
	ns := lockNamespace(r.plan.ConfigType)
	lease, held, err := s.lock.AcquireFenced(ctx, ns, s.session, s.cfg.LockTTL.D(), false)
	switch {
	case err != nil:
		// Canary fails closed: without the lock there is no fence.
		return Status{}, fmt.Errorf("%w: lock %s: %v", ErrBlocked, ns, err)
	case !held:
		return Status{}, fmt.Errorf("%w: another rollout of %s is active", ErrConflict, r.plan.ConfigType)
	}
	s.mu.Lock()
	if other, busy := s.active[r.plan.ConfigType]; busy && other != id {
		s.mu.Unlock()
		_ = s.lock.ReleaseFenced(ctx, ns, s.session, lease.Token)
		return Status{}, fmt.Errorf("%w: rollout %s of %s is active", ErrConflict, other, r.plan.ConfigType)
	}
	r.st.Token = lease.Token
	s.mu.Unlock()
	if err := s.applyStage(ctx, r, 0, op); err != nil {
		_ = s.lock.ReleaseFenced(ctx, ns, s.session, lease.Token)
		s.mu.Lock()
		r.st.Token = 0
		s.mu.Unlock()
		return Status{}, err
	}
	s.mu.Lock()
	s.active[r.plan.ConfigType] = id
	st := s.transitionLocked(r, Running, TriggerOperator)
	s.mu.Unlock()
	s.audit(st, "start", op, TriggerOperator)
	return st, nil
}

// applyStage begins stage i's blast-radius action and applies it, fenced.
func (s *Service) applyStage(ctx context.Context, r *rollout, i int, op Op) error {
	share := r.plan.Stages[i].Share
	blastID := r.st.RolloutID + "/" + strconv.Itoa(i)
	if s.cfg.Blast != nil {
		if r.blastID != "" {
			_ = s.cfg.Blast.End(ctx, r.blastID)
		}
		d, err := s.cfg.Blast.Begin(ctx, blastradius.Action{ID: blastID, Kind: "canary", Scope: blastradius.ScopeService,
			TargetService: s.cfg.Service, TrafficPercent: 100 * share})
		if err == nil && !d.Allowed && op.BypassReason != "" {
			d.Allowed = true
		}
		if err != nil || !d.Allowed {
			if r.blastID != "" { // keep the previous stage's registration
				_, _ = s.cfg.Blast.Begin(ctx, blastradius.Action{ID: r.blastID, Kind: "canary", Scope: blastradius.ScopeService,
					TargetService: s.cfg.Service, TrafficPercent: 100 * r.st.Share})
			}
			if err != nil {
				return fmt.Errorf("%w: blast radius: %v", ErrBlocked, err)
			}
			return fmt.Errorf("%w: blast radius denies %.0f %% of traffic: %v", ErrBlocked, 100*share, d.Violations)
		}
	}
	d := s.desired(r, PhaseCanary, i)
	if err := s.cfg.Applier.Apply(ctx, d); err != nil {
		if s.cfg.Blast != nil {
			_ = s.cfg.Blast.End(ctx, blastID)
		}
		return fmt.Errorf("%w: apply stage %d: %w", ErrBlocked, i, err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	r.blastID = blastID
	r.st.StageIndex, r.st.Share = i, share
	r.st.Applied, r.st.Blocked, r.st.StageStarted = false, "", time.Time{}
	r.st.Fails, r.st.Inconclusive, r.ready = 0, 0, false
	r.applyAt = now
	r.st.Version++
	s.mu.Unlock()
	return nil
}

func (s *Service) desired(r *rollout, ph Phase, stage int) Desired {
	d := Desired{Rollout: r.st.RolloutID, ConfigType: r.plan.ConfigType, Stage: stage, Phase: ph, Candidate: r.plan.Candidate,
		Snapshot: r.snapshot, Token: r.st.Token}
	if ph == PhaseCanary {
		d.Share, d.Clusters = r.plan.Stages[stage].Share, r.plan.Stages[stage].Clusters
	}
	d.Key = idempotency.CanaryKey(r.st.RolloutID, stage, "fleet") + ":" + ph.String()
	return d
}

// Promote applies the next stage, or completes the rollout after its last
// stage. The stage must be acknowledged and its last window passed (unless
// op bypasses), the governance gates must pass and the lock must still be
// held: a controller that lost it cannot apply.
func (s *Service) Promote(ctx context.Context, id string, op Op) (Status, error) {
	if err := checkOp(op); err != nil {
		return Status{}, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	return s.promoteLocked(ctx, id, op, TriggerOperator)
}

func (s *Service) promoteLocked(ctx context.Context, id string, op Op, by Trigger) (Status, error) {
	r, err := s.expect(id, Running)
	if err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	applied, blocked, verdict := r.st.Applied, r.st.Blocked, r.st.Verdict
	s.mu.Unlock()
	if !applied {
		why := "the stage is not acknowledged by the replicas"
		if blocked != "" {
			why = blocked
		}
		return Status{}, fmt.Errorf("%w: %s", ErrBlocked, why)
	}
	if op.BypassReason == "" && (verdict == nil || verdict.Verdict != Pass) {
		v := "none yet"
		if verdict != nil {
			v = verdict.Verdict.String()
		}
		return Status{}, fmt.Errorf("%w: the last verdict is %s, not pass", ErrBlocked, v)
	}
	if err := s.gates(ctx, op, true); err != nil {
		return Status{}, err
	}
	if err := s.renew(ctx, r); err != nil {
		return Status{}, err
	}
	next := r.st.StageIndex + 1
	if next < len(r.plan.Stages) {
		if err := s.applyStage(ctx, r, next, op); err != nil {
			return Status{}, err
		}
		s.mu.Lock()
		st := r.status()
		s.mu.Unlock()
		s.audit(st, "promote", op, by)
		s.send(notify.PriorityInfo, st, fmt.Sprintf("canary %s promoted to stage %d (%.0f %%)", st.RolloutID, next, 100*st.Share), "")
		return st, nil
	}
	if err := s.cfg.Applier.Apply(ctx, s.desired(r, PhaseComplete, r.st.StageIndex)); err != nil {
		return Status{}, fmt.Errorf("%w: complete: %w", ErrBlocked, err)
	}
	s.mu.Lock()
	st := s.transitionLocked(r, Completed, by)
	s.mu.Unlock()
	s.finish(ctx, r)
	s.audit(st, "complete", op, by)
	return st, nil
}

// renew checks, and extends, the rollout's lease; a lost lease blocks.
func (s *Service) renew(ctx context.Context, r *rollout) error {
	ns := lockNamespace(r.plan.ConfigType)
	s.mu.Lock()
	token := r.st.Token
	s.mu.Unlock()
	if token == 0 {
		return fmt.Errorf("%w: lock %s: %w", ErrBlocked, ns, lock.ErrNotHeld)
	}
	if _, err := s.lock.ExtendFenced(ctx, ns, s.session, token, s.cfg.LockTTL.D()); err != nil {
		return fmt.Errorf("%w: lock %s: %w", ErrBlocked, ns, err)
	}
	return nil
}

// Pause holds a running rollout at its stage. It never resumes by itself.
func (s *Service) Pause(_ context.Context, id string, op Op) (Status, error) {
	if err := checkOp(op); err != nil {
		return Status{}, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	st, err := s.pauseLocked(id, TriggerOperator)
	if err == nil {
		s.audit(st, "pause", op, TriggerOperator)
	}
	return st, err
}

func (s *Service) pauseLocked(id string, by Trigger) (Status, error) {
	r, err := s.expect(id, Running)
	if err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	r.st.Paused, r.st.PausedBy = s.clock.Now(), by
	st := s.transitionLocked(r, Paused, by)
	s.mu.Unlock()
	return st, nil
}

// Resume continues a paused rollout at its stage, behind the emergency
// gate; its observation starts afresh.
func (s *Service) Resume(ctx context.Context, id string, op Op) (Status, error) {
	if err := checkOp(op); err != nil {
		return Status{}, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	r, err := s.expect(id, Paused)
	if err != nil {
		return Status{}, err
	}
	if err := s.gates(ctx, op, false); err != nil {
		return Status{}, err
	}
	if err := s.renew(ctx, r); err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	if r.st.Applied {
		r.st.StageStarted = s.clock.Now()
	}
	r.st.Fails, r.st.Inconclusive, r.ready = 0, 0, false
	st := s.transitionLocked(r, Running, TriggerOperator)
	s.mu.Unlock()
	s.audit(st, "resume", op, TriggerOperator)
	return st, nil
}

// Rollback restores the snapshot of an active rollout, fenced by its lock;
// a rollout still in Created is cancelled. It passes no gate: it only
// moves toward the snapshot.
func (s *Service) Rollback(ctx context.Context, id string, op Op) (Status, error) {
	if err := checkOp(op); err != nil {
		return Status{}, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	st, err := s.rollbackLocked(ctx, id, TriggerOperator, false)
	if err == nil {
		s.audit(st, "rollback", op, TriggerOperator)
	}
	return st, err
}

func (s *Service) rollbackLocked(ctx context.Context, id string, by Trigger, panicking bool) (Status, error) {
	r, err := s.expect(id, Created, Running, Paused)
	if err != nil {
		return Status{}, err
	}
	if r.st.Current == Created {
		s.mu.Lock()
		st := s.transitionLocked(r, Cancelled, by)
		s.mu.Unlock()
		return st, nil
	}
	d := s.desired(r, PhaseRestore, r.st.StageIndex)
	d.Panic = panicking
	if err := s.cfg.Applier.Apply(ctx, d); err != nil {
		return Status{}, fmt.Errorf("canary: rollback %s: %w", id, err)
	}
	s.mu.Lock()
	st := s.transitionLocked(r, RolledBack, by)
	s.mu.Unlock()
	s.finish(ctx, r)
	return st, nil
}

// PanicRollback rolls back every active rollout without gates or fences,
// and, with a Fleet applier, every published canary state no rollout of
// this service holds (a crashed controller's); it keeps going past
// failures and returns the IDs rolled back with the failures joined.
func (s *Service) PanicRollback(ctx context.Context, op Op) ([]string, error) {
	if err := checkOp(op); err != nil {
		return nil, err
	}
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	var done []string
	var errs []error
	for _, st := range s.Active(ctx) {
		got, err := s.rollbackLocked(ctx, st.RolloutID, TriggerPanic, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.audit(got, "panic_rollback", op, TriggerPanic)
		done = append(done, st.RolloutID)
	}
	orphans, err := s.restoreOrphans(ctx)
	done = append(done, orphans...)
	errs = append(errs, err)
	return done, errors.Join(errs...)
}

// restoreOrphans restores, from their own snapshot, the published canary
// states no rollout of this service holds: a controller that crashed
// mid-rollout leaves its split published, and a panic rollback must reach
// it too.
func (s *Service) restoreOrphans(ctx context.Context) ([]string, error) {
	f, ok := s.cfg.Applier.(*Fleet)
	if !ok || f.Store == nil {
		return nil, nil
	}
	var done []string
	var errs []error
	for _, typ := range s.cfg.ConfigTypes {
		d, found, err := f.Store.Desired(ctx, typ)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !found || d.Phase != PhaseCanary || len(d.Snapshot) == 0 {
			continue
		}
		s.mu.Lock()
		_, held := s.active[typ]
		s.mu.Unlock()
		if held {
			continue
		}
		r := Desired{Rollout: d.Rollout, ConfigType: typ, Stage: d.Stage, Phase: PhaseRestore, Candidate: d.Candidate,
			Snapshot: d.Snapshot, Token: d.Token, Panic: true, Key: idempotency.CanaryKey(d.Rollout, d.Stage, "fleet") + ":restore"}
		if err := f.Apply(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("canary: restore orphaned %s: %w", d.Rollout, err))
			continue
		}
		s.log.Info("canary", "action", "panic_rollback_orphan", "rollout", d.Rollout, "config_type", typ)
		done = append(done, d.Rollout)
	}
	return done, errors.Join(errs...)
}

// finish releases what a terminal rollout held: its lock, its blast-radius
// action and its windows.
func (s *Service) finish(ctx context.Context, r *rollout) {
	s.mu.Lock()
	token, blastID := r.st.Token, r.blastID
	r.st.Token, r.blastID = 0, ""
	if s.active[r.plan.ConfigType] == r.st.RolloutID {
		delete(s.active, r.plan.ConfigType)
	}
	s.mu.Unlock()
	if token != 0 {
		_ = s.lock.ReleaseFenced(ctx, lockNamespace(r.plan.ConfigType), s.session, token)
	}
	if blastID != "" && s.cfg.Blast != nil {
		_ = s.cfg.Blast.End(ctx, blastID)
	}
	_ = s.windows.Drop(ctx, r.st.RolloutID)
}
