package interceptor

import (
	"time"

	"github.com/baldur-go/baldur"
)

// guard holds an admitted call's permits while the interceptor runs the
// handler, invoker or streamer, and gives them back exactly once. It lives
// on the interceptor's stack: each shape defers unwind right after
// admission, then ends the call (end) or hands the permits on (handOff)
// when the callee returns.
type guard struct {
	c       *config
	start   time.Time
	t       baldur.Ticket
	settled bool
}

// end releases the permits with the outcome of the callee's error.
func (g *guard) end(err error) {
	g.settled = true
	g.t.Release(outcomeOf(err, g.c.since(g.start)))
}

// handOff gives the permits to the caller (a client stream that releases
// them when it is over); unwind then leaves them alone.
func (g *guard) handOff() baldur.Ticket {
	g.settled = true
	return g.t
}

// unwind, deferred, releases the permits of a call whose callee panicked
// (or called runtime.Goexit) as a Failure with the status Internal.
// Nothing is recovered: the panic goes on with its original stack once the
// permits are back.
func (g *guard) unwind() {
	if !g.settled {
		g.t.Release(panicked(g.c.since(g.start)))
	}
}
