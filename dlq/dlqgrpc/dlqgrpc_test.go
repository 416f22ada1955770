package dlqgrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqgrpc"
	"github.com/baldur-go/baldur/interceptor"
)

// gate rejects as a throttle while reject is set.
type gate struct{ reject bool }

func (g *gate) Stage() baldur.Stage { return baldur.StageThrottle }
func (g *gate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if g.reject {
		return baldur.Permit{}, baldur.Reject(baldur.ReasonThrottled, time.Second)
	}
	return baldur.Permit{}, nil
}

func TestInterceptorCapturesFinalFailures(t *testing.T) {
	t.Parallel()
	repo := dlq.NewMemory(dlq.MemoryConfig{Clock: clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))})
	q := newQueue(t, repo)
	g := &gate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "up", Gates: []baldur.Gate{g}})
	require.NoError(t, err)
	ic := interceptor.UnaryClientInterceptor(baldur.Static(p), interceptor.WithDLQ(dlqgrpc.New(q.CapturePoint("payments"))),
		interceptor.WithTier(func(context.Context, string) baldur.Tier { return baldur.TierCritical }))
	req, err := structpb.NewStruct(map[string]any{"order": "7", "token": "t0k"})
	require.NoError(t, err)
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(codes.Unavailable, "upstream down")
	}
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	require.NoError(t, ic(context.Background(), "/pay.v1.Pay/Charge", req, nil, nil, ok))
	require.Error(t, ic(context.Background(), "/pay.v1.Pay/Charge", req, nil, nil, fail))
	g.reject = true
	require.Error(t, ic(context.Background(), "/pay.v1.Pay/Charge", req, nil, nil, ok))
	require.NoError(t, q.Close(context.Background()))
	es := list(t, repo)
	require.Len(t, es, 2)
	types := []string{es[0].FailureType, es[1].FailureType}
	assert.ElementsMatch(t, []string{"status_unavailable", "throttled"}, types)
	for _, e := range es {
		assert.Equal(t, dlq.OriginGRPC, e.Origin)
		assert.Equal(t, "/pay.v1.Pay/Charge", e.Operation)
		assert.JSONEq(t, `{"order":"7","token":"[MASKED]"}`, string(e.Payload), "protojson, masked")
	}
}

func newQueue(t *testing.T, repo dlq.Repository) *dlq.Queue {
	q, err := dlq.New(dlq.Config{Repository: repo})
	require.NoError(t, err)
	return q
}

func list(t *testing.T, r dlq.Repository) []dlq.Entry {
	es, err := r.List(context.Background(), dlq.Filter{})
	require.NoError(t, err)
	return es
}
