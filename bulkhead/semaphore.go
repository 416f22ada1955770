package bulkhead

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/proc"
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
//
// A compartment of 2*cacheStripes permits or more, made in a process with
// more than one P, keeps some of its free permits in per-P caches
// (cache.go), so that calls admitted and released on different cores do
// not all write the one state word.
type Semaphore struct {
	// state is written by CAS when admitting (never load-then-add) and by
	// Add when releasing. The waiter half changes only under mu. Its
	// taken half counts the permits held by calls and the free ones held
	// by the caches.
	state atomic.Uint64
	max   atomic.Int64
	// cacheCap is how many free permits each cache may keep: MaxConcurrent
	// / (2*cacheStripes), so that the caches never hold more than half the
	// permits; 0 turns them off.
	cacheCap atomic.Int64
	// procMask picks a caller's cache from its P (proc.Stripes). It is 0
	// on a process that had one P when the compartment was made: with
	// nothing to share between cores the caches stay off.
	procMask int

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

	caches [cacheStripes]cache
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
		name:     cfg.Name,
		maxWait:  cfg.MaxWait.D(),
		clock:    cfg.Clock,
		rej:      baldur.Reject(baldur.ReasonBulkheadFull, cfg.RetryAfter.D()),
		cfg:      cfg,
		procMask: proc.Stripes(cacheStripes) - 1,
	}
	s.setMax(int64(cfg.MaxConcurrent))
	return s, nil
}

func (s *Semaphore) setMax(n int64) {
	s.max.Store(n)
	if s.procMask != 0 {
		s.cacheCap.Store(n / (2 * cacheStripes))
	}
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
	p := s.proc()
	if err := s.acquire(ctx, p); err != nil {
		if err == error(s.rej) {
			s.noteReject(c.Now)
		}
		return baldur.Permit{}, err
	}
	return s.permit(p), nil
}

// Acquire takes a permit, waiting at most MaxWait. A full compartment is a
// *FullError naming the compartment and its occupancy (errors.Is ErrFull and
// baldur.ErrRejected; baldur.AsRejection finds the chain's rejection); a done
// ctx is ctx.Err(). Release the permit exactly once, also on panic.
func (s *Semaphore) Acquire(ctx context.Context) (baldur.Permit, error) {
	p := s.proc()
	if err := s.acquire(ctx, p); err != nil {
		if err == error(s.rej) {
			s.noteReject(time.Time{})
			return baldur.Permit{}, s.fullError()
		}
		return baldur.Permit{}, err
	}
	return s.permit(p), nil
}

// TryAcquire takes a permit if one is free and nobody waits for one; it never
// waits and never counts a rejection.
func (s *Semaphore) TryAcquire() (baldur.Permit, bool) {
	if p := s.proc(); s.tryFast(p) {
		return s.permit(p), true
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
	s.setMax(int64(n))
	// The cached permits go back to the state word, where the new limit
	// counts them; a smaller cap refills the caches less.
	s.drain()
	s.dispatch()
	return nil
}

// State returns the compartment's occupancy. After a shrink Active may
// exceed MaxConcurrent until enough permits are released; Utilization is
// capped at 1.
func (s *Semaphore) State() baldur.BulkheadState {
	st := s.state.Load()
	active, waiting, max := s.held(st), int(st>>32), int(s.max.Load())
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

// proc is the P of the caller, as far as the caches tell Ps apart.
func (s *Semaphore) proc() int { return proc.Stripe(s.procMask) }

// permit wraps the semaphore as an unexported Releaser, so that only a
// granted Permit can give a permit back. Its token is the P the permit was
// taken on, whose cache the release uses: most calls end on the P they
// started on, and reading the P again would cost as much as the release.
func (s *Semaphore) permit(p int) baldur.Permit {
	return baldur.NewPermit((*releaser)(s), uint64(p))
}

type releaser Semaphore

// Release gives the permit back from a caller on P p: into p's cache when
// nobody waits and the cache has room, else to the state word. It is the
// body releaseAt calls, not the other way round, so that a process on one
// P gives the permit back with one atomic add and no further call.
func (r *releaser) Release(p uint64, _ baldur.Outcome) {
	s := (*Semaphore)(r)
	if s.procMask != 0 && s.cacheRelease(int(p)) {
		return
	}
	s.put(1)
}

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
	return &FullError{Name: s.name, Active: s.held(st), Max: int(s.max.Load()), Waiting: int(st >> 32), rej: s.rej}
}

// tryFast takes a free permit when nobody waits, for a caller on P p: from
// p's cache, else from the state word, else from another P's cache, so
// that a compartment rejects only once every free permit is taken. Waiters
// block the fast path, so a released permit reaches the head waiter
// instead of a newcomer.
//
// The caches are looked at even when they are off (cacheCap 0): a release
// racing a Resize can cache a permit just after the resize drained them.
func (s *Semaphore) tryFast(p int) bool {
	if s.procMask == 0 { // the caches are never on
		return s.takeFree()
	}
	return s.tryCaches(p)
}

// tryCaches is tryFast with the caches on.
func (s *Semaphore) tryCaches(p int) bool {
	i := p & (cacheStripes - 1)
	if s.takeCached(&s.caches[i]) || s.takeFree() {
		return true
	}
	for j := 1; j < cacheStripes; j++ {
		if s.takeCached(&s.caches[(i+j)&(cacheStripes-1)]) {
			return true
		}
	}
	return false
}

// takeFree takes a permit from the state word when one is free and nobody
// waits.
func (s *Semaphore) takeFree() bool {
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

// acquire returns nil with a permit taken for a caller on P p, s.rej when
// the compartment stayed full, or ctx.Err().
func (s *Semaphore) acquire(ctx context.Context, p int) error {
	// A done context wins over a free permit.
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.procMask == 0 { // tryFast written out, for a process on one P
		if s.takeFree() {
			return nil
		}
	} else if s.tryCaches(p) {
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
	// A release that cached its permit before it could see the waiter bit
	// left the permit in a cache; draining after the bit is set finds it,
	// and the dispatch hands it (and any other) to the queue, head first.
	s.drain()
	s.dispatchLocked()
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
			s.releaseAt(s.proc())
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
			s.releaseAt(s.proc())
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

// releaseAt gives a permit back from a caller on P p (see releaser.Release).
func (s *Semaphore) releaseAt(p int) { (*releaser)(s).Release(uint64(p), baldur.Outcome{}) }

// put returns n permits to the state word and hands them to the waiters,
// if any.
func (s *Semaphore) put(n uint64) {
	if st := s.state.Add(-n); st>>32 != 0 {
		s.dispatch()
	}
}

// dispatch hands free permits to waiters, head first. The permit moves from
// the releaser to the waiter in one CAS (active+1, waiting-1), so no
// newcomer can take it in between.
func (s *Semaphore) dispatch() {
	s.mu.Lock()
	s.dispatchLocked()
	s.mu.Unlock()
}

// dispatchLocked is dispatch with mu held.
func (s *Semaphore) dispatchLocked() {
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
}
