package middleware

import (
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewBodyHandsOutEachWrapperOnce takes wrappers from many goroutines
// at once: each is fresh (not done, holding what it was given) and no two
// are the same, whichever stripe and block they came from.
func TestNewBodyHandsOutEachWrapperOnce(t *testing.T) {
	t.Parallel()
	const goroutines, each = 8, 1000
	got := make([][]*body, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			h := new(heldTicket)
			rc := io.NopCloser(strings.NewReader("x"))
			for range each {
				b := newBody(rc, h)
				if b.done.Load() || b.held != h || b.rc != rc {
					t.Errorf("wrapper not fresh: done %v, held %p (want %p)", b.done.Load(), b.held, h)
					return
				}
				b.done.Store(true) // as finish would: a second hand-out would show
				got[g] = append(got[g], b)
			}
		})
	}
	wg.Wait()
	seen := make(map[*body]bool, goroutines*each)
	for _, bs := range got {
		require.Len(t, bs, each)
		for _, b := range bs {
			require.False(t, seen[b], "wrapper %p handed out twice", b)
			seen[b] = true
		}
	}
}

// TestNewBodyAllocatesOncePerBlock: taking 64 blocks' worth of wrappers
// allocates 64 blocks, plus at most one per stripe for blocks a move to
// another P left partly used. Not parallel: AllocsPerRun counts every
// goroutine's allocations.
func TestNewBodyAllocatesOncePerBlock(t *testing.T) {
	const n = 64 * bodyBlock
	h := new(heldTicket)
	rc := io.NopCloser(strings.NewReader(""))
	got := testing.AllocsPerRun(1, func() {
		for range n {
			newBody(rc, h)
		}
	})
	assert.GreaterOrEqual(t, got, float64(n/bodyBlock-1), "a wrapper must come from a block: one allocation per %d", bodyBlock)
	assert.LessOrEqual(t, got, float64(n/bodyBlock+len(bodyStripes)), "allocations for %d wrappers", n)
}
