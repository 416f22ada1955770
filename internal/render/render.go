// Package render caches what an adapter renders for a rejection (an HTTP
// response, a gRPC status), so that rejecting allocates nothing once a
// rejection has been rendered.
package render

import (
	"sync"
	"sync/atomic"

	"github.com/baldur-go/baldur"
)

// Cache holds one rendering V per interned *baldur.Rejection. Rejections
// are interned per reason and Retry-After second up to
// baldur.MaxInternedRetryAfter, so the cache holds a bounded number of
// renderings; a longer Retry-After is a fresh Rejection each time, and its
// rendering is built and not kept.
//
// Build and Intact are set once, in the composite literal that declares the
// cache; then the cache is safe for concurrent use.
type Cache[V any] struct {
	// Build renders a rejection. It may be called more than once for one
	// rejection when callers race; one result is kept.
	Build func(*baldur.Rejection) V
	// Intact reports whether a cached rendering is still as built; one that
	// is not (shared values someone wrote into) is rendered afresh and
	// replaced. Nil means renderings never change.
	Intact func(V) bool

	// front is a direct-mapped table in front of m: a rejection found in
	// its slot costs one atomic load and a comparison instead of a
	// sync.Map lookup, which matters on a reject path that is meant to be
	// cheaper than admitting. A slot keeps the first rejection rendered
	// into it (until that rendering is found edited), so rejections that
	// share a slot never evict each other; the second is served by m.
	front [frontSlots]atomic.Pointer[entry[V]]
	m     sync.Map // *baldur.Rejection -> V
}

// frontSlots is the size of Cache.front: more than the reasons times the
// few Retry-After values a service advises at once.
const frontSlots = 256

type entry[V any] struct {
	rej *baldur.Rejection
	v   V
}

func frontIndex(rej *baldur.Rejection) uint64 {
	return (uint64(rej.Reason())*61 + uint64(rej.RetryAfterSeconds())) % frontSlots
}

// Get returns the rendering of rej.
func (c *Cache[V]) Get(rej *baldur.Rejection) V {
	slot := &c.front[frontIndex(rej)]
	e := slot.Load()
	if e != nil && e.rej == rej && (c.Intact == nil || c.Intact(e.v)) {
		return e.v
	}
	v := c.get(rej)
	if rej.RetryAfterSeconds() <= baldur.MaxInternedRetryAfter && (e == nil || e.rej == rej) {
		slot.CompareAndSwap(e, &entry[V]{rej: rej, v: v})
	}
	return v
}

// get is Get without the front table.
func (c *Cache[V]) get(rej *baldur.Rejection) V {
	cached, ok := c.m.Load(rej)
	if ok {
		if v := cached.(V); c.Intact == nil || c.Intact(v) {
			return v
		}
	}
	v := c.Build(rej)
	if rej.RetryAfterSeconds() > baldur.MaxInternedRetryAfter {
		return v
	}
	if ok {
		c.m.CompareAndSwap(rej, cached, v)
		return v
	}
	got, _ := c.m.LoadOrStore(rej, v)
	return got.(V)
}
