package blast

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/baldur-go/baldur"
)

// The breaker benchmarks compare one closed partition's admit+release with
// calling gobreaker directly, in the same run. gobreaker reads time.Now
// twice per call and its TwoStep API allocates the done closure; Breakers
// takes the call's own clock reading and returns a value Permit.

func BenchmarkBreakerClosed(b *testing.B) {
	br, err := NewBreakers(BreakerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	b.Run("blast", func(b *testing.B) {
		b.ReportAllocs()
		call := baldur.Call{Key: "upstream-a", Operation: "GET /items", Now: now}
		for b.Loop() {
			p, err := br.Admit(ctx, call)
			if err != nil {
				b.Fatal(err)
			}
			p.Release(baldur.Outcome{Result: baldur.Success})
		}
	})
	b.Run("blast-parallel-keys", func(b *testing.B) {
		b.ReportAllocs()
		var id atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			call := baldur.Call{Key: "upstream-" + strconv.FormatInt(id.Add(1), 10), Now: now}
			for pb.Next() {
				p, err := br.Admit(ctx, call)
				if err != nil {
					b.Fatal(err)
				}
				p.Release(baldur.Outcome{Result: baldur.Success})
			}
		})
	})
	b.Run("blast-parallel-onekey", func(b *testing.B) {
		b.ReportAllocs()
		call := baldur.Call{Key: "hot", Now: now}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := br.Admit(ctx, call)
				if err != nil {
					b.Fatal(err)
				}
				p.Release(baldur.Outcome{Result: baldur.Success})
			}
		})
	})
	settings := gobreaker.Settings{Name: "ref", MaxRequests: 3, Interval: time.Minute, BucketPeriod: 6 * time.Second}
	b.Run("gobreaker-execute", func(b *testing.B) {
		b.ReportAllocs()
		cb := gobreaker.NewCircuitBreaker[struct{}](settings)
		req := func() (struct{}, error) { return struct{}{}, nil }
		for b.Loop() {
			if _, err := cb.Execute(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gobreaker-twostep", func(b *testing.B) {
		b.ReportAllocs()
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](settings)
		for b.Loop() {
			done, err := cb.Allow()
			if err != nil {
				b.Fatal(err)
			}
			done(nil)
		}
	})
	b.Run("gobreaker-twostep-parallel", func(b *testing.B) {
		b.ReportAllocs()
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](settings)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				done, err := cb.Allow()
				if err != nil {
					b.Fatal(err)
				}
				done(nil)
			}
		})
	})
}

func BenchmarkBreakerOpenReject(b *testing.B) {
	br, _ := NewBreakers(BreakerConfig{})
	ctx := context.Background()
	now := time.Now()
	call := baldur.Call{Key: "down", Now: now}
	for i := 0; i < 5; i++ {
		p, _ := br.Admit(ctx, call)
		p.Release(baldur.Outcome{Result: baldur.Failure})
	}
	b.Run("blast", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := br.Admit(ctx, call); err == nil {
					b.Fatal("admitted")
				}
			}
		})
	})
	b.Run("gobreaker-twostep", func(b *testing.B) {
		b.ReportAllocs()
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{Name: "ref"})
		fail := errors.New("x")
		for {
			done, err := cb.Allow()
			if err != nil {
				break
			}
			done(fail)
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cb.Allow(); err == nil {
					b.Fatal("admitted")
				}
			}
		})
	})
}

func BenchmarkShareCap(b *testing.B) {
	s, err := NewShareCap(ShareCapConfig{Capacity: 1 << 20, Share: 0.5})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("parallel-keys", func(b *testing.B) {
		b.ReportAllocs()
		var id atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			call := baldur.Call{Key: "tenant-" + strconv.FormatInt(id.Add(1), 10)}
			for pb.Next() {
				p, err := s.Admit(ctx, call)
				if err != nil {
					b.Fatal(err)
				}
				p.Release(baldur.Outcome{})
			}
		})
	})
	b.Run("parallel-onekey", func(b *testing.B) {
		b.ReportAllocs()
		call := baldur.Call{Key: "tenant-hot"}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := s.Admit(ctx, call)
				if err != nil {
					b.Fatal(err)
				}
				p.Release(baldur.Outcome{})
			}
		})
	})
}

// BenchmarkBreakerPartitions measures closed-state admit+release with the
// call's own clock reading (Call.Now, as Policy passes it) on three shapes
// of traffic: one hot partition, a handful of operations (PartitionBy
// ByOperation) and 10,000 live keys (the default MaxPartitions).
func BenchmarkBreakerPartitions(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	ops := []string{"GET /items", "GET /items/{id}", "POST /items", "DELETE /items/{id}", "GET /health"}
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name  string
		by    PartitionBy
		calls []baldur.Call
	}{
		{"onehot", ByKey, []baldur.Call{{Key: "hot", Operation: "GET /items", Now: now}}},
		{"operations", ByOperation, func() (cs []baldur.Call) {
			for _, op := range ops {
				cs = append(cs, baldur.Call{Key: "k", Operation: op, Now: now})
			}
			return cs
		}()},
		{"keys10k", ByKey, func() (cs []baldur.Call) {
			for _, k := range keys {
				cs = append(cs, baldur.Call{Key: k, Operation: "GET /items", Now: now})
			}
			return cs
		}()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			br, err := NewBreakers(BreakerConfig{PartitionBy: tc.by})
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range tc.calls { // create every partition up front
				p, _ := br.Admit(ctx, c)
				p.Release(baldur.Outcome{})
			}
			b.ReportAllocs()
			b.ResetTimer()
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				n := len(tc.calls)
				for pb.Next() {
					i++
					if i >= n {
						i -= n
						if i >= n {
							i %= n
						}
					}
					p, err := br.Admit(ctx, tc.calls[i])
					if err != nil {
						b.Fatal(err)
					}
					p.Release(baldur.Outcome{Result: baldur.Success})
				}
			})
		})
	}
}
