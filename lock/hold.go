package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// DefaultHoldTTL is the lease Hold takes when HoldConfig.TTL is zero: a
// crashed holder blocks the namespace for 30 s, renewed every 10 s.
const DefaultHoldTTL = 30 * time.Second

// errReleased is the cause of a Held context ended by Release.
var errReleased = errors.New("lock: released")

// HoldConfig configures Hold. The zero value is valid.
type HoldConfig struct {
	// TTL is the lease, renewed every TTL/3. Zero means DefaultHoldTTL.
	TTL time.Duration
	// Margin is how long before the lease's end, on the holder's clock, the
	// work is cancelled when no renewal has succeeded. It covers clock
	// drift between holder and lock server and the time the cancelled work
	// takes to notice. Zero means TTL/10; it must be less than 2·TTL/3, so
	// that the first renewal comes before the deadline.
	Margin time.Duration
	// Blocking makes the first acquire wait (see Retry) for a held lock.
	Blocking bool
	// Clock times renewals and the deadline. Use the lock's clock. Nil
	// means baldur.SystemClock().
	Clock baldur.Clock
}

// Held is a lease kept by Hold. Its context is cancelled when the lease is
// lost (the cause matches ErrLeaseLost), when the parent context ends, or
// on Release. Safe for concurrent use.
type Held struct {
	l           Fenced
	ns, session string
	token       uint64
	ttl, margin time.Duration
	clock       baldur.Clock

	ctx        context.Context
	cancel     context.CancelCauseFunc
	stopParent func() bool

	mu       sync.Mutex
	done     bool
	until    time.Time // the local deadline
	gen      uint64    // bumped by every successful renewal
	lastErr  error
	renew    baldur.Timer
	deadline baldur.Timer
}

// Hold acquires namespace for sessionID on l and keeps the lease until
// Release, renewing it every TTL/3. The returned Held's Context is ctx's
// child; it is cancelled as soon as the lease is lost:
//
//   - a renewal answers ErrNotHeld (the lease expired or was deleted): the
//     cause matches ErrLeaseLost and ErrNotHeld;
//   - no renewal succeeded by the local deadline (the last successful
//     request's send time + TTL − Margin), as when the lock server is
//     unreachable or the holder was paused: the cause matches ErrLeaseLost.
//
// A failed renewal that is not ErrNotHeld is retried every TTL/6 until the
// deadline. held is false, with a nil Held and error, when another session
// holds the lock; an error from the first acquire is returned as is (the
// fail mode, proceed unlocked or not, is the caller's). Invalid cfg is a
// *baldur.ConfigError.
func Hold(ctx context.Context, l Fenced, namespace, sessionID string, cfg HoldConfig) (h *Held, held bool, err error) {
	if l == nil {
		return nil, false, &baldur.ConfigError{Field: "Lock", Reason: "is required"}
	}
	if cfg.TTL < 0 {
		return nil, false, &baldur.ConfigError{Field: "TTL", Value: cfg.TTL.String(), Reason: "must not be negative (zero means 30s)"}
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultHoldTTL
	}
	if cfg.Margin == 0 {
		cfg.Margin = cfg.TTL / 10
	}
	if cfg.Margin < 0 || cfg.Margin >= cfg.TTL*2/3 {
		return nil, false, &baldur.ConfigError{Field: "Margin", Value: cfg.Margin.String(),
			Reason: "must be positive and less than two thirds of TTL " + cfg.TTL.String() + ", or the lease is given up before its first renewal"}
	}
	if cfg.Clock == nil {
		cfg.Clock = baldur.SystemClock()
	}
	lease, held, err := l.AcquireFenced(ctx, namespace, sessionID, cfg.TTL, cfg.Blocking)
	if err != nil || !held {
		return nil, held, err
	}
	h = &Held{l: l, ns: namespace, session: sessionID, token: lease.Token, ttl: cfg.TTL, margin: cfg.Margin, clock: cfg.Clock}
	h.ctx, h.cancel = context.WithCancelCause(ctx)
	h.mu.Lock()
	h.armLocked(lease.Until, cfg.TTL/3)
	h.mu.Unlock()
	h.stopParent = context.AfterFunc(ctx, func() { h.stop(context.Cause(ctx)) })
	return h, true, nil
}

// armLocked sets the local deadline from a lease's end and schedules the
// next renewal after wait.
func (h *Held) armLocked(until time.Time, wait time.Duration) {
	h.until = until.Add(-h.margin)
	h.gen++
	if h.deadline != nil {
		h.deadline.Stop()
	}
	gen := h.gen
	h.deadline = h.clock.AfterFunc(h.until.Sub(h.clock.Now()), func() { h.expire(gen) })
	h.renew = h.clock.AfterFunc(wait, h.renewNow)
}

func (h *Held) renewNow() {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	lease, err := h.l.ExtendFenced(h.ctx, h.ns, h.session, h.token, h.ttl)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	switch {
	case err == nil:
		h.lastErr = nil
		h.armLocked(lease.Until, h.ttl/3)
	case errors.Is(err, ErrNotHeld):
		h.loseLocked(fmt.Errorf("%w: renewal of token %d: %w", ErrLeaseLost, h.token, err))
	default:
		h.lastErr = err
		h.renew = h.clock.AfterFunc(h.ttl/6, h.renewNow)
	}
}

func (h *Held) expire(gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || gen != h.gen {
		return
	}
	h.loseLocked(fmt.Errorf("%w: token %d not renewed by its deadline (last error: %v)", ErrLeaseLost, h.token, h.lastErr))
}

// loseLocked ends the hold with cause.
func (h *Held) loseLocked(cause error) {
	h.done = true
	h.stopTimersLocked()
	h.cancel(cause)
}

func (h *Held) stopTimersLocked() {
	if h.renew != nil {
		h.renew.Stop()
	}
	if h.deadline != nil {
		h.deadline.Stop()
	}
}

// stop ends renewals without releasing (the parent context ended).
func (h *Held) stop(cause error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	h.done = true
	h.stopTimersLocked()
	h.cancel(cause)
}

// Context returns the context of the work the lease protects.
func (h *Held) Context() context.Context { return h.ctx }

// Token returns the lease's fencing token: pass it with every write to a
// resource the lock protects.
func (h *Held) Token() uint64 { return h.token }

// Until returns the local deadline: the work is cancelled then unless a
// renewal succeeds first.
func (h *Held) Until() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until
}

// Err returns why the context ended (matching ErrLeaseLost when the lease
// was lost), or nil while the lease is held.
func (h *Held) Err() error {
	if h.ctx.Err() == nil {
		return nil
	}
	return context.Cause(h.ctx)
}

// Release stops renewing, cancels the context and releases the lock
// (compare-and-delete on the token: a lease already lost and granted to
// another session is left alone). It is idempotent; the error is the
// lock's.
func (h *Held) Release(ctx context.Context) error {
	h.stopParent()
	h.stop(errReleased)
	return h.l.ReleaseFenced(ctx, h.ns, h.session, h.token)
}
