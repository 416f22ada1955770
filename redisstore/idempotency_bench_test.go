package redisstore

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/baldur-go/baldur/idempotency"
)

// BenchmarkIdempotencyLatency is the Redis ledger over the unix socket of
// the test server: a first request (claim of a new key, then complete: two
// round trips) and a replay (claim of a completed key, which returns the
// stored response: one round trip), against a PING on the same client as
// the one-round-trip baseline. Each reports its latency's p50 and p99 and
// checks its round trips on the guard's counter.
func BenchmarkIdempotencyLatency(b *testing.B) {
	ctx := context.Background()
	s := shared.Get(b)
	c := s.Client(b, nil)
	be, err := New(ctx, c, Config{Scripts: IdempotencyScripts, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	prefix := "bench-idem-" + strconv.FormatInt(runs.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	l, err := NewIdempotency(ctx, be, IdempotencyConfig{Prefix: prefix, TTL: time.Minute, Server: ServerPolicy{Logger: discard()}})
	if err != nil {
		b.Fatal(err)
	}
	resp := &idempotency.Response{Status: 201, Header: []idempotency.HeaderField{{Name: "Content-Type", Value: "application/json"}},
		Body: []byte(`{"id":"ch_1","amount":1000,"currency":"eur"}`)}
	key := func(i int) idempotency.Key {
		return idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "tenant-1", Key: "k-" + strconv.Itoa(i)}
	}
	// measure runs op once per iteration, timing each, and checks that it
	// cost want round trips.
	measure := func(b *testing.B, want uint64, op func(i int) error) {
		lat := make([]time.Duration, 0, 1<<16)
		rt := l.Guard().Stats().RoundTrips
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			start := time.Now()
			if err := op(i); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			i++
		}
		b.StopTimer()
		if want > 0 {
			if got := l.Guard().Stats().RoundTrips - rt; got != want*uint64(i) {
				b.Fatalf("%d round trips for %d operations, want %d each", got, i, want)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
	b.Run("ping", func(b *testing.B) {
		measure(b, 0, func(int) error { return c.Ping(ctx).Err() })
	})
	next := 0
	b.Run("first", func(b *testing.B) {
		measure(b, 2, func(int) error {
			next++
			cl, err := l.Claim(ctx, idempotency.ClaimRequest{Key: key(next)})
			if err != nil {
				return err
			}
			if cl.Outcome != idempotency.Claimed {
				b.Fatalf("outcome %v", cl.Outcome)
			}
			return l.Complete(ctx, &cl, resp)
		})
	})
	b.Run("replay", func(b *testing.B) {
		done := max(next, 1)
		if next == 0 { // run alone (-bench .../replay): complete one key first
			next = 1
			cl, err := l.Claim(ctx, idempotency.ClaimRequest{Key: key(1)})
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Complete(ctx, &cl, resp); err != nil {
				b.Fatal(err)
			}
		}
		measure(b, 1, func(i int) error {
			cl, err := l.Claim(ctx, idempotency.ClaimRequest{Key: key(1 + i%done)})
			if err != nil {
				return err
			}
			if cl.Outcome != idempotency.Done || cl.Response == nil || cl.Response.Status != 201 {
				b.Fatalf("outcome %v", cl.Outcome)
			}
			return nil
		})
	})
}
