package blast

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestTableMatchesMap applies random puts and removals to a table and a
// map, with readers probing throughout, and requires the same contents.
func TestTableMatchesMap(t *testing.T) {
	t.Parallel()
	var s tableShard
	s.init()
	model := map[uint64]*breaker{}
	rng := rand.New(rand.NewPCG(1, 2))
	// Few distinct high bits, so that probe chains are long and cross
	// tombstones.
	hash := func() uint64 { return rng.Uint64N(64)<<32 | rng.Uint64N(1<<20) }

	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); !stop.Load(); i++ {
				// The check stays a plain comparison: the loop races put
				// and remove, and an assert call per probe would slow it.
				if br := s.tab.Load().get(i % (1 << 20)); br != nil && br.h != i%(1<<20) {
					assert.Failf(t, "wrong entry", "get(%d) found the entry of %d", i%(1<<20), br.h)
					return
				}
			}
		}()
	}
	for step := 0; step < 20000; step++ {
		h := hash()
		if _, ok := model[h]; !ok && (len(model) < 200 || rng.IntN(2) == 0) {
			br := &breaker{h: h}
			s.put(br)
			model[h] = br
			continue
		}
		// Remove a random entry, as evict does.
		removed := false
		s.each(rng.Uint64(), func(i uint64, br *breaker) bool {
			s.removeAt(i)
			delete(model, br.h)
			removed = true
			return false
		})
		require.Equal(t, len(model) > 0, removed)
	}
	stop.Store(true)
	wg.Wait()

	require.Equal(t, len(model), s.live)
	for h, br := range model {
		require.Same(t, br, s.tab.Load().get(h))
	}
	n := 0
	s.each(0, func(_ uint64, br *breaker) bool {
		require.Same(t, model[br.h], br)
		n++
		return true
	})
	require.Equal(t, len(model), n)
	require.LessOrEqual(t, s.used*4, len(s.tab.Load().slots)*3)
}

// TestBreakersTenThousandKeysKept: the default MaxPartitions holds 10,000
// live keys without evicting any, however unevenly they hash.
func TestBreakersTenThousandKeysKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t, BreakerConfig{})
	for i := 0; i < 10000; i++ {
		require.NoError(t, h.call("k"+strconv.Itoa(i), baldur.Success))
	}
	require.Equal(t, 10000, h.b.Partitions())
	before := make([]*breaker, 10000)
	for i := range before {
		before[i] = h.b.lookup(h.b.hasher.hash("k"+strconv.Itoa(i), ""))
		require.NotNil(t, before[i])
	}
	for i := 0; i < 10000; i++ {
		require.NoError(t, h.call("k"+strconv.Itoa(i), baldur.Success))
		require.Same(t, before[i], h.b.lookup(h.b.hasher.hash("k"+strconv.Itoa(i), "")))
	}
	// One more key evicts one: the total stays at the bound.
	require.NoError(t, h.call("one-more", baldur.Success))
	require.Equal(t, 10000, h.b.Partitions())
}
