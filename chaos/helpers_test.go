package chaos_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
)

var t0 = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC) // inside the default 02:00-06:00 window

// fakeGov is a governance checker whose answers the test sets.
type fakeGov struct {
	mu     sync.Mutex
	killed bool
	level  baldur.EmergencyLevel
	calls  int
	baldur.NoOpGovernance
}

func (g *fakeGov) set(killed bool, level baldur.EmergencyLevel) {
	g.mu.Lock()
	g.killed, g.level = killed, level
	g.mu.Unlock()
}

func (g *fakeGov) SystemEnabled(context.Context) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	return !g.killed
}

func (g *fakeGov) EmergencyBlocking(_ context.Context, min baldur.EmergencyLevel) (bool, baldur.EmergencyLevel) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.level >= min, g.level
}

// fakeBudget is an error budget whose remaining share and burn rate the
// test sets.
type fakeBudget struct {
	mu        sync.Mutex
	remaining float64
	burn      float64
}

func (b *fakeBudget) set(remaining, burn float64) {
	b.mu.Lock()
	b.remaining, b.burn = remaining, burn
	b.mu.Unlock()
}

func (b *fakeBudget) Record(time.Time, baldur.Result) {}

func (b *fakeBudget) Status(time.Time) baldur.ErrorBudgetStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return baldur.ErrorBudgetStatus{RemainingPct: b.remaining, BurnRates: []baldur.BurnRate{{Window: time.Hour, Rate: b.burn}}}
}

// notes records notifications.
type notes struct {
	mu  sync.Mutex
	got []notify.Notification
}

func (n *notes) Notify(_ context.Context, x notify.Notification) (notify.Result, error) {
	n.mu.Lock()
	n.got = append(n.got, x)
	n.mu.Unlock()
	return notify.Result{Delivered: true, Priority: x.Priority}, nil
}

func (n *notes) titles() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, x := range n.got {
		out = append(out, x.Title)
	}
	return out
}

// env is one replica's chaos wiring on a fake clock.
type env struct {
	clk    *clock.Fake
	gov    *fakeGov
	budget *fakeBudget
	blast  *blastradius.Manager
	notes  *notes
	store  chaos.Store
	sc     *chaos.Scheduler
	inj    *chaos.Injector
}

func live() *bool { f := false; return &f }

// newEnv builds a scheduler with chaos enabled and live (not dry), a
// healthy system, and blast-radius windows at any time.
func newEnv(t testing.TB, mod func(*chaos.Config)) *env {
	t.Helper()
	e := &env{clk: clock.NewFake(t0), gov: &fakeGov{}, budget: &fakeBudget{remaining: 90, burn: 1}, notes: &notes{}}
	var err error
	e.blast, err = blastradius.New(blastradius.Config{Clock: e.clk, Windows: []blastradius.Window{blastradius.AnyTime}})
	require.NoError(t, err)
	e.store = chaos.NewMemory(e.clk)
	cfg := chaos.Config{
		Enabled: true, DryRun: live(), SteadyState: baldur.Duration(10 * time.Second),
		CheckInterval: baldur.Duration(10 * time.Second), MinCalls: 10,
		Store: e.store, Governance: e.gov, Budget: e.budget, Blast: e.blast, Notify: e.notes, Clock: e.clk,
		Logger: discard,
	}
	if mod != nil {
		mod(&cfg)
	}
	e.sc, err = chaos.New(cfg)
	require.NoError(t, err)
	e.inj = e.sc.Injector()
	return e
}

// latencyExp is a valid experiment on policy "api".
func errorExp(id string, rate float64) chaos.Experiment {
	return chaos.Experiment{ID: id, Target: chaos.Target{Policy: "api"}, Fault: chaos.Fault{Kind: chaos.FaultError, HTTPStatus: 500, GRPCCode: 13},
		Rate: rate, Duration: baldur.Duration(time.Minute), Hypothesis: "the control cohort is untouched"}
}

// call is a call of policy "api" for key.
func call(now time.Time, key string) baldur.Call {
	return baldur.Call{Operation: "GET /api/items/{id}", Service: "shop", Key: key, Tier: baldur.TierStandard, Now: now}
}

func keyOf(i int) string { return fmt.Sprintf("tenant-%d", i) }
