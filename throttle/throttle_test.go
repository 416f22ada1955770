package throttle

import (
	"context"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

var epoch = time.Unix(1_700_000_000, 0)

func newTest(t testing.TB, cfg Config) (*Throttle, *clock.Fake) {
	t.Helper()
	c := clock.NewFake(epoch)
	if cfg.Clock == nil {
		cfg.Clock = c
	}
	th, err := New(cfg)
	require.NoError(t, err, "New")
	return th, c
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ok := Config{Rate: 10, Burst: 5}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"zero rate", func(c *Config) { c.Rate = 0 }, "Rate"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "Rate"},
		{"NaN rate", func(c *Config) { c.Rate = math.NaN() }, "Rate"},
		{"Inf rate", func(c *Config) { c.Rate = math.Inf(1) }, "Rate"},
		{"rate above MaxRate", func(c *Config) { c.Rate = 2e9 }, "Rate"},
		{"zero burst", func(c *Config) { c.Burst = 0 }, "Burst"},
		{"negative burst", func(c *Config) { c.Burst = -3 }, "Burst"},
		{"century-long bucket", func(c *Config) { c.Rate, c.Burst = 1e-9, 1<<20 }, "Burst"},
		{"negative MaxKeys", func(c *Config) { c.MaxKeys = -1 }, "MaxKeys"},
		{"negative MaxWait", func(c *Config) { c.MaxWait = baldur.Duration(-time.Second) }, "MaxWait"},
		{"unknown KeyBy", func(c *Config) { c.KeyBy = 9 }, "KeyBy"},
		{"unknown tier", func(c *Config) { c.Tiers = map[baldur.Tier]TierLimit{7: {Rate: 1, Burst: 1}} }, "Tiers"},
		{"bad tier rate", func(c *Config) {
			c.Tiers = map[baldur.Tier]TierLimit{baldur.TierCritical: {Rate: math.NaN(), Burst: 1}}
		}, "Tiers.critical.Rate"},
		{"bad tier burst", func(c *Config) {
			c.Tiers = map[baldur.Tier]TierLimit{baldur.TierNonEssential: {Rate: 1}}
		}, "Tiers.non_essential.Burst"},
		{"control char in name", func(c *Config) { c.Name = "a\nb" }, "Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.edit(&cfg)
			th, err := New(cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "New = %v, %v; want *baldur.ConfigError", th, err)
			require.Nil(t, th, "New = %v, %v; want *baldur.ConfigError", th, err)
			require.Equal(t, tt.field, ce.Field, "Field (%v)", err)
		})
	}
}

func TestAdmitBurstThenRetryAfter(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Rate: 0.25, Burst: 2}) // one token per 4 s
	ctx := context.Background()
	call := baldur.Call{Key: "10.0.0.1"}
	admit := func() error {
		call.Now = clk.Now()
		_, err := th.Admit(ctx, call)
		return err
	}
	for i := range 2 {
		require.NoError(t, admit(), "call %d rejected", i)
	}
	// Retry-After is the time to the next token rounded up, at least 1 s.
	for _, step := range []struct {
		advance time.Duration
		retry   time.Duration
	}{{0, 4 * time.Second}, {1500 * time.Millisecond, 3 * time.Second}, {2 * time.Second, time.Second}, {499 * time.Millisecond, time.Second}} {
		clk.Advance(step.advance)
		err := admit()
		rej, ok := baldur.AsRejection(err)
		require.True(t, ok, "after %v: err = %v, want a throttled rejection", step.advance, err)
		require.ErrorIs(t, err, baldur.ErrThrottled, "after %v: want a throttled rejection", step.advance)
		require.Equal(t, baldur.ReasonThrottled, rej.Reason(), "after %v: err = %v, want a throttled rejection", step.advance, err)
		require.Equal(t, step.retry, rej.RetryAfter(), "after %v: Retry-After", step.advance)
	}
	clk.Advance(time.Millisecond) // 4 s since the burst: one token back
	require.NoError(t, admit(), "token not restored")
}

func TestPerTierLimits(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Rate: 10, Burst: 10, Tiers: map[baldur.Tier]TierLimit{
		baldur.TierCritical: {Rate: 100, Burst: 50},
	}})
	tests := []struct {
		tier  baldur.Tier
		burst int
		quota baldur.Quota
	}{
		{baldur.TierStandard, 10, baldur.Quota{Name: "throttle", Limit: 10, Window: time.Second}},
		{baldur.TierNonEssential, 5, baldur.Quota{Name: "throttle", Limit: 5, Window: time.Second}},
		{baldur.TierCritical, 50, baldur.Quota{Name: "throttle", Limit: 50, Window: time.Second}},
	}
	for _, tt := range tests {
		n := 0
		for {
			if _, err := th.Admit(context.Background(), baldur.Call{Key: "k", Tier: tt.tier, Now: clk.Now()}); err != nil {
				break
			}
			n++
		}
		assert.Equal(t, tt.burst, n, "%v: admitted at once", tt.tier)
		q, ok := th.Quota(tt.tier)
		assert.True(t, ok, "%v: Quota = %+v, want %+v", tt.tier, q, tt.quota)
		assert.Equal(t, tt.quota, q, "%v: Quota", tt.tier)
	}
}

type fakeLevel struct{ l atomic.Int32 }

func (f *fakeLevel) Level() baldur.EmergencyLevel { return baldur.EmergencyLevel(f.l.Load()) }
func (f *fakeLevel) set(l baldur.EmergencyLevel)  { f.l.Store(int32(l)) }

// sustained counts the calls one key gets through in 10 s of one call per
// millisecond, after draining its burst.
func sustained(th *Throttle, clk *clock.Fake, key string) int {
	ctx := context.Background()
	for {
		if _, err := th.Admit(ctx, baldur.Call{Key: key, Now: clk.Now()}); err != nil {
			break
		}
	}
	n := 0
	for range 10_000 {
		clk.Advance(time.Millisecond)
		if _, err := th.Admit(ctx, baldur.Call{Key: key, Now: clk.Now()}); err == nil {
			n++
		}
	}
	return n
}

func TestEmergencyFactors(t *testing.T) {
	t.Parallel()
	lvl := &fakeLevel{}
	th, clk := newTest(t, Config{Rate: 10, Burst: 10, Level: lvl})
	steps := []struct {
		level baldur.EmergencyLevel
		want  int
		burst int64
	}{
		{baldur.LevelNormal, 100, 10},
		{baldur.Level1, 80, 8},
		{baldur.Level2, 50, 5},
		{baldur.Level3, 50, 5}, // frozen at LEVEL_2's factor
		{baldur.Level1, 80, 8},
		{baldur.Level3, 80, 8}, // frozen at LEVEL_1's factor
		{baldur.LevelNormal, 100, 10},
		{baldur.LevelUnknown, 100, 10},
	}
	for i, s := range steps {
		lvl.set(s.level)
		assert.Equal(t, s.want, sustained(th, clk, "k"+strconv.Itoa(i)), "step %d (%v): calls in 10 s", i, s.level)
		q, _ := th.Quota(baldur.TierStandard)
		assert.Equal(t, s.burst, q.Limit, "step %d (%v): quota", i, s.level)
	}
}

func TestEmergencyLevel3FromStartKeepsFullRate(t *testing.T) {
	t.Parallel()
	lvl := &fakeLevel{}
	lvl.set(baldur.Level3)
	th, clk := newTest(t, Config{Rate: 10, Burst: 10, Level: lvl})
	require.Equal(t, 100, sustained(th, clk, "k"), "calls in 10 s")
}

func TestKeyBy(t *testing.T) {
	t.Parallel()
	calls := []baldur.Call{
		{Key: "a", Operation: "GET /x"},
		{Key: "b", Operation: "GET /x"},
		{Key: "a", Operation: "GET /y"},
		{Key: "a", Operation: "GET /x", Tier: baldur.TierCritical},
	}
	tests := []struct {
		by   KeyBy
		want []bool // admitted with burst 1, in order
	}{
		{ByKey, []bool{true, true, false, true}},
		{ByOperation, []bool{true, false, true, true}},
		{ByKeyAndOperation, []bool{true, true, true, true}},
		{Global, []bool{true, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.by.String(), func(t *testing.T) {
			t.Parallel()
			th, clk := newTest(t, Config{Rate: 1, Burst: 1, KeyBy: tt.by})
			for i, c := range calls {
				c.Now = clk.Now()
				_, err := th.Admit(context.Background(), c)
				assert.Equal(t, tt.want[i], err == nil, "call %d (%+v): err = %v", i, c, err)
			}
		})
	}
}

func TestQuotaStatusFromPermit(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Name: "api", Rate: 2, Burst: 5})
	pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{th}, Clock: clk})
	require.NoError(t, err)
	want := baldur.Quota{Name: "api", Limit: 5, Window: 3 * time.Second} // 5 / 2 per s = 2.5 s, rounded up
	q, ok := pol.Quota(baldur.TierStandard)
	require.True(t, ok, "Quota = %+v, want %+v", q, want)
	require.Equal(t, want, q, "Quota")
	for i := range 3 {
		tk, err := pol.Admit(context.Background(), baldur.Call{Key: "k"})
		require.NoError(t, err)
		s, ok := tk.QuotaStatus(baldur.TierStandard)
		wantS := baldur.QuotaStatus{Quota: want, Remaining: int64(4 - i), Reset: time.Duration(i+1) * 500 * time.Millisecond}
		require.True(t, ok, "call %d: QuotaStatus = %+v, want %+v", i, s, wantS)
		require.Equal(t, wantS, s, "call %d: QuotaStatus", i)
		tk.Release(baldur.Outcome{})
	}
}

func TestAdmitAndRejectDoNotAllocate(t *testing.T) {
	th, clk := newTest(t, Config{Rate: 1, Burst: 1, MaxKeys: 1000})
	ctx := context.Background()
	admit := baldur.Call{Key: "fresh", Operation: "GET /x"}
	i := 0
	keys := make([]string, 200)
	for j := range keys {
		keys[j] = "client-" + strconv.Itoa(j)
	}
	// The measured closures only record; the checks run after them.
	var admitErr error
	n := testing.AllocsPerRun(100, func() {
		admit.Key = keys[i]
		admit.Now = clk.Now()
		i++
		if _, err := th.Admit(ctx, admit); err != nil && admitErr == nil {
			admitErr = err
		}
	})
	require.NoError(t, admitErr)
	assert.Zero(t, n, "admit: allocs/op")
	reject := baldur.Call{Key: keys[0], Now: clk.Now()}
	th.Admit(ctx, reject) // intern the rejection
	admitted := false
	n = testing.AllocsPerRun(100, func() {
		if _, err := th.Admit(ctx, reject); err == nil {
			admitted = true
		}
	})
	require.False(t, admitted, "admitted")
	assert.Zero(t, n, "reject: allocs/op")
}

func TestConcurrentAdmitsNeverExceedBurst(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Rate: 1, Burst: 50, MaxKeys: 64})
	now := clk.Now()
	var admitted [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				k := (g + i) % 4
				if _, err := th.Admit(context.Background(), baldur.Call{Key: "k" + strconv.Itoa(k), Now: now}); err == nil {
					admitted[k].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for k := range admitted {
		assert.Equal(t, int64(50), admitted[k].Load(), "key %d: admitted, want exactly the burst 50", k)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Rate: 1, Burst: 1, MaxWait: baldur.Duration(2 * time.Second)})
	ctx := context.Background()
	call := baldur.Call{Key: "k"}
	_, err := th.Admit(ctx, call)
	require.NoError(t, err)
	type result struct {
		p   baldur.Permit
		err error
	}
	start := func(ctx context.Context, c baldur.Call) chan result {
		ch := make(chan result, 1)
		go func() {
			p, err := th.Wait(ctx, c)
			ch <- result{p, err}
		}()
		return ch
	}
	waitPending := func(n int) {
		for clk.Pending() != n {
			runtime.Gosched() // until the goroutine has armed its timer
		}
	}

	// A call that would wait past its deadline is rejected at once.
	_, err = th.Wait(ctx, baldur.Call{Key: "k", Deadline: clk.Now().Add(500 * time.Millisecond)})
	require.ErrorIs(t, err, baldur.ErrThrottled, "deadline too short")

	// A canceled wait returns ctx.Err() and refunds its token.
	cctx, cancel := context.WithCancel(ctx)
	ch := start(cctx, call)
	waitPending(1)
	cancel()
	r := <-ch
	require.Same(t, context.Canceled, r.err, "canceled wait: err = %v, want context.Canceled", r.err)

	// The next call waits one token (1 s), not two.
	ch = start(ctx, call)
	waitPending(1)
	clk.Advance(999 * time.Millisecond)
	select {
	case r := <-ch:
		require.Failf(t, "returned before its token", "%+v", r)
	default:
	}
	clk.Advance(time.Millisecond)
	r = <-ch
	require.NoError(t, r.err, "wait: %+v", r)
	require.True(t, r.p.Held(), "wait: %+v", r)
	_, err = th.Wait(ctx, baldur.Call{Key: "x", Now: clk.Now()})
	require.NoError(t, err, "free token")
	_, err = th.Wait(cctx, call)
	require.Same(t, context.Canceled, err, "done ctx: err = %v", err)
}

// TestQuotaStatusTokens decodes tokens of every tier and of a bucket too
// far from full for the time to fit, against Decide's own Remaining.
func TestQuotaStatusTokens(t *testing.T) {
	t.Parallel()
	th, _ := newTest(t, Config{Rate: 10, Burst: 7, Tiers: map[baldur.Tier]TierLimit{
		baldur.TierCritical: {Rate: 100, Burst: 30},
		// 1 call per 20 years, burst 4: a full bucket is 80 years away.
		baldur.TierNonEssential: {Rate: 1 / (20 * 365.25 * 86400), Burst: 4},
	}})
	for _, tier := range baldur.Tiers() {
		l := th.limits[0][tier]
		tat := Fresh
		for i := range 40 {
			d, next := Decide(tat, 0, l, 0)
			if !d.Allowed {
				break
			}
			tat = next
			got := th.QuotaStatus(baldur.TierStandard, encode(0, tier, int64(d.Reset), l))
			wantReset := min(time.Duration(ceilDiv(int64(d.Reset), 1e6))*time.Millisecond, maxResetMs*time.Millisecond)
			want := baldur.QuotaStatus{Quota: th.quotas[0][tier], Remaining: d.Remaining, Reset: wantReset}
			require.Equal(t, want, got, "%v call %d: QuotaStatus", tier, i)
		}
	}
}
