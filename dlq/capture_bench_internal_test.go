package dlq

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkCaptureCallerPath measures only the caller's side of a 4 KiB
// capture: the outbox is drained by a goroutine that drops what it reads
// (no writer), beside the bare copy of the payload (the floor) in the same
// run.
func BenchmarkCaptureCallerPath(b *testing.B) {
	payload := bytes.Repeat([]byte("a"), MaxPayload)
	b.Run("copy-baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s []byte
			for pb.Next() {
				s = append(make([]byte, 0, len(payload)), payload...)
			}
			_ = s
		})
	})
	for _, mask := range []bool{true, false} {
		b.Run(fmt.Sprintf("capture/mask=%v", mask), func(b *testing.B) {
			q, err := build(Config{Repository: NewMemory(MemoryConfig{}), Mask: Mask{Off: !mask}})
			if err != nil {
				b.Fatal(err)
			}
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case c := <-q.outbox:
						q.release(&c.e)
					case <-stop:
						return
					}
				}
			}()
			e := Entry{Domain: "payments", Operation: "POST /charges", Payload: payload, FailureType: "timeout", Error: "deadline exceeded"}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = q.Capture(ctx, e)
				}
			})
			b.StopTimer()
			close(stop)
			<-done
		})
	}
}

// BenchmarkCaptureInline is the caller's path with the outbox emptied in
// the same goroutine after each capture (a receive and the release of the
// capture box, ≈ tens of ns, are included), so no other goroutine's work
// is timed; beside the bare 4 KiB allocation and copy.
func BenchmarkCaptureInline(b *testing.B) {
	payload := bytes.Repeat([]byte("a"), MaxPayload)
	b.Run("copy-baseline", func(b *testing.B) {
		b.ReportAllocs()
		var s []byte
		for range b.N {
			s = append(make([]byte, 0, len(payload)), payload...)
		}
		_ = s
	})
	b.Run("capture", func(b *testing.B) {
		q, err := build(Config{Repository: NewMemory(MemoryConfig{})})
		if err != nil {
			b.Fatal(err)
		}
		e := Entry{Domain: "payments", Operation: "POST /charges", Payload: payload, FailureType: "timeout", Error: "deadline exceeded"}
		ctx := context.Background()
		b.ReportAllocs()
		for range b.N {
			if _, err := q.Capture(ctx, e); err != nil {
				b.Fatal(err)
			}
			c := <-q.outbox
			q.release(&c.e)
		}
	})
}
