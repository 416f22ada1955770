package idempotency

import (
	"bytes"
	"strconv"
	"testing"
)

// BenchmarkMiddlewareFingerprint is the middleware's own fingerprint
// (length-prefixed method and route, then the body, SHA-256 from the pooled
// state) per body size; ns/op over the KiB count is the per-KiB cost a
// guarded body adds.
func BenchmarkMiddlewareFingerprint(b *testing.B) {
	for _, n := range []int{0, 1 << 10, 16 << 10, 64 << 10} {
		b.Run(strconv.Itoa(n>>10)+"KiB", func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), n)
			st := states.Get().(*state)
			defer states.Put(st)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				st.fingerprint("POST", "POST /charges", body)
			}
		})
	}
}

// TestMiddlewareFingerprintAllocatesNothing: hashing a guarded request
// reuses the pooled state's hash and scratch buffer.
func TestMiddlewareFingerprintAllocatesNothing(t *testing.T) {
	st := states.Get().(*state)
	defer states.Put(st)
	body := bytes.Repeat([]byte("x"), 1<<10)
	if n := testing.AllocsPerRun(100, func() { st.fingerprint("POST", "POST /charges", body) }); n != 0 {
		t.Fatalf("fingerprint allocates %v times", n)
	}
	a := st.fp
	st.fingerprint("POST", "POST /charges", append([]byte(nil), body[:len(body)-1]...))
	if a == st.fp {
		t.Fatal("the body is not hashed")
	}
	st.fingerprint("PATCH", "POST /charges", body)
	if a == st.fp {
		t.Fatal("the method is not hashed")
	}
}
