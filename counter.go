package baldur

import (
	"math/rand/v2"
	"sync/atomic"
)

// stripes is the number of cache lines a counter is spread over, so that
// cores counting at once rarely write the same line.
const stripes = 8

// counter is a monotonic counter for paths taken on many cores at once
// (rejections under overload). Add touches one of several cache lines
// chosen at random; Load sums them. The zero value is ready to use.
type counter struct {
	s [stripes]struct {
		n atomic.Uint64
		_ [56]byte // pad to a cache line
	}
}

func (c *counter) add() { c.s[rand.Uint32()%stripes].n.Add(1) }

func (c *counter) load() uint64 {
	var sum uint64
	for i := range c.s {
		sum += c.s[i].n.Load()
	}
	return sum
}
