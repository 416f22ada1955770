package bench

import (
	"context"

	"github.com/baldur-go/baldur"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baldur-go/baldur/bench/internal/fake"
	"github.com/baldur-go/baldur/bench/internal/ours"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	grpcpeer "google.golang.org/grpc/peer"
)

// The adapter benchmarks call the handler or interceptor directly, without a
// network, so that they measure only what the adapter adds. impl=bare is the
// handler alone (HTTP) or a pass-through interceptor (gRPC).
//
// impl=baldur-fake is our adapter (middleware.New, or
// interceptor.UnaryServerInterceptor) over the zero-cost chain of
// internal/fake: the adapter's own cost plus the chain machinery.
// impl=baldur is the adapter over the full real chain resolved from the
// registry; its reject path is the throttle's.

// discardWriter is a reusable ResponseWriter that keeps nothing, so that the
// writer costs no allocation and every impl pays the same for it.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

var okBody = []byte("ok\n")

// okHandler is the protected handler: it answers 200 with a small body.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
})

type httpImpl struct {
	name  string
	build func(http.Handler, peer.Mode) http.Handler
}

var httpImpls = []httpImpl{
	{"baldur-fake", func(next http.Handler, m peer.Mode) http.Handler {
		p := fake.Chain("bench")
		if m == peer.Reject {
			p = fake.RejectingChain("bench")
		}
		return ours.Middleware(baldur.Static(p), next)
	}},
	{"baldur", func(next http.Handler, m peer.Mode) http.Handler {
		reg, err := ours.FullRegistry(benchCall.Key, stageFor(m))
		if err != nil {
			panic(err)
		}
		return ours.Middleware(reg, next)
	}},
	{"failsafe", peer.FailsafeHTTP},
	{"handrolled", peer.HandrolledHTTP},
}

func benchHandler(b *testing.B, h http.Handler, m peer.Mode) {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newBenchRequest())
	require.Equal(b, m == peer.Admit, rec.Code == http.StatusOK, "%s path: status %d", m, rec.Code)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := newBenchRequest()
		w := &discardWriter{h: make(http.Header, 8)}
		for pb.Next() {
			h.ServeHTTP(w, r)
			clear(w.h)
		}
	})
}

func newBenchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/items/42", nil)
	r.RemoteAddr = "203.0.113.7:41234"
	r.Pattern = "GET /items/{id}"
	return r
}

func BenchmarkHTTP(b *testing.B) {
	for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
		b.Run("path="+m.String(), func(b *testing.B) {
			if m == peer.Admit {
				b.Run("impl=bare", func(b *testing.B) { benchHandler(b, okHandler, m) })
			}
			for _, impl := range httpImpls {
				b.Run("impl="+impl.name, func(b *testing.B) { benchHandler(b, impl.build(okHandler, m), m) })
			}
		})
	}
}

type grpcImpl struct {
	name  string
	build func(peer.Mode) grpc.UnaryServerInterceptor
}

var grpcImpls = []grpcImpl{
	{"baldur-fake", func(m peer.Mode) grpc.UnaryServerInterceptor {
		p := fake.Chain("bench")
		if m == peer.Reject {
			p = fake.RejectingChain("bench")
		}
		return ours.Unary(baldur.Static(p))
	}},
	{"baldur", func(m peer.Mode) grpc.UnaryServerInterceptor {
		reg, err := ours.FullRegistry(benchCall.Key, stageFor(m))
		if err != nil {
			panic(err)
		}
		return ours.Unary(reg)
	}},
	{"ratelimit", peer.RatelimitUnary},
	{"failsafe", peer.FailsafeUnary},
	{"handrolled", peer.HandrolledUnary},
}

var (
	healthInfo = &grpc.UnaryServerInfo{FullMethod: ours.GRPCOperation}
	healthReq  = &grpc_health_v1.HealthCheckRequest{}
	healthResp = &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}
)

func healthHandler(context.Context, any) (any, error) { return healthResp, nil }

// grpcCtx is a server call's context as grpc-go builds it: it carries the
// peer, from which our interceptor takes the partition key, and the
// transport stream, on which grpc.SetHeader/SetTrailer write.
var grpcCtx = grpc.NewContextWithServerTransportStream(
	grpcpeer.NewContext(context.Background(), &grpcpeer.Peer{
		Addr: &net.TCPAddr{IP: net.ParseIP(benchCall.Key), Port: 41234},
	}),
	nopStream{},
)

// nopStream is a grpc.ServerTransportStream that drops headers and trailers.
type nopStream struct{}

func (nopStream) Method() string                  { return ours.GRPCOperation }
func (nopStream) SetHeader(metadata.MD) error     { return nil }
func (nopStream) SendHeader(metadata.MD) error    { return nil }
func (nopStream) SetTrailer(md metadata.MD) error { return nil }

func benchUnary(b *testing.B, ic grpc.UnaryServerInterceptor, m peer.Mode) {
	b.Helper()
	ctx := grpcCtx
	_, err := ic(ctx, healthReq, healthInfo, healthHandler)
	require.Equal(b, m == peer.Reject, err != nil, "%s path: error = %v", m, err)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = ic(ctx, healthReq, healthInfo, healthHandler)
		}
	})
}

func BenchmarkGRPC(b *testing.B) {
	for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
		b.Run("path="+m.String(), func(b *testing.B) {
			if m == peer.Admit {
				b.Run("impl=bare", func(b *testing.B) { benchUnary(b, peer.BareUnary, m) })
			}
			for _, impl := range grpcImpls {
				b.Run("impl="+impl.name, func(b *testing.B) { benchUnary(b, impl.build(m), m) })
			}
		})
	}
}
