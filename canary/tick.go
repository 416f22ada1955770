package canary

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur/notify"
)

// Tick runs one pass of the rollouts' control loop at the service's
// clock: for each running rollout it checks the stage's acknowledgements,
// flushes this replica's observation, judges every complete window of the
// stage not judged yet, and acts on the verdict policy (pause or roll back
// on failures, pause on inconclusive windows, promote or notify "ready"
// after a passed stage). Call it every few seconds (Run does); it is level
// triggered, so a missed pass is caught up by the next.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	for _, st := range s.Active(ctx) {
		if st.Current != Running {
			continue
		}
		if err := s.tickOne(ctx, st.RolloutID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run calls Tick every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	for {
		fire := make(chan struct{}, 1)
		t := s.clock.AfterFunc(interval, func() { fire <- struct{}{} })
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-fire:
		}
		_ = s.Tick(ctx)
	}
}

func (s *Service) tickOne(ctx context.Context, id string) error {
	defer s.persist()
	s.op.Lock()
	defer s.op.Unlock()
	r, err := s.expect(id, Running)
	if err != nil {
		return nil // moved on since the list was read
	}
	now := s.clock.Now()
	s.checkAcks(ctx, r, now)
	window := s.cfg.Window.D()
	w := now.UnixNano() / int64(window)
	if f, ok := s.cfg.Applier.(Flusher); ok {
		got, err := f.Flush(ctx, id)
		if err != nil {
			return fmt.Errorf("canary: flush %s: %w", id, err)
		}
		for c, win := range got {
			if win.Requests() == 0 {
				continue
			}
			if err := s.windows.AddWindow(ctx, id, w, Cohort(c), win); err != nil {
				return fmt.Errorf("canary: flush %s: %w", id, err)
			}
		}
	}
	s.mu.Lock()
	applied, started, judged := r.st.Applied, r.st.StageStarted, r.judged
	s.mu.Unlock()
	if !applied {
		return nil
	}
	// Judge each complete window that began after the stage was applied.
	first := (started.UnixNano() + int64(window) - 1) / int64(window)
	for k := max(first, judged+1); k < w; k++ {
		cand, err := s.windows.Window(ctx, id, k, Candidate)
		if err != nil {
			return fmt.Errorf("canary: read window of %s: %w", id, err)
		}
		base, err := s.windows.Window(ctx, id, k, Baseline)
		if err != nil {
			return fmt.Errorf("canary: read window of %s: %w", id, err)
		}
		// A stage of the whole traffic has no baseline cohort: it is
		// compared with the baseline as last observed.
		s.mu.Lock()
		if base.Requests() == 0 && r.st.Share >= 1 && r.lastBase != nil {
			base = *r.lastBase
		} else if base.Requests() >= s.crit.withDefaults().MinRequests {
			b := base
			r.lastBase = &b
		}
		s.mu.Unlock()
		j := Judge(s.crit, cand, base)
		if done := s.verdict(ctx, r, k, j, now); done {
			return nil
		}
	}
	return nil
}

// checkAcks marks the stage applied when MinAck of the live replicas run
// it, and blocks the rollout when AckTimeout passes first.
func (s *Service) checkAcks(ctx context.Context, r *rollout, now time.Time) {
	s.mu.Lock()
	if r.st.Applied {
		s.mu.Unlock()
		return
	}
	want := s.desired(r, PhaseCanary, r.st.StageIndex)
	applyAt := r.applyAt
	s.mu.Unlock()
	acks, err := s.acks.Acks(ctx)
	ok := 0
	for _, a := range acks {
		if a.Applied == want.Ack() {
			ok++
		}
	}
	ratio := 0.0
	if len(acks) > 0 {
		ratio = float64(ok) / float64(len(acks))
	}
	s.mu.Lock()
	r.st.Acks, r.st.AckRatio = acks, ratio
	var st Status
	var blockedNow bool
	switch {
	case err == nil && len(acks) > 0 && ratio >= s.cfg.MinAck:
		r.st.Applied, r.st.Blocked, r.st.StageStarted = true, "", now
		r.st.Version++
	case now.Sub(applyAt) >= s.cfg.AckTimeout.D() && r.st.Blocked == "":
		why := fmt.Sprintf("stage %d not acknowledged within %v: %d of %d replicas run it", r.st.StageIndex, s.cfg.AckTimeout, ok, len(acks))
		if err != nil {
			why += " (acks: " + err.Error() + ")"
		}
		r.st.Blocked, blockedNow = why, true
		r.st.Version++
		st = r.status()
	}
	s.mu.Unlock()
	if blockedNow {
		s.send(notify.PriorityHigh, st, "canary "+st.RolloutID+" blocked", st.Blocked)
	}
}

// verdict records window k's judgement and acts on it; it reports whether
// the rollout left Running.
func (s *Service) verdict(ctx context.Context, r *rollout, k int64, j Judgement, now time.Time) bool {
	s.mu.Lock()
	r.judged = k
	r.st.Verdict = &j
	s.stats.Verdicts[j.Verdict]++
	// Only a passed window clears the counts: an inconclusive window
	// between two failed ones does not excuse the first.
	switch j.Verdict {
	case Fail:
		r.st.Fails++
	case Inconclusive:
		r.st.Inconclusive++
	case Pass:
		r.st.Fails, r.st.Inconclusive = 0, 0
	}
	fails, unsure := r.st.Fails, r.st.Inconclusive
	stageDone := now.Sub(r.st.StageStarted) >= r.plan.duration(r.st.StageIndex, s.cfg.StageDuration.D())
	ready := j.Verdict == Pass && stageDone && !r.ready
	if ready {
		r.ready = true
	}
	st := r.status()
	s.mu.Unlock()
	if j.Verdict == Fail {
		s.send(notify.PriorityWarning, st, "canary "+st.RolloutID+" window failed", fmt.Sprint(j.Reasons))
	}
	judge := Op{Actor: "canary-judge", Reason: fmt.Sprintf("window %d: %s %v", k, j.Verdict, j.Reasons)}
	switch {
	case fails >= s.cfg.FailLimit && s.cfg.AutoRollback:
		if got, err := s.rollbackLocked(ctx, r.st.RolloutID, TriggerJudge, false); err == nil {
			s.audit(got, "rollback", judge, TriggerJudge)
		}
		return true
	case fails >= s.cfg.FailLimit, unsure >= s.cfg.InconclusiveLimit:
		if got, err := s.pauseLocked(r.st.RolloutID, TriggerJudge); err == nil {
			s.audit(got, "pause", judge, TriggerJudge)
		}
		return true
	case ready && s.cfg.AutoPromote:
		_, err := s.promoteLocked(ctx, r.st.RolloutID, judge, TriggerJudge)
		if err != nil {
			s.send(notify.PriorityWarning, st, "canary "+st.RolloutID+" auto-promote blocked", err.Error())
		}
		return err == nil
	case ready:
		s.send(notify.PriorityInfo, st, "canary "+st.RolloutID+" ready to promote", fmt.Sprintf("stage %d passed for its duration", st.StageIndex))
	}
	return false
}
