package interceptor

import (
	"context"
	"testing"

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
			if n := testing.AllocsPerRun(200, func() { _, _ = ui(ctx, nil, info, noopHandler) }); n != 0 {
				t.Errorf("unary server: %v allocs", n)
			}
			if n := testing.AllocsPerRun(200, func() { _ = si(nil, ss, sinfo, shandler) }); n != 0 {
				t.Errorf("stream server: %v allocs", n)
			}
			if n := testing.AllocsPerRun(200, func() { _ = ci(ctx, info.FullMethod, nil, nil, nil, invoker) }); n != 0 {
				t.Errorf("unary client: %v allocs", n)
			}
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
	if n := testing.AllocsPerRun(200, func() { _, _ = ui(ctx, nil, info, noopHandler) }); n != 0 {
		t.Errorf("reject path: %v allocs", n)
	}
	if got := sts.trailer.Get(PushbackTrailer); len(got) != 1 || got[0] != "1000" {
		t.Errorf("pushback trailer %v", got)
	}
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
