package canary_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/registry"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const op = "GET /items/{id}"

// document is a registry configuration whose one policy throttles per key
// at rate and burst.
func document(t testing.TB, rate float64, burst int) []byte {
	t.Helper()
	doc := map[string]any{
		"service":   "shop",
		"throttles": map[string]any{"per_tenant": map[string]any{"rate": rate, "burst": burst}},
		"bulkheads": map[string]any{"api": map[string]any{"max_concurrent": 10000}},
		"policies":  []any{map[string]any{"name": "api", "operations": []string{op}, "throttle": "per_tenant", "bulkhead": "api"}},
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

// fakeGov is a governance checker whose answers a test sets.
type fakeGov struct {
	mu       sync.Mutex
	killed   bool
	level    baldur.EmergencyLevel
	noBudget bool
}

func (g *fakeGov) set(f func(*fakeGov)) { g.mu.Lock(); f(g); g.mu.Unlock() }

func (g *fakeGov) CheckAll(context.Context, baldur.GovernanceRequest) baldur.GovernanceResult {
	return baldur.GovernanceResult{}
}
func (g *fakeGov) SystemEnabled(context.Context) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.killed
}
func (g *fakeGov) EmergencyBlocking(_ context.Context, min baldur.EmergencyLevel) (bool, baldur.EmergencyLevel) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.level >= min, g.level
}
func (g *fakeGov) ErrorBudgetBlocking(context.Context, baldur.Tier, string) (bool, float64, float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.noBudget {
		return true, 2, 10
	}
	return false, 80, 10
}
func (g *fakeGov) InvalidateCache() {}

// env is one replica with a canary service on a fake clock.
type env struct {
	clk   *clock.Fake
	reg   *registry.Registry
	local *canary.Local
	gov   *fakeGov
	lock  *lock.Memory
	svc   *canary.Service
}

func newEnv(t testing.TB, edit func(*canary.Config)) *env {
	t.Helper()
	e := &env{clk: clock.NewFake(t0), gov: &fakeGov{}}
	e.reg = registry.New(registry.WithClock(e.clk))
	require.NoError(t, e.reg.LoadDocument(document(t, 1000, 1000)))
	var err error
	e.local, err = canary.NewLocal(canary.LocalConfig{Target: e.reg, Replica: "replica-1"})
	require.NoError(t, err)
	e.lock, err = lock.NewMemory(lock.MemoryConfig{Clock: e.clk})
	require.NoError(t, err)
	cfg := canary.Config{
		StageDuration: baldur.Duration(2 * time.Minute), Window: baldur.Duration(time.Minute),
		AckTimeout: baldur.Duration(30 * time.Second), LockTTL: baldur.Duration(10 * time.Minute),
		Applier: e.local, Governance: e.gov, Lock: e.lock, Session: "controller-a", Clock: e.clk,
		Logger: quiet,
	}
	if edit != nil {
		edit(&cfg)
	}
	e.svc, err = canary.New(cfg)
	require.NoError(t, err)
	return e
}

func plan(t testing.TB, cand []byte, shares ...float64) canary.Plan {
	t.Helper()
	p := canary.Plan{Candidate: cand}
	for _, s := range shares {
		p.Stages = append(p.Stages, canary.Stage{Share: s})
	}
	return p
}

var opr = canary.Op{Actor: "alice", Reason: "test"}

// started creates and starts a rollout of cand and ticks it applied.
func (e *env) started(t testing.TB, cand []byte, shares ...float64) canary.Status {
	t.Helper()
	ctx := context.Background()
	st, err := e.svc.Create(ctx, plan(t, cand, shares...), opr)
	require.NoError(t, err)
	st, err = e.svc.Start(ctx, st.RolloutID, opr)
	require.NoError(t, err)
	require.NoError(t, e.svc.Tick(ctx))
	st, err = e.svc.Get(ctx, st.RolloutID)
	require.NoError(t, err)
	require.True(t, st.Applied, "a single local replica acknowledges at once")
	return st
}

// outcome scripts one admitted call of a cohort.
type outcome func(candidate bool, i int) baldur.Outcome

func same(latency time.Duration) outcome {
	return func(bool, int) baldur.Outcome { return baldur.Outcome{Result: baldur.Success, Latency: latency} }
}

// drive sends calls from keys distinct tenants, calls each, through the
// registry's cohort split, releasing admitted ones with out.
func (e *env) drive(t testing.TB, keys, calls int, out outcome) {
	t.Helper()
	ctx := context.Background()
	for i := range keys {
		key := "tenant-" + strconv.Itoa(i)
		cand := e.reg.InCandidate(key)
		for range calls {
			tk, err := e.reg.PolicyFor(op, key).Admit(ctx, baldur.Call{Operation: op, Key: key, Now: e.clk.Now()})
			if err != nil {
				continue
			}
			tk.Release(out(cand, i))
		}
	}
}

// window drives traffic in the current window, then moves just past its
// end and ticks, so that the window is flushed and judged.
func (e *env) window(t testing.TB, keys, calls int, out outcome) canary.Status {
	t.Helper()
	ctx := context.Background()
	e.drive(t, keys, calls, out)
	require.NoError(t, e.svc.Tick(ctx))
	now := e.clk.Now()
	e.clk.Advance(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))
	require.NoError(t, e.svc.Tick(ctx))
	return e.svc.List(ctx)[0]
}

// canonical returns doc as the registry writes it back (Document).
func canonical(t testing.TB, doc []byte) []byte {
	t.Helper()
	r := registry.New()
	require.NoError(t, r.LoadDocument(doc))
	return r.Document()
}
