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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestSetIsTwoCacheLines(t *testing.T) {
	require.Equal(t, uintptr(128), unsafe.Sizeof(set{}), "sizeof(set)")
	require.Equal(t, 18, BytesPerKey, "BytesPerKey")
}

func TestMemoryCapIsExact(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 6, 7, 8, 10, 13, 64*7 + 1, 100_000} {
		assert.Equal(t, n, NewMemory(n, epoch).Cap(), "NewMemory(%d).Cap()", n)
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
		_, err := th.Admit(ctx, call)
		require.NoError(t, err, "fresh key %d rejected", i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := th.Stats()
	require.LessOrEqual(t, st.Keys, DefaultMaxKeys, "Stats = %+v, want Keys <= %d", st, DefaultMaxKeys)
	require.Equal(t, DefaultMaxKeys, st.Cap, "Stats = %+v", st)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	const bound = 2_500_000
	require.LessOrEqual(t, heap, int64(bound), "heap grew by %d bytes, bound %d", heap, bound)
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
		require.NoError(t, admit("noisy"))
	}
	for i := range 6 {
		admit("idle-" + strconv.Itoa(i))
	}
	clk.Advance(time.Second) // the idle keys are full again; noisy is 2 s from full
	st := th.Stats()
	require.Equal(t, 7, st.Keys, "Stats = %+v", st)
	require.Equal(t, 1, st.Refilling, "Stats = %+v", st)
	// New keys replace full buckets: nothing is lost.
	for i := range 6 {
		require.NoError(t, admit("new-"+strconv.Itoa(i)))
	}
	st = th.Stats()
	require.Equal(t, 7, st.Keys, "after replacing idle keys: Stats = %+v", st)
	require.Zero(t, st.LossyEvictions, "after replacing idle keys: Stats = %+v", st)
	// Under churn of fresh keys the noisy bucket, furthest from full, is
	// evicted last: it gets the one token it earned back and stays
	// throttled after that.
	noisy := 0
	for i := range 100 {
		require.NoError(t, admit("churn-"+strconv.Itoa(i)))
		if admit("noisy") == nil {
			noisy++
		}
	}
	require.Equal(t, 1, noisy, "noisy key admitted during churn")
	st = th.Stats()
	require.Equal(t, 7, st.Keys, "after churn: Stats = %+v", st)
	require.NotZero(t, st.LossyEvictions, "after churn: Stats = %+v", st)
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
	require.LessOrEqual(t, st.Keys, 7, "Stats = %+v", st)
	require.LessOrEqual(t, st.Refilling, st.Keys, "Stats = %+v", st)
	n, bound := admitted.Load(), burst*(keys+int64(st.LossyEvictions))
	require.LessOrEqual(t, n, bound, "%d admitted, bound %d (%+v)", n, bound, st)
	t.Logf("%d admitted, %+v", admitted.Load(), st)
}
