package interceptor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/pooltest"
)

// hookServer answers UnaryCall with unary, so a test can hold a handler.
type hookServer struct {
	testpb.UnimplementedTestServiceServer
	unary func(ctx context.Context) error
}

func (s *hookServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := s.unary(ctx); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

// poolServer serves hookServer on 127.0.0.1:0 with the unary server
// interceptor over a recording gate and pool.
func poolServer(t *testing.T, pool *bulkhead.Pool, unary func(ctx context.Context) error) (testpb.TestServiceClient, *fakeGate) {
	t.Helper()
	g := newGate(baldur.StageBlast)
	srv := grpc.NewServer(grpc.UnaryInterceptor(UnaryServerInterceptor(baldur.Static(policyOf(t, g, pool)))))
	testpb.RegisterTestServiceServer(srv, &hookServer{unary: unary})
	return testpb.NewTestServiceClient(serve(t, netTCP, srv)), g
}

func requireRetryInfo(t *testing.T, err error) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "%v is no status error", err)
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return
		}
	}
	require.Fail(t, "no RetryInfo", "%v", st.Details())
}

// A unary handler on a server pool runs on a worker; a call that finds the
// pool full is rejected at once and never reaches a handler.
func TestUnaryServerPoolFullRejectsAtOnce(t *testing.T) {
	t.Parallel()
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "handlers", Workers: 1, Timeout: baldur.Duration(time.Hour)})
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var handled sync.WaitGroup
	client, g := poolServer(t, pool, func(ctx context.Context) error {
		handled.Add(1)
		defer handled.Done()
		entered <- struct{}{}
		<-release
		return nil
	})
	errc := make(chan error, 1)
	go func() {
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("a")}})
		errc <- err
	}()
	<-entered
	require.Equal(t, 1, pool.State().Active, "the handler runs on the worker")

	var trailer metadata.MD
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	requireRetryInfo(t, err)
	require.Equal(t, []string{"1000"}, trailer.Get(PushbackTrailer))
	require.Equal(t, uint64(1), pool.State().Rejected)

	close(release)
	require.NoError(t, <-errc)
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Success, g.lastOutcome(t).Result)
}

// The pool's timeout answers the call while the handler, its context
// cancelled, runs on; its late response is dropped.
func TestUnaryServerPoolTimeoutFreesCaller(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(baldurNow)
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "handlers", Workers: 1, Timeout: baldur.Duration(2 * time.Second), RetryAfter: baldur.Duration(3 * time.Second), Clock: fake})
	entered, finish, finished := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	client, g := poolServer(t, pool, func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		<-finish
		finished <- context.Cause(ctx)
		return nil // too late: dropped
	})
	// A failure before close(finish) must not leave the handler, and the
	// pool's Close waiting for it, blocked forever.
	var once sync.Once
	closeFinish := func() { once.Do(func() { close(finish) }) }
	t.Cleanup(closeFinish)
	errc := make(chan error, 1)
	var trailer metadata.MD
	go func() {
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
		errc <- err
	}()
	<-entered
	// The caller arms the pool's timer once the job is queued, which may
	// be after the worker has started it.
	pooltest.WaitFor(t, "the pool's timer", func() bool { return fake.Pending() == 1 })
	fake.Advance(2 * time.Second)
	err := <-errc
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	require.Contains(t, status.Convert(err).Message(), `bulkhead "handlers": execution timed out after 2s`)
	requireRetryInfo(t, err)
	require.Equal(t, []string{"3000"}, trailer.Get(PushbackTrailer))
	require.EqualValues(t, 0, g.held(), "the call's permits are back once it is answered")
	require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)
	require.Equal(t, 1, pooltest.InFlight(pool), "the handler still runs")
	closeFinish()
	require.ErrorIs(t, <-finished, bulkhead.ErrTimeout, "the handler's context cause")
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
}

// clientOnPool dials a plain server on 127.0.0.1:0 with the unary client
// interceptor over a recording gate and pool.
func clientOnPool(t *testing.T, pool *bulkhead.Pool, unary func(ctx context.Context) error) (testpb.TestServiceClient, *fakeGate) {
	t.Helper()
	g := newGate(baldur.StageBlast)
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &hookServer{unary: unary})
	cc := serve(t, netTCP, srv, grpc.WithUnaryInterceptor(UnaryClientInterceptor(baldur.Static(policyOf(t, g, pool)))))
	return testpb.NewTestServiceClient(cc), g
}

// An outgoing unary call on a client pool runs on a worker: a full pool
// rejects the next call without I/O, and the pool's timeout frees the
// caller with a status error that still matches the pool's timeout.
func TestUnaryClientPool(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(baldurNow)
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "upstream", Workers: 1, Timeout: baldur.Duration(time.Second), Clock: fake})
	var mu sync.Mutex
	calls := 0
	entered, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	client, g := clientOnPool(t, pool, func(ctx context.Context) error {
		mu.Lock()
		calls++
		mu.Unlock()
		entered <- struct{}{}
		<-ctx.Done() // the client gave up
		cancelled <- struct{}{}
		return ctx.Err()
	})

	errc := make(chan error, 1)
	go func() {
		_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
		errc <- err
	}()
	<-entered
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	require.ErrorIs(t, err, bulkhead.ErrFull)
	mu.Lock()
	require.Equal(t, 1, calls, "a rejected call did I/O")
	mu.Unlock()

	pooltest.WaitFor(t, "the pool's timer", func() bool { return fake.Pending() == 1 })
	fake.Advance(time.Second)
	err = <-errc
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	require.ErrorIs(t, err, bulkhead.ErrTimeout)
	require.ErrorIs(t, err, baldur.ErrRejected)
	requireRetryInfo(t, err)
	<-cancelled
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)

	// The callee's own errors pass through the pool unchanged.
	client2, _ := clientOnPool(t, pool, func(context.Context) error { return status.Error(codes.NotFound, "no such item") })
	_, err = client2.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	require.Equal(t, codes.NotFound, status.Code(err))
	require.Equal(t, "no such item", status.Convert(err).Message())
}

// A caller whose context ends while its call runs on a pool gets the
// context's status, as without a pool.
func TestUnaryClientPoolCallerCancel(t *testing.T) {
	t.Parallel()
	pool := pooltest.New(t, bulkhead.PoolConfig{Name: "upstream", Workers: 1})
	entered := make(chan struct{}, 1)
	client, g := clientOnPool(t, pool, func(ctx context.Context) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
		errc <- err
	}()
	<-entered
	cancel()
	err := <-errc
	require.Equal(t, codes.Canceled, status.Code(err), "%v", err)
	pooltest.WaitFor(t, "the worker is free", func() bool { return pooltest.InFlight(pool) == 0 })
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Ignored, g.lastOutcome(t).Result)
}

// Many callers through a client pool into a server pool over TCP: no more
// handlers at once than server workers, rejections only for a full pool,
// and both pools and every permit empty at the end (run with -race).
func TestUnaryPoolsHammer(t *testing.T) {
	t.Parallel()
	const serverWorkers = 2
	var peak pooltest.Peak
	serverPool := pooltest.New(t, bulkhead.PoolConfig{Name: "handlers", Workers: serverWorkers, QueueSize: 1})
	sg := newGate(baldur.StageBlast)
	srv := grpc.NewServer(grpc.UnaryInterceptor(UnaryServerInterceptor(baldur.Static(policyOf(t, sg, serverPool)))))
	testpb.RegisterTestServiceServer(srv, &hookServer{unary: func(context.Context) error { peak.Inside(); return nil }})
	clientPool := pooltest.New(t, bulkhead.PoolConfig{Name: "upstream", Workers: 4, QueueSize: 2})
	cg := newGate(baldur.StageBlast)
	cc := serve(t, netTCP, srv, grpc.WithUnaryInterceptor(UnaryClientInterceptor(baldur.Static(policyOf(t, cg, clientPool)))))
	client := testpb.NewTestServiceClient(cc)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
				if err != nil {
					assert.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
					assert.True(t, errors.Is(err, bulkhead.ErrFull) || strings.Contains(err.Error(), "bulkhead"), "%v", err)
				}
			}
		}()
	}
	wg.Wait()
	pooltest.WaitFor(t, "both pools idle", func() bool { return pooltest.InFlight(clientPool) == 0 && pooltest.InFlight(serverPool) == 0 })
	pooltest.WaitFor(t, "server permits back", func() bool { return sg.held() == 0 })
	require.EqualValues(t, 0, cg.held())
	require.LessOrEqual(t, peak.Most(), serverWorkers)
}
