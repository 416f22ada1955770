package notify_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
)

// Each step of the pipeline suppresses with its own reason, and the
// earliest step wins: row k sets up the conditions of every step from k
// on, so the row's reason is the first in pipeline order.
func TestSuppressionReasonsInPipelineOrder(t *testing.T) {
	t.Parallel()
	type step int
	const (
		sInvalid step = iota
		sDisabled
		sSilenced
		sInhibited
		sCooldown
		sGrouped
		sRateLimited
		sCoalesced
		sLogOnly
		sRefused
		sDelivered
	)
	rows := []struct {
		from step
		want notify.SuppressReason
	}{
		{sInvalid, notify.SuppressInvalid},
		{sDisabled, notify.SuppressDisabled},
		{sSilenced, notify.SuppressSilenced},
		{sInhibited, notify.SuppressInhibited},
		{sCooldown, notify.SuppressCooldown},
		{sGrouped, notify.SuppressGrouped},
		{sRateLimited, notify.SuppressRateLimited},
		{sCoalesced, notify.SuppressCoalesced},
		{sLogOnly, notify.SuppressLogOnly},
		{sRefused, notify.SuppressRefused},
		{sDelivered, notify.SuppressNone},
	}
	for _, row := range rows {
		t.Run(string(row.want)+"/"+time.Duration(row.from).String(), func(t *testing.T) {
			t.Parallel()
			on := func(s step) bool { return s >= row.from }
			ctx := context.Background()
			hook := newSink(t)
			var kill atomic.Bool
			qs := 10
			if row.from == sRefused {
				qs = 1
			}
			cfg := notify.Config{
				Channels:   []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "HOOK", QueueSize: qs}},
				Rate:       notify.Rate{PerMinute: 1, Unlimited: row.from > sCoalesced},
				NoGrouping: !on(sGrouped),
				Inhibit:    []notify.InhibitRule{{When: "kill_switch", Target: notify.Matcher{Source: "svc"}}},
				Conditions: map[string]func() bool{"kill_switch": kill.Load},
			}
			if on(sLogOnly) && row.from <= sLogOnly {
				// svc matches no route; the setup's other sources do.
				cfg.Routes = []notify.Route{{Match: notify.Matcher{Source: "other"}, Channels: []string{"hook"}}}
			}
			p, _, _ := build(t, cfg, env{"HOOK": hook.srv.URL + "/hook"})
			n := notify.Notification{Priority: notify.PriorityHigh, Source: "svc", Key: "k", Title: "disk full"}
			if row.from == sCoalesced {
				n.Priority = notify.PriorityCritical
			}
			// Conditions that need earlier sends come first, while the
			// steps before them are still open.
			if on(sCooldown) && row.from <= sCooldown {
				_, err := p.Notify(ctx, n) // same key: cooldown, also opens svc's group and spends the token
				require.NoError(t, err)
			} else if on(sGrouped) && row.from <= sGrouped {
				_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityHigh, Source: "svc", Key: "k0", Title: "other"})
				require.NoError(t, err)
			} else if row.from <= sCoalesced {
				// Spend the token on another source (no group for svc);
				// a CRITICAL over the limit opens the coalescing window.
				_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "other", Key: "o", Title: "spent"})
				require.NoError(t, err)
				if row.from == sCoalesced {
					r, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "other", Key: "o2", Title: "first over"})
					require.NoError(t, err)
					require.True(t, r.Delivered, "the first CRITICAL over the limit is sent at once: %+v", r)
				}
			}
			if row.from == sRefused {
				// The worker hangs on one CRITICAL, another fills the queue of 1.
				hook.block()
				_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "x", Key: "c1", Title: "c1"})
				require.NoError(t, err)
				<-hook.entered
				_, err = p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "x", Key: "c2", Title: "c2"})
				require.NoError(t, err)
			}
			if on(sInhibited) {
				kill.Store(true)
			}
			if on(sSilenced) {
				_, err := p.AddSilence(ctx, notify.Silence{Matcher: notify.Matcher{Source: "svc"}, Actor: "ops", Reason: "maintenance", ExpiresAt: t0.Add(time.Hour)})
				require.NoError(t, err)
			}
			if on(sDisabled) {
				p.SetDisabled(true)
			}
			if on(sInvalid) {
				n.Priority = 9
			}
			r, err := p.Notify(ctx, n)
			if row.want == notify.SuppressRefused {
				require.ErrorIs(t, err, notify.ErrRefused)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, row.want, r.Suppressed, "result %+v", r)
			assert.Equal(t, row.want == notify.SuppressNone, r.Delivered, "result %+v", r)
			rec := p.Recent()
			require.NotEmpty(t, rec)
			assert.Equal(t, row.want, rec[0].Suppressed, "the audit ring keeps the reason")
		})
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	p, _, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}}, nil)
	long := make([]byte, notify.MaxTitle+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, n := range []notify.Notification{
		{Priority: 7, Title: "bad priority"},
		{Title: ""},
		{Title: string(long)},
		{Title: "t", Source: string(make([]byte, notify.MaxSource+1))},
	} {
		r, err := p.Notify(context.Background(), n)
		require.NoError(t, err)
		assert.Equal(t, notify.SuppressInvalid, r.Suppressed)
	}
	r, err := p.Notify(context.Background(), notify.Notification{Title: "big body", Body: string(make([]byte, 10*notify.MaxBody))})
	require.NoError(t, err)
	assert.True(t, r.Delivered, "an oversized body is truncated, not refused")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field string
		cfg   notify.Config
	}{
		{"cooldown", notify.Config{Cooldown: -1}},
		{"sending_lease", notify.Config{Cooldown: baldur.Duration(time.Second), SendingLease: baldur.Duration(time.Minute)}},
		{"channels[0].type", notify.Config{Channels: []notify.ChannelConfig{{Name: "a", Type: "sms"}}}},
		{"channels[0].url_env", notify.Config{Channels: []notify.ChannelConfig{{Name: "a", Type: "slack"}}}},
		{"channels[0].routing_key_env", notify.Config{Channels: []notify.ChannelConfig{{Name: "a", Type: "pagerduty"}}}},
		{"channels[1].name", notify.Config{Channels: []notify.ChannelConfig{{Name: "a", Type: "log"}, {Name: "a", Type: "log"}}}},
		{"routes[0].channels[0]", notify.Config{Routes: []notify.Route{{Channels: []string{"nope"}}}}},
		{"escalation.steps[1]", notify.Config{Escalation: notify.Escalation{Steps: []int{5, 5}}}},
		{"inhibit[0]", notify.Config{Inhibit: []notify.InhibitRule{{}}}},
		{"silences[0].expires_at", notify.Config{Silences: []notify.Silence{{Actor: "a", Reason: "r"}}}},
		{"silences[0].reason", notify.Config{Silences: []notify.Silence{{Actor: "a", ExpiresAt: t0}}}},
	}
	for _, tt := range tests {
		_, err := notify.New(tt.cfg)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tt.field)
		assert.Equal(t, tt.field, ce.Field)
	}
	_, err := notify.New(notify.Config{Channels: []notify.ChannelConfig{{Name: "a", Type: "slack", URLEnv: "NOT_SET_ANYWHERE_1234"}},
		LookupEnv: env{}.lookup})
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "channels[0].url_env", ce.Field)
}

func TestSilenceNeedsExpiryReasonAndAtMostSevenDays(t *testing.T) {
	t.Parallel()
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}}, nil)
	ctx := context.Background()
	m := notify.Matcher{Source: "svc"}
	for _, s := range []notify.Silence{
		{Matcher: m, Actor: "a", Reason: "r"},
		{Matcher: m, Actor: "a", ExpiresAt: t0.Add(time.Hour)},
		{Matcher: m, Reason: "r", ExpiresAt: t0.Add(time.Hour)},
		{Matcher: m, Actor: "a", Reason: "r", ExpiresAt: t0.Add(notify.MaxSilence + time.Second)},
		{Matcher: m, Actor: "a", Reason: "r", ExpiresAt: t0.Add(-time.Second)},
	} {
		_, err := p.AddSilence(ctx, s)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, "%+v", s)
	}
	s, err := p.AddSilence(ctx, notify.Silence{Matcher: m, Actor: "a", Reason: "r", ExpiresAt: t0.Add(time.Hour)})
	require.NoError(t, err)
	n := notify.Notification{Source: "svc", Title: "t"}
	r, _ := p.Notify(ctx, n)
	assert.Equal(t, notify.SuppressSilenced, r.Suppressed)
	clk.Advance(time.Hour)
	r, _ = p.Notify(ctx, n)
	assert.True(t, r.Delivered, "the silence expired on the clock")
	assert.Empty(t, p.Silences())
	_, ok := p.DeleteSilence(ctx, s.ID)
	assert.True(t, ok)
}

func TestEscalationAtFifthAndTenthRepeatAndEmergencyFloor(t *testing.T) {
	t.Parallel()
	var level atomic.Int32
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}, Cooldown: baldur.Duration(time.Second),
		SendingLease: baldur.Duration(time.Second), Emergency: levelSource{&level}}, nil)
	ctx := context.Background()
	n := notify.Notification{Priority: notify.PriorityInfo, Source: "app", Key: "k", Title: "t"}
	var got []notify.Priority
	for range 10 {
		r, err := p.Notify(ctx, n)
		require.NoError(t, err)
		got = append(got, r.Priority)
		clk.Advance(time.Second) // past the cooldown
	}
	I, W, H := notify.PriorityInfo, notify.PriorityWarning, notify.PriorityHigh
	assert.Equal(t, []notify.Priority{I, I, I, I, W, W, W, W, W, H}, got)

	g := notify.Notification{Priority: notify.PriorityInfo, Source: "governance", Key: "g", Title: "level"}
	level.Store(2)
	r, _ := p.Notify(ctx, g)
	assert.Equal(t, notify.PriorityHigh, r.Priority, "level 2 floor")
	clk.Advance(time.Second)
	level.Store(3)
	r, _ = p.Notify(ctx, g)
	assert.Equal(t, notify.PriorityCritical, r.Priority, "level 3 floor; a higher priority also breaks a cooldown")
	r, _ = p.Notify(ctx, notify.Notification{Source: "app", Key: "other", Title: "t"})
	assert.Equal(t, notify.PriorityInfo, r.Priority, "the floor applies to its sources only")
}

type levelSource struct{ l *atomic.Int32 }

func (s levelSource) Level() baldur.EmergencyLevel { return baldur.EmergencyLevel(s.l.Load()) }

// The cooldown is keyed by Key, or source and title: two alerts of one
// source never mute each other.
func TestCooldownKeyNeverBroaderThanSourceAndTitle(t *testing.T) {
	t.Parallel()
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}}, nil)
	ctx := context.Background()
	a := notify.Notification{Source: "governance", Title: "kill_switch_unreadable"}
	b := notify.Notification{Source: "governance", Title: "emergency_unreadable"}
	for _, n := range []notify.Notification{a, b} {
		r, _ := p.Notify(ctx, n)
		assert.True(t, r.Delivered, n.Title)
	}
	r, _ := p.Notify(ctx, a)
	assert.Equal(t, notify.SuppressCooldown, r.Suppressed)
	clk.Advance(notify.DefaultCooldown)
	r, _ = p.Notify(ctx, a)
	assert.True(t, r.Delivered, "after the cooldown")
}

func TestInhibitionBySourceExpiresAndResolves(t *testing.T) {
	t.Parallel()
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Inhibit: []notify.InhibitRule{{Source: &notify.Matcher{Key: "emergency_level", MinPriority: prio(notify.PriorityHigh)},
			Target: notify.Matcher{MaxPriority: prio(notify.PriorityWarning)}, EqualSource: true, For: baldur.Duration(time.Minute)}}}, nil)
	ctx := context.Background()
	em := notify.Notification{Priority: notify.PriorityHigh, Source: "governance", Key: "emergency_level", Title: "level 2"}
	w := notify.Notification{Priority: notify.PriorityWarning, Source: "governance", Key: "w", Title: "budget"}
	r, _ := p.Notify(ctx, em)
	require.True(t, r.Delivered)
	r, _ = p.Notify(ctx, w)
	assert.Equal(t, notify.SuppressInhibited, r.Suppressed)
	r, _ = p.Notify(ctx, notify.Notification{Priority: notify.PriorityWarning, Source: "canary", Title: "other source"})
	assert.True(t, r.Delivered, "equal_source: another source is not inhibited")
	clk.Advance(time.Minute)
	r, _ = p.Notify(ctx, w)
	assert.True(t, r.Delivered, "the inhibition expired")
}

func TestGroupingSendsOneSummaryWithCount(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	p, clk, _ := build(t, notify.Config{Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H"}}}, env{"H": hook.srv.URL})
	ctx := context.Background()
	for i, title := range []string{"a", "b", "c", "b"} {
		r, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityWarning, Source: "dlq", Key: "k" + title + string(rune('0'+i)), Title: title})
		require.NoError(t, err)
		if i == 0 {
			assert.True(t, r.Delivered)
		} else {
			assert.Equal(t, notify.SuppressGrouped, r.Suppressed)
		}
	}
	assert.Equal(t, "a", hook.next(t)["title"])
	clk.Advance(notify.DefaultGroupWait)
	b := hook.next(t)
	assert.EqualValues(t, 3, b["count"])
	assert.ElementsMatch(t, []any{"b", "c"}, b["titles"])
}

func TestCriticalSurvivesSaturatedGlobalLimit(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{PerMinute: 2, PerHour: 2},
		Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H"}}}, env{"H": hook.srv.URL})
	ctx := context.Background()
	for i := range 5 {
		_, _ = p.Notify(ctx, notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "h" + string(rune('0'+i)), Title: "high"})
	}
	r, _ := p.Notify(ctx, notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "h9", Title: "high"})
	require.Equal(t, notify.SuppressRateLimited, r.Suppressed, "the global limit is spent")
	var results []notify.Result
	for i := range 20 {
		r, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "s", Key: "c" + string(rune('a'+i)), Title: "crit " + string(rune('a'+i))})
		require.NoError(t, err)
		results = append(results, r)
	}
	assert.True(t, results[0].Delivered, "the first CRITICAL over the limit goes at once")
	for _, r := range results[1:] {
		assert.Equal(t, notify.SuppressCoalesced, r.Suppressed)
		assert.NotEqual(t, notify.SuppressRateLimited, r.Suppressed, "never dropped")
	}
	got := map[string]bool{}
	for range 3 {
		got[hook.next(t)["title"].(string)] = true
	}
	clk.Advance(notify.DefaultGroupWait)
	sum := hook.next(t)
	assert.EqualValues(t, 19, sum["count"], "every coalesced CRITICAL is in the message")
	assert.Equal(t, "CRITICAL", sum["priority"])
	assert.True(t, got["crit a"])
}

func TestResolveSendsOnceAndReopens(t *testing.T) {
	t.Parallel()
	pd := newSink(t)
	p, _, _ := build(t, notify.Config{Service: "checkout", NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "log", Type: notify.TypeLog}, {Name: "pd", Type: notify.TypePagerDuty, URLEnv: "PD_URL", RoutingKeyEnv: "PD_KEY"}}},
		env{"PD_URL": pd.srv.URL + "/v2/enqueue", "PD_KEY": "rk-secret"})
	ctx := context.Background()
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "watchdog", Key: "watchdog:dlq/e1", Title: "stuck replay"}
	r, err := p.Notify(ctx, n)
	require.NoError(t, err)
	require.True(t, r.Delivered)
	trig := pd.next(t)
	assert.Equal(t, "trigger", trig["event_action"])
	assert.Len(t, trig["dedup_key"], 32)
	var res notify.Resolver = p
	r, err = res.Resolve(ctx, n)
	require.NoError(t, err)
	assert.True(t, r.Delivered)
	rs := pd.next(t)
	assert.Equal(t, "resolve", rs["event_action"])
	assert.Equal(t, trig["dedup_key"], rs["dedup_key"], "same dedup key")
	r, _ = res.Resolve(ctx, n)
	assert.Equal(t, notify.SuppressNotOpen, r.Suppressed, "resolved once")
	r, _ = p.Notify(ctx, n)
	assert.True(t, r.Delivered, "a resolve ends the cooldown: the next trigger pages")
}

// A resolve that every channel failed can be retried: only a resolve that
// went out closes the key.
func TestFailedResolveCanBeRetried(t *testing.T) {
	t.Parallel()
	pd := newSink(t)
	p, _, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "pd", Type: notify.TypePagerDuty, URLEnv: "U", RoutingKeyEnv: "K"}}},
		env{"U": pd.srv.URL, "K": "key"})
	ctx := context.Background()
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "watchdog", Key: "w", Title: "t"}
	_, _ = p.Notify(ctx, n)
	pd.next(t)
	pd.set(400, nil) // permanent: not retried by the worker
	r, _ := p.Resolve(ctx, n)
	require.True(t, r.Delivered, "queued")
	require.Eventually(t, func() bool { return p.Channels()[0].Failed == 1 && !p.Channels()[0].Sending }, 10*time.Second, time.Millisecond)
	pd.set(202, nil)
	require.Eventually(t, func() bool {
		r, _ = p.Resolve(ctx, n)
		return r.Delivered
	}, 10*time.Second, time.Millisecond, "the failed resolve reopened")
	assert.Equal(t, "resolve", pd.next(t)["event_action"])
}
