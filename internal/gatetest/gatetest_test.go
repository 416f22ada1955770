package gatetest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/gatetest"
)

// slots is the smallest gate that keeps the contract: at most max calls at
// once, a done context first, a bare interned rejection when full, and a
// count of failed outcomes.
type slots struct {
	max    int64
	n      atomic.Int64
	failed atomic.Int64
}

func (s *slots) Stage() baldur.Stage { return baldur.StageBulkhead }

func (s *slots) Admit(ctx context.Context, _ baldur.Call) (baldur.Permit, error) {
	if err := ctx.Err(); err != nil {
		return baldur.Permit{}, err
	}
	for {
		n := s.n.Load()
		if n >= s.max {
			return baldur.Permit{}, baldur.Reject(baldur.ReasonBulkheadFull, time.Second)
		}
		if s.n.CompareAndSwap(n, n+1) {
			return baldur.NewPermit(s, 0), nil
		}
	}
}

func (s *slots) Release(_ uint64, o baldur.Outcome) {
	if o.Result == baldur.Failure {
		s.failed.Add(1)
	}
	s.n.Add(-1)
}

// TestReferenceGate runs the suite against a gate that keeps the contract,
// so a failure here is a fault of the suite, not of a gate.
func TestReferenceGate(t *testing.T) {
	gatetest.Run(t, gatetest.Harness{New: func(testing.TB) *gatetest.Subject {
		g := &slots{max: 3}
		return &gatetest.Subject{
			Gate:  g,
			Call:  baldur.Call{Operation: "op", Now: time.Unix(1, 0)},
			InUse: func() int { return int(g.n.Load()) },
			Limit: 3,
			Waits: true,
			Learn: &gatetest.Learn{
				Outcome: baldur.Outcome{Result: baldur.Failure},
				Times:   2,
				Learned: func() bool { return g.failed.Load() >= 2 },
			},
		}
	}})
}
