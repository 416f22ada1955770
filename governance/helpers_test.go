package governance

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type alertRecorder struct {
	mu     sync.Mutex
	alerts []Alert
}

func (r *alertRecorder) Alert(_ context.Context, a Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
}

func (r *alertRecorder) count(kind AlertKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.alerts {
		if a.Kind == kind {
			n++
		}
	}
	return n
}

// flakyStore fails the reads whose flag is set.
type flakyStore struct {
	*MemoryStore
	failKill, failEmergency, failBreakGlass atomic.Bool
}

var errDown = errors.New("store down")

func (f *flakyStore) KillSwitches(ctx context.Context) ([]KillSwitch, error) {
	if f.failKill.Load() {
		return nil, errDown
	}
	return f.MemoryStore.KillSwitches(ctx)
}

func (f *flakyStore) Emergency(ctx context.Context) (baldur.EmergencyState, error) {
	if f.failEmergency.Load() {
		return baldur.EmergencyState{}, errDown
	}
	return f.MemoryStore.Emergency(ctx)
}

func (f *flakyStore) BreakGlass(ctx context.Context) (BreakGlass, error) {
	if f.failBreakGlass.Load() {
		return BreakGlass{}, errDown
	}
	return f.MemoryStore.BreakGlass(ctx)
}

type fixture struct {
	c      *Checker
	clk    *clock.Fake
	audit  *MemoryAudit
	alerts *alertRecorder
	store  *flakyStore
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(t0), audit: &MemoryAudit{}, alerts: &alertRecorder{}, store: &flakyStore{MemoryStore: NewMemoryStore()}}
	cfg.Clock = f.clk
	if cfg.Store == nil {
		cfg.Store = f.store
	}
	if cfg.Audit == nil {
		cfg.Audit = f.audit
	}
	cfg.Alerts = f.alerts
	c, err := New(cfg)
	require.NoError(t, err, "New")
	f.c = c
	return f
}

func (f *fixture) call(op string, tier baldur.Tier) baldur.Call {
	return baldur.Call{Operation: op, Service: "shop", Tier: tier, Now: f.clk.Now()}
}

// admit runs the gate and releases at once with outcome.
func (f *fixture) admit(t testing.TB, c baldur.Call, res baldur.Result) error {
	t.Helper()
	p, err := f.c.Gate().Admit(context.Background(), c)
	if err == nil {
		p.Release(baldur.Outcome{Result: res})
	}
	return err
}

// feed records calls into the budget at the current time.
func (f *fixture) feed(ok, failed int) {
	now := f.clk.Now()
	for range ok {
		f.c.Budget().Record(now, baldur.Success)
	}
	for range failed {
		f.c.Budget().Record(now, baldur.Failure)
	}
}

func wantReason(t testing.TB, err error, want baldur.Reason, retry time.Duration) {
	t.Helper()
	rej, ok := baldur.AsRejection(err)
	require.True(t, ok, "err = %v, want a rejection %v", err, want)
	require.Equal(t, want, rej.Reason(), "rejection reason")
	require.Equal(t, retry, rej.RetryAfter(), "rejection Retry-After")
	require.ErrorIs(t, err, baldur.ErrRejected)
	require.ErrorIs(t, err, want.Sentinel())
}

// resetCache clears the audit and alert rate limits and rebuilds the
// evaluation.
func (c *Checker) resetCache() {
	c.audit.reset()
	c.alerts.reset()
	c.transition(context.Background())
}

func (a *auditor) reset() {
	for i := range a.kinds {
		l := &a.kinds[i]
		l.tat.Store(0)
		l.reported.Store(l.dropped())
	}
}

func (a *alerter) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.last)
	clear(a.quiet)
}
