package dlq_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

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
