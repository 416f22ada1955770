package governance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

var bg = context.Background()

func TestCheckAllOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	c := f.c
	req := baldur.GovernanceRequest{Operation: "replay", Service: "shop", Tier: baldur.TierCritical}

	r := c.CheckAll(bg, req)
	require.True(t, r.Allowed, "clean state: %+v", r)
	require.Equal(t, baldur.BlockNone, r.Reason, "clean state: %+v", r)
	require.Equal(t, baldur.LevelNormal, r.Level, "clean state: %+v", r)
	require.Equal(t, 100.0, r.BudgetRemainingPct, "clean state: %+v", r)
	// Exhaust the budget: error_budget blocks.
	f.feed(100, 50)
	c.InvalidateCache()
	r = c.CheckAll(bg, req)
	require.False(t, r.Allowed, "budget: %+v", r)
	require.Equal(t, baldur.BlockErrorBudget, r.Reason, "budget: %+v", r)
	require.Equal(t, 15.0, r.ThresholdPct, "budget: %+v", r)
	// Emergency LEVEL_2 comes before the budget.
	_, err := c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "incident"})
	require.NoError(t, err)
	r = c.CheckAll(bg, req)
	require.Equal(t, baldur.BlockEmergency, r.Reason, "emergency: %+v", r)
	require.Equal(t, baldur.Level2, r.Level, "emergency: %+v", r)
	// The kill switch comes before the emergency level.
	require.NoError(t, c.Activate(bg, KillSwitch{Scope: ScopeService, Pattern: "shop", Reason: "bad deploy", Actor: "ana"}))
	r = c.CheckAll(bg, req)
	require.Equal(t, baldur.BlockKillSwitch, r.Reason, "kill switch: %+v", r)
	// Break glass allows over everything.
	require.NoError(t, c.BreakGlass(bg, true, "ana", "restore"))
	r = c.CheckAll(bg, req)
	require.True(t, r.Allowed, "break glass: %+v", r)
	require.True(t, r.BreakGlass, "break glass: %+v", r)
	// Skipping checks walks back down the chain.
	require.NoError(t, c.BreakGlass(bg, false, "ana", ""))
	for _, tc := range []struct {
		req  baldur.GovernanceRequest
		want baldur.BlockReason
	}{
		{req, baldur.BlockKillSwitch},
		{baldur.GovernanceRequest{SkipKillSwitch: true, Tier: baldur.TierCritical}, baldur.BlockEmergency},
		{baldur.GovernanceRequest{SkipKillSwitch: true, EmergencyMinLevel: baldur.Level3, Tier: baldur.TierCritical}, baldur.BlockErrorBudget},
		{baldur.GovernanceRequest{SkipKillSwitch: true, SkipEmergency: true, SkipErrorBudget: true}, baldur.BlockNone},
	} {
		r := c.CheckAll(bg, tc.req)
		assert.Equal(t, tc.want, r.Reason, "%+v: got %+v", tc.req, r)
		assert.Equal(t, tc.want == baldur.BlockNone, r.Allowed, "%+v: got %+v, want %v", tc.req, r, tc.want)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	c := f.c
	require.True(t, c.SystemEnabled(bg), "disabled without a switch")
	require.NoError(t, c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /x", Reason: "r"}))
	require.True(t, c.SystemEnabled(bg), "an operation switch disables the system")
	require.NoError(t, c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}))
	require.False(t, c.SystemEnabled(bg), "global switch: still enabled")
	ok, _ := c.Deactivate(bg, ScopeAll, "")
	require.True(t, ok, "deactivate")
	require.True(t, c.SystemEnabled(bg), "deactivate")
	b, l := c.EmergencyBlocking(bg, 0)
	require.False(t, b, "EmergencyBlocking")
	require.Equal(t, baldur.LevelNormal, l, "EmergencyBlocking")
	c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
	b, l = c.EmergencyBlocking(bg, 0)
	require.False(t, b, "L1 with default min L2")
	require.Equal(t, baldur.Level1, l, "L1 with default min L2")
	b, _ = c.EmergencyBlocking(bg, baldur.Level1)
	require.True(t, b, "L1 with min L1 must block")
	b, rem, th := c.ErrorBudgetBlocking(bg, baldur.TierStandard, "")
	require.False(t, b, "ErrorBudgetBlocking")
	require.Equal(t, 100.0, rem, "ErrorBudgetBlocking remaining")
	require.Equal(t, 10.0, th, "ErrorBudgetBlocking threshold")
	f.feed(9998, 2) // 2 failures of the 10 a 0.1 % budget allows: 80 % left
	b, rem, _ = c.ErrorBudgetBlocking(bg, baldur.TierStandard, "")
	require.False(t, b, "ErrorBudgetBlocking at 80 %")
	require.GreaterOrEqual(t, rem, 79.9, "remaining")
	require.LessOrEqual(t, rem, 80.1, "remaining")
}

func TestKillSwitchScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ks   KillSwitch
		call baldur.Call
		hit  bool
	}{
		{"all", KillSwitch{Scope: ScopeAll}, baldur.Call{Operation: "GET /a", Service: "x"}, true},
		{"service hit", KillSwitch{Scope: ScopeService, Pattern: "pay*"}, baldur.Call{Operation: "GET /a", Service: "payments"}, true},
		{"service miss", KillSwitch{Scope: ScopeService, Pattern: "pay*"}, baldur.Call{Operation: "GET /a", Service: "search"}, false},
		{"operation hit", KillSwitch{Scope: ScopeOperation, Pattern: "* /items/*"}, baldur.Call{Operation: "POST /items/{id}"}, true},
		{"operation miss", KillSwitch{Scope: ScopeOperation, Pattern: "* /items/*"}, baldur.Call{Operation: "GET /users/{id}"}, false},
		{"grpc", KillSwitch{Scope: ScopeOperation, Pattern: "/shop.Orders/*"}, baldur.Call{Operation: "/shop.Orders/Create"}, true},
		{"exempt health", KillSwitch{Scope: ScopeAll}, baldur.Call{Operation: "GET /healthz"}, false},
		{"exempt admin", KillSwitch{Scope: ScopeAll}, baldur.Call{Operation: "POST /admin/killswitch"}, false},
		{"exempt grpc health", KillSwitch{Scope: ScopeAll}, baldur.Call{Operation: "/grpc.health.v1.Health/Check"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			tc.ks.Reason = "test"
			require.NoError(t, f.c.Activate(bg, tc.ks))
			tc.call.Now = f.clk.Now()
			err := f.admit(t, tc.call, baldur.Success)
			if tc.hit {
				wantReason(t, err, baldur.ReasonKillSwitch, 30*time.Second)
			} else {
				require.NoError(t, err, "unexpected")
			}
			r := f.c.CheckAll(bg, baldur.GovernanceRequest{Operation: tc.call.Operation, Service: tc.call.Service})
			require.Equal(t, !tc.hit, r.Allowed, "CheckAll = %+v, want hit %v", r, tc.hit)
		})
	}
}

func TestKillSwitchValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, tc := range []struct {
		ks    KillSwitch
		field string
	}{
		{KillSwitch{Scope: ScopeAll}, "Reason"},
		{KillSwitch{Scope: ScopeAll, Pattern: "x", Reason: "r"}, "Pattern"},
		{KillSwitch{Scope: ScopeService, Reason: "r"}, "Pattern"},
		{KillSwitch{Scope: ScopeOperation, Pattern: `bad\`, Reason: "r"}, "Pattern"},
		{KillSwitch{Scope: ScopeOperation, Pattern: "a\x00b", Reason: "r"}, "Pattern"},
		{KillSwitch{Scope: Scope(9), Pattern: "a", Reason: "r"}, "Scope"},
		{KillSwitch{Scope: ScopeAll, Reason: "r", ExpiresAt: t0.Add(-time.Second)}, "ExpiresAt"},
	} {
		err := f.c.Activate(bg, tc.ks)
		var ce *baldur.ConfigError
		if assert.ErrorAs(t, err, &ce, "Activate(%+v), want ConfigError on %s", tc.ks, tc.field) {
			assert.Equal(t, tc.field, ce.Field, "Activate(%+v) = %v", tc.ks, err)
		}
	}
	_, err := ParseScope("galaxy")
	require.Error(t, err, "ParseScope accepted galaxy")
	s, err := ParseScope("operation")
	require.NoError(t, err, "ParseScope(operation)")
	require.Equal(t, ScopeOperation, s, "ParseScope(operation)")
}

func TestKillSwitchExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "maintenance", ExpiresAt: t0.Add(10 * time.Minute)}))
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	f.clk.Advance(10*time.Minute - time.Nanosecond)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	f.clk.Advance(time.Nanosecond)
	require.NoError(t, f.admit(t, f.call("GET /a", 0), baldur.Success), "after expiry")
	require.True(t, f.c.SystemEnabled(bg), "expired switch still disables")
	list, _ := f.c.KillSwitches(bg)
	require.Empty(t, list, "expired switch listed")
}

func TestBreakGlassAuditedAndExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{BreakGlassDuration: baldur.Duration(time.Hour)})
	f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	require.Error(t, f.c.BreakGlass(bg, true, "ana", ""), "break glass without a reason")
	require.NoError(t, f.c.BreakGlass(bg, true, "ana", "customer outage"))
	require.NoError(t, f.admit(t, f.call("GET /a", 0), baldur.Success), "break glass")
	n := 0
	for _, r := range f.audit.Records() {
		if r.Reason == AuditBreakGlass {
			n++
			assert.Equal(t, "ana", r.Actor, "actor")
		}
	}
	require.GreaterOrEqual(t, n, 2, "break-glass audit records") // the toggle and the allowed call
	f.clk.Advance(time.Hour)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestEmergencyTriggerStepDownExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	e := f.c.Emergency()
	var ce *baldur.ConfigError
	_, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2})
	require.ErrorAs(t, err, &ce, "missing reason")
	require.Equal(t, "Reason", ce.Field, "missing reason: %v", err)
	_, err = e.Trigger(bg, baldur.EmergencyTrigger{Level: 4, Reason: "r"})
	require.ErrorAs(t, err, &ce, "level 4")
	require.Equal(t, "Level", ce.Field, "level 4: %v", err)
	st, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "outage", Actor: "ana", Duration: time.Hour})
	require.NoError(t, err, "trigger")
	require.Equal(t, baldur.Level3, st.Level, "trigger: %+v", st)
	require.True(t, st.ExpiresAt.Equal(t0.Add(time.Hour)), "trigger: %+v", st)
	require.Equal(t, baldur.Level3, e.Level(), "trigger: %+v", st)
	_, err = e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
	require.ErrorAs(t, err, &ce, "lowering by Trigger")
	for _, want := range []baldur.EmergencyLevel{baldur.Level2, baldur.Level1, baldur.LevelNormal} {
		st, err := e.StepDown(bg, "ana", "recovering")
		require.NoError(t, err, "step down, want %v", want)
		require.Equal(t, want, st.Level, "step down: %+v", st)
		require.Equal(t, want, e.Level(), "step down: %+v", st)
		require.Equal(t, want, f.c.Level(), "step down: %+v", st)
	}
	_, err = e.StepDown(bg, "ana", "")
	require.ErrorIs(t, err, ErrAlreadyNormal, "step down at NORMAL")
	// Expiry, against the fake clock.
	_, err = e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r", Duration: time.Minute})
	require.NoError(t, err)
	c := f.call("GET /a", baldur.TierStandard)
	wantReason(t, f.admit(t, c, baldur.Success), baldur.ReasonEmergency, 20*time.Second)
	f.clk.Set(t0.Add(time.Minute)) // the timer fires asynchronously; the gate does not need it
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierStandard), baldur.Success), "after expiry")
	st, err = e.State(bg)
	require.NoError(t, err, "state after expiry")
	require.Equal(t, baldur.LevelNormal, st.Level, "state after expiry: %+v", st)
	require.Equal(t, baldur.LevelNormal, e.Level(), "state after expiry: %+v", st)
}

func TestEmergencyShedsByTier(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	e := f.c.Emergency()
	type row struct {
		level            baldur.EmergencyLevel
		crit, std, nonEs bool // admitted
		retry            time.Duration
	}
	for _, r := range []row{
		{baldur.LevelNormal, true, true, true, 0},
		{baldur.Level1, true, true, false, 5 * time.Second},
		{baldur.Level3, false, false, false, 20 * time.Second}, // critical is 0.5: checked statistically below
	} {
		if r.level > e.Level() {
			e.Trigger(bg, baldur.EmergencyTrigger{Level: r.level, Reason: "t"})
		}
		for tier, want := range map[baldur.Tier]bool{baldur.TierStandard: r.std, baldur.TierNonEssential: r.nonEs} {
			err := f.admit(t, f.call("GET /a", tier), baldur.Success)
			require.Equal(t, want, err == nil, "%v %v: err %v", r.level, tier, err)
			if err != nil {
				wantReason(t, err, baldur.ReasonEmergency, r.retry)
			}
		}
	}
	// L3 admits about half of critical calls.
	admitted := 0
	const n = 4000
	for range n {
		if f.admit(t, f.call("GET /a", baldur.TierCritical), baldur.Ignored) == nil {
			admitted++
		}
	}
	require.GreaterOrEqual(t, admitted, n*4/10, "L3 critical admitted of %d", n)
	require.LessOrEqual(t, admitted, n*6/10, "L3 critical admitted of %d", n)
	// L2: 10 % of standard, with a 10 s Retry-After.
	e.StepDown(bg, "", "")
	admitted = 0
	var lastErr error
	for range n {
		if err := f.admit(t, f.call("GET /a", baldur.TierStandard), baldur.Ignored); err == nil {
			admitted++
		} else {
			lastErr = err
		}
	}
	require.GreaterOrEqual(t, admitted, n/20, "L2 standard admitted of %d", n)
	require.LessOrEqual(t, admitted, n*15/100, "L2 standard admitted of %d", n)
	wantReason(t, lastErr, baldur.ReasonEmergency, 10*time.Second)
	require.Equal(t, 0.1, e.AdmitFraction(baldur.Level2, baldur.TierStandard), "AdmitFraction")
	require.Equal(t, 0.5, e.AdmitFraction(baldur.Level3, baldur.TierCritical), "AdmitFraction")
}

func TestInvalidationWithoutTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{CacheTTL: baldur.Duration(300 * time.Second)})
	c := f.c
	call := f.call("GET /a", baldur.TierStandard)
	// Warm the cache, then change state: each transition shows at once at
	// the same instant (the clock never moves here).
	require.NoError(t, f.admit(t, call, baldur.Success))
	c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /a", Reason: "r"})
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	c.Deactivate(bg, ScopeOperation, "GET /a")
	require.NoError(t, f.admit(t, call, baldur.Success))
	c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonEmergency, 20*time.Second)
	c.Emergency().StepDown(bg, "", "")
	c.Emergency().StepDown(bg, "", "")
	c.Emergency().StepDown(bg, "", "")
	require.NoError(t, f.admit(t, call, baldur.Success))
	// A budget threshold crossing seen by a check invalidates at once.
	f.feed(0, 200)
	b, _, _ := c.ErrorBudgetBlocking(bg, baldur.TierStandard, "")
	require.True(t, b, "budget not blocking")
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonErrorBudget, 60*time.Second)

	// A change made behind the Checker's back (another process) shows
	// after InvalidateCache, or after the TTL.
	f.store.PutKillSwitch(bg, KillSwitch{Scope: ScopeAll, Reason: "other process"})
	call.Tier = baldur.TierNonEssential // not budget-blocked at 0 %? it is: threshold 5
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonErrorBudget, 60*time.Second)
	c.InvalidateCache()
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestTTLRefreshSeesForeignChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{CacheTTL: baldur.Duration(10 * time.Second)})
	f.store.PutKillSwitch(bg, KillSwitch{Scope: ScopeAll, Reason: "other process"})
	require.NoError(t, f.admit(t, f.call("GET /a", 0), baldur.Success), "cached snapshot should still admit")
	f.clk.Advance(10 * time.Second)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestFailOpenAndAlertCooldown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AlertCooldown: baldur.Duration(time.Minute)})
	c := f.c
	c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
	f.store.failKill.Store(true)
	f.store.failEmergency.Store(true)
	f.store.failBreakGlass.Store(true)
	c.InvalidateCache()
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success), "unreadable state must allow")
	r := c.CheckAll(bg, baldur.GovernanceRequest{})
	require.True(t, r.Allowed, "CheckAll: %+v", r)
	require.True(t, c.SystemEnabled(bg), "unreadable kill switch: system must be enabled")
	// Retries within a second; alerts once per kind per cooldown.
	for range 30 {
		f.clk.Advance(time.Second)
		f.admit(t, f.call("GET /a", 0), baldur.Success)
	}
	for _, k := range []AlertKind{AlertKillSwitchUnreadable, AlertEmergencyUnreadable, AlertBreakGlassUnreadable} {
		assert.Equal(t, 1, f.alerts.count(k), "%s alerts", k)
	}
	f.clk.Advance(time.Minute)
	c.InvalidateCache()
	require.Equal(t, 2, f.alerts.count(AlertKillSwitchUnreadable), "alerts after cooldown")
	// The store recovers: the state applies again within a second.
	f.store.failKill.Store(false)
	f.clk.Advance(time.Second)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestAuditRateLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AuditRate: 1, AuditBurst: 5})
	f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r", Actor: "ana"})
	for range 1000 {
		f.admit(t, f.call("GET /a", 0), baldur.Success)
	}
	recs := f.audit.Records()
	require.Len(t, recs, 5, "records, want the burst of 5")
	require.Equal(t, baldur.BlockKillSwitch, recs[0].Reason, "record = %+v", recs[0])
	require.Equal(t, "ana", recs[0].Actor, "record = %+v", recs[0])
	require.Equal(t, "GET /a", recs[0].Operation, "record = %+v", recs[0])
	require.Equal(t, uint64(995), f.c.AuditDropped(baldur.BlockKillSwitch), "dropped")
	f.clk.Advance(time.Second)
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	recs = f.audit.Records()
	require.Len(t, recs, 6, "records after 1 s")
	require.Equal(t, uint64(995), recs[5].Dropped, "after 1 s: last %+v", recs[5])
	// SkipAudit suppresses the record.
	f.clk.Advance(time.Hour)
	f.c.CheckAll(bg, baldur.GovernanceRequest{SkipAudit: true})
	require.Len(t, f.audit.Records(), 6, "SkipAudit wrote a record")
}

func TestResetCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AuditBurst: 1})
	f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	f.c.resetCache()
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	require.Len(t, f.audit.Records(), 2, "records, want 2 (limit reset)")
}

// TestEmergencyExpiryGoesToNormal: a triggered duration that runs out
// drops the level to NORMAL, not back to the level it was raised from.
func TestEmergencyExpiryGoesToNormal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	e := f.c.Emergency()
	_, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "held"})
	require.NoError(t, err)
	_, err = e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "spike", Duration: 10 * time.Minute})
	require.NoError(t, err)
	f.clk.Set(t0.Add(10 * time.Minute))
	st, err := e.State(bg)
	require.NoError(t, err, "after expiry")
	require.Equal(t, baldur.LevelNormal, st.Level, "after expiry: %+v, want NORMAL", st)
	require.Equal(t, baldur.LevelNormal, f.c.Level(), "after expiry: %+v, want NORMAL", st)
	// NORMAL sheds nothing: a non_essential call passes.
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success), "after expiry")
}
