package interceptor_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/interceptor"
)

// closed is a stand-in for a throttle whose partition is out of tokens.
type closed struct{}

func (closed) Stage() baldur.Stage { return baldur.StageThrottle }
func (closed) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, baldur.Reject(baldur.ReasonThrottled, 2*time.Second)
}

func throttled() baldur.Resolver {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{closed{}}})
	if err != nil {
		log.Fatal(err)
	}
	return baldur.Static(p)
}

type service struct {
	testpb.UnimplementedTestServiceServer
}

func (service) UnaryCall(context.Context, *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{}, nil
}

func (service) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

// start serves the test service on an in-memory listener and returns a
// client and a function that stops both.
func start(srvOpts []grpc.ServerOption, dialOpts ...grpc.DialOption) (testpb.TestServiceClient, func()) {
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer(srvOpts...)
	testpb.RegisterTestServiceServer(srv, service{})
	go func() { _ = srv.Serve(lis) }()
	dialOpts = append(dialOpts,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	cc, err := grpc.NewClient("passthrough:///bufconn", dialOpts...)
	if err != nil {
		log.Fatal(err)
	}
	return testpb.NewTestServiceClient(cc), func() { cc.Close(); srv.Stop() }
}

func describe(err error, trailer metadata.MD) {
	st := status.Convert(err)
	fmt.Println("code:", st.Code())
	fmt.Println("message:", st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			fmt.Println("retry after:", d.GetRetryDelay().AsDuration())
		case *errdetails.ErrorInfo:
			fmt.Println("reason:", d.GetReason(), "gate:", d.GetMetadata()["gate"])
		}
	}
	if trailer != nil {
		fmt.Println("pushback ms:", trailer.Get(interceptor.PushbackTrailer))
	}
}

func ExampleUnaryServerInterceptor() {
	client, stop := start([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(interceptor.UnaryServerInterceptor(throttled(), interceptor.WithService("api"))),
	})
	defer stop()

	var trailer metadata.MD
	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
	describe(err, trailer)
	// Output:
	// code: ResourceExhausted
	// message: baldur: rejected by throttle: throttled (retry after 2s)
	// reason: THROTTLED gate: throttle
	// retry after: 2s
	// pushback ms: [2000]
}

func ExampleStreamServerInterceptor() {
	srv := grpc.NewServer(
		grpc.ChainStreamInterceptor(interceptor.StreamServerInterceptor(throttled())),
	)
	defer srv.Stop()
	// Every stream now holds its permits until its handler returns.
}

func ExampleUnaryClientInterceptor() {
	client, stop := start(nil,
		grpc.WithChainUnaryInterceptor(interceptor.UnaryClientInterceptor(throttled())))
	defer stop()

	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	// Rejected on the client: no request was sent.
	fmt.Println(status.Code(err), errors.Is(err, baldur.ErrRejected))
	describe(err, nil)
	// Output:
	// ResourceExhausted true
	// code: ResourceExhausted
	// message: baldur: rejected by throttle: throttled (retry after 2s)
	// reason: THROTTLED gate: throttle
	// retry after: 2s
}

func ExampleStreamClientInterceptor() {
	_, stop := start(nil,
		grpc.WithChainStreamInterceptor(interceptor.StreamClientInterceptor(throttled())))
	defer stop()
	// Each stream holds its permits until RecvMsg returns io.EOF or an
	// error, or its context ends.
}

func ExampleInHandle() {
	client, stop := start([]grpc.ServerOption{
		// Shed before the request is even decoded. Non-holding,
		// non-waiting gates only (governance, throttle).
		grpc.InTapHandle(interceptor.InHandle(throttled())),
	})
	defer stop()

	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	fmt.Println(status.Code(err))
	// Output:
	// ResourceExhausted
}

func ExampleNewLimiter() {
	// Any baldur policy as a go-grpc-middleware ratelimit.Limiter.
	client, stop := start([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ratelimit.UnaryServerInterceptor(interceptor.NewLimiter(throttled()))),
	})
	defer stop()

	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	fmt.Println(status.Code(err))
	// Output:
	// ResourceExhausted
}

// Chain the guard with go-grpc-middleware's recovery and logging, and use
// its selector to guard only some methods: here UnaryCall is guarded and
// EmptyCall is not.
func Example_goGRPCMiddleware() {
	logger := logging.LoggerFunc(func(_ context.Context, _ logging.Level, msg string, fields ...any) {
		var m, code string
		for it := logging.Fields(fields).Iterator(); it.Next(); {
			k, v := it.At()
			switch k {
			case "grpc.method":
				m = fmt.Sprint(v)
			case "grpc.code":
				code = fmt.Sprint(v)
			}
		}
		fmt.Println("log:", msg, m, code)
	})
	guardOnly := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Method == "UnaryCall"
	})
	client, stop := start([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			recovery.UnaryServerInterceptor(recovery.WithRecoveryHandler(func(p any) error {
				return status.Errorf(codes.Internal, "recovered: %v", p)
			})),
			logging.UnaryServerInterceptor(logger, logging.WithLogOnEvents(logging.FinishCall)),
			selector.UnaryServerInterceptor(interceptor.UnaryServerInterceptor(throttled()), guardOnly),
		),
	})
	defer stop()

	_, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	fmt.Println("UnaryCall:", status.Code(err))
	_, err = client.EmptyCall(context.Background(), &testpb.Empty{})
	fmt.Println("EmptyCall:", status.Code(err))
	// Output:
	// log: finished call UnaryCall ResourceExhausted
	// UnaryCall: ResourceExhausted
	// log: finished call EmptyCall OK
	// EmptyCall: OK
}
