package baldur_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// logGate appends its events to a shared log.
type logGate struct {
	name   string
	kind   baldur.Stage
	reject baldur.Reason
	err    error
	log    *eventLog
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
}

func (g *logGate) Stage() baldur.Stage { return g.kind }

func (g *logGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	g.log.add("admit " + g.name)
	if g.err != nil {
		return baldur.Permit{}, g.err
	}
	if g.reject != 0 {
		return baldur.Permit{}, baldur.Reject(g.reject, time.Second)
	}
	return baldur.NewPermit(g, 0), nil
}

func (g *logGate) Release(_ uint64, o baldur.Outcome) {
	g.log.add("release " + g.name + " " + o.Result.String())
}

func TestPolicyCanonicalOrderAndReverseRelease(t *testing.T) {
	t.Parallel()
	log := &eventLog{}
	gates := []baldur.Gate{
		&logGate{name: "bulkhead", kind: baldur.StageBulkhead, log: log},
		&logGate{name: "breaker", kind: baldur.StageBlast, log: log},
		&logGate{name: "share", kind: baldur.StageBlast, log: log},
		&logGate{name: "throttle", kind: baldur.StageThrottle, log: log},
		&logGate{name: "governance", kind: baldur.StageGovernance, log: log},
	}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: gates})
	require.NoError(t, err)
	tk, err := p.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	tk.Release(baldur.Outcome{Result: baldur.Failure})
	tk.Release(baldur.Outcome{Result: baldur.Success}) // no-op
	assert.Equal(t, []string{
		"admit governance", "admit throttle", "admit breaker", "admit share", "admit bulkhead",
		"release bulkhead failure", "release share failure", "release breaker failure", "release throttle failure", "release governance failure",
	}, log.events)
}

func TestPolicyRejectionStopsAndReleasesTaken(t *testing.T) {
	t.Parallel()
	log := &eventLog{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{
		&logGate{name: "governance", kind: baldur.StageGovernance, log: log},
		&logGate{name: "throttle", kind: baldur.StageThrottle, log: log},
		&logGate{name: "breaker", kind: baldur.StageBlast, reject: baldur.ReasonBreakerOpen, log: log},
		&logGate{name: "bulkhead", kind: baldur.StageBulkhead, log: log},
	}})
	require.NoError(t, err)
	_, err = p.Admit(context.Background(), baldur.Call{})
	require.ErrorIs(t, err, baldur.ErrBreakerOpen)
	require.ErrorIs(t, err, baldur.ErrRejected)
	assert.Equal(t, []string{
		"admit governance", "admit throttle", "admit breaker",
		"release throttle ignored", "release governance ignored",
	}, log.events)
	assert.EqualValues(t, 1, p.Rejected(baldur.ReasonBreakerOpen))
}

func TestPolicyContextErrorPassesThroughUnwrapped(t *testing.T) {
	t.Parallel()
	log := &eventLog{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{
		&logGate{name: "bulkhead", kind: baldur.StageBulkhead, err: context.Canceled, log: log},
	}, Shadow: []baldur.Stage{baldur.StageBulkhead}})
	require.NoError(t, err)
	_, err = p.Admit(context.Background(), baldur.Call{})
	assert.Same(t, context.Canceled, err, "ctx errors are neither wrapped nor shadowed")
}

func TestPolicyShadow(t *testing.T) {
	t.Parallel()
	log := &eventLog{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Shadow: []baldur.Stage{baldur.StageThrottle}, Gates: []baldur.Gate{
		&logGate{name: "throttle", kind: baldur.StageThrottle, reject: baldur.ReasonThrottled, log: log},
		&logGate{name: "bulkhead", kind: baldur.StageBulkhead, log: log},
	}})
	require.NoError(t, err)
	tk, err := p.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	tk.Release(baldur.Outcome{})
	assert.EqualValues(t, 1, p.Shadowed(baldur.ReasonThrottled))
	assert.Zero(t, p.Rejected(baldur.ReasonThrottled))
	assert.Equal(t, []string{"admit throttle", "admit bulkhead", "release bulkhead success"}, log.events)
}

func TestPolicyDeadline(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(1000, 0))
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", MinTimeLeft: 50 * time.Millisecond, Clock: clk,
		Gates: []baldur.Gate{&logGate{name: "g", kind: baldur.StageBulkhead, log: &eventLog{}}}})
	require.NoError(t, err)
	tests := []struct {
		left   time.Duration
		reject bool
	}{{10 * time.Millisecond, true}, {49 * time.Millisecond, true}, {50 * time.Millisecond, false}, {time.Second, false}}
	for _, tc := range tests {
		tk, err := p.Admit(context.Background(), baldur.Call{Deadline: clk.Now().Add(tc.left)})
		if tc.reject {
			r, ok := baldur.AsRejection(err)
			require.True(t, ok, "%v left: %v", tc.left, err)
			assert.Equal(t, baldur.ReasonDeadline, r.Reason())
			assert.EqualValues(t, 4, r.GRPCCode())
		} else {
			require.NoError(t, err)
			tk.Release(baldur.Outcome{})
		}
	}
}

func TestNewPolicyConfigErrors(t *testing.T) {
	t.Parallel()
	g := &logGate{kind: baldur.StageBulkhead, log: &eventLog{}}
	tests := []struct {
		name  string
		cfg   baldur.PolicyConfig
		field string
	}{
		{"no name", baldur.PolicyConfig{}, "Name"},
		{"negative min time", baldur.PolicyConfig{Name: "p", MinTimeLeft: -1}, "MinTimeLeft"},
		{"policy stage as shadow", baldur.PolicyConfig{Name: "p", Shadow: []baldur.Stage{0}}, "Shadow"},
		{"gate at the policy stage", baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{&logGate{kind: 0, log: &eventLog{}}}}, "Gates"},
		{"too many", baldur.PolicyConfig{Name: "p", Gates: slices.Repeat([]baldur.Gate{g}, baldur.MaxGates+1)}, "Gates"},
	}
	for _, tc := range tests {
		_, err := baldur.NewPolicy(tc.cfg)
		var ce *baldur.ConfigError
		require.True(t, errors.As(err, &ce), tc.name)
		assert.Equal(t, tc.field, ce.Field, tc.name)
	}
}

func TestNilPolicyAdmits(t *testing.T) {
	t.Parallel()
	var p *baldur.Policy
	tk, err := p.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	assert.False(t, tk.Held())
	tk.Release(baldur.Outcome{})
}

type leanGate struct{ kind baldur.Stage }

func (g *leanGate) Stage() baldur.Stage { return g.kind }
func (g *leanGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 0), nil
}
func (*leanGate) Release(uint64, baldur.Outcome) {}

func TestPolicyAdmitAllocatesNothing(t *testing.T) {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{
		&leanGate{baldur.StageGovernance}, &leanGate{baldur.StageThrottle}, &leanGate{baldur.StageBlast}, &leanGate{baldur.StageBulkhead},
	}})
	require.NoError(t, err)
	ctx := context.Background()
	c := baldur.Call{Operation: "op", Key: "k", Now: time.Now()}
	// The measured closure only records; the checks run after it.
	var admitErr error
	n := testing.AllocsPerRun(1000, func() {
		tk, err := p.Admit(ctx, c)
		if err != nil {
			if admitErr == nil {
				admitErr = err
			}
			return
		}
		tk.Release(baldur.Outcome{})
	})
	require.NoError(t, admitErr)
	assert.Zero(t, n)
	n = testing.AllocsPerRun(1000, func() { _ = baldur.Reject(baldur.ReasonThrottled, 1500*time.Millisecond) })
	assert.Zero(t, n, "interned rejections")
}

func TestRejectInterning(t *testing.T) {
	t.Parallel()
	a := baldur.Reject(baldur.ReasonThrottled, 1100*time.Millisecond)
	b := baldur.Reject(baldur.ReasonThrottled, 2*time.Second)
	assert.Same(t, a, b, "1.1 s rounds up to 2 s")
	assert.EqualValues(t, 2, a.RetryAfterSeconds())
	assert.Equal(t, 429, a.HTTPStatus())
	assert.EqualValues(t, 8, a.GRPCCode())
	assert.Equal(t, "throttle", a.Gate())
	assert.EqualValues(t, 0, baldur.Reject(baldur.ReasonBulkheadFull, -time.Second).RetryAfterSeconds())
	assert.EqualValues(t, 1, baldur.RejectAtLeast(baldur.ReasonBreakerOpen, time.Millisecond, time.Second).RetryAfterSeconds())
	long := baldur.Reject(baldur.ReasonKillSwitch, 2*time.Hour)
	assert.EqualValues(t, 7200, long.RetryAfterSeconds())
	assert.Contains(t, long.Error(), "kill_switch")
	for _, r := range baldur.Reasons() {
		got, ok := baldur.ParseReason(r.String())
		assert.True(t, ok)
		assert.Equal(t, r, got)
	}
	_, ok := baldur.ParseReason("nope")
	assert.False(t, ok)
}

func TestParseTier(t *testing.T) {
	t.Parallel()
	for _, tier := range baldur.Tiers() {
		got, err := baldur.ParseTier(tier.String())
		require.NoError(t, err)
		assert.Equal(t, tier, got)
	}
	_, err := baldur.ParseTier("gold")
	assert.Error(t, err)
	assert.Equal(t, baldur.TierStandard, baldur.Tier(0), "zero tier is standard")
}

func FuzzParseTier(f *testing.F) {
	f.Add("critical")
	f.Add("non-essential")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		tier, err := baldur.ParseTier(s)
		if err != nil {
			require.LessOrEqual(t, len(err.Error()), 200, "error message not bounded: %d bytes", len(err.Error()))
		} else {
			require.True(t, tier.Valid(), "ParseTier(%q) = invalid %v", s, tier)
		}
	})
}

func BenchmarkPolicyAdmitRelease(b *testing.B) {
	p, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{
		&leanGate{baldur.StageGovernance}, &leanGate{baldur.StageThrottle}, &leanGate{baldur.StageBlast}, &leanGate{baldur.StageBulkhead},
	}})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := baldur.Call{Operation: "op", Key: "k", Now: time.Now()}
		for pb.Next() {
			tk, _ := p.Admit(ctx, c)
			tk.Release(baldur.Outcome{})
		}
	})
}

func TestSentinelsMatchErrRejected(t *testing.T) {
	t.Parallel()
	for _, r := range baldur.Reasons() {
		assert.ErrorIs(t, r.Sentinel(), baldur.ErrRejected, r.String())
		assert.NotErrorIs(t, baldur.ErrRejected, r.Sentinel(), r.String())
		for _, other := range baldur.Reasons() {
			if other != r {
				assert.NotErrorIs(t, baldur.Reject(r, 0), other.Sentinel(), "%s matches %s", r, other)
			}
		}
	}
}

// quotaGate reports a quota and encodes the remaining count in its token.
type quotaGate struct{ remaining uint64 }

func (g *quotaGate) Stage() baldur.Stage { return baldur.StageThrottle }
func (g *quotaGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, g.remaining), nil
}
func (*quotaGate) Release(uint64, baldur.Outcome) {}
func (*quotaGate) Quota(baldur.Tier) (baldur.Quota, bool) {
	return baldur.Quota{Name: "q", Limit: 10, Window: time.Second}, true
}
func (g *quotaGate) QuotaStatus(tier baldur.Tier, token uint64) baldur.QuotaStatus {
	q, _ := g.Quota(tier)
	return baldur.QuotaStatus{Quota: q, Remaining: int64(token)}
}

func TestTicketQuotaStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plain, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "plain", Gates: []baldur.Gate{&leanGate{baldur.StageBulkhead}}})
	require.NoError(t, err)
	tk, err := plain.Admit(ctx, baldur.Call{})
	require.NoError(t, err)
	_, ok := tk.QuotaStatus(baldur.TierStandard)
	assert.False(t, ok, "no quota gate, no status")
	_, ok = tk.QuotaToken()
	assert.False(t, ok, "no quota gate, no token")
	_, ok = plain.Quota(baldur.TierStandard)
	assert.False(t, ok)

	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "q", Gates: []baldur.Gate{&leanGate{baldur.StageBulkhead}, &quotaGate{remaining: 7}, &leanGate{baldur.StageGovernance}}})
	require.NoError(t, err)
	tk, err = p.Admit(ctx, baldur.Call{})
	require.NoError(t, err)
	st, ok := tk.QuotaStatus(baldur.TierStandard)
	require.True(t, ok)
	assert.EqualValues(t, 7, st.Remaining)
	assert.EqualValues(t, 10, st.Limit)
	token, ok := tk.QuotaToken()
	require.True(t, ok)
	assert.EqualValues(t, 7, token, "the token QuotaStatus decodes")
	q, ok := p.Quota(baldur.TierStandard)
	require.True(t, ok)
	assert.Equal(t, "q", q.Name)
	tk.Release(baldur.Outcome{})
	_, ok = tk.QuotaStatus(baldur.TierStandard)
	assert.False(t, ok, "a released ticket carries no status")
	_, ok = tk.QuotaToken()
	assert.False(t, ok, "a released ticket carries no token")
}
