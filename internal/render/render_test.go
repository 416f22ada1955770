package render

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

type rendering struct {
	text   string
	edited bool
}

func newCache(builds *atomic.Int64) *Cache[*rendering] {
	return &Cache[*rendering]{
		Build: func(rej *baldur.Rejection) *rendering {
			builds.Add(1)
			return &rendering{text: rej.Error()}
		},
		Intact: func(r *rendering) bool { return !r.edited },
	}
}

func TestCacheBuildsOncePerInternedRejection(t *testing.T) {
	t.Parallel()
	var builds atomic.Int64
	c := newCache(&builds)
	rej := baldur.Reject(baldur.ReasonThrottled, 3*time.Second)
	first := c.Get(rej)
	assert.Same(t, first, c.Get(rej))
	assert.Equal(t, int64(1), builds.Load())
	assert.Equal(t, rej.Error(), first.text)
}

func TestCacheReplacesAnEditedRendering(t *testing.T) {
	t.Parallel()
	var builds atomic.Int64
	c := newCache(&builds)
	rej := baldur.Reject(baldur.ReasonBreakerOpen, time.Second)
	first := c.Get(rej)
	first.edited = true
	second := c.Get(rej)
	assert.NotSame(t, first, second)
	assert.False(t, second.edited)
	assert.Same(t, second, c.Get(rej))
	assert.Equal(t, int64(2), builds.Load())
}

func TestCacheKeepsNothingOfRejectionsNotInterned(t *testing.T) {
	t.Parallel()
	var builds atomic.Int64
	c := newCache(&builds)
	long := (baldur.MaxInternedRetryAfter + 1) * time.Second
	for range 3 {
		c.Get(baldur.Reject(baldur.ReasonKillSwitch, long))
	}
	assert.Equal(t, int64(3), builds.Load())
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	assert.Zero(t, n)
}

func TestCacheWithoutIntact(t *testing.T) {
	t.Parallel()
	var builds atomic.Int64
	c := &Cache[*rendering]{Build: func(rej *baldur.Rejection) *rendering {
		builds.Add(1)
		return &rendering{text: rej.Error()}
	}}
	rej := baldur.Reject(baldur.ReasonThrottled, 7*time.Second)
	c.Get(rej).edited = true
	assert.True(t, c.Get(rej).edited, "without Intact a rendering is kept as it is")
	assert.Equal(t, int64(1), builds.Load())
}

func TestCacheGetAllocatesNothingOnAHit(t *testing.T) {
	var builds atomic.Int64
	c := newCache(&builds)
	rej := baldur.Reject(baldur.ReasonThrottled, 2*time.Second)
	c.Get(rej)
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.Get(rej) }))
}

// Racing callers all get a rendering and agree on the one kept.
func TestCacheRace(t *testing.T) {
	t.Parallel()
	var builds atomic.Int64
	c := newCache(&builds)
	rej := baldur.Reject(baldur.ReasonBulkheadFull, 4*time.Second)
	var wg sync.WaitGroup
	got := make([]*rendering, 8)
	for i := range got {
		wg.Go(func() { got[i] = c.Get(rej) })
	}
	wg.Wait()
	kept := c.Get(rej)
	for _, r := range got {
		require.NotNil(t, r)
		assert.Equal(t, kept.text, r.text)
	}
}

// TestCacheFrontSlotSharedByTwoRejections: two interned rejections whose
// front slot is the same each get their own rendering, every time, and the
// second is served (by the map) without evicting the first.
func TestCacheFrontSlotSharedByTwoRejections(t *testing.T) {
	t.Parallel()
	a := baldur.Reject(baldur.ReasonThrottled, 4*time.Second)
	b := baldur.Reject(baldur.ReasonThrottled, (4+frontSlots)*time.Second)
	require.Equal(t, frontIndex(a), frontIndex(b), "the test needs one slot for both")
	var builds atomic.Int64
	c := newCache(&builds)
	for range 3 {
		assert.Equal(t, a.Error(), c.Get(a).text)
		assert.Equal(t, b.Error(), c.Get(b).text)
	}
	assert.EqualValues(t, 2, builds.Load(), "one build per rejection")
	assert.Same(t, a, c.front[frontIndex(a)].Load().rej, "the slot keeps the first")
}
