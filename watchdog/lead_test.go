package watchdog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

// fencedCheck converges a fenced resource to a desired value; its Apply
// writes with the watchdog's token, so a stale leader is refused.
type fencedCheck struct {
	res     *lock.Guarded[int]
	desired func() int
	hook    func() // runs once inside Observe, then is cleared
}

func (c *fencedCheck) Name() string { return "converge" }

func (c *fencedCheck) Observe(context.Context, time.Time) ([]watchdog.Observation, error) {
	if h := c.hook; h != nil {
		c.hook = nil
		h()
	}
	want := c.desired()
	if v, _ := c.res.Load(); v == want {
		return nil, nil
	}
	return []watchdog.Observation{{Subject: "resource", Action: "set", Page: true, Priority: notify.PriorityWarning,
		Apply: func(_ context.Context, token uint64) error {
			return c.res.Write(token, func(v *int) { *v = want })
		}}}, nil
}

// TestOnlyTheLeaderActs: two watchdogs on one lock: the first to pass
// leads and acts; the other stands by and reports what it sees.
func TestOnlyTheLeaderActs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	lk, err := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	incidents := watchdog.NewMemoryIncidents()
	w := newWorld("s")
	w.fixes, w.page = false, true
	pa, pb := &resolvingPager{}, &resolvingPager{}
	shared := func(p notify.Manager) func(*watchdog.Config) {
		return func(c *watchdog.Config) { c.Lock, c.Incidents, c.Notifier = lk, incidents, p }
	}
	a := newRunner(t, clk, shared(pa), &check{name: "c", w: w})
	b := newRunner(t, clk, func(c *watchdog.Config) { shared(pb)(c); c.Session = "replica-b" }, &check{name: "c", w: w})

	rep, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"acted s", "paged s"}, kinds(rep, "c"))
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"standby s"}, kinds(rep, "c"))
	assert.Equal(t, watchdog.RoleLeader, a.Status().Checks[0].Role)
	assert.Equal(t, watchdog.RoleStandby, b.Status().Checks[0].Role)
	assert.NotZero(t, a.Status().Checks[0].Token)
	assert.Len(t, w.actions(), 1)

	// a stops passing; once its lease lapses b leads, and does not page
	// again what a paged.
	clk.Advance(91 * time.Second)
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"acted s"}, kinds(rep, "c"))
	assert.Equal(t, watchdog.RoleLeader, b.Status().Checks[0].Role)
	w.set("s", false)
	clk.Advance(30 * time.Second)
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"resolved s"}, kinds(rep, "c"))
	assert.Len(t, pa.pages(), 1)
	assert.Empty(t, pb.pages(), "the new leader did not page again")
	assert.Len(t, pb.resolves(), 1, "it resolved what the old leader paged")
}

// TestStaleLeaderFencedOff: a leader whose lease lapsed mid-pass acts with
// its old token after the new leader acted: the resource refuses it, and
// the stale leader stands down.
func TestStaleLeaderFencedOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	lk, err := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	incidents := watchdog.NewMemoryIncidents()
	var res lock.Guarded[int]
	desiredA, desiredB := 1, 2 // what each replica's (stale or fresh) view wants
	ca := &fencedCheck{res: &res, desired: func() int { return desiredA }}
	cb := &fencedCheck{res: &res, desired: func() int { return desiredB }}
	a := newRunner(t, clk, func(c *watchdog.Config) { c.Lock, c.Incidents = lk, incidents }, ca)
	b := newRunner(t, clk, func(c *watchdog.Config) { c.Lock, c.Incidents, c.Session = lk, incidents, "replica-b" }, cb)

	var bRep watchdog.Report
	ca.hook = func() {
		// a's lease is gone (a pause outlasted it) and b takes over and
		// acts, while a is between taking its lease and acting.
		require.NoError(t, lk.ReleaseFenced(ctx, "watchdog:converge", "replica-a", 0))
		bRep, err = b.Tick(ctx)
		require.NoError(t, err)
	}
	rep, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"acted resource", "paged resource"}, kinds(bRep, "converge"))
	assert.Equal(t, []string{"fenced resource"}, kinds(rep, "converge"), "the stale leader's action is refused")
	v, highest := res.Load()
	assert.Equal(t, 2, v, "the new leader's write stands")
	assert.Equal(t, b.Status().Checks[0].Token, highest)
	assert.Equal(t, watchdog.RoleStandby, a.Status().Checks[0].Role, "fenced off: standing down")

	rep, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"standby resource"}, kinds(rep, "converge"), "the next pass finds b leading")
}

// TestLocalChecksRunEverywhere: a LocalCheck runs on every replica without
// the lock, with token 0, and its incidents are kept per replica.
func TestLocalChecksRunEverywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	lk, err := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	incidents := watchdog.NewMemoryIncidents()
	wa, wb := newWorld("breaker"), newWorld("breaker")
	wa.page, wb.page = true, true
	p := &pager{}
	a := newRunner(t, clk, func(c *watchdog.Config) { c.Lock, c.Incidents, c.Notifier = lk, incidents, p },
		&localCheck{check{name: "l", w: wa}})
	b := newRunner(t, clk, func(c *watchdog.Config) { c.Lock, c.Incidents, c.Notifier, c.Session = lk, incidents, p, "replica-b" },
		&localCheck{check{name: "l", w: wb}})
	for _, r := range []*watchdog.Runner{a, b} {
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"acted breaker", "paged breaker"}, kinds(rep, "l"))
		assert.Equal(t, watchdog.RoleLocal, r.Status().Checks[0].Role)
	}
	assert.Len(t, p.pages(), 2, "one incident per replica")
	assert.Equal(t, "watchdog:l@replica-a:breaker", p.pages()[0].Key)
	assert.Equal(t, "watchdog:l@replica-b:breaker", p.pages()[1].Key)
	checks, err := incidents.Checks(ctx)
	require.NoError(t, err)
	assert.Empty(t, checks, "local incidents stay in their process")
	for _, r := range []*watchdog.Runner{a, b} {
		incs, err := r.Incidents(ctx)
		require.NoError(t, err)
		require.Len(t, incs, 1)
		assert.Equal(t, "l@"+r.Session(), incs[0].Check)
	}
}

// downLock is a lock whose server cannot be reached.
type downLock struct{ lock.Fenced }

func (downLock) AcquireFenced(context.Context, string, string, time.Duration, bool) (lock.Lease, bool, error) {
	return lock.Lease{}, false, errors.New("lock server unreachable")
}

// TestLockUnavailableDoesNotAct: without its lock a replica does not act
// (two replicas acting at once is what the lock prevents), says why, and
// pages nothing.
func TestLockUnavailableDoesNotAct(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld("s")
	w.page = true
	p := &pager{}
	r := newRunner(t, clock.NewFake(t0), func(c *watchdog.Config) { c.Lock, c.Notifier = downLock{}, p }, &check{name: "c", w: w})
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"lock_error ", "standby s"}, kinds(rep, "c"))
	assert.Equal(t, watchdog.RoleUnknown, r.Status().Checks[0].Role)
	assert.Equal(t, "c: lock_error: lock server unreachable", r.Status().LastError)
	assert.Empty(t, w.actions())
	assert.Empty(t, p.pages())
}

// TestBrakeFleetWide: the brake is an incident in the shared store: a new
// leader inherits it (no action, no second page), and an operator's
// release on any replica releases it for the leader.
func TestBrakeFleetWide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	lk, err := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	incidents := watchdog.NewMemoryIncidents()
	w := newWorld("s1", "s2")
	p := &resolvingPager{}
	cfg := func(session string) func(*watchdog.Config) {
		return func(c *watchdog.Config) {
			c.Lock, c.Incidents, c.Notifier, c.Session, c.MaxActionsPerHour = lk, incidents, p, session, 1
		}
	}
	a := newRunner(t, clk, cfg("replica-a"), &check{name: "c", w: w})
	b := newRunner(t, clk, cfg("replica-b"), &check{name: "c", w: w})
	rep, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, count(rep, watchdog.KindBrakeEngaged))
	require.Len(t, p.pages(), 1)

	clk.Advance(91 * time.Second) // a's lease lapses; b leads
	w.set("s3", true)
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, watchdog.RoleLeader, b.Status().Checks[0].Role)
	assert.Zero(t, count(rep, watchdog.KindActed), "the new leader inherits the brake: %v", kinds(rep, ""))
	assert.True(t, b.Status().Checks[0].Brake)
	assert.Len(t, p.pages(), 1, "and does not page it again")

	released, err := a.ReleaseBrake(ctx, "c", "alice", "fixed") // on the replica that does not lead
	require.NoError(t, err)
	assert.True(t, released)
	clk.Advance(30 * time.Second)
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, count(rep, watchdog.KindActed), "the leader sees the release: %v", kinds(rep, ""))
	assert.Len(t, p.resolves(), 1)
}

// TestCachedIncidentsRefresh: an incident opened in the store behind the
// leader's back (not by a write of its own) is resolved within the cache's
// refresh, not left open for ever.
func TestCachedIncidentsRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	incidents := watchdog.NewMemoryIncidents()
	p := &resolvingPager{}
	r := newRunner(t, clk, func(c *watchdog.Config) { c.Incidents, c.Notifier = incidents, p }, &check{name: "c", w: newWorld()})
	_, err := r.Tick(ctx)
	require.NoError(t, err)
	_, err = incidents.Open(ctx, watchdog.Incident{Check: "c", Subject: "ghost", Title: "t"}, 0)
	require.NoError(t, err)
	resolved := 0
	for range 11 {
		rep, err := r.Tick(ctx)
		require.NoError(t, err)
		resolved += count(rep, watchdog.KindResolved)
	}
	assert.Equal(t, 1, resolved)
}
