package blastradius

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
)

// t0 is 03:00 UTC, inside the default window.
var t0 = time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)

func newManager(t *testing.T, cfg Config) (*Manager, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0) // 03:00 UTC: inside the default window
	cfg.Clock = clk
	m, err := New(cfg)
	require.NoError(t, err)
	return m, clk
}

func TestManagerViolations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		cfg   Config
		setup func(*Manager)
		at    time.Duration // time of day
		a     Action
		want  []string
	}{
		{name: "unknown scope", a: Action{ID: "x", Scope: "planet"}, want: []string{ViolationUnknownScope}},
		{
			name: "excluded service", cfg: Config{ExcludedServices: []string{"payments"}},
			a:    Action{ID: "x", Scope: ScopeInstance, TargetService: "payments", TrafficPercent: 5},
			want: []string{ViolationExcludedService},
		},
		{
			name: "excluded domain", cfg: Config{ExcludedDomains: []string{"billing"}},
			a:    Action{ID: "x", Scope: ScopeInstance, TargetDomain: "billing", TrafficPercent: 5},
			want: []string{ViolationExcludedDomain},
		},
		{name: "invalid traffic", a: Action{ID: "x", Scope: ScopeInstance, TrafficPercent: 120}, want: []string{ViolationInvalidTraffic}},
		{name: "max traffic", a: Action{ID: "x", Scope: ScopeRegion, TrafficPercent: 20}, want: []string{ViolationMaxTraffic, ViolationGlobalTraffic}},
		{
			name: "global traffic",
			setup: func(m *Manager) {
				m.Approve("s1")
				d, _ := m.Begin(ctx, Action{ID: "s1", Scope: ScopeService, TrafficPercent: 8})
				require.True(t, d.Allowed)
			},
			a:    Action{ID: "x", Scope: ScopeRegion, TrafficPercent: 5},
			want: []string{ViolationGlobalTraffic},
		},
		{
			name: "max concurrent",
			setup: func(m *Manager) {
				for _, id := range []string{"i1", "i2", "i3", "i4", "i5"} {
					d, _ := m.Begin(ctx, Action{ID: id, Scope: ScopeInstance, TrafficPercent: 100})
					require.True(t, d.Allowed)
				}
			},
			a:    Action{ID: "x", Scope: ScopeInstance, TrafficPercent: 1},
			want: []string{ViolationMaxConcurrent},
		},
		{name: "outside window", at: 7 * time.Hour, a: Action{ID: "x", Scope: ScopeInstance}, want: []string{ViolationOutsideWindow}},
		{
			name: "wrapping window", cfg: Config{Windows: []Window{{22 * time.Hour, 2 * time.Hour}}},
			at: 23 * time.Hour, a: Action{ID: "x", Scope: ScopeInstance},
		},
		{
			name: "several at once", cfg: Config{ExcludedServices: []string{"db"}},
			at: 12 * time.Hour, a: Action{ID: "x", Scope: ScopeService, TargetService: "db", TrafficPercent: 60},
			want: []string{ViolationExcludedService, ViolationMaxTraffic, ViolationGlobalTraffic, ViolationOutsideWindow},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, clk := newManager(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(m)
			}
			if tt.at != 0 {
				clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(tt.at))
			}
			d, err := m.Check(ctx, tt.a)
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Violations)
			require.Equal(t, len(tt.want) == 0, d.Allowed)
			require.False(t, d.RequiresApproval && len(tt.want) > 0)
			b, err := m.Begin(ctx, tt.a)
			require.NoError(t, err)
			require.Equal(t, d.Violations, b.Violations)
		})
	}
}

func TestManagerApproval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk := newManager(t, Config{ApprovalTTL: 10 * time.Minute})
	a := Action{ID: "canary-1", Kind: "canary", Scope: ScopeService, TargetService: "search", TrafficPercent: 5}

	d, err := m.Begin(ctx, a)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.True(t, d.RequiresApproval)
	require.Empty(t, d.Violations)
	require.Empty(t, m.Active(ctx))

	m.Approve(a.ID)
	clk.Advance(11 * time.Minute) // the approval expired
	d, _ = m.Begin(ctx, a)
	require.True(t, d.RequiresApproval)

	m.Approve(a.ID)
	d, _ = m.Begin(ctx, a)
	require.True(t, d.Allowed)
	require.Equal(t, 1, d.CurrentConcurrent)
	require.Equal(t, 2, d.MaxConcurrent)
	require.Equal(t, 50.0, d.MaxTrafficPercent)
	require.True(t, d.WithinWindow)

	d, _ = m.Begin(ctx, a)
	require.Equal(t, []string{ViolationDuplicateID}, d.Violations)

	active := m.Active(ctx)
	require.Len(t, active, 1)
	require.Equal(t, a, active[0].Action)
	require.Equal(t, clk.Now(), active[0].Started)

	require.NoError(t, m.End(ctx, a.ID))
	require.NoError(t, m.End(ctx, "unknown"))
	require.Empty(t, m.Active(ctx))
	d, _ = m.Check(ctx, Action{ID: "r", Scope: ScopeRegion, TrafficPercent: 10})
	require.Empty(t, d.Violations, "the global cap is free again")
}

func TestManagerAutoApproveConfigured(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, _ := newManager(t, Config{
		Scopes: map[Scope]ScopeLimits{
			ScopeService:  {Approval: AutoApprove},
			ScopeInstance: {Approval: RequireApproval, MaxConcurrent: 1},
		},
		GlobalMaxTraffic: 1,
	})
	d, _ := m.Begin(ctx, Action{ID: "s", Scope: ScopeService, TrafficPercent: 50})
	require.True(t, d.Allowed)
	d, _ = m.Begin(ctx, Action{ID: "i", Scope: ScopeInstance, TrafficPercent: 50})
	require.True(t, d.RequiresApproval)
}

func TestManagerBeginErrors(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, Config{})
	_, err := m.Begin(context.Background(), Action{Scope: ScopeInstance})
	require.ErrorIs(t, err, ErrNoActionID)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = m.Check(ctx, Action{ID: "x", Scope: ScopeInstance})
	require.ErrorIs(t, err, context.Canceled)
}

func TestManagerConcurrentBeginRespectsMax(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, Config{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := m.Begin(context.Background(), Action{ID: string(rune('A' + i)), Scope: ScopeInstance, TrafficPercent: 10})
			if err == nil && d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 5, allowed)
	require.Len(t, m.Active(context.Background()), 5)
}

func TestWaiveWindowSkipsOnlyTheWindow(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) // outside 02:00-06:00
	m, err := New(Config{Clock: clk})
	require.NoError(t, err)
	ctx := context.Background()
	d, err := m.Begin(ctx, Action{ID: "a", Scope: ScopeInstance, TrafficPercent: 10})
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, []string{ViolationOutsideWindow}, d.Violations)
	d, err = m.Begin(ctx, Action{ID: "a", Scope: ScopeInstance, TrafficPercent: 10, WaiveWindow: true})
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.False(t, d.WithinWindow)
	d, err = m.Check(ctx, Action{ID: "b", Scope: ScopeRegion, TrafficPercent: 60, WaiveWindow: true})
	require.NoError(t, err)
	require.Contains(t, d.Violations, ViolationMaxTraffic, "other limits hold")
}
