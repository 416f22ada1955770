package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	grpcpeer "google.golang.org/grpc/peer"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/baldur-go/baldur/bench/internal/route"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/interceptor"
	"github.com/baldur-go/baldur/middleware"
)

// The route benchmarks measure the chain as a service wires it (see package
// route): the configuration loaded from JSON, governance + a per-tenant
// throttle (10,000/s, burst 1,000, RateLimit headers on) + a breaker
// partitioned by operation + a semaphore bulkhead, the partition key taken
// from the client address. Calls come from many tenants (clientsPerG per
// goroutine, disjoint across goroutines), so that no tenant exceeds its
// quota on the admit path; on the reject path every call of a goroutine
// comes from one tenant whose bucket is empty (the refill of 10,000/s
// admits a fraction of a percent of the calls, counted and bounded).
//
//	impl=bare        the route alone (a ServeMux route, a pass-through
//	                 interceptor, the inner RoundTripper)
//	impl=baldur      middleware.New inside the mux route / interceptor.
//	                 UnaryServerInterceptor / middleware.NewTransport
//	impl=baldur-big  the same with a burst of 100,000 (remaining counts
//	                 past the interned header values)
//	impl=floor       the four gates called directly, the least any adapter
//	                 of them could cost (floor_test.go)
//	impl=failsafe    failsafehttp.NewHandler / failsafegrpc / failsafehttp.
//	                 NewRoundTripper over failsafe-go's rate limiter +
//	                 bulkhead + circuit breaker
//
// Overheads are the difference to impl=bare of the same run.

const clientsPerG = 1024

// sys is the clock of the benchmarks: nil, the adapters' default (the
// coarse clock at admission), the registry's the system clock.
var sys baldur.Clock

type routeImpl struct {
	name  string
	burst int // 0: not ours
}

var routeImpls = []routeImpl{{"baldur", route.Burst}, {"baldur-big", route.BigBurst}}

// ---- HTTP
//
// The writer's header map is made as net/http makes a response's, without
// a size hint, and cleared after each request: a small map, whose clearing
// costs about what a fresh one would.

// routeHandler returns the mux of impl in mode m.
func routeHandler(tb testing.TB, impl string, burst int, m peer.Mode, clk baldur.Clock) http.Handler {
	switch impl {
	case "bare":
		return route.Mux(okHandler)
	case "failsafe":
		return route.Mux(peer.FailsafeHTTP(okHandler, m))
	case "floor":
		return route.Mux(newFloor(tb, burst, clk).http(okHandler))
	}
	reg, err := route.Registry(burst, clk)
	require.NoError(tb, err)
	var opts []middleware.Option
	if clk != nil {
		opts = append(opts, middleware.WithClock(clk))
	}
	return route.Mux(middleware.New(reg, opts...)(okHandler))
}

// clientRequests returns n requests for the route from clients first..first+n.
func clientRequests(first, n int) []*http.Request {
	rs := make([]*http.Request, n)
	for i := range rs {
		r := httptest.NewRequest(http.MethodGet, route.Path, nil)
		r.RemoteAddr = route.ClientAddr(first + i)
		rs[i] = r
	}
	return rs
}

func benchRouteHTTP(b *testing.B, h http.Handler, m peer.Mode) {
	var gs, rejected atomic.Int64
	if m == peer.Reject { // empty the bucket of each goroutine's tenant
		drainTenants(func(first int) bool {
			w := &discardWriter{h: make(http.Header)}
			h.ServeHTTP(w, clientRequests(first, 1)[0])
			return w.code != http.StatusOK
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		g := int(gs.Add(1))
		n := clientsPerG
		if m == peer.Reject {
			n = 1
		}
		rs := clientRequests(g*clientsPerG, n)
		w := &discardWriter{h: make(http.Header)}
		i, rej := 0, 0
		for pb.Next() {
			w.code = 0
			h.ServeHTTP(w, rs[i])
			if w.code != http.StatusOK {
				rej++
			}
			clear(w.h)
			if i++; i == n {
				i = 0
			}
		}
		rejected.Add(int64(rej))
	})
	reportCPU(b, cpu0)
	checkPath(b, m, rejected.Load())
}

// drainTenants empties the buckets of the tenants the goroutines of
// b.RunParallel take on the reject path (goroutine g, counted from 1, is
// tenant g*clientsPerG), before the timer starts: it calls once for each
// until once reports a rejection.
func drainTenants(once func(first int) (rejected bool)) {
	for g := 1; g <= runtime.GOMAXPROCS(0); g++ {
		for range 2 * route.BigBurst {
			if once(g * clientsPerG) {
				break
			}
		}
	}
}

// checkPath fails an admit path that rejected, and a reject path that
// admitted more than 20 % of the calls: the bucket's refill of 10,000 a
// second admits a fraction of a percent of calls that take a microsecond,
// more on a machine so loaded that calls take tens of them.
func checkPath(b *testing.B, m peer.Mode, rejected int64) {
	b.Helper()
	switch m {
	case peer.Admit:
		require.Zero(b, rejected, "admit path rejected calls")
	case peer.Reject:
		if b.N < 10_000 {
			return // the refill dominates a short run
		}
		require.GreaterOrEqual(b, float64(rejected), 0.8*float64(b.N), "reject path admitted more than 20 %% of %d calls", b.N)
	}
}

// routeMatrix runs one route benchmark for every path and impl, under the
// names RESULTS.md reports: bare (admit only), ours at each burst (the big
// burst on admit only: a rejection reports r=0 whatever the burst) and
// failsafe-go.
func routeMatrix(b *testing.B, run func(b *testing.B, impl string, burst int, m peer.Mode)) {
	for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
		b.Run("path="+m.String(), func(b *testing.B) {
			if m == peer.Admit {
				b.Run("impl=bare", func(b *testing.B) { run(b, "bare", 0, m) })
			}
			for _, impl := range routeImpls {
				if m == peer.Reject && impl.burst == route.BigBurst {
					continue
				}
				b.Run("impl="+impl.name, func(b *testing.B) { run(b, impl.name, impl.burst, m) })
			}
			b.Run("impl=floor", func(b *testing.B) { run(b, "floor", route.Burst, m) })
			b.Run("impl=failsafe", func(b *testing.B) { run(b, "failsafe", 0, m) })
		})
	}
}

func BenchmarkRouteHTTP(b *testing.B) {
	routeMatrix(b, func(b *testing.B, impl string, burst int, m peer.Mode) {
		benchRouteHTTP(b, routeHandler(b, impl, burst, m, sys), m)
	})
}

// ---- gRPC

func routeUnary(tb testing.TB, impl string, burst int, m peer.Mode, clk baldur.Clock) grpc.UnaryServerInterceptor {
	switch impl {
	case "bare":
		return peer.BareUnary
	case "failsafe":
		return peer.FailsafeUnary(m)
	case "floor":
		return newFloor(tb, burst, clk).unary
	}
	reg, err := route.Registry(burst, clk)
	require.NoError(tb, err)
	var opts []interceptor.Option
	if clk != nil {
		opts = append(opts, interceptor.WithClock(clk))
	}
	return interceptor.UnaryServerInterceptor(reg, opts...)
}

var routeInfo = &grpc.UnaryServerInfo{FullMethod: route.GRPCMethod}

// clientContexts returns the server-side contexts of calls from n clients:
// each carries its peer (a TCP address, as grpc-go sets it per connection)
// and the transport stream.
func clientContexts(first, n int) []context.Context {
	cs := make([]context.Context, n)
	for i := range cs {
		addr, err := net.ResolveTCPAddr("tcp", route.ClientAddr(first+i))
		if err != nil {
			panic(err)
		}
		cs[i] = grpc.NewContextWithServerTransportStream(
			grpcpeer.NewContext(context.Background(), &grpcpeer.Peer{Addr: addr}), nopStream{})
	}
	return cs
}

func benchRouteGRPC(b *testing.B, ic grpc.UnaryServerInterceptor, m peer.Mode) {
	var gs, rejected atomic.Int64
	if m == peer.Reject {
		drainTenants(func(first int) bool {
			_, err := ic(clientContexts(first, 1)[0], healthReq, routeInfo, healthHandler)
			return err != nil
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		g := int(gs.Add(1))
		n := clientsPerG
		if m == peer.Reject {
			n = 1
		}
		cs := clientContexts(g*clientsPerG, n)
		i, rej := 0, 0
		for pb.Next() {
			if _, err := ic(cs[i], healthReq, routeInfo, healthHandler); err != nil {
				rej++
			}
			if i++; i == n {
				i = 0
			}
		}
		rejected.Add(int64(rej))
	})
	reportCPU(b, cpu0)
	checkPath(b, m, rejected.Load())
}

func BenchmarkRouteGRPC(b *testing.B) {
	routeMatrix(b, func(b *testing.B, impl string, burst int, m peer.Mode) {
		benchRouteGRPC(b, routeUnary(b, impl, burst, m, sys), m)
	})
}

// ---- Transport

// upstream is the inner RoundTripper: it answers every request with a fresh
// 200 response (as a real transport allocates one) whose body is empty.
type upstream struct{}

func (upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: eofBody{}, Request: req}, nil
}

// eofBody is an empty response body that allocates nothing.
type eofBody struct{}

func (eofBody) Read([]byte) (int, error) { return 0, io.EOF }
func (eofBody) Close() error             { return nil }

// tenantHeader carries the tenant an outbound request is made for: the
// transport's partition key.
const tenantHeader = "X-Tenant"

// tenantKey reads the header by its canonical name, as a key function on a
// hot path should: Header.Get would validate and canonicalize the name on
// every call.
func tenantKey(r *http.Request) string {
	if v := r.Header[tenantHeader]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func routeTransport(tb testing.TB, impl string, burst int, m peer.Mode, clk baldur.Clock) http.RoundTripper {
	switch impl {
	case "bare":
		return upstream{}
	case "failsafe":
		return peer.FailsafeRoundTripper(upstream{}, m)
	case "floor":
		return floorTransport{newFloor(tb, burst, clk), upstream{}}
	}
	reg, err := route.Registry(burst, clk)
	require.NoError(tb, err)
	return middleware.NewTransport(reg, middleware.TransportConfig{Next: upstream{}, Key: tenantKey, Clock: clk})
}

// outboundRequests returns n requests to the upstream for tenants first..first+n.
func outboundRequests(first, n int) []*http.Request {
	u := &url.URL{Scheme: "https", Host: route.Upstream, Path: route.Path}
	rs := make([]*http.Request, n)
	for i := range rs {
		r := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
		r.Header.Set(tenantHeader, fmt.Sprintf("tenant-%d", first+i))
		rs[i] = r.WithContext(context.Background())
	}
	return rs
}

func benchRouteTransport(b *testing.B, rt http.RoundTripper, m peer.Mode) {
	var gs, rejected atomic.Int64
	if m == peer.Reject {
		drainTenants(func(first int) bool {
			resp, err := rt.RoundTrip(outboundRequests(first, 1)[0])
			if err == nil {
				_ = resp.Body.Close()
			}
			return err != nil
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		g := int(gs.Add(1))
		n := clientsPerG
		if m == peer.Reject {
			n = 1
		}
		rs := outboundRequests(g*clientsPerG, n)
		i, rej := 0, 0
		for pb.Next() {
			resp, err := rt.RoundTrip(rs[i])
			if err != nil {
				rej++
			} else {
				_, _ = resp.Body.Read(nil)
				_ = resp.Body.Close()
			}
			if i++; i == n {
				i = 0
			}
		}
		rejected.Add(int64(rej))
	})
	reportCPU(b, cpu0)
	checkPath(b, m, rejected.Load())
}

func BenchmarkRouteTransport(b *testing.B) {
	routeMatrix(b, func(b *testing.B, impl string, burst int, m peer.Mode) {
		benchRouteTransport(b, routeTransport(b, impl, burst, m, sys), m)
	})
}

// ---- allocation test

// TestRouteZeroAlloc fails when any of our route paths (HTTP, gRPC,
// transport; admit and throttle reject; burst 1,000 and 100,000) allocates
// more than the bare route does, once each client has been seen. The admit
// path walks 64 tenants so that their header values differ; the reject
// path is one tenant with an empty bucket.
//
// The clock is a fake one that never moves, so that no refill admits a call
// of the reject path.
func TestRouteZeroAlloc(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, impl := range routeImpls {
		for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
			name := impl.name + "/" + m.String()
			n := 64
			if m == peer.Reject {
				n = 1
			}
			t.Run("http/"+name, func(t *testing.T) {
				bare, ours := routeHandler(t, "bare", 0, m, nil), routeHandler(t, impl.name, impl.burst, m, clock.NewFake(t0))
				rs := clientRequests(1<<20, n)
				w := &discardWriter{h: make(http.Header)}
				serve := func(h http.Handler, want int) func() {
					i := 0
					return func() {
						w.code = 0
						h.ServeHTTP(w, rs[i%n])
						if want != 0 && w.code != want {
							t.Fatalf("status %d, want %d", w.code, want)
						}
						clear(w.h)
						i++
					}
				}
				want := http.StatusOK
				if m == peer.Reject {
					want = 0
					for range impl.burst + 1 {
						serve(ours, 0)()
					}
					want = http.StatusTooManyRequests
				}
				base := testing.AllocsPerRun(200, serve(bare, http.StatusOK))
				got := testing.AllocsPerRun(200, serve(ours, want))
				assert.Equal(t, base, got, "allocs per request: bare route %v, guarded %v", base, got)
			})
			t.Run("grpc/"+name, func(t *testing.T) {
				ic := routeUnary(t, impl.name, impl.burst, m, clock.NewFake(t0))
				cs := clientContexts(1<<20, n)
				if m == peer.Reject {
					for range impl.burst + 1 {
						_, _ = ic(cs[0], healthReq, routeInfo, healthHandler)
					}
				}
				// Two calls per connection first: a connection's first
				// calls format its peer's key once and cache it by the
				// connection's address; the steady state allocates nothing.
				for range 2 {
					for _, ctx := range cs {
						_, _ = ic(ctx, healthReq, routeInfo, healthHandler)
					}
				}
				i := 0
				got := testing.AllocsPerRun(200, func() {
					_, err := ic(cs[i%n], healthReq, routeInfo, healthHandler)
					if (err != nil) != (m == peer.Reject) {
						t.Fatalf("%s path: err = %v", m, err)
					}
					i++
				})
				assert.Zero(t, got, "allocs per call")
			})
			t.Run("transport/"+name, func(t *testing.T) {
				bare, ours := routeTransport(t, "bare", 0, m, nil), routeTransport(t, impl.name, impl.burst, m, clock.NewFake(t0))
				rs := outboundRequests(1<<20, n)
				if m == peer.Reject {
					for range impl.burst + 1 {
						if resp, err := ours.RoundTrip(rs[0]); err == nil {
							_ = resp.Body.Close()
						}
					}
				}
				trip := func(rt http.RoundTripper, reject bool) func() {
					i := 0
					return func() {
						resp, err := rt.RoundTrip(rs[i%n])
						if (err != nil) != reject {
							t.Fatalf("err = %v", err)
						}
						if err == nil {
							_ = resp.Body.Close()
						}
						i++
					}
				}
				base := testing.AllocsPerRun(200, trip(bare, false))
				got := testing.AllocsPerRun(200, trip(ours, m == peer.Reject))
				// An admitted response with a body gets a wrapper that
				// holds its permits until the body is closed; wrappers
				// come in blocks (see docs/hotpath.md), so 200 requests
				// make at most 13 block allocations, under one per
				// request. TestRouteTransportNoBodyZeroAlloc shows the
				// rest of the path adds nothing.
				want := base
				if m == peer.Reject {
					want = 0 // no response at all
				}
				assert.Equal(t, want, got, "allocs per request: bare %v, guarded %v", base, got)
			})
		}
	}
}

// noBodyUpstream answers every request with a fresh 200 response without a
// body, whose permits the transport releases at once.
type noBodyUpstream struct{}

func (noBodyUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// TestRouteTransportNoBodyZeroAlloc: with nothing to hold past RoundTrip (a
// response without a body) the guarded transport allocates nothing more
// than the bare one, admitting through the full route policy.
func TestRouteTransportNoBodyZeroAlloc(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reg, err := route.Registry(route.Burst, clock.NewFake(t0))
	require.NoError(t, err)
	ours := middleware.NewTransport(reg, middleware.TransportConfig{Next: noBodyUpstream{}, Key: tenantKey, Clock: clock.NewFake(t0)})
	rs := outboundRequests(1<<21, 64)
	trip := func(rt http.RoundTripper) func() {
		i := 0
		return func() {
			resp, err := rt.RoundTrip(rs[i%len(rs)])
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			_ = resp.Body.Close()
			i++
		}
	}
	base := testing.AllocsPerRun(200, trip(noBodyUpstream{}))
	got := testing.AllocsPerRun(200, trip(ours))
	assert.Equal(t, base, got, "allocs per request: bare %v, guarded %v", base, got)
}
