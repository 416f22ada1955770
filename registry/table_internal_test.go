package registry

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func globRegistry(t *testing.T) (*Registry, *baldur.Policy) {
	t.Helper()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "p"})
	require.NoError(t, err)
	r := New()
	require.NoError(t, r.Apply(Spec{Policies: []*baldur.Policy{p}, Routes: map[string]string{"GET /api/*": "p"}}))
	return r, p
}

func cachedOps(tb *table) int {
	n := 0
	tb.cache.Range(func(any, any) bool { n++; return true })
	return n
}

// The glob-route cache stops at maxCachedOperations however many misses
// come after: the counter saturates at the bound instead of counting every
// miss, so it cannot wrap (after 2^31 misses a 32-bit count went negative
// and caching resumed without bound). The counter is set near the ends of
// its range instead of running 2^31 misses.
func TestGlobCacheBoundDoesNotWrap(t *testing.T) {
	t.Parallel()
	for _, start := range []int32{maxCachedOperations, maxCachedOperations + 1, math.MaxInt32 - 1, math.MaxInt32} {
		t.Run(strconv.Itoa(int(start)), func(t *testing.T) {
			t.Parallel()
			r, p := globRegistry(t)
			tb := r.table.Load()
			tb.cached.Store(start)
			for i := range 100 {
				assert.Same(t, p, r.Policy("GET /api/"+strconv.Itoa(i)))
				assert.Nil(t, r.Policy("POST /other/"+strconv.Itoa(i)))
			}
			assert.Zero(t, cachedOps(tb), "operations were cached past the bound")
			assert.GreaterOrEqual(t, tb.cached.Load(), int32(maxCachedOperations), "the counter wrapped")
		})
	}
}

// Below the bound every miss is cached, up to exactly the bound.
func TestGlobCacheFillsToTheBound(t *testing.T) {
	t.Parallel()
	r, p := globRegistry(t)
	tb := r.table.Load()
	for i := range maxCachedOperations + 500 {
		require.Same(t, p, r.Policy("GET /api/"+strconv.Itoa(i)))
	}
	assert.Equal(t, maxCachedOperations, cachedOps(tb))
	assert.EqualValues(t, maxCachedOperations, tb.cached.Load())
	// A cached operation still resolves, and so does one past the bound.
	assert.Same(t, p, r.Policy("GET /api/0"))
	assert.Same(t, p, r.Policy("GET /api/"+strconv.Itoa(maxCachedOperations+1)))
}
