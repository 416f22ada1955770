package baldur_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
				require.NoError(t, err, "unexpected error")
				assert.Equal(t, tt.failOpen, got, "admits (fail-open = %v)", tt.failOpen)
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
		check func(t *testing.T)
	}{
		{"notifications suppressed as disabled", func(t *testing.T) {
			r, err := baldur.NoOpNotifications{}.Notify(ctx, baldur.Notification{Priority: baldur.PriorityHigh, Title: "x"})
			require.NoError(t, err, "Notify")
			assert.False(t, r.Delivered, "Notify = %+v", r)
			assert.Equal(t, baldur.SuppressDisabled, r.Suppressed, "Notify = %+v", r)
			assert.Equal(t, baldur.PriorityHigh, r.Priority, "Notify = %+v", r)
			assert.Empty(t, r.Channels, "Notify = %+v", r)
		}},
		{"safety guard gives its reason", func(t *testing.T) {
			d := baldur.NoOpSafetyGuard{}.Check(ctx, "exp-1", "checkout", true)
			require.Equal(t, []string{baldur.SafetyReasonNoGuard}, d.Reasons, "Reasons")
			// Reasons is the caller's to keep: changing it must not leak
			// into the next decision.
			d.Reasons[0] = "changed"
			d2 := (baldur.NoOpSafetyGuard{}).Check(ctx, "", "", false)
			assert.Equal(t, baldur.SafetyReasonNoGuard, d2.Reasons[0], "Reasons shared between calls: %q", d2.Reasons)
		}},
		{"chaos emergency controls answer", func(t *testing.T) {
			s := baldur.NoOpChaosScheduler{}
			runs, err := s.Running(ctx)
			require.NoError(t, err, "Running")
			require.Empty(t, runs, "Running")
			n, err := s.KillAll(ctx, "incident")
			require.NoError(t, err, "KillAll")
			require.Zero(t, n, "KillAll")
			require.NoError(t, s.Cancel(ctx, "unknown"), "Cancel")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t)
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
		assert.False(t, seen[s], "duplicate name %q", s)
		seen[s] = true
		got, err := parse(s)
		assert.NoError(t, err, "parse(%q)", s)
		assert.Equal(t, v, got, "parse(%q)", s)
		assert.True(t, valid(v), "%q not Valid", s)
	}
	bad := T(n)
	assert.False(t, valid(bad), "value %d Valid", n)
	assert.Contains(t, str(bad), fmt.Sprint(n), "String of undefined value %d", n)
	long := strings.Repeat("x", 10_000)
	for _, in := range []string{"", " ", str(bad), strings.ToUpper(str(0)) + "!", "\xff\xfe", long} {
		if _, err := parse(in); assert.Error(t, err, "parse(%.20q) succeeded", in) {
			assert.LessOrEqual(t, len(err.Error()), 200, "parse error for long input not clipped: %d bytes", len(err.Error()))
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
		assert.Equal(t, tt.want, tt.got)
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
		assert.Equal(t, 1, n, "%v is in %d classes, want 1", s, n)
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
		assert.True(t, tt.ok, "zero value: %s", tt.name)
	}
	entry.CapPayload()
	assert.Nil(t, entry.Payload, "CapPayload on zero entry")
	assert.False(t, entry.Truncated, "CapPayload on zero entry")
	assert.Equal(t, time.Time{}, baldur.CanaryStallSince(rollout{}), "zero rollout has a stall clock")
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
			got := baldur.CanaryStallSince(tt.r)
			assert.True(t, got.Equal(tt.wantSince), "CanaryStallSince = %v, want %v", got, tt.wantSince)
			assert.Equal(t, tt.want, baldur.CanaryStalled(tt.r, tt.now, stage, maxPaused), "CanaryStalled")
			assert.False(t, baldur.CanaryStalled(tt.r, tt.now.Add(1000*time.Hour), 0, 0), "non-positive bounds reported a stall")
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
		assert.Equal(t, tt.want, r.Blocks(now), "Blocks(%v, expires %v)", tt.status, tt.expires.Sub(now))
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
			require.Equal(t, tt.wantLen, len(e.Payload), "len (truncated %v)", e.Truncated)
			require.Equal(t, tt.wantTruncated, e.Truncated, "truncated (len %d)", len(e.Payload))
			if len(buf) > 0 {
				buf[0] = 'b'
				assert.Equal(t, byte('a'), e.Payload[0], "payload aliases the caller's buffer")
			}
			assert.LessOrEqual(t, cap(e.Payload), baldur.DLQMaxPayload, "payload retains bytes of capacity")
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
		assert.Equal(t, tt.want, e.Expired(now), "Expired(expires %v)", tt.expires)
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
