package governance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
)

var bg = context.Background()

func TestCheckAllOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	c := f.c
	req := baldur.GovernanceRequest{Operation: "replay", Service: "shop", Tier: baldur.TierCritical}

	if r := c.CheckAll(bg, req); !r.Allowed || r.Reason != baldur.BlockNone || r.Level != baldur.LevelNormal || r.BudgetRemainingPct != 100 {
		t.Fatalf("clean state: %+v", r)
	}
	// Exhaust the budget: error_budget blocks.
	f.feed(100, 50)
	c.InvalidateCache()
	if r := c.CheckAll(bg, req); r.Allowed || r.Reason != baldur.BlockErrorBudget || r.ThresholdPct != 15 {
		t.Fatalf("budget: %+v", r)
	}
	// Emergency LEVEL_2 comes before the budget.
	if _, err := c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "incident"}); err != nil {
		t.Fatal(err)
	}
	if r := c.CheckAll(bg, req); r.Reason != baldur.BlockEmergency || r.Level != baldur.Level2 {
		t.Fatalf("emergency: %+v", r)
	}
	// The kill switch comes before the emergency level.
	if err := c.Activate(bg, KillSwitch{Scope: ScopeService, Pattern: "shop", Reason: "bad deploy", Actor: "ana"}); err != nil {
		t.Fatal(err)
	}
	if r := c.CheckAll(bg, req); r.Reason != baldur.BlockKillSwitch {
		t.Fatalf("kill switch: %+v", r)
	}
	// Break glass allows over everything.
	if err := c.BreakGlass(bg, true, "ana", "restore"); err != nil {
		t.Fatal(err)
	}
	if r := c.CheckAll(bg, req); !r.Allowed || !r.BreakGlass {
		t.Fatalf("break glass: %+v", r)
	}
	// Skipping checks walks back down the chain.
	if err := c.BreakGlass(bg, false, "ana", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req  baldur.GovernanceRequest
		want baldur.BlockReason
	}{
		{req, baldur.BlockKillSwitch},
		{baldur.GovernanceRequest{SkipKillSwitch: true, Tier: baldur.TierCritical}, baldur.BlockEmergency},
		{baldur.GovernanceRequest{SkipKillSwitch: true, EmergencyMinLevel: baldur.Level3, Tier: baldur.TierCritical}, baldur.BlockErrorBudget},
		{baldur.GovernanceRequest{SkipKillSwitch: true, SkipEmergency: true, SkipErrorBudget: true}, baldur.BlockNone},
	} {
		if r := c.CheckAll(bg, tc.req); r.Reason != tc.want || r.Allowed != (tc.want == baldur.BlockNone) {
			t.Errorf("%+v: got %+v, want %v", tc.req, r, tc.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	c := f.c
	if !c.SystemEnabled(bg) {
		t.Fatal("disabled without a switch")
	}
	if err := c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /x", Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	if !c.SystemEnabled(bg) {
		t.Fatal("an operation switch disables the system")
	}
	if err := c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	if c.SystemEnabled(bg) {
		t.Fatal("global switch: still enabled")
	}
	if ok, _ := c.Deactivate(bg, ScopeAll, ""); !ok || !c.SystemEnabled(bg) {
		t.Fatal("deactivate")
	}
	if b, l := c.EmergencyBlocking(bg, 0); b || l != baldur.LevelNormal {
		t.Fatalf("EmergencyBlocking = %v %v", b, l)
	}
	c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
	if b, l := c.EmergencyBlocking(bg, 0); b || l != baldur.Level1 {
		t.Fatalf("L1 with default min L2: %v %v", b, l)
	}
	if b, _ := c.EmergencyBlocking(bg, baldur.Level1); !b {
		t.Fatal("L1 with min L1 must block")
	}
	if b, rem, th := c.ErrorBudgetBlocking(bg, baldur.TierStandard, ""); b || rem != 100 || th != 10 {
		t.Fatalf("ErrorBudgetBlocking = %v %v %v", b, rem, th)
	}
	f.feed(9998, 2) // 2 failures of the 10 a 0.1 % budget allows: 80 % left
	if b, rem, _ := c.ErrorBudgetBlocking(bg, baldur.TierStandard, ""); b || rem < 79.9 || rem > 80.1 {
		t.Fatalf("remaining = %v", rem)
	}
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
			if err := f.c.Activate(bg, tc.ks); err != nil {
				t.Fatal(err)
			}
			tc.call.Now = f.clk.Now()
			err := f.admit(t, tc.call, baldur.Success)
			if tc.hit {
				wantReason(t, err, baldur.ReasonKillSwitch, 30*time.Second)
			} else if err != nil {
				t.Fatalf("unexpected %v", err)
			}
			r := f.c.CheckAll(bg, baldur.GovernanceRequest{Operation: tc.call.Operation, Service: tc.call.Service})
			if r.Allowed == tc.hit {
				t.Fatalf("CheckAll = %+v, want hit %v", r, tc.hit)
			}
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
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("Activate(%+v) = %v, want ConfigError on %s", tc.ks, err, tc.field)
		}
	}
	if _, err := ParseScope("galaxy"); err == nil {
		t.Fatal("ParseScope accepted galaxy")
	}
	if s, err := ParseScope("operation"); err != nil || s != ScopeOperation {
		t.Fatal("ParseScope(operation)")
	}
}

func TestKillSwitchExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if err := f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "maintenance", ExpiresAt: t0.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	f.clk.Advance(10*time.Minute - time.Nanosecond)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	f.clk.Advance(time.Nanosecond)
	if err := f.admit(t, f.call("GET /a", 0), baldur.Success); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if !f.c.SystemEnabled(bg) {
		t.Fatal("expired switch still disables")
	}
	if list, _ := f.c.KillSwitches(bg); len(list) != 0 {
		t.Fatalf("expired switch listed: %+v", list)
	}
}

func TestBreakGlassAuditedAndExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{BreakGlassDuration: baldur.Duration(time.Hour)})
	f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	if err := f.c.BreakGlass(bg, true, "ana", ""); err == nil {
		t.Fatal("break glass without a reason")
	}
	if err := f.c.BreakGlass(bg, true, "ana", "customer outage"); err != nil {
		t.Fatal(err)
	}
	if err := f.admit(t, f.call("GET /a", 0), baldur.Success); err != nil {
		t.Fatalf("break glass: %v", err)
	}
	n := 0
	for _, r := range f.audit.Records() {
		if r.Reason == AuditBreakGlass {
			n++
			if r.Actor != "ana" {
				t.Errorf("actor = %q", r.Actor)
			}
		}
	}
	if n < 2 { // the toggle and the allowed call
		t.Fatalf("break-glass audit records = %d", n)
	}
	f.clk.Advance(time.Hour)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestEmergencyTriggerStepDownExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	e := f.c.Emergency()
	var ce *baldur.ConfigError
	if _, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2}); !errors.As(err, &ce) || ce.Field != "Reason" {
		t.Fatalf("missing reason: %v", err)
	}
	if _, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: 4, Reason: "r"}); !errors.As(err, &ce) || ce.Field != "Level" {
		t.Fatalf("level 4: %v", err)
	}
	st, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "outage", Actor: "ana", Duration: time.Hour})
	if err != nil || st.Level != baldur.Level3 || !st.ExpiresAt.Equal(t0.Add(time.Hour)) || e.Level() != baldur.Level3 {
		t.Fatalf("trigger: %+v %v", st, err)
	}
	if _, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"}); !errors.As(err, &ce) {
		t.Fatalf("lowering by Trigger: %v", err)
	}
	for _, want := range []baldur.EmergencyLevel{baldur.Level2, baldur.Level1, baldur.LevelNormal} {
		st, err := e.StepDown(bg, "ana", "recovering")
		if err != nil || st.Level != want || e.Level() != want || f.c.Level() != want {
			t.Fatalf("step down: %+v %v, want %v", st, err, want)
		}
	}
	if _, err := e.StepDown(bg, "ana", ""); !errors.Is(err, ErrAlreadyNormal) {
		t.Fatalf("step down at NORMAL: %v", err)
	}
	// Expiry, against the fake clock.
	if _, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r", Duration: time.Minute}); err != nil {
		t.Fatal(err)
	}
	c := f.call("GET /a", baldur.TierStandard)
	wantReason(t, f.admit(t, c, baldur.Success), baldur.ReasonEmergency, 20*time.Second)
	f.clk.Set(t0.Add(time.Minute)) // the timer fires asynchronously; the gate does not need it
	if err := f.admit(t, f.call("GET /a", baldur.TierStandard), baldur.Success); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	st, err = e.State(bg)
	if err != nil || st.Level != baldur.LevelNormal || e.Level() != baldur.LevelNormal {
		t.Fatalf("state after expiry: %+v %v", st, err)
	}
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
			if (err == nil) != want {
				t.Fatalf("%v %v: err %v", r.level, tier, err)
			}
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
	if admitted < n*4/10 || admitted > n*6/10 {
		t.Fatalf("L3 critical admitted %d of %d", admitted, n)
	}
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
	if admitted < n/20 || admitted > n*15/100 {
		t.Fatalf("L2 standard admitted %d of %d", admitted, n)
	}
	wantReason(t, lastErr, baldur.ReasonEmergency, 10*time.Second)
	if e.AdmitFraction(baldur.Level2, baldur.TierStandard) != 0.1 || e.AdmitFraction(baldur.Level3, baldur.TierCritical) != 0.5 {
		t.Fatal("AdmitFraction")
	}
}

func TestInvalidationWithoutTTL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{CacheTTL: baldur.Duration(300 * time.Second)})
	c := f.c
	call := f.call("GET /a", baldur.TierStandard)
	// Warm the cache, then change state: each transition shows at once at
	// the same instant (the clock never moves here).
	if err := f.admit(t, call, baldur.Success); err != nil {
		t.Fatal(err)
	}
	c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /a", Reason: "r"})
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	c.Deactivate(bg, ScopeOperation, "GET /a")
	if err := f.admit(t, call, baldur.Success); err != nil {
		t.Fatal(err)
	}
	c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
	wantReason(t, f.admit(t, call, baldur.Success), baldur.ReasonEmergency, 20*time.Second)
	c.Emergency().StepDown(bg, "", "")
	c.Emergency().StepDown(bg, "", "")
	c.Emergency().StepDown(bg, "", "")
	if err := f.admit(t, call, baldur.Success); err != nil {
		t.Fatal(err)
	}
	// A budget threshold crossing seen by a check invalidates at once.
	f.feed(0, 200)
	if b, _, _ := c.ErrorBudgetBlocking(bg, baldur.TierStandard, ""); !b {
		t.Fatal("budget not blocking")
	}
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
	if err := f.admit(t, f.call("GET /a", 0), baldur.Success); err != nil {
		t.Fatal("cached snapshot should still admit")
	}
	f.clk.Advance(10 * time.Second)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestFailOpenAndAlertCooldown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AlertCooldown: baldur.Duration(time.Minute), StaleIfError: -1})
	c := f.c
	c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
	f.store.failKill.Store(true)
	f.store.failEmergency.Store(true)
	f.store.failBreakGlass.Store(true)
	c.InvalidateCache()
	if err := f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success); err != nil {
		t.Fatalf("unreadable state must allow: %v", err)
	}
	if r := c.CheckAll(bg, baldur.GovernanceRequest{}); !r.Allowed {
		t.Fatalf("CheckAll: %+v", r)
	}
	if !c.SystemEnabled(bg) {
		t.Fatal("unreadable kill switch: system must be enabled")
	}
	// Retries within a second; alerts once per kind per cooldown.
	for range 30 {
		f.clk.Advance(time.Second)
		f.admit(t, f.call("GET /a", 0), baldur.Success)
	}
	for _, k := range []AlertKind{AlertKillSwitchUnreadable, AlertEmergencyUnreadable, AlertBreakGlassUnreadable} {
		if n := f.alerts.count(k); n != 1 {
			t.Errorf("%s alerts = %d, want 1", k, n)
		}
	}
	f.clk.Advance(time.Minute)
	c.InvalidateCache()
	if n := f.alerts.count(AlertKillSwitchUnreadable); n != 2 {
		t.Fatalf("after cooldown: %d alerts", n)
	}
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
	if len(recs) != 5 {
		t.Fatalf("records = %d, want the burst of 5", len(recs))
	}
	if recs[0].Reason != baldur.BlockKillSwitch || recs[0].Actor != "ana" || recs[0].Operation != "GET /a" {
		t.Fatalf("record = %+v", recs[0])
	}
	if d := f.c.AuditDropped(baldur.BlockKillSwitch); d != 995 {
		t.Fatalf("dropped = %d", d)
	}
	f.clk.Advance(time.Second)
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	recs = f.audit.Records()
	if len(recs) != 6 || recs[5].Dropped != 995 {
		t.Fatalf("after 1 s: %d records, last %+v", len(recs), recs[len(recs)-1])
	}
	// SkipAudit suppresses the record.
	f.clk.Advance(time.Hour)
	f.c.CheckAll(bg, baldur.GovernanceRequest{SkipAudit: true})
	if len(f.audit.Records()) != 6 {
		t.Fatal("SkipAudit wrote a record")
	}
}

func TestResetCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AuditBurst: 1})
	f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	f.c.resetCache()
	f.admit(t, f.call("GET /a", 0), baldur.Success)
	if n := len(f.audit.Records()); n != 2 {
		t.Fatalf("records = %d, want 2 (limit reset)", n)
	}
}

// TestEmergencyExpiryGoesToNormal: a triggered duration that runs out
// drops the level to NORMAL, not back to the level it was raised from.
func TestEmergencyExpiryGoesToNormal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	e := f.c.Emergency()
	if _, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "held"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "spike", Duration: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(t0.Add(10 * time.Minute))
	st, err := e.State(bg)
	if err != nil || st.Level != baldur.LevelNormal || f.c.Level() != baldur.LevelNormal {
		t.Fatalf("after expiry: %+v %v, want NORMAL", st, err)
	}
	// NORMAL sheds nothing: a non_essential call passes.
	if err := f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}
