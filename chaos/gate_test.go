package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/internal/glob"
)

// toDuring schedules x and passes the steady state, so that x injects.
func (e *env) toDuring(t testing.TB, x chaos.Experiment) {
	t.Helper()
	ctx := context.Background()
	_, err := e.sc.Schedule(ctx, x)
	require.NoError(t, err)
	e.sc.Tick(ctx)
	r, err := e.sc.Get(x.ID)
	require.NoError(t, err)
	require.Equal(t, chaos.StateBefore, r.State, "%+v", r)
	e.advance(10 * time.Second)
	r, _ = e.sc.Get(x.ID)
	require.Equal(t, chaos.StateDuring, r.State, "%+v", r)
}

// advance moves the clock by d one poll (1 s) at a time, with a pass
// after each, as the scheduler's loop would.
func (e *env) advance(d time.Duration) {
	for ; d > 0; d -= time.Second {
		e.clk.Advance(min(d, time.Second))
		e.sc.Tick(context.Background())
	}
}

func TestFaultGateWithoutExperimentAdmitsAndAllocatesNothing(t *testing.T) {
	inj := chaos.NewInjector(nil)
	obs, fault := inj.Gates("api")
	c := call(time.Now(), "k")
	for _, g := range []baldur.Gate{obs, fault} {
		p, err := g.Admit(context.Background(), c)
		require.NoError(t, err)
		require.False(t, p.Held())
		assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = g.Admit(context.Background(), c) }))
	}
	assert.Equal(t, baldur.StageFault, fault.Stage())
	assert.Equal(t, chaos.StageObserve, obs.Stage())
}

// Over 100 000 keys the experiment cohort is within 1 % of the rate, the
// control cohort is as large and never injected, the rest untouched, and
// a key's decision never changes.
func TestInjectionRateCohortsAndControl(t *testing.T) {
	e := newEnv(t, nil)
	const rate, n = 0.05, 100_000
	e.toDuring(t, errorExp("rate", rate))
	_, fault := e.inj.Gates("api")
	ctx := context.Background()
	var injected, control, admitted int
	for i := range n {
		key := keyOf(i)
		c := call(e.clk.Now(), key)
		p, err := fault.Admit(ctx, c)
		cohort := chaos.Cohort("rate", rate, key)
		switch {
		case err != nil:
			require.ErrorIs(t, err, baldur.ErrInjectedFault)
			require.Equal(t, "experiment", cohort, "only the experiment cohort is injected")
			injected++
		case cohort == "control":
			require.True(t, p.Held(), "control calls are observed")
			control++
			p.Release(baldur.Outcome{Result: baldur.Success})
		default:
			require.Empty(t, cohort)
			require.False(t, p.Held())
			admitted++
		}
		// Sticky: the same key decides the same way again.
		_, err2 := fault.Admit(ctx, c)
		require.Equal(t, err == nil, err2 == nil, "key %s changed its decision", key)
	}
	got := float64(injected) / n
	t.Logf("injected %d of %d (%.4f, rate %.4f), control %d", injected, n, got, rate, control)
	// Both cohorts within 1 % of the traffic. Whether the hash spreads
	// keys like independent draws (sigma/rate is 1.4 % at this size, so a
	// relative 1 % bound on one experiment would be luck, not a property)
	// is TestCohortHashSpreadsLikeIndependentDraws, over many experiments.
	assert.InDelta(t, rate, got, 0.01, "injected share within 1 %% of the traffic")
	assert.InDelta(t, rate, float64(control)/n, 0.01, "control cohort as large")
	assert.Equal(t, n, injected+control+admitted)
	rej := baldur.RejectInjected(500, 13)
	_, err := fault.Admit(ctx, call(e.clk.Now(), firstKey(t, "rate", rate, "experiment")))
	assert.Same(t, rej, err, "the configured status and code")
}

func firstKey(t testing.TB, id string, rate float64, cohort string) string {
	for i := range 100000 {
		if chaos.Cohort(id, rate, keyOf(i)) == cohort {
			return keyOf(i)
		}
	}
	t.Fatalf("no %s key", cohort)
	return ""
}

func TestTargetMatching(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("match", 0.5)
	x.Target = chaos.Target{Service: "shop", Policy: "api", Operation: "GET /api/*", Region: "eu"}
	e.toDuring(t, x)
	key := firstKey(t, "match", 0.5, "experiment")
	ctx := context.Background()
	base := call(e.clk.Now(), key)
	base.Region = "eu"
	tests := []struct {
		name   string
		policy string
		mod    func(*baldur.Call)
		inject bool
	}{
		{"matching", "api", func(*baldur.Call) {}, true},
		{"other policy", "other", func(*baldur.Call) {}, false},
		{"other service", "api", func(c *baldur.Call) { c.Service = "billing" }, false},
		{"other region", "api", func(c *baldur.Call) { c.Region = "us" }, false},
		{"other operation", "api", func(c *baldur.Call) { c.Operation = "POST /pay" }, false},
		{"critical tier", "api", func(c *baldur.Call) { c.Tier = baldur.TierCritical }, false},
		{"no key", "api", func(c *baldur.Call) { c.Key = "" }, false},
		{"non_essential", "api", func(c *baldur.Call) { c.Tier = baldur.TierNonEssential }, true},
	}
	for _, tt := range tests {
		c := base
		tt.mod(&c)
		_, fault := e.inj.Gates(tt.policy)
		_, err := fault.Admit(ctx, c)
		assert.Equal(t, tt.inject, err != nil, tt.name)
	}
}

func TestDryRunInjectsNothingAndCounts(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.DryRun = nil }) // the default: dry
	require.True(t, e.sc.DryRun())
	e.toDuring(t, errorExp("dry", 0.1))
	_, fault := e.inj.Gates("api")
	ctx := context.Background()
	want := 0
	for i := range 10000 {
		if chaos.Cohort("dry", 0.1, keyOf(i)) == "experiment" {
			want++
		}
		p, err := fault.Admit(ctx, call(e.clk.Now(), keyOf(i)))
		require.NoError(t, err, "a dry run injects nothing")
		p.Release(baldur.Outcome{Result: baldur.Success})
	}
	st := e.inj.Stats()
	assert.EqualValues(t, want, st.WouldInject)
	assert.Zero(t, st.Injected[chaos.FaultError])
	rep, err := e.sc.Generate(ctx, "dry")
	require.NoError(t, err)
	assert.True(t, rep.DryRun)
	assert.EqualValues(t, want, rep.Experiment.During.WouldInject)
	assert.Zero(t, rep.Experiment.During.Injected)
	assert.Equal(t, chaos.VerdictInconclusive, rep.Verdict)
}

func TestLatencyFaultHoldsTheCallHonoursDeadlineAndContext(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("slow", 0.5)
	x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(200 * time.Millisecond)}
	e.toDuring(t, x)
	key := firstKey(t, "slow", 0.5, "experiment")
	_, fault := e.inj.Gates("api")

	// No deadline: the full delay, on the injected clock.
	done := make(chan error, 1)
	go func() {
		_, err := fault.Admit(context.Background(), call(e.clk.Now(), key))
		done <- err
	}()
	waitTimers(t, e, 1)
	e.clk.Advance(199 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("released before the delay")
	default:
	}
	e.clk.Advance(time.Millisecond)
	require.NoError(t, <-done)

	// A deadline 50 ms away cuts the delay to 49 ms.
	go func() {
		c := call(e.clk.Now(), key)
		c.Deadline = c.Now.Add(50 * time.Millisecond)
		_, err := fault.Admit(context.Background(), c)
		done <- err
	}()
	waitTimers(t, e, 1)
	e.clk.Advance(49 * time.Millisecond)
	require.NoError(t, <-done)

	// A cancelled context ends the delay with ctx.Err(), unwrapped.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := fault.Admit(ctx, call(e.clk.Now(), key))
		done <- err
	}()
	waitTimers(t, e, 1)
	cancel()
	require.Equal(t, context.Canceled, <-done)
	assert.EqualValues(t, 3, e.inj.Stats().Injected[chaos.FaultLatency])
}

func waitTimers(t testing.TB, e *env, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return e.clk.Pending() >= n }, 5*time.Second, time.Millisecond)
}

// An injected error reaches the breakers before the fault stage as a
// failure marked Injected, and opens them: the point of injecting it.
func TestInjectedErrorsOpenTheBreakerOfTheExperimentCohortOnly(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	e.toDuring(t, errorExp("trip", 0.5))
	br := &countingGate{}
	obs, fault := e.inj.Gates("api")
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{fault, br, obs}})
	require.NoError(t, err)
	exp, ctl := firstKey(t, "trip", 0.5, "experiment"), firstKey(t, "trip", 0.5, "control")
	for range 5 {
		_, err := p.Admit(context.Background(), call(e.clk.Now(), exp))
		require.ErrorIs(t, err, baldur.ErrInjectedFault)
		tk, err := p.Admit(context.Background(), call(e.clk.Now(), ctl))
		require.NoError(t, err)
		tk.Release(baldur.Outcome{Result: baldur.Success})
	}
	assert.Equal(t, 5, br.injectedFailures)
	assert.Equal(t, 5, br.successes)
}

type countingGate struct {
	injectedFailures, successes int
}

func (*countingGate) Stage() baldur.Stage { return baldur.StageBlast }
func (g *countingGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 0), nil
}
func (g *countingGate) Release(_ uint64, o baldur.Outcome) {
	switch {
	case o.Result == baldur.Failure && o.Injected:
		g.injectedFailures++
	case o.Result == baldur.Success:
		g.successes++
	}
}

// The observe gate counts the rejections of the gates after it per cohort.
func TestObserveGateCountsLaterRejectionsByCohort(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("obs", 0.5)
	x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(time.Millisecond)}
	x.DryRun = true
	e.toDuring(t, x)
	obs, fault := e.inj.Gates("api")
	shed := &rejectGate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{fault, shed, obs}})
	require.NoError(t, err)
	ctl := firstKey(t, "obs", 0.5, "control")
	for range 3 {
		_, err := p.Admit(context.Background(), call(e.clk.Now(), ctl))
		require.ErrorIs(t, err, baldur.ErrBreakerOpen)
	}
	rep, err := e.sc.Generate(context.Background(), "obs")
	require.NoError(t, err)
	assert.EqualValues(t, 3, rep.Control.During.Rejected["breaker_open"])
	assert.EqualValues(t, 3, rep.Control.During.Calls)
	assert.Zero(t, rep.Experiment.During.Calls)
}

type rejectGate struct{}

func (*rejectGate) Stage() baldur.Stage { return baldur.StageBlast }
func (*rejectGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, baldur.RejectAtLeast(baldur.ReasonBreakerOpen, 0, time.Second)
}

func TestCohortIsStableAndSplitsEvenly(t *testing.T) {
	t.Parallel()
	counts := map[string]int{}
	for i := range 100_000 {
		c := chaos.Cohort("exp-a", 0.1, keyOf(i))
		require.Equal(t, c, chaos.Cohort("exp-a", 0.1, keyOf(i)))
		counts[c]++
	}
	sigma := math.Sqrt(100_000 * 0.1 * 0.9)
	assert.InDelta(t, 10_000, counts["experiment"], 3*sigma)
	assert.InDelta(t, 10_000, counts["control"], 3*sigma)
	assert.Empty(t, chaos.Cohort("exp-a", 0.1, ""), "no key, no cohort")
	// Another experiment draws other cohorts.
	same := 0
	for i := range 10_000 {
		if chaos.Cohort("exp-a", 0.1, keyOf(i)) == "experiment" && chaos.Cohort("exp-b", 0.1, keyOf(i)) == "experiment" {
			same++
		}
	}
	assert.Less(t, same, 200)
	assert.False(t, errors.Is(nil, baldur.ErrRejected))
}

// The operation test answers as the pattern means (internal/glob), for
// patterns the view tests itself (exact and prefix of 8 to 16 bytes) and
// for those the match tests (shorter, longer, inner '*', any).
func TestOperationPatternsInjectWhatTheyMatch(t *testing.T) {
	t.Parallel()
	ops := []string{"GET /health", "GET /healthz", "GET /healt", "POST /health", "GET /api/", "GET /api/x",
		"GET /apix", "GET /a/b", "GET /x/items", "GET /items", "GET /api/items/{id}/reviews"}
	for _, pattern := range []string{"GET /health", "GET /api/*", "GET /a/*", "GET /*/items", "GET /api/items/{id}/*", ""} {
		e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
		x := errorExp("ops", 0.5)
		x.Target.Operation = pattern
		e.toDuring(t, x)
		_, fault := e.inj.Gates("api")
		c := call(e.clk.Now(), firstKey(t, "ops", 0.5, "experiment"))
		for _, op := range ops {
			c.Operation = op
			_, err := fault.Admit(context.Background(), c)
			want := pattern == "" || glob.Match(pattern, op)
			assert.Equal(t, want, err != nil, "pattern %q, operation %q", pattern, op)
		}
	}
}

// The fault gate puts a key in the cohort chaos.Cohort names, for keys of
// every length (the gate hashes keys of 8 to 16 bytes itself), both when
// the policy's view holds one experiment and when it holds several.
func TestGateCohortsAgreeWithCohortForEveryKeyLength(t *testing.T) {
	t.Parallel()
	const rate = 0.25
	for _, tc := range []struct {
		name   string
		others []string // operations of further experiments on the policy, matching no call
	}{
		{"one experiment", nil},
		{"several experiments", []string{"POST /never", "PUT /never/*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
			e.toDuring(t, errorExp("lengths", rate))
			for i, op := range tc.others {
				x := errorExp(fmt.Sprintf("other-%d", i), rate)
				x.Target.Operation = op
				x.Force = true // past the cooldown the first one started
				e.toDuring(t, x)
			}
			_, fault := e.inj.Gates("api")
			ctx := context.Background()
			seen := map[string]int{}
			for n := 1; n <= 40; n++ {
				for i := range 64 {
					key := fmt.Sprintf("%0*d", n, i*7919)[:n]
					want := chaos.Cohort("lengths", rate, key)
					p, err := fault.Admit(ctx, call(e.clk.Now(), key))
					got := ""
					switch {
					case err != nil:
						require.ErrorIs(t, err, baldur.ErrInjectedFault)
						got = "experiment"
					case p.Held():
						got = "control"
						p.Release(baldur.Outcome{Result: baldur.Success})
					}
					require.Equal(t, want, got, "key %q (%d bytes)", key, n)
					seen[got]++
				}
			}
			assert.NotZero(t, seen["experiment"])
			assert.NotZero(t, seen["control"])
			assert.NotZero(t, seen[""])
		})
	}
}
