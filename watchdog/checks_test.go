package watchdog_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// policies is a watchdog.Policies over policies built from gates.
type policies map[string]*baldur.Policy

func newPolicies(t *testing.T, gates map[string][]baldur.Gate) policies {
	t.Helper()
	p := policies{}
	for name, gs := range gates {
		pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: name, Gates: gs})
		require.NoError(t, err)
		p[name] = pol
	}
	return p
}

func (p policies) PolicyNames() []string {
	var out []string
	for n := range p {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (p policies) PolicyByName(n string) (*baldur.Policy, bool) { pol, ok := p[n]; return pol, ok }

// forcer is a breaker gate that reports the partitions it is given, as a
// gate whose forces do not end on their own would.
type forcer struct {
	mu     sync.Mutex
	parts  []baldur.BreakerPartition
	forced []string
}

func (f *forcer) Stage() baldur.Stage { return baldur.StageBlast }
func (f *forcer) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, nil
}
func (f *forcer) Partitions() int { return len(f.parts) }
func (f *forcer) OpenPartitions() []baldur.BreakerPartition {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]baldur.BreakerPartition(nil), f.parts...)
}
func (f *forcer) ForcePartition(key, op string, force baldur.Force, _ time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forced = append(f.forced, key+"/"+op)
	for i, p := range f.parts {
		if p.Key == key && p.Operation == op && force == baldur.ForceNone {
			f.parts = append(f.parts[:i], f.parts[i+1:]...)
			return "half_open", nil
		}
	}
	return "closed", nil
}

// TestBreakersCheck: observed partitions -> actions. Only a force past
// its end is lifted; an operator's running force, one without an end, and
// the breaker's own states are left alone.
func TestBreakersCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := t0
	tests := []struct {
		name   string
		part   baldur.BreakerPartition
		kinds  []string
		forced []string
	}{
		{"operator's force running", baldur.BreakerPartition{Key: "k", State: "forced_open", Until: now.Add(time.Minute)}, nil, nil},
		{"forced open past its end", baldur.BreakerPartition{Key: "k", State: "forced_open", Until: now.Add(-time.Second)}, []string{"acted api  k"}, []string{"k/"}},
		{"forced closed past its end", baldur.BreakerPartition{Operation: "GET /x", State: "forced_closed", Until: now}, []string{"acted api GET /x "}, []string{"/GET /x"}},
		{"forced without an end", baldur.BreakerPartition{Key: "k", State: "forced_open"}, []string{"operator_held api  k"}, nil},
		{"open by the breaker", baldur.BreakerPartition{Key: "k", State: "open", Until: now.Add(-time.Hour)}, nil, nil},
		{"half-open", baldur.BreakerPartition{Key: "k", State: "half_open"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &forcer{parts: []baldur.BreakerPartition{tt.part}}
			c, err := watchdog.NewBreakers(newPolicies(t, map[string][]baldur.Gate{"api": {f}, "api2": {f}}))
			require.NoError(t, err)
			r := newRunner(t, clock.NewFake(now), nil, c)
			rep, err := r.Tick(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.kinds, kinds(rep, "breaker_force_expired"), "a gate shared by two policies is visited once")
			assert.Equal(t, tt.forced, f.forced)
		})
	}
}

// TestBreakersOperatorForceNeverOverridden: a real breaker partition an
// operator forced open stays forced until its force ends, however many
// passes see it.
func TestBreakersOperatorForceNeverOverridden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	br, err := blast.NewBreakers(blast.BreakerConfig{Clock: clk, PartitionBy: blast.ByKey})
	require.NoError(t, err)
	_, err = br.ForcePartition("tenant-1", "", baldur.ForceOpen, 10*time.Minute)
	require.NoError(t, err)
	c, err := watchdog.NewBreakers(newPolicies(t, map[string][]baldur.Gate{"api": {br}}))
	require.NoError(t, err)
	r := newRunner(t, clk, nil, c)
	for range 19 {
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		assert.Empty(t, kinds(rep, ""))
		require.Equal(t, "forced_open", br.State(blast.Partition{Key: "tenant-1"}).String())
		clk.Advance(30 * time.Second)
	}
}

// compartments is a gate reporting one compartment's state.
type compartments struct {
	mu sync.Mutex
	s  baldur.BulkheadState
}

func (c *compartments) Stage() baldur.Stage { return baldur.StageBulkhead }
func (c *compartments) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, nil
}
func (c *compartments) CompartmentStates() []baldur.BulkheadState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []baldur.BulkheadState{c.s}
}
func (c *compartments) set(active, waiting int, rejected uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Active, c.s.Waiting, c.s.Rejected = active, waiting, rejected
}

// TestPermitsCheck: compartment occupancy over time -> pages. Full at
// every pass for 5 minutes pages once (HIGH with no demand, WARNING under
// demand); a pass below capacity starts the window afresh; freed permits
// resolve the incident.
func TestPermitsCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type step struct {
		active, waiting int
		rejected        uint64
	}
	full, free := step{active: 4}, step{active: 1}
	tests := []struct {
		name     string
		steps    []step // one per minute
		pages    []notify.Priority
		resolved int
	}{
		{"held with no demand", []step{full, full, full, full, full, full, full}, []notify.Priority{notify.PriorityHigh}, 0},
		{"held under demand", []step{full, {4, 2, 0}, full, full, full, full}, []notify.Priority{notify.PriorityWarning}, 0},
		{"rejections are demand", []step{full, full, {4, 0, 3}, full, full, full}, []notify.Priority{notify.PriorityWarning}, 0},
		{"freed within the window", []step{full, full, full, free, full, full, full, full}, nil, 0},
		{"freed after the page", []step{full, full, full, full, full, full, free, free}, []notify.Priority{notify.PriorityHigh}, 1},
		{"never full", []step{free, free, free, free, free, free, free}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(t0)
			g := &compartments{s: baldur.BulkheadState{Name: "db", Kind: "semaphore", MaxConcurrent: 4}}
			c, err := watchdog.NewPermits(watchdog.PermitsConfig{Policies: newPolicies(t, map[string][]baldur.Gate{"api": {g}})})
			require.NoError(t, err)
			p := &resolvingPager{}
			r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, c)
			for _, s := range tt.steps {
				g.set(s.active, s.waiting, s.rejected)
				_, err := r.Tick(ctx)
				require.NoError(t, err)
				clk.Advance(time.Minute)
			}
			var got []notify.Priority
			for _, n := range p.pages() {
				got = append(got, n.Priority)
			}
			assert.Equal(t, tt.pages, got)
			assert.Len(t, p.resolves(), tt.resolved)
		})
	}
}

// TestPermitsRealSemaphore: a semaphore whose permits are taken and never
// released is paged after the window; the bulkhead registry is read too.
func TestPermitsRealSemaphore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	sem, err := bulkhead.New(bulkhead.Config{Name: "payments", MaxConcurrent: 2, Clock: clk})
	require.NoError(t, err)
	reg := bulkhead.NewRegistry()
	require.NoError(t, reg.Register(sem))
	for range 2 {
		_, err := sem.Acquire(ctx) // leaked: never released
		require.NoError(t, err)
	}
	c, err := watchdog.NewPermits(watchdog.PermitsConfig{Bulkheads: reg})
	require.NoError(t, err)
	p := &pager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, c)
	for range 7 {
		_, err := r.Tick(ctx)
		require.NoError(t, err)
		clk.Advance(time.Minute)
	}
	require.Len(t, p.pages(), 1)
	assert.Contains(t, p.pages()[0].Body, "2/2 permits held for 5m0s with no demand")
}

// emergency is a baldur.EmergencyManager whose state the test sets.
type emergency struct {
	mu        sync.Mutex
	st        baldur.EmergencyState
	steps     int
	onObserve func() // runs on the second State call (between observe and apply)
	calls     int
}

func (e *emergency) Level() baldur.EmergencyLevel {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.Level
}
func (e *emergency) State(context.Context) (baldur.EmergencyState, error) {
	e.mu.Lock()
	e.calls++
	hook := e.onObserve
	if e.calls != 2 {
		hook = nil
	}
	e.mu.Unlock()
	if hook != nil {
		hook()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st, nil
}
func (e *emergency) Trigger(context.Context, baldur.EmergencyTrigger) (baldur.EmergencyState, error) {
	return e.st, nil
}
func (e *emergency) StepDown(_ context.Context, actor, _ string) (baldur.EmergencyState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.steps++
	e.st = baldur.EmergencyState{Level: e.st.Level - 1, Actor: actor, Since: e.st.Since}
	return e.st, nil
}
func (e *emergency) AdmitFraction(baldur.EmergencyLevel, baldur.Tier) float64 { return 1 }

// TestEmergencyCheck: emergency states -> actions. Only a level raised by
// automation (or by the watchdog's own step-down) and stuck is stepped
// down; a level set by hand is never touched.
func TestEmergencyCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := t0
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name  string
		st    baldur.EmergencyState
		kinds []string
		steps int
	}{
		{"normal", baldur.EmergencyState{Level: baldur.LevelNormal, Auto: true, Since: ago(time.Hour)}, nil, 0},
		{"manual level for hours", baldur.EmergencyState{Level: baldur.Level3, Actor: "alice", Since: ago(5 * time.Hour)}, nil, 0},
		{"manual level past its end", baldur.EmergencyState{Level: baldur.Level2, Actor: "alice", Since: ago(time.Hour), ExpiresAt: ago(time.Minute)}, nil, 0},
		{"automated, recent", baldur.EmergencyState{Level: baldur.Level2, Auto: true, Since: ago(10 * time.Minute)}, nil, 0},
		{"automated, stuck", baldur.EmergencyState{Level: baldur.Level2, Auto: true, Actor: "budget", Since: ago(31 * time.Minute)}, []string{"acted level", "paged level"}, 1},
		{"automated, past its end", baldur.EmergencyState{Level: baldur.Level3, Auto: true, Since: ago(5 * time.Minute), ExpiresAt: ago(time.Second)}, []string{"acted level", "paged level"}, 1},
		{"automated, timed, running", baldur.EmergencyState{Level: baldur.Level1, Auto: true, Since: ago(2 * time.Hour), ExpiresAt: now.Add(time.Minute)}, nil, 0},
		{"stepped down by the watchdog, stuck", baldur.EmergencyState{Level: baldur.Level2, Actor: "watchdog", Since: ago(31 * time.Minute)}, []string{"acted level", "paged level"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &emergency{st: tt.st}
			c, err := watchdog.NewEmergency(watchdog.EmergencyConfig{Manager: m})
			require.NoError(t, err)
			r := newRunner(t, clock.NewFake(now), nil, c)
			rep, err := r.Tick(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.kinds, kinds(rep, "emergency_stuck"))
			assert.Equal(t, tt.steps, m.steps)
		})
	}
}

// TestEmergencyOperatorTakesOver: an operator who sets the level between
// the observation and the action wins: nothing is stepped down.
func TestEmergencyOperatorTakesOver(t *testing.T) {
	t.Parallel()
	m := &emergency{st: baldur.EmergencyState{Level: baldur.Level3, Auto: true, Since: t0.Add(-time.Hour)}}
	m.onObserve = func() {
		m.mu.Lock()
		m.st = baldur.EmergencyState{Level: baldur.Level3, Actor: "alice", Since: t0}
		m.mu.Unlock()
	}
	c, err := watchdog.NewEmergency(watchdog.EmergencyConfig{Manager: m})
	require.NoError(t, err)
	r := newRunner(t, clock.NewFake(t0), nil, c)
	rep, err := r.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"action_failed level", "paged level"}, kinds(rep, "emergency_stuck"))
	assert.Zero(t, m.steps)
}

// TestEmergencyManualLevelNeverOverridden: the real emergency manager, a
// level triggered by hand, passes over hours: never stepped down.
func TestEmergencyManualLevelNeverOverridden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	gov, err := governance.New(governance.Config{Clock: clk})
	require.NoError(t, err)
	m := gov.Emergency()
	_, err = m.Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "incident 42", Actor: "alice"})
	require.NoError(t, err)
	c, err := watchdog.NewEmergency(watchdog.EmergencyConfig{ManagerFunc: func() baldur.EmergencyManager { return m }})
	require.NoError(t, err)
	r := newRunner(t, clk, nil, c)
	for range 20 {
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		assert.Empty(t, kinds(rep, ""))
		clk.Advance(15 * time.Minute)
	}
	assert.Equal(t, baldur.Level3, m.Level())
}

// TestLeasesCheck: a registered 30-minute lease is renewed as it passes
// half its TTL and so outlives it many times over; a lease taken from
// under it is reported lost to its action and paged.
func TestLeasesCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	lk, err := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	lease, held, err := lk.AcquireFenced(ctx, "rollout:cart", "pod-a", 30*time.Minute, false)
	require.NoError(t, err)
	require.True(t, held)
	c, err := watchdog.NewLeases(lk)
	require.NoError(t, err)
	reg, err := c.Register("rollout:cart", "pod-a", lease, 30*time.Minute)
	require.NoError(t, err)
	p := &pager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, c)
	renewals := 0
	for range 120 { // two hours, a pass a minute
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		renewals += count(rep, watchdog.KindActed)
		clk.Advance(time.Minute)
	}
	assert.Equal(t, 7, renewals, "renewed at minutes 15, 30, ... 105: once half of the TTL is left")
	again, held, err := lk.AcquireFenced(ctx, "rollout:cart", "pod-a", 30*time.Minute, false)
	require.NoError(t, err)
	require.True(t, held, "still held after two hours")
	assert.Equal(t, lease.Token, again.Token, "the same lease")
	assert.False(t, r.Status().Checks[0].Brake)

	require.NoError(t, lk.ReleaseFenced(ctx, "rollout:cart", "pod-a", 0))
	_, held, err = lk.AcquireFenced(ctx, "rollout:cart", "pod-b", 30*time.Minute, false)
	require.NoError(t, err)
	require.True(t, held)
	for range 20 {
		_, err := r.Tick(ctx)
		require.NoError(t, err)
		clk.Advance(time.Minute)
	}
	require.ErrorIs(t, reg.Err(), lock.ErrNotHeld, "the action learns its lease is gone")
	require.Len(t, p.pages(), 1, "lost: paged once")
	reg.Unregister()
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"resolved rollout:cart"}, kinds(rep, "lock_renewal"))
}
