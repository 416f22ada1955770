package governance

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// FuzzConfigEdges feeds New durations and counts at and around the int64
// edges. New must either refuse with a *baldur.ConfigError or build a
// checker whose arithmetic did not wrap: emergency Retry-After grows with
// the level and the first audit record of a reason is written.
func FuzzConfigEdges(f *testing.F) {
	edges := []int64{0, 1, -1, int64(time.Second), int64(MaxRetryAfter), int64(MaxRetryAfter) + 1,
		int64(MaxBudgetWindow), math.MaxInt64, math.MaxInt64 / 2, math.MaxInt64 / 4, math.MinInt64}
	for _, d := range edges {
		f.Add(d, d, d, d, d, int64(10), 1.0)
	}
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(math.MaxInt64), 1.0)
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(MaxAuditBurst), MinAuditRate)
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(10), 1e-300)
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(10), math.Inf(1))
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(10), math.NaN())
	f.Fuzz(func(t *testing.T, emerg, kill, budget, window, long, burst int64, rate float64) {
		cfg := Config{
			EmergencyRetryAfter:   baldur.Duration(emerg),
			KillSwitchRetryAfter:  baldur.Duration(kill),
			ErrorBudgetRetryAfter: baldur.Duration(budget),
			BudgetWindow:          baldur.Duration(window),
			BreakGlassDuration:    baldur.Duration(window),
			AlertCooldown:         baldur.Duration(kill),
			BudgetEvalInterval:    baldur.Duration(budget),
			AuditBurst:            int(burst),
			AuditRate:             rate,
			Audit:                 &MemoryAudit{},
		}
		if long > 0 {
			cfg.BurnWindows = []BurnWindow{{Long: time.Duration(long), Short: time.Minute, Factor: 1}}
		}
		if window > 0 {
			cfg.BudgetBucket = baldur.Duration(max(time.Duration(window)/1000, time.Second))
		}
		c, err := New(cfg)
		if err != nil {
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "New: want a *baldur.ConfigError naming the field")
			require.NotEmpty(t, ce.Field, "New: %v, want a *baldur.ConfigError naming the field", err)
			return
		}
		prev := time.Duration(0)
		for l := baldur.LevelNormal; l <= baldur.MaxEmergencyLevel; l++ {
			ra := c.emergRej[l].RetryAfter()
			require.GreaterOrEqual(t, ra, prev, "emergency Retry-After at %v (base %v)", l, time.Duration(emerg))
			if emerg > 0 {
				require.Positive(t, ra, "emergency Retry-After at %v (base %v)", l, time.Duration(emerg))
			}
			prev = ra
		}
		_, ok := c.audit.take(baldur.BlockKillSwitch, t0.UnixNano())
		require.True(t, ok, "the first audit record is refused (burst %d, rate %v)", burst, rate)
		_ = c.Budget().Status(t0)
	})
}
