package interceptor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
)

const retryServiceConfig = `{"methodConfig": [{
  "name": [{"service": "grpc.testing.TestService"}],
  "retryPolicy": {
    "maxAttempts": 3,
    "initialBackoff": "0.01s",
    "maxBackoff": "0.01s",
    "backoffMultiplier": 1.0,
    "retryableStatusCodes": ["UNAVAILABLE"]
  }
}]}`

// TestGRPCRetryHonorsPushback shows grpc-go's own retry waiting for the
// pushback the server interceptor sends: its configured backoff is 10 ms,
// the rejection advises 1 s (Retry-After is whole seconds), and the second
// attempt reaches the server no earlier than that. grpc's retry uses real
// timers, so this one test measures wall time between attempts as the
// server sees them.
func TestGRPCRetryHonorsPushback(t *testing.T) {
	t.Parallel()
	const pushback = time.Second
	var mu sync.Mutex
	var attempts []time.Time
	g := newGate(baldur.StageBulkhead)
	g.reject = func(n int64, _ baldur.Call) error {
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()
		if n == 1 {
			return baldur.Reject(baldur.ReasonBulkheadFull, pushback)
		}
		return nil
	}
	r := baldur.Static(policyOf(t, g))
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(UnaryServerInterceptor(r)))
	svc := &testServer{}
	testpb.RegisterTestServiceServer(srv, svc)
	cc := serve(t, netTCP, srv, grpc.WithDefaultServiceConfig(retryServiceConfig))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx, &testpb.SimpleRequest{})
	require.NoError(t, err, "the retry succeeds")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, attempts, 2)
	gap := attempts[1].Sub(attempts[0])
	require.GreaterOrEqual(t, gap, pushback, "the retry waited for the pushback")
	require.EqualValues(t, 1, svc.handled.Load())
}

func TestInHandleShedsBeforeDecoding(t *testing.T) {
	t.Parallel()
	for _, reject := range []bool{true, false} {
		t.Run(map[bool]string{true: "reject", false: "admit"}[reject], func(t *testing.T) {
			t.Parallel()
			g := newGate(baldur.StageGovernance)
			if reject {
				g.reject = rejectAlways(baldur.Reject(baldur.ReasonKillSwitch, 30*time.Second))
			}
			srv := grpc.NewServer(grpc.InTapHandle(InHandle(baldur.Static(policyOf(t, g)))))
			svc := &testServer{}
			testpb.RegisterTestServiceServer(srv, svc)
			cc := serve(t, netBufconn, srv)
			_, err := testpb.NewTestServiceClient(cc).UnaryCall(context.Background(), &testpb.SimpleRequest{})
			require.EqualValues(t, 0, g.held(), "the tap holds nothing across the call")
			require.Equal(t, "/grpc.testing.TestService/UnaryCall", g.lastCall(t).Operation)
			if !reject {
				require.NoError(t, err)
				require.Equal(t, baldur.Ignored, g.lastOutcome(t).Result)
				return
			}
			st := status.Convert(err)
			require.Equal(t, codes.Unavailable, st.Code())
			requireDetails(t, st, "KILL_SWITCH", "governance", 30*time.Second)
			require.EqualValues(t, 0, svc.handled.Load())
		})
	}
}

func TestLimiterWithGoGRPCMiddlewareRatelimit(t *testing.T) {
	t.Parallel()
	g := newGate(baldur.StageThrottle)
	g.reject = func(n int64, _ baldur.Call) error {
		if n > 1 {
			return baldur.Reject(baldur.ReasonThrottled, time.Second)
		}
		return nil
	}
	var lim ratelimit.Limiter = NewLimiter(baldur.Static(policyOf(t, g)))
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(ratelimit.UnaryServerInterceptor(lim)))
	testpb.RegisterTestServiceServer(srv, &testServer{})
	client := testpb.NewTestServiceClient(serve(t, netBufconn, srv))
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	require.NoError(t, err)
	require.Equal(t, "/grpc.testing.TestService/UnaryCall", g.lastCall(t).Operation, "the limiter resolves by method")
	_, err = client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "throttled")
	require.EqualValues(t, 0, g.held())
}
