package fake

import (
	"context"
	"time"

	"github.com/baldur-go/baldur"
)

// Semaphore is a bulkhead-stage gate of bounded concurrency with a bounded
// wait. It is the stand-in for bulkhead.New in the overload experiment and
// is deliberately simple: a buffered channel and, only when it must wait, a
// timer.
type Semaphore struct {
	slots   chan struct{}
	maxWait time.Duration
	full    *baldur.Rejection
}

// NewSemaphore returns a Semaphore of max slots that waits at most maxWait
// for one (zero: fail fast).
func NewSemaphore(max int, maxWait time.Duration) *Semaphore {
	return &Semaphore{
		slots:   make(chan struct{}, max),
		maxWait: maxWait,
		full:    baldur.RejectAtLeast(baldur.ReasonBulkheadFull, 0, time.Second),
	}
}

// Kind returns baldur.GateBulkhead.
func (s *Semaphore) Kind() string { return baldur.GateBulkhead }

// Admit takes a slot, waiting at most maxWait.
func (s *Semaphore) Admit(ctx context.Context, _ baldur.Call) (baldur.Permit, error) {
	select {
	case s.slots <- struct{}{}:
		return baldur.NewPermit(s, 0), nil
	default:
	}
	if s.maxWait <= 0 {
		return baldur.Permit{}, s.full
	}
	t := time.NewTimer(s.maxWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return baldur.NewPermit(s, 0), nil
	case <-t.C:
		return baldur.Permit{}, s.full
	case <-ctx.Done():
		return baldur.Permit{}, ctx.Err()
	}
}

// Release frees the slot.
func (s *Semaphore) Release(uint64, baldur.Outcome) { <-s.slots }
