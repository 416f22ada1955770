package baldur

import (
	"sync/atomic"
	"unsafe"
)

// stripes is the number of cache lines a counter is spread over, so that
// cores counting at once rarely write the same line.
const stripes = 8

// counter is a monotonic counter for paths taken on many cores at once
// (rejections under overload). Add touches one of several cache lines,
// picked by the address of the calling goroutine's stack (goroutines that
// run at once are on different stacks, and reading an address is cheaper
// than a random number); Load sums them. The zero value is ready to use.
type counter struct {
	s [stripes]struct {
		n atomic.Uint64
		_ [56]byte // pad to a cache line
	}
}

func (c *counter) add() {
	var here byte
	// Stacks are at least 2 KiB apart, so the address bits above that tell
	// goroutines apart; they are mixed by a multiplication because stacks
	// of one size sit at multiples of it. The value only picks a stripe, so
	// a stack that moves is fine.
	i := (uint64(uintptr(unsafe.Pointer(&here))>>11) * 0x9e3779b97f4a7c15) >> (64 - 3)
	c.s[i%stripes].n.Add(1)
}

func (c *counter) load() uint64 {
	var sum uint64
	for i := range c.s {
		sum += c.s[i].n.Load()
	}
	return sum
}
