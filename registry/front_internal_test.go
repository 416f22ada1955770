package registry

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func frontRegistry(t *testing.T) (r *Registry, exact, glob *baldur.Policy) {
	t.Helper()
	exact, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "exact"})
	require.NoError(t, err)
	glob, err = baldur.NewPolicy(baldur.PolicyConfig{Name: "glob"})
	require.NoError(t, err)
	r = New()
	require.NoError(t, r.Apply(Spec{
		Policies: []*baldur.Policy{exact, glob},
		Routes:   map[string]string{"GET /items/{id}": "exact", "GET /api/*": "glob"},
	}))
	return r, exact, glob
}

// A string kept by the adapter is served from the front cache from its
// second call on, and the answer is the map's.
func TestFrontCacheServesAKeptString(t *testing.T) {
	t.Parallel()
	r, exact, glob := frontRegistry(t)
	tb := r.table.Load()
	for _, tc := range []struct {
		op   string
		want *baldur.Policy
	}{
		{strings.Clone("GET /items/{id}"), exact},
		{strings.Clone("GET /api/users"), glob},
		{strings.Clone("POST /nothing"), nil},
	} {
		_, ok := tb.front.Get(tc.op)
		assert.False(t, ok, "%s: cached before any call", tc.op)
		assert.Same(t, tc.want, r.Policy(tc.op))
		assert.Same(t, tc.want, r.Policy(tc.op))
		got, ok := tb.front.Get(tc.op)
		assert.True(t, ok, "%s: not cached after two calls", tc.op)
		assert.Same(t, tc.want, got)
		// The same bytes at another address are another key of the front
		// cache, resolved by the map to the same policy.
		other := strings.Clone(tc.op)
		_, ok = tb.front.Get(other)
		assert.False(t, ok, "%s: a copy hit the front cache", tc.op)
		assert.Same(t, tc.want, r.Policy(other))
	}
}

// Operation names built afresh for every call never allocate in the front
// cache: each is a new address, so none is stored.
func TestFrontCacheFreshStringsAllocateNothing(t *testing.T) {
	ops := make([]string, 2000)
	for i := range ops {
		ops[i] = strings.Clone("GET /items/{id}") // the route's name, at a new address each time
	}
	r, exact, _ := frontRegistry(t)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if r.Policy(ops[i]) != exact {
			t.Fatal("wrong policy")
		}
		i++
	})
	assert.Zero(t, allocs)
	assert.Zero(t, r.table.Load().front.Len(), "fresh strings were cached")
}

// A new table starts with an empty front cache: a swap is seen on the
// next call, never answered from the old table's cache.
func TestFrontCacheFollowsApply(t *testing.T) {
	t.Parallel()
	r, exact, _ := frontRegistry(t)
	op := strings.Clone("GET /items/{id}")
	require.Same(t, exact, r.Policy(op))
	require.Same(t, exact, r.Policy(op))
	other, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "other"})
	require.NoError(t, err)
	require.NoError(t, r.Apply(Spec{Policies: []*baldur.Policy{other}, Routes: map[string]string{"GET /items/{id}": "other"}}))
	assert.Same(t, other, r.Policy(op))
	assert.Same(t, other, r.Policy(op))
}

// Concurrent callers with kept and fresh strings always get the map's
// answer (run with -race).
func TestFrontCacheConcurrent(t *testing.T) {
	t.Parallel()
	r, exact, glob := frontRegistry(t)
	kept := []string{strings.Clone("GET /items/{id}"), strings.Clone("GET /api/a"), strings.Clone("GET /api/b")}
	want := []*baldur.Policy{exact, glob, glob}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (i + g) % len(kept)
				op := kept[k]
				if i%3 == 0 {
					op = strings.Clone(op)
				}
				if got := r.Policy(op); got != want[k] {
					t.Errorf("%s: got %v", op, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
