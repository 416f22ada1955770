package bulkhead

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// The state word packs the granted permits (low 32 bits) and the queued
// waiters (high 32 bits), so that one CAS can check "a permit is free and
// nobody waits" and take it.
const (
	activeMask = 1<<32 - 1
	waiterOne  = 1 << 32
	maxPermits = 1<<31 - 1

	// minusWaiter and minusActive are -waiterOne and -1 in two's
	// complement.
	minusWaiter = ^uint64(waiterOne - 1)
	minusActive = ^uint64(0)
)

// Semaphore is a compartment of at most MaxConcurrent concurrent calls.
// Callers that find it full wait up to MaxWait in FIFO order, then are
// rejected. It implements baldur.Bulkhead and baldur.Gate. It is safe for
// concurrent use.
type Semaphore struct {
	// state is written by CAS when admitting (never load-then-add) and by
	// Add when releasing. The waiter half changes only under mu.
	state atomic.Uint64
	max   atomic.Int64

	name    string
	maxWait time.Duration
	clock   baldur.Clock
	rej     *baldur.Rejection
	cfg     Config // as declared; MaxConcurrent is read from max

	mu   sync.Mutex
	q    waitQueue
	_    [40]byte // keep the reject counters off the state's cache line
	rejN atomic.Uint64
	last atomic.Int64 // unix nanos of the last rejection
}

var (
	_ baldur.Bulkhead = (*Semaphore)(nil)
	_ baldur.Gate     = (*Semaphore)(nil)
)

// New validates cfg and returns the compartment it declares.
func New(cfg Config) (*Semaphore, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	s := &Semaphore{
		name:    cfg.Name,
		maxWait: cfg.MaxWait.D(),
		clock:   cfg.Clock,
		rej:     baldur.Reject(baldur.ReasonBulkheadFull, cfg.RetryAfter.D()),
		cfg:     cfg,
	}
	s.max.Store(int64(cfg.MaxConcurrent))
	return s, nil
}

// Name returns the compartment's name.
func (s *Semaphore) Name() string { return s.name }

// Stage returns baldur.StageBulkhead: a Policy runs the semaphore last, after
// the gates that hold nothing.
func (s *Semaphore) Stage() baldur.Stage { return baldur.StageBulkhead }

// Config returns the compartment's configuration with defaults applied and
// the current MaxConcurrent.
func (s *Semaphore) Config() Config {
	c := s.cfg
	c.MaxConcurrent = int(s.max.Load())
	return c
}

// Admit takes a permit for c, the compartment's baldur.Gate method. A full
// compartment is the interned *baldur.Rejection (ReasonBulkheadFull) and
// costs no allocation; a done ctx is ctx.Err().
func (s *Semaphore) Admit(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	if err := s.acquire(ctx); err != nil {
		if err == error(s.rej) {
			s.noteReject(c.Now)
		}
		return baldur.Permit{}, err
	}
	return s.permit(), nil
}

// Acquire takes a permit, waiting at most MaxWait. A full compartment is a
// *FullError naming the compartment and its occupancy (errors.Is ErrFull and
// baldur.ErrRejected; baldur.AsRejection finds the chain's rejection); a done
// ctx is ctx.Err(). Release the permit exactly once, also on panic.
func (s *Semaphore) Acquire(ctx context.Context) (baldur.Permit, error) {
	if err := s.acquire(ctx); err != nil {
		if err == error(s.rej) {
			s.noteReject(time.Time{})
			return baldur.Permit{}, s.fullError()
		}
		return baldur.Permit{}, err
	}
	return s.permit(), nil
}

// TryAcquire takes a permit if one is free and nobody waits for one; it never
// waits and never counts a rejection.
func (s *Semaphore) TryAcquire() (baldur.Permit, bool) {
	if s.tryFast() {
		return s.permit(), true
	}
	return baldur.Permit{}, false
}

// Execute runs fn holding a permit, released when fn returns or panics. It
// returns Acquire's error or fn's. MaxWait bounds the wait, not fn.
func (s *Semaphore) Execute(ctx context.Context, fn func(context.Context) error) error {
	p, err := s.Acquire(ctx)
	if err != nil {
		return err
	}
	defer p.Release(baldur.Outcome{})
	return fn(ctx)
}

// Resize sets the number of permits. Growing hands the new permits to the
// waiters at once; shrinking takes effect as permits are released (calls
// already admitted keep theirs). n must be > 0.
func (s *Semaphore) Resize(n int) error {
	if n <= 0 || n > maxPermits {
		return &baldur.ConfigError{Field: "MaxConcurrent", Value: strconv.Itoa(n), Reason: "must be > 0 and <= " + strconv.Itoa(maxPermits)}
	}
	s.max.Store(int64(n))
	s.dispatch()
	return nil
}

// State returns the compartment's occupancy. After a shrink Active may
// exceed MaxConcurrent until enough permits are released; Utilization is
// capped at 1.
func (s *Semaphore) State() baldur.BulkheadState {
	st := s.state.Load()
	active, waiting, max := int(st&activeMask), int(st>>32), int(s.max.Load())
	bs := baldur.BulkheadState{
		Name:          s.name,
		Kind:          "semaphore",
		MaxConcurrent: max,
		Active:        active,
		Waiting:       waiting,
		Rejected:      s.rejN.Load(),
		Utilization:   min(float64(active)/float64(max), 1),
	}
	if ns := s.last.Load(); ns != 0 {
		bs.LastRejection = time.Unix(0, ns)
	}
	return bs
}

// permit wraps the semaphore as an unexported Releaser, so that only a
// granted Permit can give a permit back.
func (s *Semaphore) permit() baldur.Permit { return baldur.NewPermit((*releaser)(s), 0) }

type releaser Semaphore

func (r *releaser) Release(uint64, baldur.Outcome) { (*Semaphore)(r).release() }

func (s *Semaphore) noteReject(now time.Time) {
	if now.IsZero() {
		now = s.clock.Now()
	}
	s.rejN.Add(1)
	// Under overload every call rejects: write the shared timestamp at most
	// once a millisecond instead of on every rejection.
	ns := now.UnixNano()
	if d := ns - s.last.Load(); d >= int64(time.Millisecond) || d <= -int64(time.Millisecond) {
		s.last.Store(ns)
	}
}

func (s *Semaphore) fullError() *FullError {
	st := s.state.Load()
	return &FullError{Name: s.name, Active: int(st & activeMask), Max: int(s.max.Load()), Waiting: int(st >> 32), rej: s.rej}
}

// tryFast takes a free permit when nobody waits. Waiters block the fast
// path, so a released permit reaches the head waiter instead of a newcomer.
func (s *Semaphore) tryFast() bool {
	for {
		st := s.state.Load()
		if st>>32 != 0 || int64(st&activeMask) >= s.max.Load() {
			return false
		}
		if s.state.CompareAndSwap(st, st+1) {
			return true
		}
	}
}

// acquire returns nil with a permit taken, s.rej when the compartment stayed
// full, or ctx.Err().
func (s *Semaphore) acquire(ctx context.Context) error {
	// A done context wins over a free permit.
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.tryFast() {
		return nil
	}
	if s.maxWait == 0 {
		// Nobody ever waits in a fail-fast compartment, so tryFast saw every
		// permit taken: reject without the lock.
		return s.rej
	}
	return s.acquireSlow(ctx)
}

// acquireSlow waits for a permit; acquire calls it only when MaxWait > 0.
func (s *Semaphore) acquireSlow(ctx context.Context) error {
	s.mu.Lock()
	for {
		// Holding mu freezes the waiter count, so this check and the enqueue
		// below cannot miss a release: a release changes the word and makes
		// the CAS fail, or finds our waiter bit and dispatches under mu.
		st := s.state.Load()
		if st>>32 == 0 && int64(st&activeMask) < s.max.Load() {
			if s.state.CompareAndSwap(st, st+1) {
				s.mu.Unlock()
				return nil
			}
			continue
		}
		if s.state.CompareAndSwap(st, st+waiterOne) {
			break
		}
	}
	w := &waiter{ready: make(chan struct{})}
	s.q.push(w)
	s.mu.Unlock()

	t := s.clock.AfterFunc(s.maxWait, func() { s.expire(w) })
	select {
	case <-w.ready:
		t.Stop()
		if !w.granted {
			return s.rej
		}
		if err := ctx.Err(); err != nil {
			// Handed a permit just as ctx ended: the context wins and the
			// permit goes on to the next waiter.
			s.release()
			return err
		}
		return nil
	case <-ctx.Done():
		t.Stop()
		s.mu.Lock()
		if w.queued {
			s.q.remove(w)
			s.state.Add(minusWaiter)
			s.mu.Unlock()
			return ctx.Err()
		}
		granted := w.granted
		s.mu.Unlock()
		if granted {
			s.release()
		}
		return ctx.Err()
	}
}

// expire runs on the clock's goroutine when a waiter's MaxWait passes.
func (s *Semaphore) expire(w *waiter) {
	s.mu.Lock()
	if w.queued {
		s.q.remove(w)
		s.state.Add(minusWaiter)
		close(w.ready)
	}
	s.mu.Unlock()
}

func (s *Semaphore) release() {
	if st := s.state.Add(minusActive); st>>32 != 0 {
		s.dispatch()
	}
}

// dispatch hands free permits to waiters, head first. The permit moves from
// the releaser to the waiter in one CAS (active+1, waiting-1), so no
// newcomer can take it in between.
func (s *Semaphore) dispatch() {
	s.mu.Lock()
	for s.q.head != nil {
		st := s.state.Load()
		if int64(st&activeMask) >= s.max.Load() {
			break
		}
		if !s.state.CompareAndSwap(st, st+1-waiterOne) {
			continue
		}
		w := s.q.head
		s.q.remove(w)
		w.granted = true
		close(w.ready)
	}
	s.mu.Unlock()
}
