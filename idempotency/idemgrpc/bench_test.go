package idemgrpc_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/baldur-go/baldur/idempotency/idemgrpc"
)

// TestGRPCAllMethodsNoKeyZeroAllocs: guarding every method, a call without
// a key (not required) passes through without allocating. Not parallel:
// AllocsPerRun refuses parallel tests.
func TestGRPCAllMethodsNoKeyZeroAllocs(t *testing.T) {
	ic, err := idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(t), Unscoped: true})
	require.NoError(t, err)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-other", "v"))
	info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
	req, resp := &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}
	handler := func(context.Context, any) (any, error) { return resp, nil }
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = ic(ctx, req, info, handler) }))
}

func benchInterceptor(b *testing.B) grpc.UnaryServerInterceptor {
	ic, err := idemgrpc.UnaryServerInterceptor(idemgrpc.Options{Ledger: newMemory(b), Unscoped: true, Methods: []string{checkMethod}})
	require.NoError(b, err)
	return ic
}

func BenchmarkGRPCPassThrough(b *testing.B) {
	ic := benchInterceptor(b)
	ctx := context.Background()
	info := &grpc.UnaryServerInfo{FullMethod: "/pkg.Other/Method"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ic(ctx, nil, info, handler)
	}
}

func BenchmarkGRPCFirst(b *testing.B) {
	ic := benchInterceptor(b)
	info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
	req, resp := &healthpb.HealthCheckRequest{Service: "orders"}, &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
	handler := func(context.Context, any) (any, error) { return resp, nil }
	ctxs := make([]context.Context, 4096)
	for i := range ctxs {
		ctxs[i] = metadata.NewIncomingContext(context.Background(), metadata.Pairs(idemgrpc.MetadataKey, `"k-`+strconv.Itoa(i)+`"`))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(ctxs) { // fresh keys: a new ledger
			b.StopTimer()
			ic, i = benchInterceptor(b), 0
			b.StartTimer()
		}
		_, _ = ic(ctxs[i], req, info, handler)
		i++
	}
}

func BenchmarkGRPCReplay(b *testing.B) {
	ic := benchInterceptor(b)
	info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
	req, resp := &healthpb.HealthCheckRequest{Service: "orders"}, &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
	handler := func(context.Context, any) (any, error) { return resp, nil }
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(idemgrpc.MetadataKey, `"k"`))
	_, err := ic(ctx, req, info, handler)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ic(ctx, req, info, handler)
	}
}
