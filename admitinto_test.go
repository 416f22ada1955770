package baldur_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// callGate records the Call it admitted.
type callGate struct {
	kind baldur.Stage
	seen baldur.Call
}

func (g *callGate) Stage() baldur.Stage { return g.kind }

func (g *callGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	g.seen = c
	return baldur.NewPermit(g, 7), nil
}

func (g *callGate) Release(uint64, baldur.Outcome) {}

// TestAdmitIntoFillsTheCallAndTheTicketInPlace: AdmitInto fills what Admit
// fills (the clock reading, the policy's service and region) into the
// caller's Call, the gates see it, and the ticket holds their permits; on a
// rejection the ticket is left empty and the permits taken are released.
func TestAdmitIntoFillsTheCallAndTheTicketInPlace(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := &callGate{kind: baldur.StageThrottle}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{g},
		Service: "svc", Region: "eu", Clock: clock.NewFake(t0)})
	require.NoError(t, err)

	c := baldur.Call{Operation: "op", Key: "k"}
	var tk baldur.Ticket
	require.NoError(t, p.AdmitInto(context.Background(), &c, &tk))
	assert.Equal(t, baldur.Call{Operation: "op", Key: "k", Service: "svc", Region: "eu", Now: t0}, c)
	assert.Equal(t, c, g.seen, "the gate saw the filled call")
	assert.True(t, tk.Held())
	tk.Release(baldur.Outcome{})
	assert.False(t, tk.Held())

	log := &eventLog{}
	rp, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "r", Gates: []baldur.Gate{
		&logGate{name: "throttle", kind: baldur.StageThrottle, log: log},
		&logGate{name: "bulkhead", kind: baldur.StageBulkhead, reject: baldur.ReasonBulkheadFull, log: log},
	}})
	require.NoError(t, err)
	var rt baldur.Ticket
	err = rp.AdmitInto(context.Background(), &baldur.Call{}, &rt)
	require.ErrorIs(t, err, baldur.ErrBulkheadFull)
	assert.False(t, rt.Held(), "a rejected call's ticket holds nothing")
	_, hasQuota := rt.QuotaStatus(baldur.TierStandard)
	assert.False(t, hasQuota)
	assert.Equal(t, []string{"admit throttle", "admit bulkhead", "release throttle ignored"}, log.events)
}

func TestAdmitIntoAllocatesNothing(t *testing.T) {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{
		&leanGate{baldur.StageGovernance}, &leanGate{baldur.StageThrottle}, &leanGate{baldur.StageBlast}, &leanGate{baldur.StageBulkhead},
	}})
	require.NoError(t, err)
	ctx := context.Background()
	now := time.Now()
	var admitErr error
	n := testing.AllocsPerRun(1000, func() {
		c := baldur.Call{Operation: "op", Key: "k", Now: now}
		var tk baldur.Ticket
		if err := p.AdmitInto(ctx, &c, &tk); err != nil {
			admitErr = err
			return
		}
		tk.Release(baldur.Outcome{})
	})
	require.NoError(t, admitErr)
	assert.Zero(t, n)
}
