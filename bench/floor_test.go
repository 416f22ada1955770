package bench

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/baldur-go/baldur/bench/internal/route"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/internal/coarse"
	"github.com/baldur-go/baldur/throttle"
)

// impl=floor is the route's four gates called directly, in the policy's
// order, on their concrete types: what the gates themselves cost on the
// route, with nothing of the policy and the adapters around them. It is a
// lower bound that no composition of these gates can beat, so
// failsafe's overhead over the floor's is the largest ratio any adapter
// could show, and ours over the floor's is what the composition adds to
// the sum of its parts (the report prints both).
//
// It keeps of the adapters only what the route cannot do without: the
// cheapest partition key (the client address's host as a substring on
// HTTP, the peer IP's bytes on gRPC, the tenant header on the transport),
// the coarse clock, and on HTTP the RateLimit fields and the rejection's
// fields as map inserts of values fixed in advance. It leaves out the
// resolution of the policy, the status-recording writer, panic recovery,
// the header values' lookup, the response body's wrapper on the transport
// (it releases as soon as the upstream answers) and every check of an
// error's kind.
type floor struct {
	gov *governance.Gate
	thr *throttle.Throttle
	br  *blast.Breakers
	bh  *bulkhead.Semaphore
	now func() time.Time // coarse.Now unless a test gave a clock
}

// newFloor returns the gates of the route's policy on the registry
// loaded from burst, on clk (nil: the registry's system clock, calls
// dated by the coarse clock as the adapters date them).
func newFloor(tb testing.TB, burst int, clk baldur.Clock) *floor {
	reg, err := route.Registry(burst, clk)
	require.NoError(tb, err)
	gs := reg.Policy(route.Pattern).Gates()
	require.Len(tb, gs, 4)
	f := &floor{now: coarse.Now}
	if clk != nil {
		f.now = clk.Now
	}
	var ok [4]bool
	f.gov, ok[0] = gs[0].(*governance.Gate)
	f.thr, ok[1] = gs[1].(*throttle.Throttle)
	f.br, ok[2] = gs[2].(*blast.Breakers)
	f.bh, ok[3] = gs[3].(*bulkhead.Semaphore)
	require.Equal(tb, [4]bool{true, true, true, true}, ok, "the route's policy is not governance, throttle, blast, bulkhead")
	return f
}

// errFloorRejected is the floor's rejection: the throttle said no.
var errFloorRejected = errors.New("floor: throttled")

// admit runs c through the four gates; on a rejection it releases what it
// took and returns errFloorRejected.
func (f *floor) admit(ctx context.Context, c baldur.Call, ps *[4]baldur.Permit) error {
	var err error
	if ps[0], err = f.gov.Admit(ctx, c); err != nil {
		return errFloorRejected
	}
	if ps[1], err = f.thr.Admit(ctx, c); err != nil {
		ps[0].Release(baldur.Outcome{Result: baldur.Ignored, Rejected: baldur.ReasonThrottled})
		return errFloorRejected
	}
	if ps[2], err = f.br.Admit(ctx, c); err != nil {
		ps[1].Release(baldur.Outcome{Result: baldur.Ignored})
		ps[0].Release(baldur.Outcome{Result: baldur.Ignored})
		return errFloorRejected
	}
	if ps[3], err = f.bh.Admit(ctx, c); err != nil {
		ps[2].Release(baldur.Outcome{Result: baldur.Ignored})
		ps[1].Release(baldur.Outcome{Result: baldur.Ignored})
		ps[0].Release(baldur.Outcome{Result: baldur.Ignored})
		return errFloorRejected
	}
	return nil
}

func release(ps *[4]baldur.Permit, o baldur.Outcome) {
	ps[3].Release(o)
	ps[2].Release(o)
	ps[1].Release(o)
	ps[0].Release(o)
}

// The floor's header values, fixed: the same fields as ours with values of
// the same lengths.
var (
	floorPolicy   = []string{`"tenant";q=1000;w=1`}
	floorRemain   = []string{`"tenant";r=999;t=1`}
	floorEmpty    = []string{`"tenant";r=0;t=1`}
	floorRetry    = []string{"1"}
	floorGate     = []string{"throttle"}
	floorReason   = []string{"throttled"}
	floorType     = []string{"application/json"}
	floorNoSniff  = []string{"nosniff"}
	floorBody     = []byte(`{"code":"throttled","gate":"throttle","retry_after_s":1}` + "\n")
	floorLength   = []string{strconv.Itoa(len(floorBody))}
	floorGRPCDeny = status.Error(codes.ResourceExhausted, "throttled")
)

// floorHTTP is the floor as a middleware around next.
func (f *floor) http(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var c baldur.Call
		c.Operation, c.Service = route.Pattern, "shop"
		c.Key, c.Now = r.RemoteAddr[:strings.LastIndexByte(r.RemoteAddr, ':')], f.now()
		var ps [4]baldur.Permit
		h := w.Header()
		if f.admit(ctx, c, &ps) != nil {
			h["Ratelimit-Policy"], h["Ratelimit"] = floorPolicy, floorEmpty
			h["Retry-After"], h["X-Baldur-Gate"], h["X-Baldur-Reason"] = floorRetry, floorGate, floorReason
			h["Content-Type"], h["Content-Length"], h["X-Content-Type-Options"] = floorType, floorLength, floorNoSniff
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(floorBody)
			return
		}
		h["Ratelimit-Policy"], h["Ratelimit"] = floorPolicy, floorRemain
		next.ServeHTTP(w, r)
		release(&ps, baldur.Outcome{Status: http.StatusOK})
	})
}

// unary is the floor as a unary server interceptor.
func (f *floor) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	var c baldur.Call
	c.Operation, c.Service = route.GRPCMethod, "shop"
	if p, ok := grpcpeer.FromContext(ctx); ok {
		if a, ok := p.Addr.(*net.TCPAddr); ok && len(a.IP) > 0 {
			c.Key = unsafe.String(&a.IP[0], len(a.IP))
		}
	}
	c.Now = f.now()
	var ps [4]baldur.Permit
	if f.admit(ctx, c, &ps) != nil {
		return nil, floorGRPCDeny
	}
	resp, err := handler(ctx, req)
	o := baldur.Outcome{}
	if err != nil {
		o.Result = baldur.Failure
	}
	release(&ps, o)
	return resp, err
}

// floorTransport is the floor as a RoundTripper over next.
type floorTransport struct {
	*floor
	next http.RoundTripper
}

func (f floorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var c baldur.Call
	c.Operation, c.Service, c.Key, c.Now = route.Outbound, "shop", tenantKey(req), f.now()
	var ps [4]baldur.Permit
	if err := f.admit(req.Context(), c, &ps); err != nil {
		return nil, err
	}
	resp, err := f.next.RoundTrip(req)
	o := baldur.Outcome{}
	if err != nil {
		o.Result = baldur.Failure
	} else {
		o.Status = resp.StatusCode
	}
	release(&ps, o)
	return resp, err
}

// TestFloorDoesOurWork checks that the floor is a fair lower bound: on
// each path it answers with the status and header fields ours writes
// (their values aside) and rejects where ours rejects.
func TestFloorDoesOurWork(t *testing.T) {
	t.Parallel()
	for _, m := range []peer.Mode{peer.Admit, peer.Reject} {
		t.Run("http/"+m.String(), func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			fields := func(h http.Handler) (int, []string) {
				r := clientRequests(1<<21, 1)[0]
				w := &discardWriter{h: make(http.Header)}
				if m == peer.Reject {
					for range route.Burst {
						h.ServeHTTP(w, r)
						require.Equal(t, http.StatusOK, w.code)
					}
				}
				w = &discardWriter{h: make(http.Header)}
				h.ServeHTTP(w, r)
				return w.code, slices.Sorted(maps.Keys(w.h))
			}
			oursCode, ours := fields(routeHandler(t, "baldur", route.Burst, m, clk))
			floorCode, got := fields(routeHandler(t, "floor", route.Burst, m, clk))
			assert.Equal(t, oursCode, floorCode, "status")
			assert.Equal(t, ours, got, "header fields")
		})
		t.Run("grpc/"+m.String(), func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			code := func(ic grpc.UnaryServerInterceptor) codes.Code {
				ctx := clientContexts(1<<21, 1)[0]
				if m == peer.Reject {
					for range route.Burst {
						_, err := ic(ctx, healthReq, routeInfo, healthHandler)
						require.NoError(t, err)
					}
				}
				_, err := ic(ctx, healthReq, routeInfo, healthHandler)
				return status.Code(err)
			}
			assert.Equal(t, code(routeUnary(t, "baldur", route.Burst, m, clk)), code(routeUnary(t, "floor", route.Burst, m, clk)))
		})
		t.Run("transport/"+m.String(), func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			rejected := func(rt http.RoundTripper) bool {
				r := outboundRequests(1<<21, 1)[0]
				if m == peer.Reject {
					for range route.Burst {
						resp, err := rt.RoundTrip(r)
						require.NoError(t, err)
						require.NoError(t, resp.Body.Close())
					}
				}
				resp, err := rt.RoundTrip(r)
				if err == nil {
					require.NoError(t, resp.Body.Close())
				}
				return err != nil
			}
			assert.Equal(t, m == peer.Reject, rejected(routeTransport(t, "baldur", route.Burst, m, clk)))
			assert.Equal(t, m == peer.Reject, rejected(routeTransport(t, "floor", route.Burst, m, clk)))
		})
	}
}

// TestFloorZeroAlloc: the floor's HTTP route allocates what the bare one
// does, so that its time is the gates' and not the collector's.
func TestFloorZeroAlloc(t *testing.T) {
	rs := clientRequests(1<<22, 64)
	w := &discardWriter{h: make(http.Header)}
	allocs := func(h http.Handler) float64 {
		i := 0
		return testing.AllocsPerRun(200, func() {
			h.ServeHTTP(w, rs[i%len(rs)])
			clear(w.h)
			i++
		})
	}
	assert.Equal(t, allocs(routeHandler(t, "bare", 0, peer.Admit, nil)), allocs(routeHandler(t, "floor", route.Burst, peer.Admit, nil)))
}
