package proc

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndexInRange(t *testing.T) {
	t.Parallel()
	procs := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 4 * procs {
		wg.Go(func() {
			for range 1000 {
				if i := Index(); i < 0 || i >= procs {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, bad.Load(), "Index outside [0, GOMAXPROCS=%d)", procs)
}

// TestIndexIsZeroWithOneP checks that the index is the P's: with
// GOMAXPROCS 1 every goroutine runs on P 0.
func TestIndexIsZeroWithOneP(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	for range 1000 {
		require.Equal(t, 0, Index())
	}
}

func TestStripes(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, tc := range []struct{ procs, limit, want int }{
		{1, 4, 1}, {2, 4, 2}, {3, 4, 4}, {4, 4, 4}, {16, 4, 4}, {5, 16, 8}, {2, 1, 1},
	} {
		runtime.GOMAXPROCS(tc.procs)
		assert.Equal(t, tc.want, Stripes(tc.limit), "GOMAXPROCS %d, limit %d", tc.procs, tc.limit)
	}
}

func TestStripe(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 0, Stripe(0), "a single stripe")
	for range 1000 {
		if i := Stripe(3); i < 0 || i > 3 {
			require.Failf(t, "stripe out of range", "Stripe(3) = %d", i)
		}
	}
}

func TestIndexAllocatesNothing(t *testing.T) {
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = Index() }))
}

var sink int

func BenchmarkIndex(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := 0
		for pb.Next() {
			s += Index()
		}
		sink = s
	})
}
