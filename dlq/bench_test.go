package dlq_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

// BenchmarkCapture measures the caller's path of a 4 KiB capture, beside
// the bare copy of the payload it makes (the floor), in the same run. The
// repository hangs, so the writer spills to a bounded file and then drops
// (outbox_full) what the caller produces faster: the caller's cost is
// what is measured.
func BenchmarkCapture(b *testing.B) {
	payload := bytes.Repeat([]byte("a"), dlq.MaxPayload)
	b.Run("copy-baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sink = append(make([]byte, 0, len(payload)), payload...)
			}
		})
	})
	for _, mask := range []bool{true, false} {
		b.Run(fmt.Sprintf("capture/mask=%v", mask), func(b *testing.B) {
			repo := newHangRepo(clock.NewFake(t0), true)
			defer repo.release()
			q, err := dlq.New(dlq.Config{Repository: repo, SpillDir: b.TempDir(), SpillBytes: 8 << 20, Mask: dlq.Mask{Off: !mask}})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = q.Close(ctx)
			}()
			e := dlq.Entry{Domain: "payments", Operation: "POST /charges", Payload: payload, FailureType: "timeout", Error: "deadline exceeded"}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = q.Capture(ctx, e)
				}
			})
		})
	}
}

var sink []byte

// BenchmarkReplay measures replay throughput with the memory repository
// and a no-op handler (no governance, no policy), in batches of 256, beside
// the bare compare-and-set pair it costs (take and resolve), in the same
// run. entries/s is reported.
func BenchmarkReplay(b *testing.B) {
	fill := func(b *testing.B, repo *dlq.Memory, n int) {
		es := make([]dlq.Entry, n)
		for i := range es {
			es[i] = dlq.Entry{ID: fmt.Sprintf("e%d", i), Domain: "payments", Operation: "POST /charges", CreatedAt: t0.Add(time.Duration(i))}
		}
		if _, err := repo.Add(context.Background(), es); err != nil {
			b.Fatal(err)
		}
	}
	lim := dlq.Limits{Capacity: 10_000_000, DomainCapacity: 10_000_000}
	b.Run("cas-baseline", func(b *testing.B) {
		repo := dlq.NewMemory(dlq.MemoryConfig{Limits: lim, Clock: clock.NewFake(t0)})
		fill(b, repo, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			id := fmt.Sprintf("e%d", i)
			if _, err := repo.Move(context.Background(), dlq.Move{ID: id, From: dlq.Pending, To: dlq.Replaying, Holder: 1}); err != nil {
				b.Fatal(err)
			}
			if _, err := repo.Move(context.Background(), dlq.Move{ID: id, From: dlq.Replaying, To: dlq.Resolved, Holder: 1}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("replay-batch", func(b *testing.B) {
		repo := dlq.NewMemory(dlq.MemoryConfig{Limits: lim, Clock: clock.NewFake(t0)})
		fill(b, repo, b.N)
		q, err := dlq.New(dlq.Config{Repository: repo, Clock: clock.NewFake(t0), Handler: func(context.Context, dlq.Entry, string) error { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close(context.Background())
		b.ReportAllocs()
		b.ResetTimer()
		done := 0
		for done < b.N {
			r, err := q.ReplayBatch(context.Background(), "payments", 256)
			if err != nil || r.Resolved == 0 {
				b.Fatal(err, r)
			}
			done += r.Resolved
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}
