package peer

import (
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// Errors of the hand-rolled chain.
var (
	ErrLimited = errors.New("handrolled: rate limited")
	ErrFull    = errors.New("handrolled: semaphore full")
)

// Handrolled is what a team writes without a resilience library: an
// x/time/rate token bucket, a buffered channel as semaphore and a gobreaker
// two-step breaker. It is safe for concurrent use.
type Handrolled struct {
	lim *rate.Limiter
	sem chan struct{}
	cb  *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewHandrolled returns the hand-rolled chain in mode m.
func NewHandrolled(m Mode) *Handrolled {
	return &Handrolled{
		lim: NewLimiter(m).L,
		sem: make(chan struct{}, Concurrency),
		cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        "bench",
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= BreakerTrip },
		}),
	}
}

// Do runs fn through the chain.
func (h *Handrolled) Do(fn func() error) error {
	if !h.lim.Allow() {
		return ErrLimited
	}
	select {
	case h.sem <- struct{}{}:
	default:
		return ErrFull
	}
	done, err := h.cb.Allow()
	if err != nil {
		<-h.sem
		return err
	}
	err = fn()
	done(err)
	<-h.sem
	return err
}

// Limiter adapts an x/time/rate limiter to go-grpc-middleware's
// ratelimit.Limiter.
type Limiter struct{ L *rate.Limiter }

// NewLimiter returns the x/time/rate limiter in mode m.
func NewLimiter(m Mode) Limiter {
	if m == Reject {
		l := rate.NewLimiter(rate.Every(time.Hour), 1)
		l.Allow() // exhaust the burst
		return Limiter{l}
	}
	return Limiter{rate.NewLimiter(rate.Limit(1e12), 1<<30)}
}
