package interceptor

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/baldur-go/baldur"
)

// bareInterceptor is the baseline: an interceptor that only calls on.
func bareInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(ctx, req)
}

// BenchmarkUnaryServer compares direct calls of the guard with a bare
// interceptor, with a no-op handler: the difference is the guard's
// overhead.
func BenchmarkUnaryServer(b *testing.B) {
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/UnaryCall"}
	for _, bc := range []struct {
		name string
		i    grpc.UnaryServerInterceptor
	}{
		{"bare", bareInterceptor},
		{"nil-policy", UnaryServerInterceptor(baldur.Static(nil))},
		{"admit-gate", UnaryServerInterceptor(baldur.Static(policyOf(b, nopGate{})))},
		{"admit-gate+latency", UnaryServerInterceptor(baldur.Static(policyOf(b, nopGate{})), WithLatency())},
		{"hold-gate", UnaryServerInterceptor(baldur.Static(policyOf(b, holdGate{})))},
		{"reject", UnaryServerInterceptor(baldur.Static(policyOf(b, rejGate{baldur.Reject(baldur.ReasonThrottled, 1)})))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := grpc.NewContextWithServerTransportStream(context.Background(), &fakeTransportStream{})
				for pb.Next() {
					_, _ = bc.i(ctx, nil, info, noopHandler)
				}
			})
		})
	}
}

// BenchmarkBufconnUnary compares a full unary round trip over bufconn with
// and without the server guard (one admitting, permit-holding gate).
func BenchmarkBufconnUnary(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []grpc.ServerOption
	}{
		{"bare", nil},
		{"guarded", []grpc.ServerOption{grpc.ChainUnaryInterceptor(
			UnaryServerInterceptor(baldur.Static(policyOf(b, nopGate{}, holdGate{}))))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := grpc.NewServer(bc.opts...)
			testpb.RegisterTestServiceServer(srv, &testServer{})
			client := testpb.NewTestServiceClient(serve(b, netBufconn, srv))
			ctx := context.Background()
			req := &testpb.SimpleRequest{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := client.UnaryCall(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
