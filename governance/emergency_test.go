package governance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestStepDownKeepsRemainingExpiry: stepping down a timed level keeps its
// end: LEVEL_3 for 10 minutes stepped down after 4 is LEVEL_2 until minute
// 10, then NORMAL. An untimed level steps down to an untimed one.
func TestStepDownKeepsRemainingExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		duration time.Duration
		steps    int
		want     baldur.EmergencyLevel
		expires  time.Time // zero: none
	}{
		{"timed, one step", 10 * time.Minute, 1, baldur.Level2, t0.Add(10 * time.Minute)},
		{"timed, two steps", 10 * time.Minute, 2, baldur.Level1, t0.Add(10 * time.Minute)},
		{"timed, to NORMAL", 10 * time.Minute, 3, baldur.LevelNormal, time.Time{}},
		{"untimed", 0, 1, baldur.Level2, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			e := f.c.Emergency()
			_, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "spike", Duration: tc.duration})
			require.NoError(t, err)
			f.clk.Advance(4 * time.Minute)
			var st baldur.EmergencyState
			for range tc.steps {
				st, err = e.StepDown(bg, "ana", "recovering")
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, st.Level)
			assert.True(t, st.ExpiresAt.Equal(tc.expires), "ExpiresAt %v, want %v", st.ExpiresAt, tc.expires)
			stored, err := e.State(bg)
			require.NoError(t, err)
			assert.True(t, stored.ExpiresAt.Equal(tc.expires), "stored ExpiresAt %v, want %v", stored.ExpiresAt, tc.expires)

			f.clk.Set(t0.Add(10 * time.Minute))
			want := tc.want
			if !tc.expires.IsZero() {
				want = baldur.LevelNormal
			}
			st, err = e.State(bg)
			require.NoError(t, err)
			assert.Equal(t, want, st.Level, "at minute 10")
			assert.Equal(t, want, f.c.Level())
		})
	}
}

// TestLevel3FromIsKeptWithTheLevel: the level LEVEL_3 was raised from is
// part of the emergency state, so a new Checker on the same store (a
// governance rebuild during the incident) still knows it.
func TestLevel3FromIsKeptWithTheLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path []baldur.EmergencyLevel // triggered in order; -1 steps down
		want baldur.EmergencyLevel
	}{
		{"from NORMAL", []baldur.EmergencyLevel{3}, baldur.LevelNormal},
		{"from LEVEL_1", []baldur.EmergencyLevel{1, 3}, baldur.Level1},
		{"from LEVEL_2", []baldur.EmergencyLevel{1, 2, 3}, baldur.Level2},
		{"refresh keeps it", []baldur.EmergencyLevel{2, 3, 3}, baldur.Level2},
		{"down and up again", []baldur.EmergencyLevel{2, 3, -1, -1, 3}, baldur.Level1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			e := f.c.Emergency()
			for _, l := range tc.path {
				var err error
				if l < 0 {
					_, err = e.StepDown(bg, "ana", "down")
				} else {
					_, err = e.Trigger(bg, baldur.EmergencyTrigger{Level: l, Reason: "up"})
				}
				require.NoError(t, err)
			}
			require.Equal(t, baldur.Level3, e.Level())
			from, ok := f.c.Level3From()
			require.True(t, ok)
			assert.Equal(t, tc.want, from)

			// A new checker on the same store (a rebuild) reads it back.
			c2, err := New(Config{Store: f.store, Clock: f.clk, Audit: f.audit, Alerts: f.alerts})
			require.NoError(t, err)
			require.Equal(t, baldur.Level3, c2.Level())
			from, ok = c2.Level3From()
			require.True(t, ok)
			assert.Equal(t, tc.want, from)
		})
	}
}

func TestLevel3FromOnlyAtLevel3(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	_, ok := f.c.Level3From()
	assert.False(t, ok, "at NORMAL")
	_, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "up"})
	require.NoError(t, err)
	_, ok = f.c.Level3From()
	assert.False(t, ok, "at LEVEL_2")
}
