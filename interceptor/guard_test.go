package interceptor

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/baldur-go/baldur"
)

// leavingShapes runs each of the four interceptor shapes once with a callee that
// calls fail (which panics or exits its goroutine).
func leavingShapes(r baldur.Resolver, fail func()) map[string]func() {
	ctx := context.Background()
	return map[string]func(){
		"unary server": func() {
			_, _ = UnaryServerInterceptor(r)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/s/M"},
				func(context.Context, any) (any, error) { fail(); return nil, nil })
		},
		"stream server": func() {
			_ = StreamServerInterceptor(r)(nil, fakeServerStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: "/s/S"},
				func(any, grpc.ServerStream) error { fail(); return nil })
		},
		"unary client": func() {
			_ = UnaryClientInterceptor(r)(ctx, "/s/M", nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					fail()
					return nil
				})
		},
		"stream client": func() {
			_, _ = StreamClientInterceptor(r)(ctx, &grpc.StreamDesc{}, nil, "/s/S",
				func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					fail()
					return nil, nil
				})
		},
	}
}

// Whichever way the callee leaves (a panic, runtime.Goexit), every shape
// releases its permits once, as a Failure with the status Internal, and the
// panic goes on unchanged.
func TestCalleeLeavingReleasesOnce(t *testing.T) {
	t.Parallel()
	for _, way := range []string{"panic", "goexit"} {
		g := newGate(baldur.StageBulkhead)
		fail := func() { panic("boom") }
		if way == "goexit" {
			fail = runtime.Goexit
		}
		for name, run := range leavingShapes(baldur.Static(policyOf(t, g)), fail) {
			before := g.released.Load()
			var wg sync.WaitGroup
			var recovered any
			wg.Go(func() {
				defer func() { recovered = recover() }()
				run()
			})
			wg.Wait()
			if way == "panic" {
				require.Equal(t, "boom", recovered, "%s: the panic goes on unchanged", name)
			}
			require.EqualValues(t, 0, g.held(), "%s %s", way, name)
			require.EqualValues(t, before+1, g.released.Load(), "%s %s: released once", way, name)
			o := g.lastOutcome(t)
			require.Equal(t, baldur.Failure, o.Result, "%s %s", way, name)
			require.Equal(t, int(codes.Internal), o.Status, "%s %s", way, name)
		}
	}
}

// A client stream that opens keeps its permits past the interceptor's
// return, until it is over: the guard hands them on, it does not release.
func TestClientStreamKeepsPermitsUntilOver(t *testing.T) {
	t.Parallel()
	g := newGate(baldur.StageBulkhead)
	cs, err := StreamClientInterceptor(baldur.Static(policyOf(t, g)))(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/s/S",
		func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return eofStream{}, nil
		})
	require.NoError(t, err)
	require.EqualValues(t, 1, g.held(), "held while the stream is open")
	require.ErrorIs(t, cs.RecvMsg(nil), io.EOF)
	require.EqualValues(t, 0, g.held())
	require.Equal(t, baldur.Success, g.lastOutcome(t).Result)
}
