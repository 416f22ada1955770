package throttle

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// fakeLevel3 is a Level3Source; from < 0 means "unknown".
type fakeLevel3 struct {
	fakeLevel
	from atomic.Int32
}

func (f *fakeLevel3) Level3From() (baldur.EmergencyLevel, bool) {
	l := baldur.EmergencyLevel(f.from.Load())
	return l, l >= 0
}

// TestLevel3FactorFromSource: at LEVEL_3 a Level3Source decides the factor,
// whatever this throttle applied before (it may be new); an unknown answer
// falls back to the last factor applied.
func TestLevel3FactorFromSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before baldur.EmergencyLevel // level seen by this throttle first
		from   baldur.EmergencyLevel // -1: unknown
		burst  int64
	}{
		{"new throttle, from LEVEL_2", baldur.Level3, baldur.Level2, 5},
		{"new throttle, from LEVEL_1", baldur.Level3, baldur.Level1, 8},
		{"new throttle, from NORMAL", baldur.Level3, baldur.LevelNormal, 10},
		{"source wins over the last applied", baldur.Level1, baldur.Level2, 5},
		{"unknown: last applied", baldur.Level1, -1, 8},
		{"unknown, never applied: full rate", baldur.Level3, -1, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lvl := &fakeLevel3{}
			lvl.from.Store(int32(tc.from))
			th, _ := newTest(t, Config{Rate: 10, Burst: 10, Level: lvl})
			lvl.set(tc.before)
			_, _ = th.Quota(baldur.TierStandard) // applies the level seen first
			lvl.set(baldur.Level3)
			q, ok := th.Quota(baldur.TierStandard)
			require.True(t, ok)
			assert.Equal(t, tc.burst, q.Limit)
		})
	}
}

func TestLevel3AdmitZeroAllocs(t *testing.T) {
	lvl := &fakeLevel3{}
	lvl.from.Store(int32(baldur.Level2))
	lvl.set(baldur.Level3)
	th, clk := newTest(t, Config{Rate: 1e6, Burst: 1 << 20, Level: lvl})
	ctx := context.Background()
	c := baldur.Call{Key: "k", Now: clk.Now()}
	n := testing.AllocsPerRun(1000, func() {
		if p, err := th.Admit(ctx, c); err == nil {
			p.Release(baldur.Outcome{})
		}
	})
	assert.Zero(t, n)
}
