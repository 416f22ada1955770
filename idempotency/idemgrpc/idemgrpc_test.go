package idemgrpc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/idempotency/idemgrpc"
)

const checkMethod = "/grpc.health.v1.Health/Check"

// health is the service under test: Check counts its runs and answers what
// the test's fn returns.
type health struct {
	healthpb.UnimplementedHealthServer
	runs atomic.Int64
	fn   func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error)
}

func (h *health) Check(ctx context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.runs.Add(1)
	if h.fn != nil {
		return h.fn(ctx, r)
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

type fixture struct {
	svc     *health
	client  healthpb.HealthClient
	metrics *idempotency.Metrics
}

func newMemory(t testing.TB) *idempotency.Memory {
	t.Helper()
	m, err := idempotency.NewMemory(idempotency.MemoryConfig{})
	require.NoError(t, err)
	return m
}

// start serves svc on 127.0.0.1:0 behind the interceptor.
func start(t *testing.T, svc *health, edit func(*idemgrpc.Options)) *fixture {
	t.Helper()
	f := &fixture{svc: svc, metrics: &idempotency.Metrics{}}
	o := idemgrpc.Options{Ledger: newMemory(t), Methods: []string{checkMethod}, Domain: "test", Metrics: f.metrics,
		Logger: slog.New(slog.DiscardHandler),
		Scope: func(ctx context.Context, _ string) string {
			md, _ := metadata.FromIncomingContext(ctx)
			if v := md.Get("x-tenant"); len(v) > 0 {
				return v[0]
			}
			return ""
		}}
	if edit != nil {
		edit(&o)
	}
	ic, err := idemgrpc.UnaryServerInterceptor(o)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnaryInterceptor(ic))
	healthpb.RegisterHealthServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	f.client = healthpb.NewHealthClient(cc)
	return f
}

func withKey(key string, kv ...string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = cancel // the test's lifetime bounds it
	return metadata.AppendToOutgoingContext(ctx, append([]string{idemgrpc.MetadataKey, `"` + key + `"`}, kv...)...)
}

func TestGRPCExactlyOnceConcurrent(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	svc := &health{fn: func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		<-release
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}}
	f := start(t, svc, nil)
	const n = 50
	var wg sync.WaitGroup
	var ok, aborted atomic.Int64
	started := make(chan struct{}, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			resp, err := f.client.Check(withKey("k-50"), &healthpb.HealthCheckRequest{Service: "orders"})
			switch status.Code(err) {
			case codes.OK:
				assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
				ok.Add(1)
			case codes.Aborted:
				aborted.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	for range n {
		<-started
	}
	require.Eventually(t, func() bool { return svc.runs.Load() == 1 && f.metrics.InFlight.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	assert.EqualValues(t, 1, svc.runs.Load(), "the handler ran exactly once")
	assert.EqualValues(t, n, ok.Load()+aborted.Load())
	assert.EqualValues(t, 1, f.metrics.First.Load())
	assert.EqualValues(t, n-1, f.metrics.InFlight.Load()+f.metrics.Replayed.Load())
	// once completed, every retry is the replay
	resp, err := f.client.Check(withKey("k-50"), &healthpb.HealthCheckRequest{Service: "orders"})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	assert.EqualValues(t, 1, svc.runs.Load())
}

func TestGRPCReplayIsIdentical(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	svc := &health{fn: func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		// each run answers differently, so a replay is told from a rerun
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_ServingStatus(1 + n.Add(1)%3)}, nil
	}}
	for _, tc := range []struct {
		name     string
		newReply func(string) proto.Message
	}{{"registry", nil}, {"NewReply", func(string) proto.Message { return &healthpb.HealthCheckResponse{} }}} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, svc, func(o *idemgrpc.Options) { o.NewReply = tc.newReply })
			var hd, tr metadata.MD
			first, err := f.client.Check(withKey("k-replay"), &healthpb.HealthCheckRequest{Service: "a"}, grpc.Trailer(&tr))
			require.NoError(t, err)
			assert.Empty(t, tr.Get(idemgrpc.ReplayedTrailer))
			runs := svc.runs.Load()
			again, err := f.client.Check(withKey("k-replay"), &healthpb.HealthCheckRequest{Service: "a"}, grpc.Header(&hd), grpc.Trailer(&tr))
			require.NoError(t, err)
			assert.Equal(t, runs, svc.runs.Load(), "the replay does not run the handler")
			assert.True(t, proto.Equal(first, again))
			b1, _ := proto.MarshalOptions{Deterministic: true}.Marshal(first)
			b2, _ := proto.MarshalOptions{Deterministic: true}.Marshal(again)
			assert.Equal(t, b1, b2)
			assert.Equal(t, []string{"true"}, tr.Get(idemgrpc.ReplayedTrailer))
			assert.EqualValues(t, 1, f.metrics.Replayed.Load())

			// same key, another tenant: an independent record
			_, err = f.client.Check(withKey("k-replay", "x-tenant", "other"), &healthpb.HealthCheckRequest{Service: "a"})
			require.NoError(t, err)
			assert.Equal(t, runs+1, svc.runs.Load())
		})
	}
}

func TestGRPCDeterministicErrorIsStored(t *testing.T) {
	t.Parallel()
	svc := &health{fn: func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		st, _ := status.New(codes.NotFound, "no such service").WithDetails(&errdetails.ErrorInfo{Reason: "UNKNOWN_SERVICE", Domain: "test"})
		return nil, st.Err()
	}}
	f := start(t, svc, nil)
	_, err1 := f.client.Check(withKey("k-nf"), &healthpb.HealthCheckRequest{Service: "x"})
	var tr metadata.MD
	_, err2 := f.client.Check(withKey("k-nf"), &healthpb.HealthCheckRequest{Service: "x"}, grpc.Trailer(&tr))
	assert.EqualValues(t, 1, svc.runs.Load())
	s1, s2 := status.Convert(err1), status.Convert(err2)
	assert.Equal(t, codes.NotFound, s2.Code())
	assert.True(t, proto.Equal(s1.Proto(), s2.Proto()), "the replayed status carries message and details")
	assert.Equal(t, []string{"true"}, tr.Get(idemgrpc.ReplayedTrailer))
}

func TestGRPCFailuresRelease(t *testing.T) {
	t.Parallel()
	for _, c := range []codes.Code{codes.Unavailable, codes.Internal, codes.DeadlineExceeded, codes.Unknown, codes.ResourceExhausted, codes.Aborted} {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			fail := atomic.Bool{}
			fail.Store(true)
			svc := &health{fn: func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
				if fail.Load() {
					return nil, status.Error(c, "transient")
				}
				return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
			}}
			f := start(t, svc, nil)
			_, err := f.client.Check(withKey("k-fail"), &healthpb.HealthCheckRequest{})
			assert.Equal(t, c, status.Code(err))
			fail.Store(false)
			_, err = f.client.Check(withKey("k-fail"), &healthpb.HealthCheckRequest{})
			require.NoError(t, err, "the retry runs")
			assert.EqualValues(t, 2, svc.runs.Load())
			assert.EqualValues(t, 1, f.metrics.Released.Load())
		})
	}
	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		l := newMemory(t)
		ic, err := idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: l, Unscoped: true, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(idemgrpc.MetadataKey, `"k-panic"`))
		info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
		req := &healthpb.HealthCheckRequest{}
		assert.Panics(t, func() {
			_, _ = ic(ctx, req, info, func(context.Context, any) (any, error) { panic("boom") })
		})
		runs := 0
		_, err = ic(ctx, req, info, func(context.Context, any) (any, error) { runs++; return &healthpb.HealthCheckResponse{}, nil })
		require.NoError(t, err)
		assert.Equal(t, 1, runs, "a panic released the key")
	})
}

func TestGRPCMismatch(t *testing.T) {
	t.Parallel()
	svc := &health{}
	f := start(t, svc, nil)
	_, err := f.client.Check(withKey("k-mm"), &healthpb.HealthCheckRequest{Service: "a"})
	require.NoError(t, err)
	_, err = f.client.Check(withKey("k-mm"), &healthpb.HealthCheckRequest{Service: "b"})
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), "key reused with a different request")
	assert.EqualValues(t, 1, svc.runs.Load())
	assert.EqualValues(t, 1, f.metrics.Mismatch.Load())
}

// TestGRPCInFlightAbortedWithRetryInfo: a duplicate in flight gets Aborted
// with a RetryInfo of the lease left and the same delay in the
// grpc-retry-pushback-ms trailer; the handler ran once.
func TestGRPCInFlightAbortedWithRetryInfo(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	svc := &health{fn: func(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
		close(entered)
		<-release
		return &healthpb.HealthCheckResponse{}, nil
	}}
	f := start(t, svc, nil)
	done := make(chan error, 1)
	go func() {
		_, err := f.client.Check(withKey("k-busy"), &healthpb.HealthCheckRequest{})
		done <- err
	}()
	<-entered
	var trailer metadata.MD
	_, err := f.client.Check(withKey("k-busy"), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
	close(release)
	require.NoError(t, <-done)
	st := status.Convert(err)
	require.Equal(t, codes.Aborted, st.Code())
	var ri *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			ri = r
		}
	}
	require.NotNil(t, ri, "Aborted carries a google.rpc.RetryInfo")
	assert.GreaterOrEqual(t, ri.GetRetryDelay().AsDuration(), time.Second)
	assert.LessOrEqual(t, ri.GetRetryDelay().AsDuration(), idempotency.DefaultLease)
	assert.Equal(t, []string{strconv.FormatInt(ri.GetRetryDelay().AsDuration().Milliseconds(), 10)}, trailer.Get(idemgrpc.PushbackTrailer),
		"grpc-retry-pushback-ms carries RetryInfo's delay")
	assert.EqualValues(t, 1, svc.runs.Load())
}

func TestGRPCRejectMode(t *testing.T) {
	t.Parallel()
	svc := &health{}
	f := start(t, svc, func(o *idemgrpc.Options) { o.Mode = idempotency.ModeReject })
	_, err := f.client.Check(withKey("k-rej"), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = f.client.Check(withKey("k-rej"), &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.AlreadyExists, status.Code(err))
	assert.EqualValues(t, 1, svc.runs.Load())
}

func TestGRPCKeys(t *testing.T) {
	t.Parallel()
	svc := &health{}
	req := true
	f := start(t, svc, func(o *idemgrpc.Options) {
		o.Routes = []idempotency.Route{{Match: "/grpc.health.v1.Health/*", Require: &req}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.client.Check(ctx, &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "missing required key")
	for _, bad := range []string{"unquoted", `"a\x01"`, `""`, `"a";p=1`} {
		_, err = f.client.Check(metadata.AppendToOutgoingContext(ctx, idemgrpc.MetadataKey, bad), &healthpb.HealthCheckRequest{})
		assert.Equal(t, codes.InvalidArgument, status.Code(err), bad)
	}
	_, err = f.client.Check(metadata.AppendToOutgoingContext(ctx, idemgrpc.MetadataKey, `"a"`, idemgrpc.MetadataKey, `"b"`), &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "two keys")
	assert.Zero(t, svc.runs.Load())
	assert.EqualValues(t, 1, f.metrics.Missing.Load())

	// not required: a call without a key runs unguarded
	g := start(t, svc, nil)
	_, err = g.client.Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = g.client.Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, svc.runs.Load())
}

// downLedger is a ledger whose store cannot be reached.
type downLedger struct{ idempotency.Ledger }

var errDown = errors.New("store down")

func (downLedger) Claim(context.Context, idempotency.ClaimRequest) (idempotency.Claim, error) {
	return idempotency.Claim{}, errDown
}

func TestGRPCStoreDown(t *testing.T) {
	t.Parallel()
	svc := &health{}
	f := start(t, svc, func(o *idemgrpc.Options) { o.Ledger = downLedger{} })
	_, err := f.client.Check(withKey("k-down"), &healthpb.HealthCheckRequest{})
	assert.Equal(t, codes.Unavailable, status.Code(err))
	assert.Zero(t, svc.runs.Load(), "fail closed: the handler did not run")
	assert.EqualValues(t, 1, f.metrics.StoreError.Load())

	open := start(t, svc, func(o *idemgrpc.Options) {
		o.Ledger = downLedger{}
		o.Routes = []idempotency.Route{{Match: checkMethod, FailOpen: true}}
	})
	_, err = open.client.Check(withKey("k-down"), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, svc.runs.Load())
	assert.EqualValues(t, 1, open.metrics.FailOpen.Load())
}

// TestGRPCPassThroughZeroAllocs is not parallel: AllocsPerRun refuses to
// run during parallel tests.
func TestGRPCPassThroughZeroAllocs(t *testing.T) {
	ic, err := idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(t), Unscoped: true, Methods: []string{"/pkg.Orders/Create"}})
	require.NoError(t, err)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(idemgrpc.MetadataKey, `"k"`))
	info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
	req := &healthpb.HealthCheckRequest{}
	resp := &healthpb.HealthCheckResponse{}
	handler := func(context.Context, any) (any, error) { return resp, nil }
	allocs := testing.AllocsPerRun(1000, func() { _, _ = ic(ctx, req, info, handler) })
	assert.Zero(t, allocs)

	off := idempotency.Route{Match: "/grpc.health.v1.*", Off: true}
	ic, err = idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(t), Unscoped: true, Config: idempotency.Config{Routes: []idempotency.Route{off}}})
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(1000, func() { _, _ = ic(ctx, req, info, handler) })
	assert.Zero(t, allocs, "an Off route")
}

func TestGRPCOptionsValidate(t *testing.T) {
	t.Parallel()
	_, err := idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Unscoped: true})
	assert.Error(t, err, "no ledger")
	_, err = idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(t)})
	assert.Error(t, err, "no scope")
	_, err = idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(t), Unscoped: true, Methods: []string{"Check"}})
	assert.Error(t, err, "not a full method")
	_, err = idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(t), Unscoped: true, Config: idempotency.Config{Methods: []string{"POST"}}})
	assert.Error(t, err, "HTTP methods")
}
