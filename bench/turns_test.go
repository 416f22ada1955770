package bench

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/baldur-go/baldur/bench/internal/route"
)

// The Turns benchmarks run the route's implementations in turns of a few
// hundred calls each, one after the other, on one goroutine, and report
// each one's time per call as a metric (bare-ns/op, baldur-ns/op, ...). A
// host whose speed changes from one second to the next (a shared VM's)
// changes it for every implementation alike, so their differences and
// ratios hold where those of separate benchmarks, run seconds apart, do
// not. Besides the admit path they take ours at the big burst and the
// throttle's rejection, ours and the floor's, so that the burst and reject
// targets are ratios within one run too.

const turn = 256

// turnImpl is one implementation a Turns benchmark takes turns with.
type turnImpl struct {
	name  string // of its metric, <name>-ns/op
	impl  string // as routeHandler, routeUnary and routeTransport name it
	burst int
	mode  peer.Mode
}

// turnImpls are the implementations of the turns. failsafe-go is left
// out: its garbage would be collected during the other implementations'
// turns and charged to them.
var turnImpls = []turnImpl{
	{"bare", "bare", 0, peer.Admit},
	{"floor", "floor", route.Burst, peer.Admit},
	{"baldur", "baldur", route.Burst, peer.Admit},
	{"baldur-big", "baldur", route.BigBurst, peer.Admit},
	{"floor-reject", "floor", route.Burst, peer.Reject},
	{"baldur-reject", "baldur", route.Burst, peer.Reject},
}

// turnTenant is the client of the reject turns, whose bucket is emptied
// before they start; the admit turns take clientsPerG others, from
// clientsPerG on.
const turnTenant = 0

// benchTurns runs call(k, i), the i-th call of turnImpls[k], in turns and
// reports each impl's ns per call. call reports whether the call was
// rejected: never on an admit turn; a reject turn may be admitted now and
// then by the bucket's refill, but no more than checkPath allows.
func benchTurns(b *testing.B, call func(k, i int) (rejected bool)) {
	spent := make([]time.Duration, len(turnImpls))
	rejected := make([]int, len(turnImpls))
	calls := 0
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += turn * len(turnImpls) {
		for k := range turnImpls {
			t0 := time.Now()
			for i := range turn {
				if call(k, calls+i) {
					rejected[k]++
				}
			}
			spent[k] += time.Since(t0)
		}
		calls += turn
	}
	b.StopTimer()
	for k, ti := range turnImpls {
		switch {
		case ti.mode == peer.Admit:
			require.Zero(b, rejected[k], "%s: admit turns rejected calls", ti.name)
		case calls >= 10_000:
			require.GreaterOrEqual(b, float64(rejected[k]), 0.8*float64(calls), "%s: reject turns admitted more than 20 %% of %d calls", ti.name, calls)
		}
		b.ReportMetric(float64(spent[k].Nanoseconds())/float64(calls), ti.name+"-ns/op")
	}
	b.ReportMetric(0, "ns/op") // the metrics above are the result
}

// drainTurn calls once until it reports a rejection: the reject turns'
// tenant then starts with an empty bucket.
func drainTurn(b *testing.B, ti turnImpl, once func() (rejected bool)) {
	if ti.mode != peer.Reject {
		return
	}
	for range 2 * route.BigBurst {
		if once() {
			return
		}
	}
	b.Fatalf("%s: never rejected", ti.name)
}

func BenchmarkTurnsHTTP(b *testing.B) {
	admits, rejects := clientRequests(clientsPerG, clientsPerG), clientRequests(turnTenant, 1)
	w := &discardWriter{h: make(http.Header)}
	serve := func(h http.Handler, r *http.Request) bool {
		w.code = 0
		h.ServeHTTP(w, r)
		clear(w.h)
		return w.code != http.StatusOK
	}
	hs := make([]http.Handler, len(turnImpls))
	for k, ti := range turnImpls {
		hs[k] = routeHandler(b, ti.impl, ti.burst, ti.mode, sys)
		drainTurn(b, ti, func() bool { return serve(hs[k], rejects[0]) })
	}
	benchTurns(b, func(k, i int) bool {
		if turnImpls[k].mode == peer.Reject {
			return serve(hs[k], rejects[0])
		}
		return serve(hs[k], admits[i%clientsPerG])
	})
}

func BenchmarkTurnsGRPC(b *testing.B) {
	admits, rejects := clientContexts(clientsPerG, clientsPerG), clientContexts(turnTenant, 1)
	ics := make([]func(i int) bool, len(turnImpls))
	for k, ti := range turnImpls {
		ic := routeUnary(b, ti.impl, ti.burst, ti.mode, sys)
		cs := admits
		if ti.mode == peer.Reject {
			cs = rejects
		}
		ics[k] = func(i int) bool {
			_, err := ic(cs[i%len(cs)], healthReq, routeInfo, healthHandler)
			return err != nil
		}
		drainTurn(b, ti, func() bool { return ics[k](0) })
	}
	benchTurns(b, func(k, i int) bool { return ics[k](i) })
}

func BenchmarkTurnsTransport(b *testing.B) {
	admits, rejects := outboundRequests(clientsPerG, clientsPerG), outboundRequests(turnTenant, 1)
	trips := make([]func(i int) bool, len(turnImpls))
	for k, ti := range turnImpls {
		rt := routeTransport(b, ti.impl, ti.burst, ti.mode, sys)
		rs := admits
		if ti.mode == peer.Reject {
			rs = rejects
		}
		trips[k] = func(i int) bool {
			resp, err := rt.RoundTrip(rs[i%len(rs)])
			if err != nil {
				return true
			}
			_, _ = resp.Body.Read(nil)
			_ = resp.Body.Close()
			return false
		}
		drainTurn(b, ti, func() bool { return trips[k](0) })
	}
	benchTurns(b, func(k, i int) bool { return trips[k](i) })
}
