package idempotency

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// LeaseLimit is the latest time an in-progress claim may be kept alive by
// heartbeats: the deadline plus grace when there is a deadline, else start
// plus max (the TTL), so that a holder that hangs while heartbeating frees
// its key after its request could no longer be answered.
func LeaseLimit(start, deadline time.Time, grace, max time.Duration) time.Time {
	limit := start.Add(max)
	if !deadline.IsZero() {
		if d := deadline.Add(grace); d.Before(limit) {
			limit = d
		}
	}
	return limit
}

// Keeper renews a claim's lease every Lease/3 while its work runs, never
// past its limit: the last renewal asks only for the time left, so the
// record expires at the limit at the latest. A holder that crashes stops
// renewing and its key frees itself within one lease.
//
// Start and Stop are called by the goroutine that holds the claim; renewals
// run in the clock's timer goroutines. Keepers are pooled: a stopped keeper
// must not be used again.
type Keeper struct {
	ledger Ledger
	claim  Claim
	clock  baldur.Clock
	limit  time.Time
	onLost func()
	tickFn func()

	mu       sync.Mutex
	active   bool
	inFlight bool
	timer    baldur.Timer
	// spare is a stopped or fired system timer bound to tick, kept across
	// pool uses and re-armed with Reset, so that a keeper on the system
	// clock allocates no timer per claim.
	spare    *time.Timer
	lost     atomic.Bool
	renewals atomic.Uint64
}

var keepers = sync.Pool{New: func() any {
	k := &Keeper{}
	k.tickFn = k.tick // bound once, so arming a timer allocates only the timer
	return k
}}

// StartKeeper starts renewing (a copy of) c, a Claimed claim, on l until
// Stop. onLost,
// when not nil, is called once from a timer goroutine if a renewal finds
// the claim lost (ErrLeaseLost); store errors are retried at the next
// renewal while the lease lasts.
func StartKeeper(l Ledger, c Claim, clock baldur.Clock, limit time.Time, onLost func()) *Keeper {
	k := keepers.Get().(*Keeper)
	k.ledger, k.claim, k.clock, k.limit, k.onLost = l, c, clock, limit, onLost
	k.lost.Store(false)
	k.renewals.Store(0)
	k.mu.Lock()
	k.active = true
	k.arm()
	k.mu.Unlock()
	return k
}

func (k *Keeper) every() time.Duration { return max(k.claim.Lease/3, time.Millisecond) }

// sysClock is compared with a keeper's clock: only the system clock's
// timers may be re-armed by Reset (another clock's timers run on its own
// time).
var sysClock = baldur.SystemClock()

// arm schedules the next renewal; k.mu is held.
func (k *Keeper) arm() {
	k.keepSpare()
	if !k.clock.Now().Add(k.every()).Before(k.limit) {
		return // the lease granted last runs to the limit
	}
	if k.spare != nil && k.clock == sysClock {
		k.spare.Reset(k.every())
		k.timer, k.spare = k.spare, nil
		return
	}
	k.timer = k.clock.AfterFunc(k.every(), k.tickFn)
}

// keepSpare moves a system timer that is no longer armed (stopped, or
// fired: arm runs from its function) to spare; k.mu is held.
func (k *Keeper) keepSpare() {
	if t, ok := k.timer.(*time.Timer); ok {
		k.spare = t
	}
	k.timer = nil
}

func (k *Keeper) tick() {
	k.mu.Lock()
	if !k.active {
		k.mu.Unlock()
		return
	}
	k.inFlight = true
	k.mu.Unlock()

	lease := min(k.claim.Lease, k.limit.Sub(k.clock.Now()))
	var err error
	if lease > 0 {
		err = k.ledger.Heartbeat(context.Background(), &k.claim, lease)
		k.renewals.Add(1)
	}

	k.mu.Lock()
	k.inFlight = false
	if errors.Is(err, ErrLeaseLost) {
		k.lost.Store(true)
		k.active = false
		if k.onLost != nil {
			f := k.onLost
			k.mu.Unlock()
			f()
			return
		}
	}
	if k.active && lease > 0 {
		k.arm()
	}
	k.mu.Unlock()
}

// Lost reports whether a renewal found the claim lost.
func (k *Keeper) Lost() bool { return k.lost.Load() }

// Renewals counts the heartbeats sent.
func (k *Keeper) Renewals() uint64 { return k.renewals.Load() }

// Stop ends the renewals. A renewal already running finishes on its own;
// the keeper is then left to the garbage collector instead of the pool.
func (k *Keeper) Stop() {
	k.mu.Lock()
	k.active = false
	reuse := !k.inFlight
	if k.timer != nil && !k.timer.Stop() {
		reuse = false // fired: its goroutine may not have taken the lock yet
	}
	k.keepSpare()
	k.mu.Unlock()
	if reuse {
		k.ledger, k.claim, k.onLost = nil, Claim{}, nil
		keepers.Put(k)
	}
}
