package governance

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestConfigBoundsRefused: every duration and count that could overflow
// the arithmetic built on it (a Retry-After multiplied by the level, an
// audit tolerance of burst × interval, a burn window rounded up to
// buckets) is refused at New with a *baldur.ConfigError naming the field.
func TestConfigBoundsRefused(t *testing.T) {
	t.Parallel()
	const huge = time.Duration(math.MaxInt64)
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"emergency retry overflows x4", Config{EmergencyRetryAfter: baldur.Duration(huge / 3)}, "EmergencyRetryAfter"},
		{"emergency retry over a day", Config{EmergencyRetryAfter: baldur.Duration(MaxRetryAfter + time.Second)}, "EmergencyRetryAfter"},
		{"kill retry over a day", Config{KillSwitchRetryAfter: baldur.Duration(huge)}, "KillSwitchRetryAfter"},
		{"budget retry over a day", Config{ErrorBudgetRetryAfter: baldur.Duration(huge)}, "ErrorBudgetRetryAfter"},
		{"audit burst overflows the tolerance", Config{AuditBurst: math.MaxInt}, "AuditBurst"},
		{"audit burst over the bound", Config{AuditBurst: MaxAuditBurst + 1}, "AuditBurst"},
		{"audit rate under one a day", Config{AuditRate: 1e-300}, "AuditRate"},
		{"audit rate infinite", Config{AuditRate: math.Inf(1)}, "AuditRate"},
		{"budget window over a year", Config{BudgetWindow: baldur.Duration(huge), BudgetBucket: baldur.Duration(huge / 2)}, "BudgetWindow"},
		{"burn window long overflows", Config{BurnWindows: []BurnWindow{{Long: huge, Short: time.Hour, Factor: 1}}}, "BurnWindows[0]"},
		{"burn window over the bound", Config{BurnWindows: []BurnWindow{{Long: MaxBudgetWindow + 1, Short: time.Hour, Factor: 1}}}, "BurnWindows[0]"},
		{"break glass over a year", Config{BreakGlassDuration: baldur.Duration(MaxBreakGlassDuration + 1)}, "BreakGlassDuration"},
		{"alert cooldown over a day", Config{AlertCooldown: baldur.Duration(huge)}, "AlertCooldown"},
		{"eval interval over the cache ttl bound", Config{BudgetEvalInterval: baldur.Duration(huge)}, "BudgetEvalInterval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tc.cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Nil(t, c)
			assert.Equal(t, tc.field, ce.Field, "%v", err)
		})
	}
}

// TestConfigBoundsAccepted: the largest accepted values work as
// configured (no wrap-around at the edge).
func TestConfigBoundsAccepted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{
		EmergencyRetryAfter:   baldur.Duration(MaxRetryAfter),
		KillSwitchRetryAfter:  baldur.Duration(MaxRetryAfter),
		ErrorBudgetRetryAfter: baldur.Duration(MaxRetryAfter),
		AuditBurst:            MaxAuditBurst,
		AuditRate:             MinAuditRate,
		BudgetWindow:          baldur.Duration(MaxBudgetWindow),
		BudgetBucket:          baldur.Duration(MaxBudgetWindow / 2),
		BurnWindows:           []BurnWindow{{Long: MaxBudgetWindow, Short: time.Hour, Factor: 1}},
		BreakGlassDuration:    baldur.Duration(MaxBreakGlassDuration),
		AlertCooldown:         baldur.Duration(MaxAlertCooldown),
		BudgetEvalInterval:    baldur.Duration(MaxBudgetEvalInterval),
	})
	_, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "edge"})
	require.NoError(t, err)
	err = f.admit(t, f.call("GET /a", baldur.TierStandard), baldur.Success)
	wantReason(t, err, baldur.ReasonEmergency, 4*MaxRetryAfter)
	// The largest burst at the lowest rate still writes audit records.
	assert.NotEmpty(t, f.audit.Records(), "audit silenced at the largest burst")
}

// TestHugeAuditBurstWouldSilence shows the arithmetic the AuditBurst bound
// protects: a tolerance that wrapped negative refuses every record.
func TestHugeAuditBurstWouldSilence(t *testing.T) {
	t.Parallel()
	a := newAuditor(&MemoryAudit{}, MinAuditRate, MaxAuditBurst)
	_, ok := a.take(baldur.BlockKillSwitch, t0.UnixNano())
	assert.True(t, ok, "the largest accepted burst at the lowest rate must admit a record")
}

// TestKillSwitchBeyond2262Blocks: an expiry past the last time UnixNano can
// represent (year 2262) is a switch that does not expire in practice: it
// is listed and it blocks.
func TestKillSwitchBeyond2262Blocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expires time.Time
	}{
		{"year 2300", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year 3000", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "far", ExpiresAt: tc.expires}))
			list, err := f.c.KillSwitches(bg)
			require.NoError(t, err)
			require.Len(t, list, 1)
			wantReason(t, f.admit(t, f.call("GET /a", baldur.TierCritical), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
			assert.False(t, f.c.SystemEnabled(bg))
			res := f.c.CheckAll(bg, baldur.GovernanceRequest{Operation: "job"})
			assert.False(t, res.Allowed)
			assert.Equal(t, baldur.BlockKillSwitch, res.Reason)
			// The snapshot is still cached for CacheTTL, not rebuilt per call.
			s := f.c.snap.Load()
			f.clk.Advance(time.Second)
			_ = f.admit(t, f.call("GET /a", baldur.TierCritical), baldur.Success)
			assert.Same(t, s, f.c.snap.Load(), "snapshot rebuilt within its TTL")
		})
	}
}

// TestFarFutureEmergencyAndBreakGlassCache: an emergency duration or a
// break glass that ends past 2262 leaves the snapshot cacheable and in
// force.
func TestFarFutureEmergencyAndBreakGlassCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{BreakGlassDuration: baldur.Duration(MaxBreakGlassDuration)})
	f.clk.Set(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "long", Duration: time.Duration(math.MaxInt64)})
	require.NoError(t, err)
	wantReason(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success), baldur.ReasonEmergency, 10*time.Second)
	s := f.c.snap.Load()
	f.clk.Advance(time.Second)
	_ = f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success)
	assert.Same(t, s, f.c.snap.Load(), "snapshot rebuilt within its TTL")

	require.NoError(t, f.c.BreakGlass(context.Background(), true, "ana", "wedged"))
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success))
	s = f.c.snap.Load()
	f.clk.Advance(time.Second)
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success))
	assert.Same(t, s, f.c.snap.Load(), "snapshot rebuilt within its TTL")
}
