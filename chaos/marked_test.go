package chaos_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/chaos"
)

// outcomeGate is a gate before the fault stage (where a breaker or an
// adaptive limit sits) that records the outcomes it is released with.
type outcomeGate struct {
	mu  sync.Mutex
	got []baldur.Outcome
}

func (*outcomeGate) Stage() baldur.Stage { return baldur.StageBlast }
func (g *outcomeGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 0), nil
}
func (g *outcomeGate) Release(_ uint64, o baldur.Outcome) {
	g.mu.Lock()
	g.got = append(g.got, o)
	g.mu.Unlock()
}

func (g *outcomeGate) last(t *testing.T) baldur.Outcome {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.NotEmpty(t, g.got)
	return g.got[len(g.got)-1]
}

// A call the fault gate delayed is released to every gate of its policy
// marked Injected, so the canary's observe gate leaves it out; a control
// call is released unmarked and counted.
func TestDelayedCallsReachEveryGateMarkedInjected(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("slow", 0.5)
	x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(100 * time.Millisecond)}
	e.toDuring(t, x)
	obs, fault := e.inj.Gates("api")
	before := &outcomeGate{}
	var judged canary.Recorder
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{obs, before, fault, judged.Gate()}})
	require.NoError(t, err)
	ctx := context.Background()

	// The experiment cohort: delayed, then released as a success.
	done := make(chan baldur.Ticket, 1)
	go func() {
		tk, err := p.Admit(ctx, call(e.clk.Now(), firstKey(t, "slow", 0.5, "experiment")))
		assert.NoError(t, err)
		done <- tk
	}()
	waitTimers(t, e, 1)
	e.clk.Advance(100 * time.Millisecond)
	tk := <-done
	tk.Release(baldur.Outcome{Result: baldur.Success, Latency: 100 * time.Millisecond})
	assert.Equal(t, baldur.Outcome{Result: baldur.Success, Injected: true, Latency: 100 * time.Millisecond}, before.last(t),
		"a gate before the fault stage learns the delay was injected")
	assert.Zero(t, judged.Snapshot().Success, "the canary does not judge an injected delay")

	// The same ticket released again, and a ticket reused for a control
	// call, carry no mark.
	tk.Release(baldur.Outcome{Result: baldur.Success})
	require.NoError(t, p.AdmitInto(ctx, ptr(call(e.clk.Now(), firstKey(t, "slow", 0.5, "control"))), &tk))
	tk.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
	assert.False(t, before.last(t).Injected, "a control call is not marked")
	assert.EqualValues(t, 1, judged.Snapshot().Success, "the canary judges the control call")
}

func ptr[T any](v T) *T { return &v }

// Asking the fault gate about its permit costs a call no allocation: a
// control call of a live latency experiment, whose permit the policy
// checks, admits and releases with none.
func TestMarkerCheckAllocatesNothing(t *testing.T) {
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	x := errorExp("slow", 0.5)
	x.Fault = chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(100 * time.Millisecond)}
	e.toDuring(t, x)
	_, fault := e.inj.Gates("api")
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{fault}})
	require.NoError(t, err)
	c := call(e.clk.Now(), firstKey(t, "slow", 0.5, "control"))
	var tk baldur.Ticket
	n := testing.AllocsPerRun(1000, func() {
		_ = p.AdmitInto(context.Background(), &c, &tk)
		tk.Release(baldur.Outcome{Result: baldur.Success})
	})
	assert.Zero(t, n)
}
