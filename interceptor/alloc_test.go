package interceptor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/baldur-go/baldur"
)

// nopGate admits everything and holds nothing.
type nopGate struct{}

func (nopGate) Stage() baldur.Stage { return baldur.StageGovernance }
func (nopGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, nil
}

// holdGate admits everything and holds a permit it gets back on release.
type holdGate struct{}

func (holdGate) Stage() baldur.Stage { return baldur.StageBulkhead }
func (g holdGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 1), nil
}
func (holdGate) Release(uint64, baldur.Outcome) {}

func noopHandler(ctx context.Context, req any) (any, error) { return req, nil }

func TestUnaryServerInterceptorAllocs(t *testing.T) {
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/UnaryCall"}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		r    baldur.Resolver
	}{
		{"nil policy", baldur.Static(nil)},
		{"empty policy", baldur.Static(policyOf(t))},
		{"admitting gate", baldur.Static(policyOf(t, nopGate{}))},
		{"holding gate", baldur.Static(policyOf(t, nopGate{}, holdGate{}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := UnaryServerInterceptor(tc.r)
			si := StreamServerInterceptor(tc.r)
			ci := UnaryClientInterceptor(tc.r)
			var ss grpc.ServerStream = fakeServerStream{ctx: ctx}
			sinfo := &grpc.StreamServerInfo{FullMethod: info.FullMethod}
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
			shandler := func(any, grpc.ServerStream) error { return nil }
			n := testing.AllocsPerRun(200, func() { _, _ = ui(ctx, nil, info, noopHandler) })
			assert.Zero(t, n, "unary server: allocs")
			n = testing.AllocsPerRun(200, func() { _ = si(nil, ss, sinfo, shandler) })
			assert.Zero(t, n, "stream server: allocs")
			n = testing.AllocsPerRun(200, func() { _ = ci(ctx, info.FullMethod, nil, nil, nil, invoker) })
			assert.Zero(t, n, "unary client: allocs")
		})
	}
}

func TestRejectPathAllocs(t *testing.T) {
	rej := baldur.Reject(baldur.ReasonThrottled, 1)
	ui := UnaryServerInterceptor(baldur.Static(policyOf(t, rejGate{rej})))
	info := &grpc.UnaryServerInfo{FullMethod: "/s/M"}
	sts := &fakeTransportStream{}
	ctx := grpc.NewContextWithServerTransportStream(context.Background(), sts)
	_, _ = ui(ctx, nil, info, noopHandler) // render once
	n := testing.AllocsPerRun(200, func() { _, _ = ui(ctx, nil, info, noopHandler) })
	assert.Zero(t, n, "reject path: allocs")
	assert.Equal(t, []string{"1000"}, sts.trailer.Get(PushbackTrailer), "pushback trailer")
}

type fakeTransportStream struct {
	grpc.ServerTransportStream
	trailer metadata.MD
}

func (s *fakeTransportStream) Method() string { return "/s/M" }
func (s *fakeTransportStream) SetTrailer(md metadata.MD) error {
	s.trailer = md
	return nil
}

type rejGate struct{ err error }

func (rejGate) Stage() baldur.Stage { return baldur.StageThrottle }
func (g rejGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, g.err
}
