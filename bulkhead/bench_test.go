package bulkhead

import (
	"context"
	"testing"

	"golang.org/x/sync/semaphore"

	"github.com/baldur-go/baldur"
)

// The semaphore's try-acquire + release, compared in the same run with
// x/sync's semaphore.Weighted (a mutex and a list) and a buffered channel.
// The limit is above the goroutine count, so every try succeeds: the
// benchmarks measure the uncontended-permit, contended-cache-line cost.
const benchLimit = 1 << 20

func BenchmarkTryAcquireRelease(b *testing.B) {
	b.Run("impl=bulkhead", func(b *testing.B) {
		s := mustNew(b, Config{Name: "bench", MaxConcurrent: benchLimit})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, ok := s.TryAcquire()
				if !ok {
					b.Error("full")
					return
				}
				p.Release(baldur.Outcome{})
			}
		})
	})
	b.Run("impl=x-sync-weighted", func(b *testing.B) {
		s := semaphore.NewWeighted(benchLimit)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !s.TryAcquire(1) {
					b.Error("full")
					return
				}
				s.Release(1)
			}
		})
	})
	b.Run("impl=chan", func(b *testing.B) {
		ch := make(chan struct{}, benchLimit)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				select {
				case ch <- struct{}{}:
				default:
					b.Error("full")
					return
				}
				<-ch
			}
		})
	})
}

// The gate path the policy chain takes: Admit (context check, CAS) and the
// Permit's Release.
func BenchmarkAdmitRelease(b *testing.B) {
	s := mustNew(b, Config{Name: "bench", MaxConcurrent: benchLimit})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var c baldur.Call
		for pb.Next() {
			p, err := s.Admit(ctx, c)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release(baldur.Outcome{})
		}
	})
}

// The reject path: a full fail-fast compartment.
func BenchmarkAdmitReject(b *testing.B) {
	s := mustNew(b, Config{Name: "bench", MaxConcurrent: 1})
	ctx := context.Background()
	hold, _ := s.Acquire(ctx)
	defer hold.Release(baldur.Outcome{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var c baldur.Call
		c.Now = s.clock.Now()
		for pb.Next() {
			if _, err := s.Admit(ctx, c); err == nil {
				b.Error("admitted")
				return
			}
		}
	})
}

// Submit-to-done overhead of the worker pool against calling fn directly.
func BenchmarkPoolExecute(b *testing.B) {
	fn := func(context.Context) error { return nil }
	ctx := context.Background()
	b.Run("impl=direct", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = fn(ctx)
			}
		})
	})
	b.Run("impl=pool", func(b *testing.B) {
		p := mustPool(b, PoolConfig{Name: "bench", Workers: 4, QueueSize: 1024})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Execute(ctx, fn); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
