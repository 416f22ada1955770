package canary_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/internal/enum/enumtest"
)

func TestState(t *testing.T) {
	t.Parallel()
	enumtest.RoundTrip(t, canary.NumStates, canary.State.String, canary.ParseState, canary.State.Valid)
	for s, want := range map[canary.State]string{canary.Created: "created", canary.Running: "canary", canary.Paused: "paused",
		canary.Completed: "completed", canary.RolledBack: "rolled_back", canary.Cancelled: "cancelled"} {
		assert.Equal(t, want, s.String())
	}
	var zero canary.State
	assert.True(t, zero == canary.Created && !zero.Active() && !zero.Terminal(), "the zero state is created, inactive")
	var op canary.Op
	assert.True(t, op.BypassReason == "" && op.Actor == "", "the zero op does not bypass")
}

// TestStateClasses checks that each state is exactly one of created,
// active or terminal.
func TestStateClasses(t *testing.T) {
	t.Parallel()
	for s := range canary.State(canary.NumStates) {
		n := 0
		for _, b := range []bool{s == canary.Created, s.Active(), s.Terminal()} {
			if b {
				n++
			}
		}
		assert.Equal(t, 1, n, "%v is in %d classes, want 1", s, n)
	}
}

// rollout is a CanaryRollout for tests.
type rollout struct {
	state                         canary.State
	created, paused, stageStarted time.Time
}

var _ canary.Rollout = rollout{}

func (r rollout) ID() string                { return "r1" }
func (r rollout) ConfigType() string        { return "breaker" }
func (r rollout) State() canary.State       { return r.state }
func (r rollout) Stage() int                { return 0 }
func (r rollout) CreatedAt() time.Time      { return r.created }
func (r rollout) PausedAt() time.Time       { return r.paused }
func (r rollout) StageStartedAt() time.Time { return r.stageStarted }

func TestStalled(t *testing.T) {
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
		{"running within 2x stage", rollout{state: canary.Running, created: t0, stageStarted: at(time.Hour)}, at(time.Hour + 10*time.Minute), at(time.Hour), false},
		{"running past 2x stage", rollout{state: canary.Running, created: t0, stageStarted: at(time.Hour)}, at(time.Hour + 10*time.Minute + 1), at(time.Hour), true},
		{"running, legacy: anchor is created", rollout{state: canary.Running, created: t0}, at(11 * time.Minute), t0, true},
		{"paused within limit", rollout{state: canary.Paused, created: t0, paused: at(time.Hour)}, at(time.Hour + maxPaused), at(time.Hour), false},
		{"paused past limit", rollout{state: canary.Paused, created: t0, paused: at(time.Hour)}, at(time.Hour + maxPaused + 1), at(time.Hour), true},
		{"paused, no paused_at: anchor is created", rollout{state: canary.Paused, created: t0}, at(31 * time.Minute), t0, true},
		{"created never stalls", rollout{state: canary.Created, created: t0}, at(24 * time.Hour), time.Time{}, false},
		{"completed never stalls", rollout{state: canary.Completed, created: t0, stageStarted: t0}, at(24 * time.Hour), time.Time{}, false},
		{"rolled back never stalls", rollout{state: canary.RolledBack, created: t0, paused: t0}, at(24 * time.Hour), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := canary.StallSince(tt.r)
			assert.True(t, got.Equal(tt.wantSince), "CanaryStallSince = %v, want %v", got, tt.wantSince)
			assert.Equal(t, tt.want, canary.Stalled(tt.r, tt.now, stage, maxPaused), "CanaryStalled")
			assert.False(t, canary.Stalled(tt.r, tt.now.Add(1000*time.Hour), 0, 0), "non-positive bounds reported a stall")
		})
	}
}

func TestZeroRolloutNeverStalls(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.False(t, canary.Stalled(rollout{}, now, time.Minute, time.Minute))
	assert.Equal(t, time.Time{}, canary.StallSince(rollout{}), "zero rollout has a stall clock")
}
