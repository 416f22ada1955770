package baldur_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// markGate grants permits whose token says whether it injected a fault.
type markGate struct{ inject bool }

func (*markGate) Stage() baldur.Stage { return baldur.StageFault }
func (g *markGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.inject {
		return baldur.NewPermit(g, 1), nil
	}
	return baldur.NewPermit(g, 0), nil
}
func (*markGate) Release(uint64, baldur.Outcome) {}
func (*markGate) Injected(token uint64) bool     { return token == 1 }

// seenGate records the outcome it is released with.
type seenGate struct {
	stage baldur.Stage
	last  baldur.Outcome
	err   error
}

func (g *seenGate) Stage() baldur.Stage { return g.stage }
func (g *seenGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.err != nil {
		return baldur.Permit{}, g.err
	}
	return baldur.NewPermit(g, 0), nil
}
func (g *seenGate) Release(_ uint64, o baldur.Outcome) { g.last = o }

// A permit its InjectionMarker gate marks makes the ticket release the
// outcome marked Injected to every gate, also when a later gate rejects
// the call; an unmarked permit, or a reused ticket, carries no mark.
func TestInjectionMarkerMarksTheOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		inject bool
		reject bool
		want   baldur.Outcome
	}{
		{"marked", true, false, baldur.Outcome{Result: baldur.Success, Injected: true}},
		{"unmarked", false, false, baldur.Outcome{Result: baldur.Success}},
		{"marked, then rejected", true, true, baldur.Outcome{Result: baldur.Ignored, Injected: true, Rejected: baldur.ReasonThrottled}},
		{"unmarked, then rejected", false, true, baldur.Outcome{Result: baldur.Ignored, Rejected: baldur.ReasonThrottled}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := &seenGate{stage: baldur.StageBulkhead}
			after := &seenGate{stage: baldur.StageFault + 1}
			if tt.reject {
				after.err = baldur.Reject(baldur.ReasonThrottled, 0)
			}
			p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{before, &markGate{inject: tt.inject}, after}})
			require.NoError(t, err)
			var tk baldur.Ticket
			c := baldur.Call{Operation: "op", Key: "k"}
			err = p.AdmitInto(ctx, &c, &tk)
			if !tt.reject {
				require.NoError(t, err)
				tk.Release(baldur.Outcome{Result: baldur.Success})
				assert.Equal(t, tt.want, after.last, "a gate after the marker")
			}
			assert.Equal(t, tt.want, before.last, "a gate before the marker")
		})
	}
	// The mark is the call's: a ticket released and reused is unmarked.
	before := &seenGate{stage: baldur.StageBulkhead}
	mark := &markGate{inject: true}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{before, mark}})
	require.NoError(t, err)
	var tk baldur.Ticket
	c := baldur.Call{Operation: "op", Key: "k"}
	require.NoError(t, p.AdmitInto(ctx, &c, &tk))
	tk.Release(baldur.Outcome{})
	mark.inject = false
	require.NoError(t, p.AdmitInto(ctx, &c, &tk))
	tk.Release(baldur.Outcome{})
	assert.False(t, before.last.Injected)
}
