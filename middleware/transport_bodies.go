package middleware

import (
	"io"
	"sync/atomic"

	"github.com/baldur-go/baldur/internal/proc"
)

// bodyBlock is how many response body wrappers one allocation makes.
// A wrapper cannot go back to a pool (its caller may keep it after
// Close), but it can come out of a block: a guarded response then costs
// one allocation per bodyBlock responses instead of one each. The price
// is reach: a block, and what each of its wrappers still refers to, stays
// reachable while any one of its wrappers is. Finishing a body drops its
// permits' holder, so what a finished wrapper keeps is its wrapped body,
// as any wrapper would; at 16 wrappers of 32 bytes a block is 512 bytes.
const bodyBlock = 16

// bodies is a block of wrappers handed out in order, each exactly once.
type bodies struct {
	next atomic.Int32 // the next wrapper to hand out; past the end, the block is spent
	all  [bodyBlock]body
}

// bodyStripe is the block a P's callers take wrappers from, on a cache
// line of its own so that cores do not share the counter they bump.
type bodyStripe struct {
	cur atomic.Pointer[bodies]
	_   [56]byte
}

// bodyStripes are the blocks being handed out, one per P (proc.Stripe):
// any stripe serves any caller correctly, the one of the caller's P only
// keeps its counter's line on the caller's core.
var bodyStripes = make([]bodyStripe, proc.Stripes(16))

// newBody returns a fresh wrapper of rc holding h. It is safe for
// concurrent use.
func newBody(rc io.ReadCloser, h *heldTicket) *body {
	s := &bodyStripes[proc.Stripe(len(bodyStripes)-1)]
	for {
		blk := s.cur.Load()
		if blk != nil {
			if i := blk.next.Add(1) - 1; i < bodyBlock {
				b := &blk.all[i]
				b.rc, b.held = rc, h
				return b
			}
		}
		// Spent (or none yet): start a block, its first wrapper ours. Who
		// loses the swap tries again with the winner's block.
		fresh := new(bodies)
		fresh.next.Store(1)
		if s.cur.CompareAndSwap(blk, fresh) {
			b := &fresh.all[0]
			b.rc, b.held = rc, h
			return b
		}
	}
}
