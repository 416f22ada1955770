package baldur_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
)

// TestNoOpFailModes checks that each NoOp default admits exactly when its
// documented fail mode is open.
func TestNoOpFailModes(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		failOpen bool
		// admits runs the NoOp's decision and reports whether the action
		// may go ahead.
		admits func(ctx context.Context) (bool, error)
	}{
		{"recovery lock non-blocking", true, func(ctx context.Context) (bool, error) {
			return baldur.NoOpRecoveryLock{}.Acquire(ctx, "runbook", "s1", false)
		}},
		{"recovery lock blocking", true, func(ctx context.Context) (bool, error) {
			return baldur.NoOpRecoveryLock{}.Acquire(ctx, "runbook", "s1", true)
		}},
		{"notifications never block the caller", true, func(ctx context.Context) (bool, error) {
			_, err := baldur.NoOpNotifications{}.Notify(ctx, baldur.Notification{Priority: baldur.PriorityCritical})
			return err == nil, err
		}},
		{"safety guard", false, func(ctx context.Context) (bool, error) {
			return baldur.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", false).Allowed, nil
		}},
		{"safety guard forced", false, func(ctx context.Context) (bool, error) {
			return baldur.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", true).Allowed, nil
		}},
		{"chaos schedule", false, func(ctx context.Context) (bool, error) {
			_, err := baldur.NoOpChaosScheduler{}.Schedule(ctx, baldur.ChaosExperiment{ID: "exp-1", TargetService: "checkout", Force: true})
			if !errors.Is(err, baldur.ErrChaosDisabled) {
				return true, fmt.Errorf("Schedule error = %v, want ErrChaosDisabled", err)
			}
			return false, nil
		}},
	}
	for _, tt := range tests {
		for _, ctx := range []context.Context{context.Background(), cancelled} {
			t.Run(fmt.Sprintf("%s/ctx_err=%v", tt.name, ctx.Err()), func(t *testing.T) {
				t.Parallel()
				got, err := tt.admits(ctx)
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got != tt.failOpen {
					t.Errorf("admits = %v, want %v (fail-open = %v)", got, tt.failOpen, tt.failOpen)
				}
			})
		}
	}
}

// TestNoOpDetails checks the rest of each NoOp's documented answers.
func TestNoOpDetails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		check func() error
	}{
		{"notifications suppressed as disabled", func() error {
			r, err := baldur.NoOpNotifications{}.Notify(ctx, baldur.Notification{Priority: baldur.PriorityHigh, Title: "x"})
			if err != nil || r.Delivered || r.Suppressed != baldur.SuppressDisabled || r.Priority != baldur.PriorityHigh || len(r.Channels) != 0 {
				return fmt.Errorf("Notify = %+v, %v", r, err)
			}
			return nil
		}},
		{"recovery lock release and extend", func() error {
			l := baldur.NoOpRecoveryLock{}
			return errors.Join(l.Release(ctx, "ns", "s1"), l.Release(ctx, "ns", "s1"), l.Extend(ctx, "ns", "s1", time.Minute))
		}},
		{"safety guard gives its reason", func() error {
			d := baldur.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", true)
			if !slices.Equal(d.Reasons, []string{baldur.SafetyReasonNoGuard}) {
				return fmt.Errorf("Reasons = %q", d.Reasons)
			}
			// Reasons is the caller's to keep: changing it must not leak
			// into the next decision.
			d.Reasons[0] = "changed"
			if d2 := (baldur.NoOpSafetyGuard{}).Check(ctx, "", "", false); d2.Reasons[0] != baldur.SafetyReasonNoGuard {
				return fmt.Errorf("Reasons shared between calls: %q", d2.Reasons)
			}
			return nil
		}},
		{"chaos emergency controls answer", func() error {
			s := baldur.NoOpChaosScheduler{}
			runs, err := s.Running(ctx)
			if err != nil || len(runs) != 0 {
				return fmt.Errorf("Running = %v, %v", runs, err)
			}
			n, err := s.KillAll(ctx, "incident")
			if err != nil || n != 0 {
				return fmt.Errorf("KillAll = %d, %v", n, err)
			}
			return s.Cancel(ctx, "unknown")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}

// enumRoundTrip checks that every defined value of an enum parses back from
// its String, that undefined values are named as such, and that bad input
// is an error.
func enumRoundTrip[T ~uint8](t *testing.T, n int, str func(T) string, parse func(string) (T, error), valid func(T) bool) {
	t.Helper()
	seen := map[string]bool{}
	for i := range n {
		v := T(i)
		s := str(v)
		if seen[s] {
			t.Errorf("duplicate name %q", s)
		}
		seen[s] = true
		got, err := parse(s)
		if err != nil || got != v {
			t.Errorf("parse(%q) = %v, %v; want %v", s, got, err, v)
		}
		if !valid(v) {
			t.Errorf("%q not Valid", s)
		}
	}
	bad := T(n)
	if valid(bad) {
		t.Errorf("value %d Valid", n)
	}
	if s := str(bad); !strings.Contains(s, fmt.Sprint(n)) {
		t.Errorf("String of undefined value %d = %q", n, s)
	}
	long := strings.Repeat("x", 10_000)
	for _, in := range []string{"", " ", str(bad), strings.ToUpper(str(0)) + "!", "\xff\xfe", long} {
		if _, err := parse(in); err == nil {
			t.Errorf("parse(%.20q) succeeded", in)
		} else if len(err.Error()) > 200 {
			t.Errorf("parse error for long input not clipped: %d bytes", len(err.Error()))
		}
	}
}

func TestEnumRoundTrip(t *testing.T) {
	t.Parallel()
	t.Run("CanaryState", func(t *testing.T) {
		enumRoundTrip(t, baldur.NumCanaryStates, baldur.CanaryState.String, baldur.ParseCanaryState, baldur.CanaryState.Valid)
	})
	t.Run("DLQStatus", func(t *testing.T) {
		enumRoundTrip(t, baldur.NumDLQStatuses, baldur.DLQStatus.String, baldur.ParseDLQStatus, baldur.DLQStatus.Valid)
	})
	t.Run("IdempotencyStatus", func(t *testing.T) {
		enumRoundTrip(t, baldur.NumIdempotencyStatuses, baldur.IdempotencyStatus.String, baldur.ParseIdempotencyStatus, baldur.IdempotencyStatus.Valid)
	})
	t.Run("NotificationPriority", func(t *testing.T) {
		enumRoundTrip(t, baldur.NumNotificationPriorities, baldur.NotificationPriority.String, baldur.ParseNotificationPriority, baldur.NotificationPriority.Valid)
	})
}

func TestEnumNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ got, want string }{
		{baldur.CanaryCreated.String(), "created"},
		{baldur.CanaryRunning.String(), "canary"},
		{baldur.CanaryPaused.String(), "paused"},
		{baldur.CanaryCompleted.String(), "completed"},
		{baldur.CanaryRolledBack.String(), "rolled_back"},
		{baldur.CanaryCancelled.String(), "cancelled"},
		{baldur.DLQPending.String(), "pending"},
		{baldur.DLQReplaying.String(), "replaying"},
		{baldur.DLQResolved.String(), "resolved"},
		{baldur.DLQRequiresReview.String(), "requires_review"},
		{baldur.IdempotencyClaimed.String(), "claimed"},
		{baldur.IdempotencySucceeded.String(), "succeeded"},
		{baldur.IdempotencyFailed.String(), "failed"},
		{baldur.PriorityInfo.String(), "INFO"},
		{baldur.PriorityCritical.String(), "CRITICAL"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestCanaryStateClasses checks that each state is exactly one of created,
// active or terminal.
func TestCanaryStateClasses(t *testing.T) {
	t.Parallel()
	for s := range baldur.CanaryState(baldur.NumCanaryStates) {
		n := 0
		for _, b := range []bool{s == baldur.CanaryCreated, s.Active(), s.Terminal()} {
			if b {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v is in %d classes, want 1", s, n)
		}
	}
}

// TestZeroValuesSafe checks that zero values mean the safe thing and that
// their methods do not panic.
func TestZeroValuesSafe(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var (
		state  baldur.CanaryState
		dlq    baldur.DLQStatus
		idem   baldur.IdempotencyRecord
		entry  baldur.DLQEntry
		safety baldur.SafetyDecision
		result baldur.NotifyResult
		note   baldur.Notification
		op     baldur.CanaryOp
		filter baldur.DLQFilter
		stats  baldur.DLQStats
		status baldur.WatchdogStatus
	)
	tests := []struct {
		name string
		ok   bool
	}{
		{"canary state is created, inactive", state == baldur.CanaryCreated && !state.Active() && !state.Terminal()},
		{"zero rollout cannot stall", !baldur.CanaryStalled(rollout{}, now, time.Minute, time.Minute)},
		{"dlq status is pending", dlq == baldur.DLQPending},
		{"idempotency record blocks (fail closed)", idem.Status == baldur.IdempotencyClaimed && idem.Blocks(now) && !idem.Expired(now)},
		{"dlq entry never expires", !entry.Expired(now)},
		{"safety decision denies", !safety.Allowed && len(safety.Reasons) == 0},
		{"notify result not delivered", !result.Delivered && result.Suppressed == baldur.SuppressNone},
		{"notification is info", note.Priority == baldur.PriorityInfo},
		{"canary op does not bypass", op.BypassReason == "" && op.Actor == ""},
		{"dlq filter selects all", filter.Domain == "" && len(filter.Statuses) == 0 && filter.Limit == 0},
		{"dlq stats empty", stats.Total == 0 && stats.ByDomain["x"] == 0 && stats.Oldest.IsZero()},
		{"watchdog status not running", !status.Running},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("zero value: %s: false", tt.name)
		}
	}
	entry.CapPayload()
	if entry.Payload != nil || entry.Truncated {
		t.Errorf("CapPayload on zero entry = %v, %v", entry.Payload, entry.Truncated)
	}
	if baldur.CanaryStallSince(rollout{}) != (time.Time{}) {
		t.Error("zero rollout has a stall clock")
	}
}

// rollout is a CanaryRollout for tests.
type rollout struct {
	state                         baldur.CanaryState
	created, paused, stageStarted time.Time
}

var _ baldur.CanaryRollout = rollout{}

func (r rollout) ID() string                { return "r1" }
func (r rollout) ConfigType() string        { return "breaker" }
func (r rollout) State() baldur.CanaryState { return r.state }
func (r rollout) Stage() int                { return 0 }
func (r rollout) CreatedAt() time.Time      { return r.created }
func (r rollout) PausedAt() time.Time       { return r.paused }
func (r rollout) StageStartedAt() time.Time { return r.stageStarted }

func TestCanaryStalled(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const stage, maxPaused = 5 * time.Minute, 30 * time.Minute
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name      string
		r         rollout
		now       time.Time
		wantSince time.Time
		want      bool
	}{
		{"running within 2x stage", rollout{state: baldur.CanaryRunning, created: t0, stageStarted: at(time.Hour)}, at(time.Hour + 10*time.Minute), at(time.Hour), false},
		{"running past 2x stage", rollout{state: baldur.CanaryRunning, created: t0, stageStarted: at(time.Hour)}, at(time.Hour + 10*time.Minute + 1), at(time.Hour), true},
		{"running, legacy: anchor is created", rollout{state: baldur.CanaryRunning, created: t0}, at(11 * time.Minute), t0, true},
		{"paused within limit", rollout{state: baldur.CanaryPaused, created: t0, paused: at(time.Hour)}, at(time.Hour + maxPaused), at(time.Hour), false},
		{"paused past limit", rollout{state: baldur.CanaryPaused, created: t0, paused: at(time.Hour)}, at(time.Hour + maxPaused + 1), at(time.Hour), true},
		{"paused, no paused_at: anchor is created", rollout{state: baldur.CanaryPaused, created: t0}, at(31 * time.Minute), t0, true},
		{"created never stalls", rollout{state: baldur.CanaryCreated, created: t0}, at(24 * time.Hour), time.Time{}, false},
		{"completed never stalls", rollout{state: baldur.CanaryCompleted, created: t0, stageStarted: t0}, at(24 * time.Hour), time.Time{}, false},
		{"rolled back never stalls", rollout{state: baldur.CanaryRolledBack, created: t0, paused: t0}, at(24 * time.Hour), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := baldur.CanaryStallSince(tt.r); !got.Equal(tt.wantSince) {
				t.Errorf("CanaryStallSince = %v, want %v", got, tt.wantSince)
			}
			if got := baldur.CanaryStalled(tt.r, tt.now, stage, maxPaused); got != tt.want {
				t.Errorf("CanaryStalled = %v, want %v", got, tt.want)
			}
			if baldur.CanaryStalled(tt.r, tt.now.Add(1000*time.Hour), 0, 0) {
				t.Error("non-positive bounds reported a stall")
			}
		})
	}
}

func TestIdempotencyRecordBlocks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(baldur.IdempotencyTTL)
	tests := []struct {
		status  baldur.IdempotencyStatus
		expires time.Time
		want    bool
	}{
		{baldur.IdempotencyClaimed, exp, true},
		{baldur.IdempotencySucceeded, exp, true},
		{baldur.IdempotencyFailed, exp, false},
		{baldur.IdempotencyClaimed, now, false},
		{baldur.IdempotencySucceeded, now.Add(-time.Second), false},
		{baldur.IdempotencyClaimed, time.Time{}, true},
		{baldur.IdempotencyStatus(200), exp, true},
		{baldur.IdempotencyStatus(200), now, false},
	}
	for _, tt := range tests {
		r := baldur.IdempotencyRecord{Key: "k", Status: tt.status, ExpiresAt: tt.expires}
		if got := r.Blocks(now); got != tt.want {
			t.Errorf("Blocks(%v, expires %v) = %v, want %v", tt.status, tt.expires.Sub(now), got, tt.want)
		}
	}
}

func TestDLQEntryCapPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		in            int
		wantLen       int
		wantTruncated bool
	}{
		{"empty", 0, 0, false},
		{"small", 10, 10, false},
		{"exactly the cap", baldur.DLQMaxPayload, baldur.DLQMaxPayload, false},
		{"over the cap", baldur.DLQMaxPayload + 1, baldur.DLQMaxPayload, true},
		{"far over the cap", 1 << 20, baldur.DLQMaxPayload, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			buf := make([]byte, tt.in)
			for i := range buf {
				buf[i] = 'a'
			}
			e := baldur.DLQEntry{Payload: buf}
			e.CapPayload()
			if len(e.Payload) != tt.wantLen || e.Truncated != tt.wantTruncated {
				t.Fatalf("len %d truncated %v, want %d %v", len(e.Payload), e.Truncated, tt.wantLen, tt.wantTruncated)
			}
			if len(buf) > 0 {
				buf[0] = 'b'
				if e.Payload[0] != 'a' {
					t.Error("payload aliases the caller's buffer")
				}
			}
			if cap(e.Payload) > baldur.DLQMaxPayload {
				t.Errorf("payload retains %d bytes of capacity", cap(e.Payload))
			}
		})
	}
}

func TestDLQEntryExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		expires time.Time
		want    bool
	}{
		{time.Time{}, false},
		{now.Add(72 * time.Hour), false},
		{now, true},
		{now.Add(-time.Nanosecond), true},
	} {
		e := baldur.DLQEntry{ExpiresAt: tt.expires}
		if got := e.Expired(now); got != tt.want {
			t.Errorf("Expired(expires %v) = %v, want %v", tt.expires, got, tt.want)
		}
	}
}

// A chaos scheduler without a safety guard configured refuses every
// experiment, even a forced one.
func ExampleNoOpSafetyGuard() {
	var guard baldur.SafetyGuard = baldur.NoOpSafetyGuard{}
	d := guard.Check(context.Background(), "latency-checkout", "checkout", true)
	fmt.Println(d.Allowed, d.Reasons)
	// Output: false [no chaos safety guard configured]
}

// Without a notifier, notifications are dropped and say why.
func ExampleNoOpNotifications() {
	var n baldur.UnifiedNotificationManager = baldur.NoOpNotifications{}
	r, err := n.Notify(context.Background(), baldur.Notification{Priority: baldur.PriorityCritical, Source: "canary", Title: "rollout stalled"})
	fmt.Println(r.Delivered, r.Suppressed, err)
	// Output: false disabled <nil>
}
