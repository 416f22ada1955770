package interceptor

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

type shape struct {
	name   string
	method string
	// call runs one call of the shape; code asks the server to fail with it.
	call func(ctx context.Context, c testpb.TestServiceClient, code codes.Code, opts ...grpc.CallOption) error
}

var shapes = []shape{
	{"unary", "/grpc.testing.TestService/UnaryCall", func(ctx context.Context, c testpb.TestServiceClient, code codes.Code, opts ...grpc.CallOption) error {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(code), Message: "boom"}}, opts...)
		return err
	}},
	{"server-stream", "/grpc.testing.TestService/StreamingOutputCall", func(ctx context.Context, c testpb.TestServiceClient, code codes.Code, opts ...grpc.CallOption) error {
		st, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
			ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}},
			ResponseStatus:     &testpb.EchoStatus{Code: int32(code), Message: "boom"},
		}, opts...)
		if err != nil {
			return err
		}
		for {
			if _, err := st.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}},
	{"client-stream", "/grpc.testing.TestService/StreamingInputCall", func(ctx context.Context, c testpb.TestServiceClient, code codes.Code, opts ...grpc.CallOption) error {
		st, err := c.StreamingInputCall(ctx, opts...)
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if err := st.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte("ab")}}); err != nil {
				break // the status comes from CloseAndRecv
			}
		}
		resp, err := st.CloseAndRecv()
		if err == nil && resp.GetAggregatedPayloadSize() != 6 {
			return errors.New("wrong aggregate")
		}
		return err
	}},
	{"bidi", "/grpc.testing.TestService/FullDuplexCall", func(ctx context.Context, c testpb.TestServiceClient, code codes.Code, opts ...grpc.CallOption) error {
		st, err := c.FullDuplexCall(ctx, opts...)
		if err != nil {
			return err
		}
		// A Send error of io.EOF means the stream is over; Recv has the status.
		if err := st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("x")}}); err != nil && err != io.EOF {
			return err
		}
		if _, err := st.Recv(); err != nil {
			return err
		}
		if err := st.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(code), Message: "boom"}}); err != nil && err != io.EOF {
			return err
		}
		if code == codes.OK {
			if err := st.CloseSend(); err != nil {
				return err
			}
		}
		for {
			if _, err := st.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}},
}

// guarded starts a TestService with our server interceptors (policy sg) and
// a client with our client interceptors (policy cg).
func guarded(t *testing.T, nw network, sg, cg baldur.Gate, svc *testServer) testpb.TestServiceClient {
	t.Helper()
	sr, cr := baldur.Static(policyOf(t, sg)), baldur.Static(policyOf(t, cg))
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(sr)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(sr)),
	)
	testpb.RegisterTestServiceServer(srv, svc)
	cc := serve(t, nw, srv,
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor(cr)),
		grpc.WithChainStreamInterceptor(StreamClientInterceptor(cr)),
	)
	return testpb.NewTestServiceClient(cc)
}

func TestShapesAdmitAndRelease(t *testing.T) {
	t.Parallel()
	for _, nw := range []network{netTCP, netBufconn} {
		for _, sh := range shapes {
			for _, tc := range []struct {
				code codes.Code
				want baldur.Result
			}{
				{codes.OK, baldur.Success},
				{codes.Unavailable, baldur.Failure},
				{codes.InvalidArgument, baldur.Ignored},
			} {
				if sh.name == "client-stream" && tc.code != codes.OK {
					continue // the service has no way to fail on request
				}
				t.Run(string(nw)+"/"+sh.name+"/"+tc.code.String(), func(t *testing.T) {
					t.Parallel()
					sg, cg := newGate(baldur.StageBulkhead), newGate(baldur.StageBulkhead)
					client := guarded(t, nw, sg, cg, &testServer{})
					err := sh.call(context.Background(), client, tc.code)
					require.Equal(t, tc.code, status.Code(err), "err %v", err)

					for side, g := range map[string]*fakeGate{"server": sg, "client": cg} {
						require.EqualValues(t, 1, g.admitted.Load(), side)
						require.EqualValues(t, 1, g.released.Load(), side)
						o := g.lastOutcome(t)
						require.Equal(t, tc.want, o.Result, side)
						require.Equal(t, int(tc.code), o.Status, side)
						c := g.lastCall(t)
						require.Equal(t, sh.method, c.Operation, side)
						require.False(t, c.Now.IsZero(), side)
					}
				})
			}
		}
	}
}

func TestServerStreamHoldsPermitForWholeStream(t *testing.T) {
	t.Parallel()
	sg, cg := newGate(baldur.StageBulkhead), newGate(baldur.StageBulkhead)
	inStream := make(chan struct{})
	proceed := make(chan struct{})
	svc := &testServer{onStream: func(context.Context) {
		close(inStream)
		<-proceed
	}}
	client := guarded(t, netBufconn, sg, cg, svc)
	st, err := client.StreamingOutputCall(context.Background(), &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1}},
	})
	require.NoError(t, err)
	<-inStream
	require.EqualValues(t, 1, sg.held(), "server permit held while the stream runs")
	require.EqualValues(t, 1, cg.held(), "client permit held while the stream runs")
	close(proceed)
	_, err = st.Recv()
	require.NoError(t, err)
	require.EqualValues(t, 1, cg.held(), "client permit held until EOF")
	_, err = st.Recv()
	require.Equal(t, io.EOF, err)
	require.EqualValues(t, 0, cg.held())
	require.EqualValues(t, 0, sg.held())
	// Reading past the end releases nothing twice.
	_, err = st.Recv()
	require.Error(t, err)
	require.EqualValues(t, 1, cg.released.Load())
}

func TestClientStreamReleasesWhenContextEnds(t *testing.T) {
	t.Parallel()
	sg, cg := newGate(baldur.StageBulkhead), newGate(baldur.StageBulkhead)
	cg.rel = make(chan baldur.Outcome, 1)
	client := guarded(t, netBufconn, sg, cg, &testServer{})
	ctx, cancel := context.WithCancel(context.Background())
	st, err := client.FullDuplexCall(ctx)
	require.NoError(t, err)
	require.NoError(t, st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("x")}}))
	_, err = st.Recv()
	require.NoError(t, err)
	require.EqualValues(t, 1, cg.held())
	cancel() // the caller abandons the stream without reading to the end
	o := <-cg.rel
	require.Equal(t, baldur.Ignored, o.Result)
	require.Equal(t, int(codes.Canceled), o.Status)
	_, err = st.Recv()
	require.Equal(t, codes.Canceled, status.Code(err))
	require.EqualValues(t, 1, cg.released.Load(), "released exactly once")
}

func TestRejectionsAreRichStatusErrors(t *testing.T) {
	t.Parallel()
	for _, nw := range []network{netTCP, netBufconn} {
		for _, sh := range shapes {
			t.Run(string(nw)+"/"+sh.name, func(t *testing.T) {
				t.Parallel()
				sg := newGate(baldur.StageThrottle)
				sg.reject = rejectAlways(baldur.Reject(baldur.ReasonThrottled, 2*time.Second))
				svc := &testServer{}
				client := guarded(t, nw, sg, newGate(baldur.StageBulkhead), svc)
				var trailer metadata.MD
				err := sh.call(context.Background(), client, codes.OK, grpc.Trailer(&trailer))
				st, ok := status.FromError(err)
				require.True(t, ok)
				require.Equal(t, codes.ResourceExhausted, st.Code())
				require.Contains(t, st.Message(), "throttle")
				require.Contains(t, st.Message(), "throttled")
				requireDetails(t, st, "THROTTLED", "throttle", 2*time.Second)
				require.Equal(t, []string{"2000"}, trailer.Get(PushbackTrailer))
				require.EqualValues(t, 0, svc.handled.Load(), "the handler never ran")
			})
		}
	}
}

func requireDetails(t *testing.T, st *status.Status, reason, gate string, retry time.Duration) {
	t.Helper()
	var sawInfo, sawRetry bool
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			sawInfo = true
			require.Equal(t, reason, d.GetReason())
			require.Equal(t, ErrorDomain, d.GetDomain())
			require.Equal(t, gate, d.GetMetadata()["gate"])
		case *errdetails.RetryInfo:
			sawRetry = true
			require.Equal(t, retry, d.GetRetryDelay().AsDuration())
		}
	}
	require.True(t, sawInfo, "ErrorInfo detail")
	require.True(t, sawRetry, "RetryInfo detail")
}

func TestClientRejectionDoesNoIO(t *testing.T) {
	t.Parallel()
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			cg := newGate(baldur.StageBlast)
			cg.reject = rejectAlways(baldur.Reject(baldur.ReasonBreakerOpen, time.Second))
			sg := newGate(baldur.StageBulkhead)
			client := guarded(t, netBufconn, sg, cg, &testServer{})
			err := sh.call(context.Background(), client, codes.OK)
			st, ok := status.FromError(err)
			require.True(t, ok)
			require.Equal(t, codes.Unavailable, st.Code())
			require.ErrorIs(t, err, baldur.ErrRejected, "a client-side rejection matches ErrRejected")
			require.ErrorIs(t, err, baldur.ErrBreakerOpen)
			requireDetails(t, st, "BREAKER_OPEN", "blast", time.Second)
			require.EqualValues(t, 0, sg.calls.Load(), "nothing reached the server")
		})
	}
}

func TestDeadlineRejectionAsksNotToRetry(t *testing.T) {
	t.Parallel()
	rd := renderedCache.Get(baldur.Reject(baldur.ReasonDeadline, 0))
	require.Equal(t, []string{"-1"}, rd.trailer.Get(PushbackTrailer))
	st := status.Convert(rd.err)
	require.Equal(t, codes.DeadlineExceeded, st.Code())
	for _, d := range st.Details() {
		_, isRetry := d.(*errdetails.RetryInfo)
		require.False(t, isRetry, "no RetryInfo for a deadline rejection")
	}
}

func TestAdmitErrorsAreStatusErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{errors.New("odd gate"), codes.Unknown},
		{status.Error(codes.Aborted, "x"), codes.Aborted},
		{baldur.Reject(baldur.ReasonKillSwitch, 30*time.Second), codes.Unavailable},
		{wrapped{baldur.Reject(baldur.ReasonShareCap, time.Second)}, codes.ResourceExhausted},
	} {
		_, e := admitError(tc.err)
		st, ok := status.FromError(e)
		require.True(t, ok, "%v gives a status error", tc.err)
		require.Equal(t, tc.code, st.Code(), "%v", tc.err)
	}
}

type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapped) Unwrap() error { return w.err }

func TestResultTable(t *testing.T) {
	t.Parallel()
	failures := map[codes.Code]bool{codes.Unknown: true, codes.DeadlineExceeded: true, codes.Unimplemented: true,
		codes.Internal: true, codes.Unavailable: true, codes.DataLoss: true}
	for code := codes.OK; code <= codes.Unauthenticated; code++ {
		want := baldur.Ignored
		switch {
		case code == codes.OK:
			want = baldur.Success
		case failures[code]:
			want = baldur.Failure
		}
		require.Equal(t, want, Result(code), code.String())
	}
	require.Equal(t, baldur.Failure, Result(codes.Code(99)))
	require.Equal(t, codes.Canceled, codeOf(context.Canceled))
	require.Equal(t, codes.DeadlineExceeded, codeOf(wrapped{context.DeadlineExceeded}))
	require.Equal(t, codes.Unknown, codeOf(errors.New("x")))
	require.Equal(t, codes.NotFound, codeOf(status.Error(codes.NotFound, "x")))
}

func TestPanicReleasesAndRepanics(t *testing.T) {
	t.Parallel()
	g := newGate(baldur.StageBulkhead)
	r := baldur.Static(policyOf(t, g))
	info := &grpc.UnaryServerInfo{FullMethod: "/s/M"}
	func() {
		defer func() {
			require.Equal(t, "boom", recover(), "the panic goes on unchanged")
		}()
		_, _ = UnaryServerInterceptor(r)(context.Background(), nil, info, func(context.Context, any) (any, error) {
			panic("boom")
		})
	}()
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Failure, g.lastOutcome(t).Result)

	func() {
		defer func() { require.Equal(t, "boom", recover()) }()
		_ = StreamServerInterceptor(r)(nil, fakeServerStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: "/s/S"},
			func(any, grpc.ServerStream) error { panic("boom") })
	}()
	require.EqualValues(t, 0, g.held())

	func() {
		defer func() { require.Equal(t, "boom", recover()) }()
		_ = UnaryClientInterceptor(r)(context.Background(), "/s/M", nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") })
	}()
	require.EqualValues(t, 0, g.held())
	require.EqualValues(t, 3, g.released.Load())
}

type fakeServerStream struct {
	grpc.ServerStream
	ctx     context.Context
	trailer *metadata.MD
}

func (s fakeServerStream) Context() context.Context { return s.ctx }
func (s fakeServerStream) SetTrailer(md metadata.MD) {
	if s.trailer != nil {
		*s.trailer = md
	}
}

type ctxKey struct{}

func TestContextValuesSurvive(t *testing.T) {
	t.Parallel()
	g := newGate(baldur.StageBulkhead)
	r := baldur.Static(policyOf(t, g))
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	check := func(ctx context.Context) {
		require.Equal(t, "v", ctx.Value(ctxKey{}))
		require.NoError(t, ctx.Err(), "the interceptor never cancels the caller's context")
	}
	_, err := UnaryServerInterceptor(r)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/s/M"}, func(ctx context.Context, _ any) (any, error) {
		check(ctx)
		return nil, nil
	})
	require.NoError(t, err)
	require.NoError(t, StreamServerInterceptor(r)(nil, fakeServerStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: "/s/S"},
		func(_ any, ss grpc.ServerStream) error { check(ss.Context()); return nil }))
	require.NoError(t, UnaryClientInterceptor(r)(ctx, "/s/M", nil, nil, nil,
		func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			check(ctx)
			return nil
		}))
	cs, err := StreamClientInterceptor(r)(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, "/s/S",
		func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			check(ctx)
			return eofStream{}, nil
		})
	require.NoError(t, err)
	require.Equal(t, io.EOF, cs.RecvMsg(nil))
	check(ctx)
	require.EqualValues(t, 0, g.held())
}

type eofStream struct{ grpc.ClientStream }

func (eofStream) RecvMsg(any) error { return io.EOF }

func TestStreamServerRejectionSetsTrailer(t *testing.T) {
	t.Parallel()
	g := newGate(baldur.StageGovernance)
	g.reject = rejectAlways(baldur.Reject(baldur.ReasonEmergency, 10*time.Second))
	var md metadata.MD
	called := false
	err := StreamServerInterceptor(baldur.Static(policyOf(t, g)))(nil, fakeServerStream{ctx: context.Background(), trailer: &md},
		&grpc.StreamServerInfo{FullMethod: "/s/S"}, func(any, grpc.ServerStream) error { called = true; return nil })
	require.False(t, called)
	require.Equal(t, codes.Unavailable, status.Code(err))
	require.Equal(t, []string{"10000"}, md.Get(PushbackTrailer))
}

func TestLatencyFromInjectedClock(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(100, 0))
	for _, measure := range []bool{false, true} {
		g := newGate(baldur.StageBulkhead)
		opts := []Option{WithClock(clk)}
		if measure {
			opts = append(opts, WithLatency())
		}
		_, err := UnaryServerInterceptor(baldur.Static(policyOf(t, g)), opts...)(context.Background(), nil,
			&grpc.UnaryServerInfo{FullMethod: "/s/M"}, func(context.Context, any) (any, error) {
				clk.Advance(5 * time.Millisecond)
				return nil, nil
			})
		require.NoError(t, err)
		require.Equal(t, time.Unix(100, 0).Add(map[bool]time.Duration{false: 0, true: 5 * time.Millisecond}[measure]), g.lastCall(t).Now)
		want := time.Duration(0)
		if measure {
			want = 5 * time.Millisecond
		}
		require.Equal(t, want, g.lastOutcome(t).Latency, "WithLatency=%v", measure)
	}
}
