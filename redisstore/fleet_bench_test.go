package redisstore

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/throttle"
)

// BenchmarkFleetLocalHit compares, in one run, a call that the fleet
// store's local layer answers (a leased token, a cached deny) with the same
// call on the in-memory throttle gate (throttle.New with its Memory), both
// through throttle.Throttle.Admit with Call.Now advancing 100 ns per call
// (a lease of 2^20 tokens lasts its 50 ms). The two alternate in batches of
// 1000 calls, so that load from elsewhere on the machine hits both alike;
// it reports each one's ns per call and their ratio (fleet ÷ memory).
func BenchmarkFleetLocalHit(b *testing.B) {
	srv := shared.Get(b)
	ctx := context.Background()
	be, err := New(ctx, srv.Client(b, nil), Config{ThrottleTimeout: time.Second, Scripts: fleetScripts, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		allow bool
	}{
		{"admit", 1e9, 1 << 20, true},
		{"deny", 0.001, 1, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			gate := func(store throttle.Store) func(n int) time.Duration {
				th, err := throttle.New(throttle.Config{Name: "bench", Rate: tc.rate, Burst: tc.burst, KeyBy: throttle.ByKey, Store: store})
				if err != nil {
					b.Fatal(err)
				}
				c := baldur.Call{Key: "tenant-1", Now: epoch}
				for range 1_000_000 { // 100 ms: grow the lease, or cache the deny
					c.Now = c.Now.Add(100 * time.Nanosecond)
					th.Admit(ctx, c)
				}
				return func(n int) time.Duration {
					start := time.Now()
					for range n {
						c.Now = c.Now.Add(100 * time.Nanosecond)
						if _, err := th.Admit(ctx, c); (err == nil) != tc.allow {
							b.Fatal(err)
						}
					}
					return time.Since(start)
				}
			}
			s, err := NewThrottleStore(be, ThrottleStoreConfig{Name: "bench" + strconv.FormatInt(runs.Add(1), 10),
				Replicas: StaticReplicas(1), CallerClock: true, KeySlack: time.Hour, MaxLease: maxWant})
			if err != nil {
				b.Fatal(err)
			}
			mem, fleet := gate(nil), gate(s)
			var tm, tf time.Duration
			calls := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				tm += mem(1000)
				tf += fleet(1000)
				calls += 1000
			}
			b.ReportMetric(float64(tm.Nanoseconds())/float64(calls), "memory-ns/call")
			b.ReportMetric(float64(tf.Nanoseconds())/float64(calls), "fleet-ns/call")
			b.ReportMetric(float64(tf)/float64(tm), "ratio")
		})
	}
}

// BenchmarkFleetMiss is a take of a key with no local state: one round
// trip over the unix socket. It reports the latency's p50 and p99.
func BenchmarkFleetMiss(b *testing.B) {
	srv := shared.Get(b)
	ctx := context.Background()
	be, err := New(ctx, srv.Client(b, nil), Config{ThrottleTimeout: time.Second, Scripts: fleetScripts, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewThrottleStore(be, ThrottleStoreConfig{Name: "bench-miss" + strconv.FormatInt(runs.Add(1), 10), Replicas: StaticReplicas(1)})
	if err != nil {
		b.Fatal(err)
	}
	l, _ := throttle.NewLimit(1e6, 1e6)
	rt := s.Guard().Stats().RoundTrips
	var lat []time.Duration
	i := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		i++
		k := throttle.Key{Hash: i, Partition: "k" + strconv.FormatUint(i, 10)}
		start := time.Now()
		if _, err := s.Take(ctx, k, start, l, 0); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	if got := s.Guard().Stats().RoundTrips - rt; got != uint64(len(lat)) {
		b.Fatalf("%d round trips for %d misses", got, len(lat))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
