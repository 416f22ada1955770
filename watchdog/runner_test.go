package watchdog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// TestTwoTicksNoChange: level-triggered and idempotent. A pass that fixed
// what it found leaves nothing for the next; a finding that only pages
// pages once; an action that did not hold is not repeated by the next
// pass (the subject backs off).
func TestTwoTicksNoChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name          string
		fixes, page   bool
		first, second []string
		actions       int
		pages         int
	}{
		{name: "the action fixed it", fixes: true, first: []string{"acted s1"}, second: nil, actions: 1},
		{name: "the action fixed it and the page resolves", fixes: true, page: true,
			first: []string{"acted s1", "paged s1"}, second: []string{"resolved s1"}, actions: 1, pages: 1},
		{name: "the condition persists", fixes: false, page: true,
			first: []string{"acted s1", "paged s1"}, second: []string{"backoff s1"}, actions: 1, pages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(t0)
			w := newWorld("s1")
			w.fixes, w.page = tt.fixes, tt.page
			p := &pager{}
			r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "c", w: w})
			rep, err := r.Tick(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.first, kinds(rep, "c"))
			clk.Advance(30 * time.Second)
			rep, err = r.Tick(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.second, kinds(rep, "c"))
			assert.Len(t, w.actions(), tt.actions, "no second action")
			assert.Len(t, p.pages(), tt.pages+len(p.resolves())+boolInt(tt.fixes && tt.page), "no second page (resolves are sent as notifications without a resolver)")
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHundredTicksOneStall: an ongoing stall pages once over 100 passes;
// clearing it resolves once, by the same key.
func TestHundredTicksOneStall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("rollout-7")
	w.page, w.report = true, true
	p := &resolvingPager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "canary_stall", w: w})
	for range 100 {
		_, err := r.Tick(ctx)
		require.NoError(t, err)
		clk.Advance(30 * time.Second)
	}
	require.Len(t, p.pages(), 1, "one page over 100 passes")
	assert.Equal(t, notify.PriorityHigh, p.pages()[0].Priority)
	assert.Equal(t, "watchdog", p.pages()[0].Source)
	assert.Empty(t, p.resolves())
	w.set("rollout-7", false)
	for range 5 {
		_, err := r.Tick(ctx)
		require.NoError(t, err)
		clk.Advance(30 * time.Second)
	}
	require.Len(t, p.resolves(), 1, "one resolve")
	assert.Equal(t, p.pages()[0].Key, p.resolves()[0].Key, "resolved by the page's key")
	assert.Len(t, p.pages(), 1)
	incs, err := r.Incidents(ctx)
	require.NoError(t, err)
	assert.Empty(t, incs)
}

// TestBrake: the 11th action within an hour engages the brake: it is not
// applied, a CRITICAL page goes out once, the check stops acting until an
// operator releases the brake, whatever time passes.
func TestBrake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld()
	for i := range 11 {
		w.set(fmt.Sprintf("s%02d", i), true)
	}
	p := &resolvingPager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "c", w: w})
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 10, count(rep, watchdog.KindActed), "ten actions")
	assert.Equal(t, 1, count(rep, watchdog.KindBrakeEngaged), "the 11th engages the brake")
	assert.Equal(t, 1, count(rep, watchdog.KindBraked))
	assert.Equal(t, []string{"s10"}, keys(w.stuck), "the 11th was not applied")
	require.Len(t, p.pages(), 1)
	assert.Equal(t, notify.PriorityCritical, p.pages()[0].Priority)
	assert.Equal(t, "watchdog brake engaged on c", p.pages()[0].Title)
	st := r.Status().Checks[0]
	assert.True(t, st.Brake)
	assert.Equal(t, 10, st.ActionsLastHour)

	for range 10 { // hours pass: the brake holds, no second page
		clk.Advance(2 * time.Hour)
		rep, err = r.Tick(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"braked s10"}, kinds(rep, "c"))
	}
	assert.Len(t, w.actions(), 10)
	assert.Len(t, p.pages(), 1, "paged once while engaged")

	released, err := r.ReleaseBrake(ctx, "c", "alice", "fixed the root cause")
	require.NoError(t, err)
	assert.True(t, released)
	require.Len(t, p.resolves(), 1, "the brake's page resolves")
	assert.Equal(t, p.pages()[0].Key, p.resolves()[0].Key)
	rep, err = r.DryRunTick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"would_act s10"}, kinds(rep, "c"), "a dry run between the release and the next pass")
	rep, err = r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"acted s10"}, kinds(rep, "c"))
	again, err := r.ReleaseBrake(ctx, "c", "alice", "twice")
	require.NoError(t, err)
	assert.False(t, again, "not engaged")
	_, err = r.ReleaseBrake(ctx, "nope", "alice", "x")
	assert.Error(t, err)
}

// TestBrakeRollingHour: ten actions an hour never engage the brake; the
// budget is a rolling hour, not a fixed one.
func TestBrakeRollingHour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld()
	r := newRunner(t, clk, nil, &check{name: "c", w: w})
	for i := range 40 { // one action every 6 minutes: 10 per hour
		w.set(fmt.Sprintf("s%d", i), true)
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, count(rep, watchdog.KindActed), "pass %d: %v", i, kinds(rep, ""))
		clk.Advance(6*time.Minute + time.Second)
	}
	assert.False(t, r.Status().Checks[0].Brake)
	// Eleven within the hour after that: the brake.
	for i := range 11 {
		w.set(fmt.Sprintf("burst%d", i), true)
	}
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, count(rep, watchdog.KindBrakeEngaged), kinds(rep, ""))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBackoff: a subject whose action does not hold is retried after 1m,
// 2m, 4m, then every 5m (the cap), and starts afresh once it is healthy.
func TestBackoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("s")
	w.fail = errors.New("still broken")
	r := newRunner(t, clk, func(c *watchdog.Config) { c.MaxActionsPerHour = 1000 }, &check{name: "c", w: w})
	var at []time.Duration
	for clk.Now().Sub(t0) <= 25*time.Minute {
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		if count(rep, watchdog.KindActionFailed) == 1 {
			at = append(at, clk.Now().Sub(t0))
		}
		clk.Advance(30 * time.Second)
	}
	m := time.Minute
	assert.Equal(t, []time.Duration{0, 1 * m, 3 * m, 7 * m, 12 * m, 17 * m, 22 * m}, at)

	w.set("s", false)
	_, err := r.Tick(ctx)
	require.NoError(t, err)
	w.set("s", true)
	clk.Advance(30 * time.Second)
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, count(rep, watchdog.KindActionFailed), "the backoff reset once healthy")
}

// TestOperatorHeld: a subject an operator holds is reported and never
// applied, however many passes see it.
func TestOperatorHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("manual", "auto")
	w.held["manual"] = true
	r := newRunner(t, clk, nil, &check{name: "c", w: w})
	for range 20 {
		_, err := r.Tick(ctx)
		require.NoError(t, err)
		clk.Advance(10 * time.Minute)
	}
	assert.Equal(t, []string{"auto"}, w.actions())
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"operator_held manual"}, kinds(rep, "c"))
}

// TestDryRun: a dry run observes and reports what it would do; nothing is
// applied, paged or locked.
func TestDryRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("s1")
	w.page = true
	p := &pager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "c", w: w})
	rep, err := r.DryRunTick(ctx)
	require.NoError(t, err)
	assert.True(t, rep.DryRun)
	assert.Equal(t, []string{"lock_error s1", "would_page s1"}, kinds(rep, "c"), "no pass has taken the lock yet")
	assert.Empty(t, w.actions())
	assert.Empty(t, p.pages())
	assert.Equal(t, watchdog.RoleUnknown, r.Status().Checks[0].Role, "a dry run takes no lock")

	w.fixes = false
	_, err = r.Tick(ctx)
	require.NoError(t, err)
	rep, err = r.DryRunTick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"backoff s1"}, kinds(rep, "c"), "already paged, backing off")
	w.set("s2", true)
	rep, err = r.DryRunTick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"backoff s1", "would_act s2", "would_page s2"}, kinds(rep, "c"))
	assert.Len(t, w.actions(), 1)
	assert.Len(t, p.pages(), 1)

	dry := newRunner(t, clk, func(c *watchdog.Config) { c.DryRun = true; c.Notifier = p; c.Session = "dry" }, &check{name: "c", w: w})
	rep, err = dry.Tick(ctx)
	require.NoError(t, err)
	assert.True(t, rep.DryRun, "a dry-run configuration makes Tick a dry run")
	assert.Len(t, w.actions(), 1)
}

// TestHangingCheckBoundedByDeadline: a check stuck in a store that ignores
// its context cannot stretch a pass past the deadline; the other checks
// finish, the stuck one is skipped until it returns.
func TestHangingCheckBoundedByDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	entered, unblock := make(chan struct{}, 1), make(chan struct{})
	hang := &check{name: "hangs", w: newWorld("x"), observe: func(context.Context) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-unblock // ignores ctx, as a store without deadlines does
		return nil
	}}
	ok := &check{name: "fine", w: newWorld("y")}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Interval = baldur.Duration(10 * time.Second) }, hang, ok)
	type tick struct {
		rep watchdog.Report
		err error
	}
	done := make(chan tick, 1)
	go func() {
		rep, err := r.Tick(ctx)
		done <- tick{rep, err}
	}()
	<-entered
	// The other check finishes on its own (its status is written as it
	// returns), while the stuck one holds the pass open.
	require.Eventually(t, func() bool { return r.Status().Checks[1].Observed == 1 }, 5*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("the pass ended before its deadline")
	default:
	}
	clk.Advance(5 * time.Second) // the deadline: interval/2
	res := <-done
	require.ErrorIs(t, res.err, watchdog.ErrPassDeadline)
	assert.Equal(t, 5*time.Second, res.rep.Duration, "the pass ends at its deadline")
	assert.Equal(t, []string{"deadline_exceeded "}, kinds(res.rep, "hangs"))
	assert.Equal(t, []string{"acted y"}, kinds(res.rep, "fine"))
	assert.Contains(t, r.Status().LastError, "deadline")

	rep, err := r.Tick(ctx)
	require.NoError(t, err, "nothing hangs in this pass: the stuck check is skipped")
	assert.Equal(t, []string{"still_running "}, kinds(rep, "hangs"))
	close(unblock)
	require.Eventually(t, func() bool {
		rep, err := r.Tick(ctx)
		return err == nil && count(rep, watchdog.KindStillRunning) == 0
	}, 5*time.Second, time.Millisecond, "the check runs again once it returned")
}

// TestHangingIncidentStore: the deadline bounds a pass whose incident
// store hangs too.
func TestHangingIncidentStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	store := &hangingStore{entered: make(chan struct{}, 1)}
	w := newWorld("s")
	w.page = true
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Incidents = store }, &check{name: "c", w: w})
	done := make(chan error, 1)
	go func() {
		_, err := r.Tick(ctx)
		done <- err
	}()
	<-store.entered
	clk.Advance(15 * time.Second)
	assert.ErrorIs(t, <-done, watchdog.ErrPassDeadline)
}

// hangingStore's List blocks until its context ends.
type hangingStore struct {
	watchdog.MemoryIncidents
	entered chan struct{}
}

func (h *hangingStore) List(ctx context.Context, _ string) ([]watchdog.Incident, error) {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestCheckErrorKeepsIncidents: a check that fails to observe does not
// resolve its incidents (absence of evidence is not health).
func TestCheckErrorKeepsIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("s")
	w.page, w.fixes = true, false
	var fail error
	p := &resolvingPager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "c", w: w, observe: func(context.Context) error { return fail }})
	_, err := r.Tick(ctx)
	require.NoError(t, err)
	fail = errors.New("store down")
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"check_error "}, kinds(rep, "c"))
	assert.Empty(t, p.resolves())
	assert.Equal(t, "c: check_error: store down", r.Status().LastError)
}

// TestPageFailureRetried: a page that fails leaves no incident behind, so
// the next pass pages again.
func TestPageFailureRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("s")
	w.page, w.fixes = true, false
	p := &pager{err: errors.New("chat down")}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "c", w: w})
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, count(rep, watchdog.KindNotifyError))
	p.mu.Lock()
	p.err = nil
	p.mu.Unlock()
	rep, err = r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, count(rep, watchdog.KindPaged))
	assert.Len(t, p.pages(), 1)
}

// TestResolveWithoutResolver: without a notifier that resolves, a
// "resolved" notification closes the incident.
func TestResolveWithoutResolver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("s")
	w.page = true
	p := &pager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Notifier = p }, &check{name: "c", w: w})
	for range 3 {
		_, err := r.Tick(ctx)
		require.NoError(t, err)
	}
	got := p.pages()
	require.Len(t, got, 2)
	assert.Equal(t, "watchdog c: s", got[0].Title)
	assert.Equal(t, "resolved: watchdog c: s", got[1].Title)
	assert.Equal(t, got[0].Key+":resolved", got[1].Key)
}

// badCheck returns observations the watchdog refuses.
type badCheck struct{}

func (badCheck) Name() string { return "bad" }

func (badCheck) Observe(context.Context, time.Time) ([]watchdog.Observation, error) {
	return []watchdog.Observation{
		{Subject: ""},
		{Subject: strings.Repeat("x", 513)},
		{Subject: "p", Page: true, Priority: notify.Priority(9)},
		{Subject: "ok"},
	}, nil
}

// TestInvalidObservations: an empty or oversized subject, or a page at a
// priority that does not exist, is refused and reported; the rest of the
// pass goes on.
func TestInvalidObservations(t *testing.T) {
	t.Parallel()
	r := newRunner(t, clock.NewFake(t0), nil, badCheck{})
	rep, err := r.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"invalid_observation ", "invalid_observation " + strings.Repeat("x", 64), "invalid_observation p", "observed ok"}, kinds(rep, "bad"))
	assert.Contains(t, r.Status().LastError, "invalid_observation")
}

// crashCheck's first action panics halfway (a crash in the middle of a
// pass); the state it left is still wrong.
type crashCheck struct {
	w       *world
	crashed bool
}

func (c *crashCheck) Name() string { return "crash" }

func (c *crashCheck) Observe(ctx context.Context, now time.Time) ([]watchdog.Observation, error) {
	obs, err := (&check{name: "crash", w: c.w}).Observe(ctx, now)
	for i := range obs {
		apply := obs[i].Apply
		obs[i].Apply = func(ctx context.Context, token uint64) error {
			if !c.crashed {
				c.crashed = true
				panic("crashed mid-pass")
			}
			return apply(ctx, token)
		}
	}
	return obs, err
}

// TestCrashMidPassConverges: a check that panics mid-pass is reported and
// the process survives; the next pass sees the same condition and
// converges.
func TestCrashMidPassConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld("a", "b")
	r := newRunner(t, clock.NewFake(t0), nil, &crashCheck{w: w})
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, count(rep, watchdog.KindCheckError))
	assert.Contains(t, rep.Findings[len(rep.Findings)-1].Detail, "panic: crashed mid-pass")
	rep, err = r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"acted a", "acted b"}, kinds(rep, "crash"))
	assert.Empty(t, w.stuck)
}
