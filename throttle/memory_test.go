package throttle

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/baldur-go/baldur"
)

func TestSetIsTwoCacheLines(t *testing.T) {
	if s := unsafe.Sizeof(set{}); s != 128 {
		t.Fatalf("sizeof(set) = %d, want 128", s)
	}
	if BytesPerKey != 18 {
		t.Fatalf("BytesPerKey = %d", BytesPerKey)
	}
}

func TestMemoryCapIsExact(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 6, 7, 8, 10, 13, 64*7 + 1, 100_000} {
		if got := NewMemory(n, epoch).Cap(); got != n {
			t.Errorf("NewMemory(%d).Cap() = %d", n, got)
		}
	}
}

// TestMillionRandomKeysStayBounded sends 1,000,000 distinct random keys
// through a throttle with the default cap: the tracked keys never exceed
// the cap, and the heap the throttle holds stays under 2.5 MB (the full
// table is 100,000 × 18 B = 1.8 MB plus the page index).
func TestMillionRandomKeysStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 calls")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	th, clk := newTest(t, Config{Rate: 1, Burst: 5})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 0, 32)
	call := baldur.Call{Operation: "GET /"}
	for i := range 1_000_000 {
		buf = strconv.AppendUint(buf[:0], rng.Uint64(), 36)
		call.Key = unsafe.String(unsafe.SliceData(buf), len(buf))
		if i%1000 == 0 {
			clk.Advance(time.Millisecond)
		}
		call.Now = clk.Now()
		if _, err := th.Admit(ctx, call); err != nil {
			t.Fatalf("fresh key %d rejected: %v", i, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := th.Stats()
	if st.Keys > DefaultMaxKeys || st.Cap != DefaultMaxKeys {
		t.Fatalf("Stats = %+v, want Keys <= %d", st, DefaultMaxKeys)
	}
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	const bound = 2_500_000
	if heap > bound {
		t.Fatalf("heap grew by %d bytes, bound %d", heap, bound)
	}
	t.Logf("keys %d, refilling %d, lossy evictions %d, heap +%d B", st.Keys, st.Refilling, st.LossyEvictions, heap)
	runtime.KeepAlive(th)
}

// TestEvictionPrefersIdleBuckets uses a single set (MaxKeys 7).
func TestEvictionPrefersIdleBuckets(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Rate: 1, Burst: 3, MaxKeys: 7})
	ctx := context.Background()
	admit := func(key string) error {
		_, err := th.Admit(ctx, baldur.Call{Key: key, Now: clk.Now()})
		return err
	}
	// A noisy key spends its burst.
	for range 3 {
		if err := admit("noisy"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		admit("idle-" + strconv.Itoa(i))
	}
	clk.Advance(time.Second) // the idle keys are full again; noisy is 2 s from full
	if st := th.Stats(); st.Keys != 7 || st.Refilling != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	// New keys replace full buckets: nothing is lost.
	for i := range 6 {
		if err := admit("new-" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := th.Stats(); st.Keys != 7 || st.LossyEvictions != 0 {
		t.Fatalf("after replacing idle keys: Stats = %+v", st)
	}
	// Under churn of fresh keys the noisy bucket, furthest from full, is
	// evicted last: it gets the one token it earned back and stays
	// throttled after that.
	noisy := 0
	for i := range 100 {
		if err := admit("churn-" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if admit("noisy") == nil {
			noisy++
		}
	}
	if noisy != 1 {
		t.Fatalf("noisy key admitted %d times during churn, want 1", noisy)
	}
	if st := th.Stats(); st.Keys != 7 || st.LossyEvictions == 0 {
		t.Fatalf("after churn: Stats = %+v", st)
	}
}

// TestConcurrentChurnKeepsBuckets races lock-free admits of keys that are
// present against inserts and evictions in one set (MaxKeys 7, 20 keys).
// At a fixed time a bucket admits at most its burst in each stay in the
// table, and every stay but a key's first follows a lossy eviction, so
// the admits are bounded by burst × (keys + lossy evictions).
func TestConcurrentChurnKeepsBuckets(t *testing.T) {
	t.Parallel()
	const burst, keys = 3, 20
	th, clk := newTest(t, Config{Rate: 1, Burst: burst, MaxKeys: 7})
	now := clk.Now()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := "k" + strconv.Itoa((g*7+i*i)%keys)
				if _, err := th.Admit(context.Background(), baldur.Call{Key: k, Now: now}); err == nil {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	st := th.Stats()
	if st.Keys > 7 || st.Refilling > st.Keys {
		t.Fatalf("Stats = %+v", st)
	}
	if n, bound := admitted.Load(), burst*(keys+int64(st.LossyEvictions)); n > bound {
		t.Fatalf("%d admitted, bound %d (%+v)", n, bound, st)
	}
	t.Logf("%d admitted, %+v", admitted.Load(), st)
}
