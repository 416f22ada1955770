package notify_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/notify"
)

// recorder is a Manager and Resolver that keeps what it was given.
type recorder struct {
	mu       sync.Mutex
	notified []notify.Notification
	resolved []notify.Notification
	got      chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 100)} }

func (r *recorder) Notify(_ context.Context, n notify.Notification) (notify.Result, error) {
	r.mu.Lock()
	r.notified = append(r.notified, n)
	r.mu.Unlock()
	r.got <- struct{}{}
	return notify.Result{Delivered: true, Priority: n.Priority}, nil
}

func (r *recorder) Resolve(_ context.Context, n notify.Notification) (notify.Result, error) {
	r.mu.Lock()
	r.resolved = append(r.resolved, n)
	r.mu.Unlock()
	r.got <- struct{}{}
	return notify.Result{Delivered: true, Priority: n.Priority}, nil
}

func (r *recorder) snapshot() (n, res []notify.Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Notification(nil), r.notified...), append([]notify.Notification(nil), r.resolved...)
}

func TestGovernanceAlertsKeyedByKind(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	var sink governance.AlertSink = notify.GovernanceAlerts{Manager: rec}
	sink.Alert(context.Background(), governance.Alert{Kind: governance.AlertKillSwitchUnreadable, Err: errors.New("timeout"), Suppressed: 3})
	sink.Alert(context.Background(), governance.Alert{Kind: governance.AlertStoreReset, StaleSince: t0})
	<-rec.got
	<-rec.got
	n, _ := rec.snapshot()
	require.Len(t, n, 2)
	slices.SortFunc(n, func(a, b notify.Notification) int { return strings.Compare(a.Key, b.Key) })
	assert.Equal(t, notify.PriorityHigh, n[0].Priority)
	assert.Equal(t, "governance:kill_switch_unreadable", n[0].Key)
	assert.Contains(t, n[0].Body, "timeout")
	assert.Contains(t, n[0].Body, "3 more")
	assert.Equal(t, "governance:store_reset", n[1].Key)
	assert.Equal(t, notify.PriorityCritical, n[1].Priority)
	assert.NotEqual(t, n[0].Key, n[1].Key, "kinds never mute each other")
}

// A real governance checker whose store fails raises its alert through
// the adapter into a real pipeline.
func TestGovernanceAlertsFromChecker(t *testing.T) {
	t.Parallel()
	p, _, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}}, nil)
	rec := &countingManager{next: p}
	g, err := governance.New(governance.Config{Store: failingStore{governance.NewMemoryStore()}, Alerts: notify.GovernanceAlerts{Manager: rec}})
	require.NoError(t, err)
	g.CheckAll(context.Background(), baldur.GovernanceRequest{Operation: "GET /x"})
	require.Eventually(t, func() bool { return len(p.Recent()) > 0 }, 10*time.Second, time.Millisecond,
		"the checker's fail-open alert reached the pipeline")
	assert.Positive(t, rec.n.Load())
	assert.Equal(t, "governance", p.Recent()[0].Source)
}

func TestBurnAlertsNotifyOnStartAndResolveOnStop(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	src := &burnSource{}
	b := &notify.BurnAlerts{Budget: src, Manager: rec}
	fast := governance.BurnWindow{Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4}
	slow := governance.BurnWindow{Long: 72 * time.Hour, Short: 6 * time.Hour, Factor: 1}
	src.set([]governance.BurnAlert{{BurnWindow: fast, Firing: true, LongRate: 20, ShortRate: 30}, {BurnWindow: slow}})
	b.Check(context.Background())
	b.Check(context.Background()) // no change: nothing new
	src.set([]governance.BurnAlert{{BurnWindow: fast}, {BurnWindow: slow, Firing: true}})
	b.Check(context.Background())
	n, res := rec.snapshot()
	require.Len(t, n, 2)
	assert.Equal(t, notify.PriorityCritical, n[0].Priority)
	assert.Equal(t, notify.PriorityWarning, n[1].Priority)
	require.Len(t, res, 1)
	assert.Equal(t, n[0].Key, res[0].Key)
}

type burnSource struct {
	mu sync.Mutex
	a  []governance.BurnAlert
}

func (s *burnSource) set(a []governance.BurnAlert) { s.mu.Lock(); s.a = a; s.mu.Unlock() }
func (s *burnSource) BurnAlerts(time.Time) []governance.BurnAlert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.a
}

func TestEmergencyLevelsNotifyChanges(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	lvl := levelSource{new(atomic.Int32)}
	e := &notify.EmergencyLevels{Level: lvl, Manager: rec}
	e.Check(context.Background())
	lvl.l.Store(2)
	e.Check(context.Background())
	e.Check(context.Background())
	lvl.l.Store(3)
	e.Check(context.Background())
	lvl.l.Store(0)
	e.Check(context.Background())
	n, res := rec.snapshot()
	require.Len(t, n, 2)
	assert.Equal(t, notify.PriorityHigh, n[0].Priority)
	assert.Equal(t, notify.PriorityCritical, n[1].Priority)
	assert.Equal(t, notify.EmergencyKey, n[0].Key)
	require.Len(t, res, 1)
	assert.Equal(t, notify.EmergencyKey, res[0].Key)
}

// Breaker changes come from a real blast.Breakers through its
// OnStateChange hook, off the call's goroutine.
func TestBreakerChangesFromBreakers(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	bc := &notify.BreakerChanges{Manager: rec, Name: "payments"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bc.Start(ctx)
	br, err := blast.NewBreakers(blast.BreakerConfig{ConsecutiveFailures: 2, OnStateChange: bc.Hook})
	require.NoError(t, err)
	for range 2 {
		p, err := br.Admit(ctx, baldur.Call{Key: "api.example.com", Now: time.Now()})
		require.NoError(t, err)
		p.Release(baldur.Outcome{Result: baldur.Failure})
	}
	select {
	case <-rec.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	n, _ := rec.snapshot()
	require.Len(t, n, 1)
	assert.Equal(t, "breaker:payments:api.example.com", n[0].Key)
	assert.Contains(t, n[0].Title, "open")
	require.NoError(t, br.ForceOpen(blast.Partition{Key: "other"}, time.Minute))
	assert.Zero(t, bc.Dropped())
}

// countingManager counts and forwards.
type countingManager struct {
	next notify.Manager
	n    atomic.Int64
}

func (c *countingManager) Notify(ctx context.Context, n notify.Notification) (notify.Result, error) {
	c.n.Add(1)
	return c.next.Notify(ctx, n)
}

// failingStore fails every read: the checker fails open and alerts.
type failingStore struct{ *governance.MemoryStore }

var errDown = errors.New("store down")

func (failingStore) KillSwitches(context.Context) ([]governance.KillSwitch, error) {
	return nil, errDown
}
func (failingStore) Emergency(context.Context) (baldur.EmergencyState, error) {
	return baldur.EmergencyState{}, errDown
}
func (failingStore) BreakGlass(context.Context) (governance.BreakGlass, error) {
	return governance.BreakGlass{}, errDown
}
