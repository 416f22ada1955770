// Package render caches what an adapter renders for a rejection (an HTTP
// response, a gRPC status), so that rejecting allocates nothing once a
// rejection has been rendered.
package render

import (
	"sync"

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

	m sync.Map // *baldur.Rejection -> V
}

// Get returns the rendering of rej.
func (c *Cache[V]) Get(rej *baldur.Rejection) V {
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
