package governance

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestGateKind(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	require.Equal(t, baldur.StageGovernance, f.c.Gate().Stage(), "kind")
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{f.c.Gate()}, Clock: f.clk})
	require.NoError(t, err)
	f.c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /x", Reason: "r"})
	_, err = p.Admit(bg, baldur.Call{Operation: "GET /x"})
	require.Error(t, err, "policy admitted a switched-off call")
	require.Equal(t, uint64(1), p.Rejected(baldur.ReasonKillSwitch), "policy did not count the rejection")
}

func TestGateReleaseFeedsBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{BudgetMinCalls: 1})
	g := f.c.Gate()
	for i, r := range []baldur.Result{baldur.Success, baldur.Failure, baldur.Ignored, baldur.Success} {
		p, err := g.Admit(bg, f.call("GET /a", 0))
		require.NoError(t, err)
		p.Release(baldur.Outcome{Result: r, Latency: time.Duration(i) * time.Millisecond})
		p.Release(baldur.Outcome{Result: baldur.Failure}) // second release is a no-op
	}
	st := f.c.Budget().Status(f.clk.Now())
	require.Equal(t, uint64(3), st.Total, "budget saw %+v", st)
	require.Equal(t, uint64(1), st.Failed, "budget saw %+v", st)
}

func TestGateZeroAllocs(t *testing.T) {
	f := newFixture(t, Config{})
	g := f.c.Gate()
	call := f.call("GET /items/{id}", baldur.TierStandard)
	ctx := context.Background()
	admit := func() {
		p, err := g.Admit(ctx, call)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(baldur.Outcome{Result: baldur.Success})
	}
	require.Zero(t, testing.AllocsPerRun(1000, admit), "admit+release allocates")
	// Restrictive snapshot (an unrelated switch, L1 shedding non_essential):
	// the admit path still allocates nothing.
	f.c.Activate(bg, KillSwitch{Scope: ScopeOperation, Pattern: "GET /other/*", Reason: "r"})
	f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
	require.Zero(t, testing.AllocsPerRun(1000, admit), "restrictive admit allocates")
	// Reject path, once the audit burst is spent.
	call.Tier = baldur.TierNonEssential
	for range 20 {
		g.Admit(ctx, call)
	}
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		if _, err := g.Admit(ctx, call); err == nil {
			t.Fatal("admitted")
		}
	}), "reject allocates")
}

// TestGateHammer runs admits, releases and transitions concurrently under
// -race.
func TestGateHammer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Audit: &MemoryAudit{Max: 10}})
	g := f.c.Gate()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := f.call("GET /a", baldur.Tier(w%3))
				if p, err := g.Admit(bg, c); err == nil {
					p.Release(baldur.Outcome{Result: baldur.Result(w % 2)})
				}
				f.c.CheckAll(bg, baldur.GovernanceRequest{Operation: "GET /a"})
			}
		}()
	}
	for i := range 200 {
		switch i % 4 {
		case 0:
			f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"})
		case 1:
			f.c.Deactivate(bg, ScopeAll, "")
		case 2:
			f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
		case 3:
			for f.c.Emergency().Level() > 0 {
				f.c.Emergency().StepDown(bg, "", "")
			}
		}
		f.clk.Advance(time.Second)
	}
	close(stop)
	wg.Wait()
}
