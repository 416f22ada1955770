package dlq

import (
	"bytes"
	"context"
	"testing"
)

// TestCaptureAllocs: on the caller's path a capture of a 4 KiB payload
// allocates the ID and the payload copy, nothing else (the writer is not
// started, so only the caller's allocations are counted).
func TestCaptureAllocs(t *testing.T) {
	for _, tt := range []struct {
		name string
		mask Mask
	}{{"masking on", Mask{}}, {"masking off", Mask{Off: true}}} {
		t.Run(tt.name, func(t *testing.T) {
			q, err := build(Config{Repository: NewMemory(MemoryConfig{}), Mask: tt.mask})
			if err != nil {
				t.Fatal(err)
			}
			payload := bytes.Repeat([]byte("a"), MaxPayload)
			e := Entry{Domain: "payments", Operation: "POST /charges", Payload: payload, FailureType: "timeout", Error: "deadline exceeded"}
			ctx := context.Background()
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := q.Capture(ctx, e); err != nil {
					t.Fatal(err)
				}
				got := <-q.outbox
				q.release(&got.e)
			})
			if allocs > 2 {
				t.Fatalf("Capture allocates %.1f times per call, want <= 2", allocs)
			}
		})
	}
}
