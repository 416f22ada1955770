package chaos_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
)

// Every unsafe condition refuses, with its own reason; force waives the
// cooldown and the windows and nothing else.
func TestGuardRefusesEachUnsafeCondition(t *testing.T) {
	t.Parallel()
	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // outside 02:00-06:00
	tests := []struct {
		name     string
		setup    func(*env)
		cfg      func(*chaos.Config)
		exp      func(*chaos.Experiment)
		reason   string
		forceOK  bool // force lets it through
		approval bool
	}{
		{name: "disabled", cfg: func(c *chaos.Config) { c.Enabled = false }, reason: chaos.ReasonDisabled},
		{name: "kill switch", setup: func(e *env) { e.gov.set(true, 0) }, reason: chaos.ReasonKillSwitch},
		{name: "emergency level 1", setup: func(e *env) { e.gov.set(false, baldur.Level1) }, reason: chaos.ReasonEmergency},
		{name: "emergency level 3", setup: func(e *env) { e.gov.set(false, baldur.Level3) }, reason: chaos.ReasonEmergency},
		{name: "budget below threshold", setup: func(e *env) { e.budget.set(19.9, 1) }, reason: chaos.ReasonErrorBudget},
		{name: "no governance", cfg: func(c *chaos.Config) { c.Governance = nil }, reason: chaos.ReasonNoGovernance},
		{name: "no budget", cfg: func(c *chaos.Config) { c.Budget = nil }, reason: chaos.ReasonNoBudget},
		{name: "no blast radius", cfg: func(c *chaos.Config) { c.Blast = nil }, reason: chaos.ReasonNoBlastRadius},
		{name: "outside the experiment's window", exp: func(x *chaos.Experiment) { x.Windows = []string{"22:00-23:00"} },
			reason: chaos.ReasonOutsideWindow, forceOK: true},
		{name: "outside the configured window", cfg: func(c *chaos.Config) { c.Windows = []string{"22:00-23:00"} },
			reason: chaos.ReasonOutsideWindow, forceOK: true},
		{name: "outside the blast-radius window", setup: func(e *env) { e.clk.Set(noon) },
			cfg:    func(c *chaos.Config) { c.Blast = mustBlast(clock.NewFake(noon), nil) },
			reason: chaos.ReasonBlastRadius + blastradius.ViolationOutsideWindow, forceOK: true},
		{name: "cooldown", setup: func(e *env) {
			require.NoError(t, e.store.MarkRun(context.Background(), "shop", e.clk.Now().Add(-time.Minute), time.Hour))
		}, reason: chaos.ReasonCooldown, forceOK: true},
		{name: "beyond the scope's traffic", exp: func(x *chaos.Experiment) { x.Scope = blastradius.ScopeRegion; x.Rate = 0.1 },
			cfg: func(c *chaos.Config) {
				c.Blast = mustBlast(nil, map[blastradius.Scope]blastradius.ScopeLimits{blastradius.ScopeRegion: {MaxTrafficPercent: 5}})
			},
			reason: chaos.ReasonBlastRadius + blastradius.ViolationMaxTraffic},
		{name: "excluded service", cfg: func(c *chaos.Config) {
			m, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}, ExcludedServices: []string{"shop"}})
			require.NoError(t, err)
			c.Blast = m
		}, reason: chaos.ReasonBlastRadius + blastradius.ViolationExcludedService},
		{name: "service scope needs approval", exp: func(x *chaos.Experiment) { x.Scope = blastradius.ScopeService }, approval: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(e)
			}
			x := errorExp("g", 0.01)
			x.Target.Service = "shop"
			if tt.exp != nil {
				tt.exp(&x)
			}
			ctx := context.Background()
			for _, force := range []bool{false, true} {
				v := e.sc.Guard().Evaluate(ctx, x, force)
				if tt.approval {
					assert.True(t, v.RequiresApproval, "force %v: %+v", force, v)
					assert.False(t, v.Allowed)
					assert.Empty(t, v.Reasons)
					continue
				}
				if force && tt.forceOK {
					assert.True(t, v.Allowed, "force waives %s: %+v", tt.reason, v)
					assert.Contains(t, v.Waived, tt.reason)
					continue
				}
				assert.False(t, v.Allowed, "force %v", force)
				assert.Contains(t, v.Reasons, tt.reason, "force %v", force)
				if tt.exp == nil { // the SafetyGuard form knows only the service
					d := e.sc.Guard().Check(ctx, "g", "shop", force)
					assert.False(t, d.Allowed)
					assert.Contains(t, d.Reasons, tt.reason)
				}
			}
		})
	}
}

func mustBlast(clk baldur.Clock, scopes map[blastradius.Scope]blastradius.ScopeLimits) *blastradius.Manager {
	cfg := blastradius.Config{Clock: clk, Scopes: scopes}
	if clk == nil {
		cfg.Windows = []blastradius.Window{blastradius.AnyTime}
	}
	m, err := blastradius.New(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

func TestGuardHealthyAllowsAndDoneContextDenies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	x := errorExp("ok", 0.01)
	v := e.sc.Guard().Evaluate(context.Background(), x, false)
	require.True(t, v.Allowed, "%+v", v)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v = e.sc.Guard().Evaluate(ctx, x, true)
	require.False(t, v.Allowed)
	require.Equal(t, []string{chaos.ReasonContextDone}, v.Reasons)
	_, err := e.sc.Schedule(ctx, x)
	require.ErrorIs(t, err, chaos.ErrBlocked)
}

// A running experiment is aborted when the guard's continuing checks fail:
// kill switch, emergency, budget below the abort threshold.
func TestRunningExperimentAbortsOnGuard(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		break_ func(*env)
		reason string
	}{
		{"kill switch", func(e *env) { e.gov.set(true, 0) }, chaos.ReasonKillSwitch},
		{"emergency", func(e *env) { e.gov.set(false, baldur.Level1) }, chaos.ReasonEmergency},
		{"budget", func(e *env) { e.budget.set(9, 1) }, chaos.ReasonErrorBudget},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.toDuring(t, errorExp("run", 0.05))
			require.NotEmpty(t, e.inj.Active())
			e.budget.set(15, 1) // below the start threshold, above the abort one: continues
			e.advance(time.Second)
			r, _ := e.sc.Get("run")
			require.Equal(t, chaos.StateDuring, r.State)
			tt.break_(e)
			e.advance(time.Second)
			r, _ = e.sc.Get("run")
			assert.Equal(t, chaos.StateAfter, r.State, "injection aborted, recovery observed")
			assert.Equal(t, tt.reason, r.StopReason)
			assert.Empty(t, injectingIDs(e), "injection stopped")
			assert.Contains(t, e.notes.titles(), "chaos experiment started: run")
			assert.Contains(t, e.notes.titles(), "chaos experiment aborted: run", "notified at once")
			e.advance(10 * time.Second) // the after phase
			r, _ = e.sc.Get("run")
			assert.Equal(t, chaos.StateAborted, r.State)
			assert.Equal(t, tt.reason, r.StopReason)
			assert.Empty(t, e.inj.Active())
			assert.Len(t, e.notes.titles(), 2, "the abort is notified once")
		})
	}
}

// Stop conditions: one breach continues, two consecutive stop.
func TestStopConditionsAbortAfterConsecutiveBreaches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("stop", 0.5)
	x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(time.Nanosecond)}
	x.DryRun = true // observe only: the test plays the outcomes
	e.toDuring(t, x)
	_, fault := e.inj.Gates("api")
	exp, ctl := firstKey(t, "stop", 0.5, "experiment"), firstKey(t, "stop", 0.5, "control")
	play := func(expFail bool) {
		for range 20 {
			for _, k := range []string{exp, ctl} {
				p, err := fault.Admit(context.Background(), call(e.clk.Now(), k))
				require.NoError(t, err)
				o := baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond}
				if k == exp && expFail {
					o.Result = baldur.Failure
				}
				p.Release(o)
			}
		}
	}
	state := func() chaos.Run { r, _ := e.sc.Get("stop"); return r }
	play(true)
	e.advance(10 * time.Second) // first check: one breach
	require.Equal(t, chaos.StateDuring, state().State)
	play(false)
	e.advance(10 * time.Second) // healthy check resets
	require.Equal(t, chaos.StateDuring, state().State)
	play(true)
	e.advance(10 * time.Second)
	require.Equal(t, chaos.StateDuring, state().State)
	play(true)
	e.advance(10 * time.Second)
	r := state()
	require.Equal(t, chaos.StateAfter, r.State, "aborted: recovery observed")
	assert.Equal(t, chaos.ReasonErrorRateDelta, r.StopReason)
	e.advance(10 * time.Second)
	r = state()
	require.Equal(t, chaos.StateAborted, r.State)
	assert.Equal(t, chaos.ReasonErrorRateDelta, r.StopReason)
	assert.EqualValues(t, 1, e.sc.Stats().Stops[chaos.ReasonErrorRateDelta], "counted once")

	// Burn rate: needs no calls.
	e2 := newEnv(t, nil)
	e2.toDuring(t, errorExp("burn", 0.05))
	e2.budget.set(80, 20)
	e2.advance(20 * time.Second)
	r, _ = e2.sc.Get("burn")
	assert.Equal(t, chaos.ReasonBurnRate, r.StopReason)
}

func TestTTLAndDurationEndTheExperiment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	x := errorExp("life", 0.05)
	x.Duration = baldur.Duration(30 * time.Second)
	e.toDuring(t, x)
	e.advance(30 * time.Second)
	r, _ := e.sc.Get("life")
	require.Equal(t, chaos.StateAfter, r.State)
	assert.Empty(t, injectingIDs(e), "after: observed, not injected")
	e.advance(10 * time.Second)
	r, _ = e.sc.Get("life")
	require.Equal(t, chaos.StateDone, r.State)
	assert.Empty(t, r.StopReason)
	assert.Empty(t, e.blast.Active(context.Background()), "the blast-radius slot is freed")
	// Never retried: the same ID cannot be scheduled again.
	_, err := e.sc.Schedule(context.Background(), x)
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
}

// injectingIDs returns the experiments the gates would inject for now.
func injectingIDs(e *env) []string {
	_, fault := e.inj.Gates("api")
	var out []string
	for i := range 200 {
		if _, err := fault.Admit(context.Background(), call(e.clk.Now(), keyOf(i))); err != nil {
			out = append(out, keyOf(i))
		}
	}
	return out
}

func TestBadInputIsATypedConfigError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	valid := errorExp("bad", 0.01)
	tests := []struct {
		name  string
		mod   func(*chaos.Experiment)
		field string
	}{
		{"rate above max", func(x *chaos.Experiment) { x.Rate = 0.2 }, "rate"},
		{"rate negative", func(x *chaos.Experiment) { x.Rate = -0.1 }, "rate"},
		{"rate NaN", func(x *chaos.Experiment) { x.Rate = math.NaN() }, "rate"},
		{"duration beyond ttl", func(x *chaos.Experiment) {
			x.Duration = baldur.Duration(5 * time.Minute)
			x.TTL = baldur.Duration(time.Minute)
		}, "duration"},
		{"duration beyond configured ttl", func(x *chaos.Experiment) { x.Duration = baldur.Duration(time.Hour) }, "duration"},
		{"ttl beyond configured ttl", func(x *chaos.Experiment) { x.TTL = baldur.Duration(time.Hour) }, "ttl"},
		{"empty target", func(x *chaos.Experiment) { x.Target = chaos.Target{} }, "target"},
		{"unknown fault", func(x *chaos.Experiment) { x.Fault = chaos.Fault{Kind: "meteor"} }, "fault.kind"},
		{"no fault", func(x *chaos.Experiment) { x.Fault = chaos.Fault{} }, "fault.kind"},
		{"latency without delay", func(x *chaos.Experiment) { x.Fault = chaos.Fault{Kind: chaos.FaultLatency} }, "fault.delay"},
		{"unknown distribution", func(x *chaos.Experiment) {
			x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: 1, Distribution: "zipf"}
		}, "fault.distribution"},
		{"status not an error", func(x *chaos.Experiment) { x.Fault.HTTPStatus = 200 }, "fault.http_status"},
		{"grpc code OK", func(x *chaos.Experiment) { x.Fault.GRPCCode = 17 }, "fault.grpc_code"},
		{"bad id", func(x *chaos.Experiment) { x.ID = "a b" }, "id"},
		{"critical tier", func(x *chaos.Experiment) { x.Target.Tiers = []baldur.Tier{baldur.TierCritical} }, "target.tiers[0]"},
		{"start in the past", func(x *chaos.Experiment) { x.StartAt = t0.Add(-time.Hour) }, "start_at"},
		{"bad window", func(x *chaos.Experiment) { x.Windows = []string{"9-5"} }, "windows[0]"},
		{"unknown scope", func(x *chaos.Experiment) { x.Scope = "galaxy" }, "scope"},
	}
	for _, tt := range tests {
		x := valid
		tt.mod(&x)
		_, err := e.sc.Schedule(context.Background(), x)
		var ce *baldur.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tt.name, err)
		assert.Equal(t, tt.field, ce.Field, tt.name)
	}
	_, err := e.sc.Schedule(context.Background(), valid)
	require.NoError(t, err)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg   chaos.Config
		field string
	}{
		{chaos.Config{MaxRate: 0.6}, "max_rate"},
		{chaos.Config{MaxRate: 0.05, DefaultRate: 0.1}, "default_rate"},
		{chaos.Config{TTL: baldur.Duration(time.Minute), DefaultDuration: baldur.Duration(time.Hour)}, "default_duration"},
		{chaos.Config{Lease: baldur.Duration(time.Second), Poll: baldur.Duration(time.Second)}, "poll"},
		{chaos.Config{SteadyState: -1}, "steady_state"},
		{chaos.Config{MinBudgetPct: 101}, "min_budget_pct"},
		{chaos.Config{Windows: []string{"x"}}, "windows[0]"},
	} {
		err := tt.cfg.Validate()
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, "%+v", tt.cfg)
		assert.Equal(t, tt.field, ce.Field)
	}
	require.NoError(t, (&chaos.Config{}).Validate())
	sc, err := chaos.New(chaos.Config{})
	require.NoError(t, err)
	assert.False(t, sc.Enabled())
	assert.True(t, sc.DryRun(), "dry run by default")
	_, err = sc.Schedule(context.Background(), errorExp("x", 0.001))
	require.ErrorIs(t, err, chaos.ErrDisabled)
}

// An experiment scheduled for a later window is accepted now and judged
// by the windows when it starts.
func TestScheduleForALaterWindow(t *testing.T) {
	t.Parallel()
	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *chaos.Config) {
		c.Blast = mustBlast(nil, nil)
		c.Windows = []string{"13:00-14:00"}
	})
	e.clk.Set(noon)
	x := errorExp("later", 0.05)
	_, err := e.sc.Schedule(context.Background(), x)
	require.ErrorIs(t, err, chaos.ErrBlocked, "now is outside the window")
	x.StartAt = noon.Add(90 * time.Minute)
	r, err := e.sc.Schedule(context.Background(), x)
	require.NoError(t, err)
	require.Equal(t, chaos.StateScheduled, r.State)
	e.advance(10 * time.Second)
	r, _ = e.sc.Get("later")
	require.Equal(t, chaos.StateScheduled, r.State, "waits for its start")
	e.clk.Set(x.StartAt)
	e.sc.Tick(context.Background())
	r, _ = e.sc.Get("later")
	require.Equal(t, chaos.StateBefore, r.State)
}

// A service-scope experiment waits for the blast-radius approval; once
// approved it starts, and it holds its blast-radius slot until it ends.
func TestApprovalFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	x := errorExp("appr", 0.05)
	x.Scope = blastradius.ScopeService
	x.Target.Service = "shop"
	ctx := context.Background()
	r, err := e.sc.Schedule(ctx, x)
	require.NoError(t, err)
	require.Equal(t, chaos.StateAwaitingApproval, r.State)
	_, err = e.sc.Start(ctx, "appr")
	require.ErrorIs(t, err, chaos.ErrNotApproved)
	e.sc.Tick(ctx)
	r, _ = e.sc.Get("appr")
	require.Equal(t, chaos.StateAwaitingApproval, r.State, "a pass does not start it")
	r, err = e.sc.Approve(ctx, "appr")
	require.NoError(t, err)
	require.Equal(t, chaos.StateScheduled, r.State)
	r, err = e.sc.Start(ctx, "appr")
	require.NoError(t, err)
	require.Equal(t, chaos.StateBefore, r.State)
	require.Len(t, e.blast.Active(ctx), 1)
	_, err = e.sc.Stop(ctx, "appr", "done")
	require.NoError(t, err)
	require.Empty(t, e.blast.Active(ctx), "the slot is freed")
	_, err = e.sc.Approve(ctx, "nope")
	require.ErrorIs(t, err, chaos.ErrNotFound)
}
