package baldur_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// runGate is a Runner that records how it was asked to run.
type runGate struct {
	held    int
	ran     int
	claimed int
}

func (g *runGate) Stage() baldur.Stage { return baldur.StageBulkhead }

func (g *runGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	g.held++
	return baldur.NewPermit(g, 7), nil
}

func (g *runGate) Release(uint64, baldur.Outcome) { g.held-- }

func (g *runGate) Run(ctx context.Context, p *baldur.Permit, fn func(context.Context) error) error {
	if tok, ok := p.Claim(g); ok {
		g.claimed++
		g.held-- // the work gives the place back when it ends
		if tok != 7 {
			panic("wrong token")
		}
	}
	g.ran++
	return fn(ctx)
}

// admitRun admits a call through a policy of one runGate.
func admitRun(t *testing.T) (*runGate, baldur.Ticket) {
	t.Helper()
	g := &runGate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "run", Gates: []baldur.Gate{g}})
	require.NoError(t, err)
	tk, err := p.Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	return g, tk
}

func TestTicketRunGoesToTheRunner(t *testing.T) {
	t.Parallel()
	g, tk := admitRun(t)
	require.True(t, tk.Runs())
	require.NoError(t, tk.Run(context.Background(), func(context.Context) error { return nil }))
	assert.Equal(t, 1, g.ran)
	assert.Equal(t, 1, g.claimed, "the runner claimed its permit")
	assert.False(t, tk.Runs(), "only the first Run goes to the runner")
	require.NoError(t, tk.Run(context.Background(), func(context.Context) error { return nil }))
	assert.Equal(t, 1, g.ran, "a second Run went to the runner")
	tk.Release(baldur.Outcome{})
	assert.Equal(t, 0, g.held, "the claimed permit was released again")
}

func TestTicketReleasedWithoutRun(t *testing.T) {
	t.Parallel()
	g, tk := admitRun(t)
	tk.Release(baldur.Outcome{})
	assert.Equal(t, 0, g.held)
	assert.Equal(t, 0, g.ran)
}

func TestPermitClaim(t *testing.T) {
	t.Parallel()
	g, other := &runGate{}, &runGate{}
	p := baldur.NewPermit(g, 3)
	_, ok := p.Claim(other)
	require.False(t, ok, "claimed another gate's permit")
	require.True(t, p.Held())
	tok, ok := p.Claim(g)
	require.True(t, ok)
	require.Equal(t, uint64(3), tok)
	require.False(t, p.Held(), "a claimed permit still holds")
	_, ok = p.Claim(g)
	require.False(t, ok, "claimed twice")
	var nilPermit *baldur.Permit
	_, ok = nilPermit.Claim(g)
	require.False(t, ok)
}

// holdGate holds a permit and runs nothing.
type holdGate struct{ held int }

func (g *holdGate) Stage() baldur.Stage { return baldur.StageBulkhead }

func (g *holdGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	g.held++
	return baldur.NewPermit(g, 0), nil
}

func (g *holdGate) Release(uint64, baldur.Outcome) { g.held-- }

// A policy without a Runner: the ticket does not run, and asking costs no
// allocation. Not parallel: AllocsPerRun.
func TestTicketWithoutRunnerAllocatesNothing(t *testing.T) {
	g := &holdGate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "plain", Gates: []baldur.Gate{g}})
	require.NoError(t, err)
	ctx := context.Background()
	runs := false
	allocs := testing.AllocsPerRun(100, func() {
		tk, _ := p.Admit(ctx, baldur.Call{})
		runs = runs || tk.Runs()
		tk.Release(baldur.Outcome{})
	})
	assert.Zero(t, allocs)
	assert.False(t, runs)
	assert.Equal(t, 0, g.held)
}
