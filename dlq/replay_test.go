package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
	"github.com/baldur-go/baldur/idempotency"
)

// gov is a governance checker that blocks while blocked is set and
// records the requests it saw.
type gov struct {
	baldur.NoOpGovernance
	blocked atomic.Bool
	mu      sync.Mutex
	reqs    []baldur.GovernanceRequest
}

func (g *gov) CheckAll(_ context.Context, r baldur.GovernanceRequest) baldur.GovernanceResult {
	g.mu.Lock()
	g.reqs = append(g.reqs, r)
	g.mu.Unlock()
	if g.blocked.Load() {
		return baldur.GovernanceResult{Reason: baldur.BlockEmergency, Level: 2}
	}
	return baldur.GovernanceResult{Allowed: true}
}

type budget struct{ allow atomic.Bool }

func (b *budget) Check(time.Time, baldur.Tier, string) baldur.ErrorBudgetDecision {
	return baldur.ErrorBudgetDecision{}
}
func (b *budget) ReplayAllowed(time.Time) bool { return b.allow.Load() }

// gate rejects as a throttle while reject is set and counts outcomes.
type gate struct {
	reject   atomic.Bool
	failures atomic.Int32
}

func (g *gate) Stage() baldur.Stage { return baldur.StageThrottle }
func (g *gate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.reject.Load() {
		return baldur.Permit{}, baldur.Reject(baldur.ReasonThrottled, time.Second)
	}
	return baldur.NewPermit(g, 1), nil
}
func (g *gate) Release(_ uint64, o baldur.Outcome) {
	if o.Result == baldur.Failure {
		g.failures.Add(1)
	}
}

type fixture struct {
	q    *dlq.Queue
	repo *dlq.Memory
	clk  *clock.Fake
	gov  *gov
	bud  *budget
	gate *gate
	fail atomic.Bool
	mu   sync.Mutex
	keys map[string][]string
}

func newFixture(t *testing.T, mut func(*dlq.Config)) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(t0), gov: &gov{}, bud: &budget{}, gate: &gate{}, keys: map[string][]string{}}
	f.bud.allow.Store(true)
	f.repo = dlq.NewMemory(dlq.MemoryConfig{Clock: f.clk})
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "charges", Gates: []baldur.Gate{f.gate}, Clock: f.clk})
	require.NoError(t, err)
	cfg := dlq.Config{Repository: f.repo, Clock: f.clk, Governance: f.gov, Budget: f.bud, Policies: baldur.Static(p),
		Handler: func(_ context.Context, e dlq.Entry, key string) error {
			f.mu.Lock()
			f.keys[e.ID] = append(f.keys[e.ID], key)
			f.mu.Unlock()
			if f.fail.Load() {
				return errors.New("upstream 503")
			}
			return nil
		}}
	if mut != nil {
		mut(&cfg)
	}
	f.q = newQueue(t, cfg)
	return f
}

func (f *fixture) add(t *testing.T, n int) []string {
	t.Helper()
	var es []dlq.Entry
	var ids []string
	for i := range n {
		e := dlqtest.NewEntry(fmt.Sprintf("r%d", i), "payments", t0.Add(time.Duration(i)*time.Millisecond))
		es = append(es, e)
		ids = append(ids, e.ID)
	}
	_, err := f.repo.Add(context.Background(), es)
	require.NoError(t, err)
	return ids
}

func TestReplayResolvesWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.add(t, 1)
	e, err := f.q.Replay(context.Background(), "r0")
	require.NoError(t, err)
	assert.Equal(t, dlq.Resolved, e.Status)
	assert.Equal(t, []string{"dlq:r0:1"}, f.keys["r0"])
	require.Len(t, f.gov.reqs, 1)
	assert.Equal(t, baldur.EmergencyLevel(2), f.gov.reqs[0].EmergencyMinLevel, "replays are blocked from emergency level 2")
	assert.Equal(t, dlq.ReplayOperation, f.gov.reqs[0].Operation)
	_, err = f.q.Replay(context.Background(), "r0")
	assert.ErrorIs(t, err, dlq.ErrConflict, "a resolved entry is not replayed")
}

func TestReplayTwoFailuresRequireReview(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.add(t, 1)
	f.fail.Store(true)
	e, err := f.q.Replay(context.Background(), "r0")
	require.Error(t, err)
	assert.Equal(t, dlq.Pending, e.Status)
	assert.Equal(t, 1, e.Attempts)
	e, err = f.q.Replay(context.Background(), "r0")
	require.Error(t, err)
	assert.Equal(t, dlq.RequiresReview, e.Status)
	assert.Equal(t, 2, e.Attempts)
	assert.Equal(t, []string{"dlq:r0:1", "dlq:r0:2"}, f.keys["r0"], "each attempt has its own key")
	assert.Equal(t, int32(2), f.gate.failures.Load(), "the policy learned both failures")
	_, err = f.q.Replay(context.Background(), "r0")
	assert.ErrorIs(t, err, dlq.ErrConflict, "review holds the entry")
	moved, err := f.q.Redrive(context.Background(), []string{"r0"})
	require.NoError(t, err)
	assert.Equal(t, []string{"r0"}, moved)
	f.fail.Store(false)
	e, err = f.q.Replay(context.Background(), "r0")
	require.NoError(t, err)
	assert.Equal(t, dlq.Resolved, e.Status)
}

func TestReplayBlockedKeepsAttempts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		block func(f *fixture)
		is    error
	}{
		{"governance", func(f *fixture) { f.gov.blocked.Store(true) }, dlq.ErrReplayBlocked},
		{"error budget", func(f *fixture) { f.bud.allow.Store(false) }, dlq.ErrReplayBlocked},
		{"throttle rejection", func(f *fixture) { f.gate.reject.Store(true) }, baldur.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			f.add(t, 1)
			f.fail.Store(true)
			_, err := f.q.Replay(context.Background(), "r0")
			require.Error(t, err) // one counted failure first
			tt.block(f)
			e, err := f.q.Replay(context.Background(), "r0")
			require.ErrorIs(t, err, tt.is)
			require.ErrorIs(t, err, dlq.ErrReplayBlocked)
			assert.Equal(t, dlq.Pending, e.Status)
			assert.Equal(t, 1, e.Attempts, "a blocked replay counts no attempt")
			assert.Len(t, f.keys["r0"], 1, "the handler did not run")
			r, err := f.q.ReplayBatch(context.Background(), "payments", 10)
			require.NoError(t, err)
			assert.Equal(t, 1, r.Blocked)
		})
	}
}

func TestReplayHandlerRejectionAndPanic(t *testing.T) {
	t.Parallel()
	calls := 0
	f := newFixture(t, func(c *dlq.Config) {
		c.Handler = func(context.Context, dlq.Entry, string) error {
			calls++
			if calls == 1 {
				return baldur.Reject(baldur.ReasonThrottled, time.Second)
			}
			panic("boom")
		}
	})
	f.add(t, 1)
	e, err := f.q.Replay(context.Background(), "r0")
	require.ErrorIs(t, err, dlq.ErrReplayBlocked, "the dependency's own throttle")
	assert.Zero(t, e.Attempts)
	e, err = f.q.Replay(context.Background(), "r0")
	require.Error(t, err)
	assert.Equal(t, 1, e.Attempts, "a panicking handler is a failure")
}

func TestReplayStepsRunOncePerKey(t *testing.T) {
	t.Parallel()
	ledger, err := idempotency.NewMemory(idempotency.MemoryConfig{})
	require.NoError(t, err)
	steps, err := idempotency.NewSteps(ledger, idempotency.StepsConfig{})
	require.NoError(t, err)
	runs := 0
	f := newFixture(t, func(c *dlq.Config) {
		c.Steps = steps
		c.Handler = func(context.Context, dlq.Entry, string) error { runs++; return nil }
	})
	f.add(t, 1)
	// A replay that ran but whose resolution was lost (the process died):
	// the key completed, the entry is pending again.
	_, err = steps.Do(context.Background(), dlq.ReplayOperation, "dlq:r0:1", func(context.Context) error { return nil })
	require.NoError(t, err)
	e, err := f.q.Replay(context.Background(), "r0")
	require.NoError(t, err)
	assert.Equal(t, dlq.Resolved, e.Status)
	assert.Zero(t, runs, "a completed key is not run again")
}

// TestConcurrentReplayersResolveOnce: N replayers over one domain resolve
// every entry, each handler call once.
func TestConcurrentReplayersResolveOnce(t *testing.T) {
	t.Parallel()
	var calls sync.Map
	f := newFixture(t, func(c *dlq.Config) {
		c.Handler = func(_ context.Context, e dlq.Entry, _ string) error {
			n, _ := calls.LoadOrStore(e.ID, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
			return nil
		}
	})
	ids := f.add(t, 500)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, err := f.q.ReplayBatch(context.Background(), "payments", 50)
				if !assert.NoError(t, err) || r.Attempted == 0 && r.Skipped == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		n, ok := calls.Load(id)
		require.True(t, ok, "%s replayed", id)
		assert.Equal(t, int32(1), n.(*atomic.Int32).Load(), "%s replayed once", id)
	}
	s, err := f.q.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 500, s.ByStatus[dlq.Resolved])
}

func TestGroupsAndDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ids := f.add(t, 3)
	_, err := f.repo.Add(context.Background(), []dlq.Entry{func() dlq.Entry {
		e := dlqtest.NewEntry("other", "mail", t0)
		e.Group = "g-mail"
		return e
	}()})
	require.NoError(t, err)
	gs, err := f.q.Groups(context.Background())
	require.NoError(t, err)
	require.Len(t, gs, 2)
	assert.Equal(t, "g-payments", gs[0].Group)
	assert.Equal(t, 3, gs[0].Count)
	r, err := f.q.ReplayGroup(context.Background(), "g-payments", 10, true)
	require.NoError(t, err)
	assert.Equal(t, ids, r.IDs, "dry run lists")
	assert.Zero(t, r.Attempted)
	assert.Empty(t, f.keys, "dry run replays nothing")
	r, err = f.q.ReplayGroup(context.Background(), "g-payments", 10, false)
	require.NoError(t, err)
	assert.Equal(t, 3, r.Resolved)
	gids, err := f.q.GroupIDs(context.Background(), "g-mail", 10)
	require.NoError(t, err)
	n, err := f.q.Delete(context.Background(), gids)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
