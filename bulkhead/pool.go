package bulkhead

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/baldur-go/baldur"
)

// Pool is a compartment of a fixed set of worker goroutines fed by a bounded
// queue. Execute hands work to a worker and waits for it at most Timeout;
// a call that finds the workers busy and the queue full is rejected at once.
// It implements baldur.Bulkhead and, in a Policy, baldur.Gate and
// baldur.Runner: Admit takes the call's place in the pool and the ticket's
// Run hands its work to a worker. It is safe for concurrent use.
type Pool struct {
	name    string
	timeout time.Duration
	clock   baldur.Clock
	rej     *baldur.Rejection
	cfg     PoolConfig

	// inflight counts accepted calls: admitted by Admit and not yet run,
	// queued, or running. Admission CASes it below capacity
	// (Workers+QueueSize), so the send on jobs, whose buffer is that
	// capacity, never blocks.
	inflight atomic.Int64
	capacity int64
	active   atomic.Int64

	// mu orders sends on jobs against its close: Execute holds it shared
	// for one send, Close holds it exclusively once.
	mu     sync.RWMutex
	closed bool
	jobs   chan *job
	g      errgroup.Group

	rejN atomic.Uint64
	last atomic.Int64

	// retired: close the pool as soon as nothing is in flight.
	retired atomic.Bool
}

var (
	_ baldur.Bulkhead = (*Pool)(nil)
	_ baldur.Runner   = (*Pool)(nil)
)

// A job is claimed exactly once: by a worker (started) or by its caller
// giving up first (abandoned), so that work whose caller left never starts
// and a lent worker whose borrower left is handed back.
const (
	jobPending uint32 = iota
	jobStarted
	jobAbandoned
	jobReturned
)

type job struct {
	ctx   context.Context
	fn    func(context.Context) error
	lend  bool // park the worker for an Acquire caller instead of running fn
	claim atomic.Uint32
	done  chan struct{} // closed when fn returned, or when the worker is lent
	ret   chan struct{} // lent worker: closed by the permit's release

	err      error
	skipped  bool // its context ended before a worker took it
	panicked bool
	panicVal any
}

// NewPool validates cfg, starts cfg.Workers goroutines and returns the pool.
// Close it to stop them.
func NewPool(cfg PoolConfig) (*Pool, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		name:     cfg.Name,
		timeout:  cfg.Timeout.D(),
		clock:    cfg.Clock,
		rej:      baldur.Reject(baldur.ReasonBulkheadFull, cfg.RetryAfter.D()),
		cfg:      cfg,
		jobs:     make(chan *job, cfg.Workers+cfg.QueueSize),
		capacity: int64(cfg.Workers + cfg.QueueSize),
	}
	for range cfg.Workers {
		p.g.Go(p.work)
	}
	return p, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Config returns the pool's configuration with defaults applied.
func (p *Pool) Config() PoolConfig { return p.cfg }

// Execute runs fn on a worker and returns its error. The work's context
// carries ctx's values (trace ids) and is cancelled when ctx is, or when the
// pool's Timeout passes (cause ErrTimeout). Execute returns:
//   - fn's error when fn returned in time; a panic in fn is re-raised here;
//   - ctx.Err() when ctx ended first;
//   - a *TimeoutError when Timeout passed first: the caller is freed while
//     fn may still be running, with its context cancelled;
//   - a *FullError when the workers are busy and the queue is full;
//   - ErrClosed after Close.
//
// fn must not touch anything its caller still owns once its context is done:
// the caller may already have returned.
func (p *Pool) Execute(ctx context.Context, fn func(context.Context) error) error {
	return p.execute(ctx, fn, false)
}

// execute is Execute for a call that already holds its place in the pool
// (reserved: Admit took it) or that takes one now.
func (p *Pool) execute(ctx context.Context, fn func(context.Context) error, reserved bool) error {
	if err := ctx.Err(); err != nil {
		if reserved {
			p.leave()
		}
		return err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	j := &job{ctx: wctx, fn: fn, done: make(chan struct{})}
	if err := p.submit(j, reserved); err != nil {
		return err
	}
	t := p.clock.AfterFunc(p.timeout, func() { cancel(ErrTimeout) })
	defer t.Stop()
	select {
	case <-j.done:
	case <-wctx.Done():
		if j.claim.CompareAndSwap(jobPending, jobAbandoned) {
			return p.gaveUp(ctx, wctx) // never started, never will
		}
		select {
		case <-j.done:
		default:
			return p.gaveUp(ctx, wctx) // the work goes on, cancelled
		}
	}
	if j.panicked {
		panic(j.panicVal)
	}
	if j.skipped || wctx.Err() != nil {
		// The timeout or the caller's context ended as fn returned; fn most
		// likely returned because of it, so the end wins over fn's result.
		return p.gaveUp(ctx, wctx)
	}
	return j.err
}

// Acquire lends the caller a worker: it waits (at most Timeout) until a
// worker takes the request from the queue, then that worker stays parked
// until the permit is released. The caller runs its code on its own
// goroutine, so the pool bounds it like a semaphore of Workers permits
// behind a queue of QueueSize, without any execution timeout. Errors are as
// for Execute.
func (p *Pool) Acquire(ctx context.Context) (baldur.Permit, error) {
	if err := ctx.Err(); err != nil {
		return baldur.Permit{}, err
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	j := &job{ctx: wctx, lend: true, done: make(chan struct{}), ret: make(chan struct{})}
	if err := p.submit(j, false); err != nil {
		return baldur.Permit{}, err
	}
	t := p.clock.AfterFunc(p.timeout, func() { cancel(ErrTimeout) })
	defer t.Stop()
	select {
	case <-j.done:
		if err := ctx.Err(); err != nil {
			// Lent a worker just as ctx ended: the context wins.
			(*lent)(j).Release(0, baldur.Outcome{})
			return baldur.Permit{}, err
		}
		return baldur.NewPermit((*lent)(j), 0), nil
	case <-wctx.Done():
		if !j.claim.CompareAndSwap(jobPending, jobAbandoned) {
			// A worker took it just now: hand the worker back.
			<-j.done
			(*lent)(j).Release(0, baldur.Outcome{})
		}
		return baldur.Permit{}, p.gaveUp(ctx, wctx)
	}
}

// lent is a job whose worker is parked for an Acquire caller.
type lent job

func (l *lent) Release(uint64, baldur.Outcome) {
	if l.claim.CompareAndSwap(jobStarted, jobReturned) {
		close(l.ret)
	}
}

// gaveUp returns why a caller stopped waiting: its own context (unwrapped)
// or the pool's timeout.
func (p *Pool) gaveUp(ctx, wctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if context.Cause(wctx) == ErrTimeout {
		return &TimeoutError{Name: p.name, Timeout: p.timeout, rej: p.rej}
	}
	return wctx.Err()
}

// submit queues j for a worker. A reserved job already counts in inflight
// (Admit took its place); any other takes a place now or is rejected.
func (p *Pool) submit(j *job, reserved bool) error {
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		if reserved {
			p.leave()
		}
		return ErrClosed
	}
	if reserved || p.reserve() {
		p.jobs <- j
		p.mu.RUnlock()
		return nil
	}
	p.mu.RUnlock()
	p.noteReject(time.Time{})
	st := p.State()
	return &FullError{Name: p.name, Active: st.Active, Max: st.MaxConcurrent, Waiting: st.Waiting, rej: p.rej}
}

// reserve takes a place in the pool (a worker or a queue slot) if one is
// free. Callers hold mu shared and have checked closed.
func (p *Pool) reserve() bool {
	for {
		n := p.inflight.Load()
		if n >= p.capacity {
			return false
		}
		if p.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// leave gives a place back; the last one out closes a retired pool.
func (p *Pool) leave() {
	if p.inflight.Add(-1) == 0 && p.retired.Load() {
		p.closeIdle()
	}
}

func (p *Pool) noteReject(now time.Time) {
	if now.IsZero() {
		now = p.clock.Now()
	}
	p.rejN.Add(1)
	p.last.Store(now.UnixNano())
}

func (p *Pool) work() error {
	for j := range p.jobs {
		if !j.claim.CompareAndSwap(jobPending, jobStarted) {
			p.leave()
			continue // the caller gave up before a worker was free
		}
		p.active.Add(1)
		switch {
		case j.lend:
			close(j.done)
			<-j.ret
		case j.ctx.Err() != nil:
			j.skipped = true
			close(j.done)
		default:
			p.run(j)
		}
		p.active.Add(-1)
		p.leave()
	}
	return nil
}

// run calls fn, carrying a panic back to the caller instead of crashing the
// process from a worker goroutine. A panic whose caller already left is
// dropped with its call.
func (p *Pool) run(j *job) {
	defer func() {
		if r := recover(); r != nil {
			j.panicked, j.panicVal = true, r
		}
		close(j.done)
	}()
	j.err = j.fn(j.ctx)
}

// Close stops accepting work, lets the workers drain the queue and waits for
// them. Queued work whose caller already left is skipped. Close waits for
// running work, which should honor its context.
func (p *Pool) Close() error { return p.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx: when ctx ends first it returns ctx.Err()
// and the workers go on draining in the background.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.jobs)
	}
	p.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- p.g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retire closes the pool once nothing is in flight, and returns at once:
// the calls it admitted, queued or runs finish on it, and so does any call
// still admitted through a policy that holds it; when the last one leaves,
// the pool closes (new calls get ErrClosed) and its workers exit. A
// registry retires the pools a reload replaces. Close after Retire waits
// for the workers.
func (p *Pool) Retire() {
	p.retired.Store(true)
	if p.inflight.Load() == 0 {
		p.closeIdle()
	}
}

// closeIdle closes a retired pool if nothing is in flight. Under mu held
// exclusively no call can take a place, so an empty pool stays empty.
func (p *Pool) closeIdle() {
	p.mu.Lock()
	if !p.closed && p.inflight.Load() == 0 {
		p.closed = true
		close(p.jobs)
	}
	p.mu.Unlock()
}

// State returns the pool's occupancy: MaxConcurrent is Workers, Active the
// busy workers, Waiting the accepted calls not yet on a worker (including,
// until a worker skips them, calls whose caller already gave up, and calls
// admitted by Admit whose work has not been handed over yet).
func (p *Pool) State() baldur.BulkheadState {
	active, workers := int(p.active.Load()), p.cfg.Workers
	bs := baldur.BulkheadState{
		Name:          p.name,
		Kind:          "pool",
		MaxConcurrent: workers,
		Active:        active,
		Waiting:       max(int(p.inflight.Load())-active, 0),
		Rejected:      p.rejN.Load(),
		Utilization:   min(float64(active)/float64(workers), 1),
	}
	if ns := p.last.Load(); ns != 0 {
		bs.LastRejection = time.Unix(0, ns)
	}
	return bs
}
