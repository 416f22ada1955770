package canary

import (
	"context"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
)

// gates runs the fail-closed governance checks: the kill switch, the
// emergency level (below 2) and, for start and promote (full), the error
// budget. A bypass reason skips them.
func (s *Service) gates(ctx context.Context, op Op, full bool) error {
	if op.BypassReason != "" {
		return nil
	}
	g := s.cfg.Governance
	if g == nil {
		return fmt.Errorf("%w: no governance checker configured", ErrBlocked)
	}
	if full && !g.SystemEnabled(ctx) {
		return fmt.Errorf("%w: the global kill switch is active", ErrBlocked)
	}
	blocked, level := g.EmergencyBlocking(ctx, baldur.Level2)
	if blocked || level < baldur.LevelNormal || level >= baldur.Level2 {
		return fmt.Errorf("%w: emergency level %v", ErrBlocked, level)
	}
	if full {
		if blocked, left, threshold := g.ErrorBudgetBlocking(ctx, baldur.TierStandard, ""); blocked {
			return fmt.Errorf("%w: error budget %.1f %% left, below %.1f %%", ErrBlocked, left, threshold)
		}
	}
	return nil
}

func checkOp(op Op) error {
	if op.BypassReason != "" && len(op.BypassReason) < MinBypassReason {
		return &baldur.ConfigError{Field: "bypass_reason", Reason: fmt.Sprintf("at least %d characters", MinBypassReason)}
	}
	if len(op.Reason) > 512 || len(op.BypassReason) > 512 {
		return &baldur.ConfigError{Field: "reason", Reason: "at most 512 bytes"}
	}
	return nil
}

// audit logs an operator-visible transition once, and notifies it.
func (s *Service) audit(st Status, action string, op Op, by Trigger) {
	actor := op.Actor
	if actor == "" {
		actor = baldur.AnonymousActor
	}
	s.log.Info("canary", "action", action, "rollout", st.RolloutID, "config_type", st.Type, "state", st.Current.String(),
		"stage", st.StageIndex, "share", st.Share, "actor", actor, "reason", op.Reason, "bypass_reason", op.BypassReason, "trigger", string(by))
	p := notify.PriorityInfo
	switch st.Current {
	case Paused:
		p = notify.PriorityWarning
	case RolledBack:
		p = notify.PriorityHigh
	}
	if op.BypassReason != "" {
		p = max(p, notify.PriorityWarning)
	}
	body := ""
	if st.Verdict != nil && len(st.Verdict.Reasons) > 0 {
		body = fmt.Sprint(st.Verdict.Reasons)
	}
	if action == "promote" {
		return // Promote sends its own line
	}
	s.send(p, st, fmt.Sprintf("canary %s %s (%s, %s)", st.RolloutID, action, st.Current, by), body)
}

// send queues a notification; flushNotes sends the queue once the action
// has released its locks, so a slow notifier never holds up an action.
func (s *Service) send(p notify.Priority, st Status, title, body string) {
	s.mu.Lock()
	s.notes = append(s.notes, notify.Notification{Priority: p, Source: "canary", Title: title, Body: body,
		Key: "canary:" + st.RolloutID + ":" + title})
	s.mu.Unlock()
}

func (s *Service) flushNotes() {
	s.mu.Lock()
	notes := s.notes
	s.notes = nil
	s.mu.Unlock()
	for _, n := range notes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.notify.Notify(ctx, n)
		cancel()
	}
}
