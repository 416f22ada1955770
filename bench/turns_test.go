package bench

import (
	"net/http"
	"testing"
	"time"

	"github.com/baldur-go/baldur/bench/internal/peer"
	"github.com/baldur-go/baldur/bench/internal/route"
)

// The Turns benchmarks run the route's implementations in turns of a few
// hundred calls each, one after the other, on one goroutine, and report
// each one's time per call as a metric (bare-ns/op, baldur-ns/op, ...). A
// host whose speed changes from one second to the next (a shared VM's)
// changes it for every implementation alike, so their differences and
// ratios hold where those of separate benchmarks, run seconds apart, do
// not. They measure the admit path on one core.

const turn = 256

// failsafe-go is left out: its garbage would be collected during the
// other implementations' turns and charged to them.
var turnImpls = []string{"bare", "floor", "baldur"}

// benchTurns runs call(k, i), the i-th call of impl k, in turns and
// reports each impl's ns per call.
func benchTurns(b *testing.B, call func(k, i int)) {
	var spent [8]time.Duration
	calls := 0
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n += turn * len(turnImpls) {
		for k := range turnImpls {
			t0 := time.Now()
			for i := range turn {
				call(k, calls+i)
			}
			spent[k] += time.Since(t0)
		}
		calls += turn
	}
	b.StopTimer()
	for k, impl := range turnImpls {
		b.ReportMetric(float64(spent[k].Nanoseconds())/float64(calls), impl+"-ns/op")
	}
	b.ReportMetric(0, "ns/op") // the metrics above are the result
}

func BenchmarkTurnsHTTP(b *testing.B) {
	hs := make([]http.Handler, len(turnImpls))
	for k, impl := range turnImpls {
		hs[k] = routeHandler(b, impl, route.Burst, peer.Admit, sys)
	}
	rs := clientRequests(clientsPerG, clientsPerG)
	w := &discardWriter{h: make(http.Header)}
	benchTurns(b, func(k, i int) {
		w.code = 0
		hs[k].ServeHTTP(w, rs[i%clientsPerG])
		if w.code != http.StatusOK {
			b.Fatalf("%s: status %d", turnImpls[k], w.code)
		}
		clear(w.h)
	})
}

func BenchmarkTurnsGRPC(b *testing.B) {
	cs := clientContexts(clientsPerG, clientsPerG)
	ics := make([]func(i int) error, len(turnImpls))
	for k, impl := range turnImpls {
		ic := routeUnary(b, impl, route.Burst, peer.Admit, sys)
		ics[k] = func(i int) error {
			_, err := ic(cs[i%clientsPerG], healthReq, routeInfo, healthHandler)
			return err
		}
	}
	benchTurns(b, func(k, i int) {
		if err := ics[k](i); err != nil {
			b.Fatalf("%s: %v", turnImpls[k], err)
		}
	})
}

func BenchmarkTurnsTransport(b *testing.B) {
	rts := make([]http.RoundTripper, len(turnImpls))
	for k, impl := range turnImpls {
		rts[k] = routeTransport(b, impl, route.Burst, peer.Admit, sys)
	}
	rs := outboundRequests(clientsPerG, clientsPerG)
	benchTurns(b, func(k, i int) {
		resp, err := rts[k].RoundTrip(rs[i%clientsPerG])
		if err != nil {
			b.Fatalf("%s: %v", turnImpls[k], err)
		}
		_, _ = resp.Body.Read(nil)
		_ = resp.Body.Close()
	})
}
