package baldur_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// outcomeGate records the outcome its permit is released with.
type outcomeGate struct {
	stage baldur.Stage
	err   error
	got   []baldur.Outcome
}

func (g *outcomeGate) Stage() baldur.Stage { return g.stage }

func (g *outcomeGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.err != nil {
		return baldur.Permit{}, g.err
	}
	return baldur.NewPermit(g, 0), nil
}

func (g *outcomeGate) Release(_ uint64, o baldur.Outcome) { g.got = append(g.got, o) }

func TestRejectInjectedCarriesItsStatusAndIsInterned(t *testing.T) {
	tests := []struct {
		http     int
		grpc     uint32
		wantHTTP int
		wantGRPC uint32
	}{
		{500, 13, 500, 13},
		{429, 8, 429, 8},
		{200, 0, 503, 14}, // out of range: the reason's defaults
		{999, 99, 503, 14},
	}
	for _, tt := range tests {
		rej := baldur.RejectInjected(tt.http, tt.grpc)
		assert.Equal(t, tt.wantHTTP, rej.HTTPStatus(), "%d/%d", tt.http, tt.grpc)
		assert.Equal(t, tt.wantGRPC, rej.GRPCCode(), "%d/%d", tt.http, tt.grpc)
		assert.Equal(t, baldur.ReasonInjectedFault, rej.Reason())
		assert.Equal(t, "fault", rej.Gate())
		assert.True(t, errors.Is(rej, baldur.ErrRejected) && errors.Is(rej, baldur.ErrInjectedFault))
		assert.Same(t, rej, baldur.RejectInjected(tt.http, tt.grpc), "interned")
	}
	assert.Equal(t, 0.0, testing.AllocsPerRun(100, func() { _ = baldur.RejectInjected(500, 13) }))
	plain := baldur.Reject(baldur.ReasonInjectedFault, 0)
	assert.Equal(t, 503, plain.HTTPStatus())
	assert.EqualValues(t, 14, plain.GRPCCode())
	st, err := baldur.ParseStage("fault")
	require.NoError(t, err)
	assert.Equal(t, baldur.StageFault, st)
}

// An injected fault releases the permits taken before it as failures marked
// Injected (a breaker must see them); any other rejection releases them as
// Ignored with the rejecting reason.
func TestPolicyReleasesEarlierPermitsWithTheRejectionsOutcome(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want baldur.Outcome
	}{
		{baldur.RejectInjected(500, 13), baldur.Outcome{Result: baldur.Failure, Injected: true, Rejected: baldur.ReasonInjectedFault, Status: 500}},
		{baldur.Reject(baldur.ReasonBulkheadFull, 0), baldur.Outcome{Result: baldur.Ignored, Rejected: baldur.ReasonBulkheadFull}},
		{context.Canceled, baldur.Outcome{Result: baldur.Ignored}},
	} {
		first := &outcomeGate{stage: baldur.StageBlast}
		last := &outcomeGate{stage: baldur.StageFault, err: tt.err}
		p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p", Gates: []baldur.Gate{first, last}})
		require.NoError(t, err)
		_, err = p.Admit(context.Background(), baldur.Call{Operation: "op"})
		require.ErrorIs(t, err, tt.err)
		require.Equal(t, []baldur.Outcome{tt.want}, first.got, "%v", tt.err)
	}
}
