package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baldur-go/baldur/bench/internal/fake"
	"github.com/baldur-go/baldur/bench/internal/ours"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// The adapter benchmarks call the handler or interceptor directly, without a
// network, so that they measure only what the adapter adds. impl=bare is the
// handler alone (HTTP) or a pass-through interceptor (gRPC).
//
// impl=baldur-fake is middleware.New over the zero-cost chain of
// internal/fake: the adapter's own cost plus the chain machinery.
//
// TODO(bench): impl=baldur for BenchmarkHTTP (middleware.New over the full
// real chain from the registry) once the gate packages and registry/ have
// landed, and impl=baldur-fake / impl=baldur for BenchmarkGRPC (the interceptor package's unary server interceptor) once
// interceptor/ has landed.

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
		return ours.Middleware(p, next)
	}},
	{"failsafe", peer.FailsafeHTTP},
	{"handrolled", peer.HandrolledHTTP},
}

func benchHandler(b *testing.B, h http.Handler, m peer.Mode) {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newBenchRequest())
	if (rec.Code == http.StatusOK) != (m == peer.Admit) {
		b.Fatalf("%s path: status %d", m, rec.Code)
	}
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
	{"ratelimit", peer.RatelimitUnary},
	{"failsafe", peer.FailsafeUnary},
	{"handrolled", peer.HandrolledUnary},
}

var (
	healthInfo = &grpc.UnaryServerInfo{FullMethod: grpc_health_v1.Health_Check_FullMethodName}
	healthReq  = &grpc_health_v1.HealthCheckRequest{}
	healthResp = &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}
)

func healthHandler(context.Context, any) (any, error) { return healthResp, nil }

func benchUnary(b *testing.B, ic grpc.UnaryServerInterceptor, m peer.Mode) {
	b.Helper()
	ctx := context.Background()
	if _, err := ic(ctx, healthReq, healthInfo, healthHandler); (err != nil) != (m == peer.Reject) {
		b.Fatalf("%s path: error = %v", m, err)
	}
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
