// Package bulkhead bounds how many calls run at once in a compartment, so
// that one slow dependency or one flood of cheap traffic cannot take every
// goroutine, connection or CPU a service has.
//
// # Semaphore compartments
//
// A [Semaphore] holds MaxConcurrent permits. A call takes one before it runs
// and gives it back when done; a call that finds none free waits up to
// MaxWait and is then rejected. MaxWait bounds only the wait, never the call
// that holds a permit; zero means fail fast.
//
//	db, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 12, MaxWait: baldur.Duration(50 * time.Millisecond)})
//	err = db.Execute(ctx, func(ctx context.Context) error { return query(ctx) })
//
// Admission is a CAS on one atomic word that packs the permits taken and the
// waiters: when a permit is free and nobody waits, taking it is one CAS and
// giving it back one atomic add, with no lock and no allocation. A
// compartment of 8 permits or more, made in a process with more than one P,
// also keeps free permits in four caches,
// up to MaxConcurrent/8 each, picked by the P (the scheduler's processor)
// the call runs on, so that a call admitted and released on one core writes
// only that core's cache line, not the word every core shares; a call finds a free permit in
// its P's cache, the word, or another P's cache, in that order, so the
// limit is as exact as without the caches and a compartment refuses a call
// only when every permit is in a call. Waiters queue in FIFO order under a
// mutex, and a released permit is handed to the head waiter in the same
// atomic step; while anyone waits the caches are bypassed and drained, so a
// newcomer on the fast path can never barge past a queued call. A done context wins over a free permit: it
// is checked first, a waiter whose context ends leaves the queue, and a
// permit handed over just as the context ended is passed on, never leaked.
// Resize changes the limit live; growing wakes waiters at once, shrinking
// takes effect as permits come back.
//
// A Semaphore is a [baldur.Gate] (stage baldur.StageBulkhead, the last stage of
// a policy chain): Admit returns a [baldur.Permit] whose Releaser is the
// semaphore, so only a granted permit can give one back, and a second
// Release through the same Permit is a no-op. A full compartment rejects
// with the interned baldur.Reject(baldur.ReasonBulkheadFull, RetryAfter),
// which costs no allocation. Standalone calls (Acquire, Execute) return a
// *[FullError] instead, naming the compartment and its occupancy —
// `bulkhead "db" full: 12/12 active, 5 waiting` — that unwraps to the same
// rejection. errors.Is(err, [ErrFull]) and errors.Is(err,
// baldur.ErrRejected) hold for both; a done context is ctx.Err(), unwrapped.
//
// # Per-tier admission
//
// A [Tiered] gate keeps one semaphore per call tier and picks it by
// Call.Tier, so that non-essential traffic cannot starve critical calls.
// Defaults: critical 100 permits waiting up to 50 ms, standard 50 / 30 ms,
// non_essential 20 failing fast; TieredConfig.Tiers overrides any of them.
//
// # Worker pools
//
// A [Pool] runs work on a fixed set of worker goroutines fed by a bounded
// queue: at most Workers calls run and QueueSize wait; the next call is
// rejected at once. Execute waits for the work at most Timeout (counted from
// enqueue); when it passes, the caller is freed with a *[TimeoutError]
// ([ErrTimeout]) and the work's context is cancelled with cause ErrTimeout.
// The work's context carries the caller's values (trace ids) and ends with
// the caller's context too. Work whose caller gave up before a worker was
// free never starts. Close stops intake and drains the queue; Shutdown does
// the same within a context's deadline.
//
// A pool is for work whose result is a value handed back to the caller: an
// outbound HTTP call, a gRPC unary handler (whose response is a returned
// message), a query, a render into a buffer. Once Timeout frees the caller,
// the work may still be running, so the work must not touch anything the
// caller goes on to use, and must itself release what it produces too late
// (an outbound work closes a response Body that arrives after its caller
// left). In particular two goroutines must never write one
// http.ResponseWriter, so an HTTP server handler never runs on a pool.
//
// # Pools in a policy
//
// A Pool is also a [baldur.Gate] (Stage baldur.StageBulkhead) and a
// [baldur.Runner]. Admit takes a place in the pool for the call, a worker or
// a queue slot, in one CAS without allocating; a full pool rejects at once
// with the interned baldur.Reject(baldur.ReasonBulkheadFull, RetryAfter),
// which the Policy counts and may shadow. The adapter then hands the call's
// work to Ticket.Run, which gives it to a worker on the place Admit took
// (Run never waits for a place and is never rejected), with the timeout and
// errors of Execute; a permit released without Run gives its place back.
// The adapters find the pool only through the Ticket, never by this type:
// the outbound transport (middleware.NewTransport) sends the request from a
// worker, which is free once the response headers are in (the body is read
// on the caller's goroutine), and the gRPC unary interceptors, client and
// server, run the invoker or handler on a worker. Adapters that cannot hand
// their work to another goroutine (the HTTP server middleware, gRPC
// streams) never call Run: there a pool's place is held for the whole call,
// so the pool bounds them like a semaphore of Workers+QueueSize permits.
//
// Retire closes a pool once nothing is in flight, returning at once: the
// calls it admitted, queued or runs finish on it, then its workers exit. A
// registry reload that replaces or drops a pool retires the old one.
//
// Pool.Acquire lends a worker to a caller that runs its own code: the worker
// parks until the permit is released. It bounds concurrency like a semaphore
// of Workers permits behind the pool's queue, without an execution timeout.
//
// # Registry
//
// A [Registry] names compartments (a [baldur.BulkheadRegistry]): Get
// (unknown names list the registered ones), GetOrCreate and GetOrCreatePool
// (the same configuration returns the same instance, a conflicting one is a
// *baldur.ConfigError naming the field), Register for compartments built
// elsewhere (a Tiered gate's), Names and States (max, active, waiting,
// rejected total, utilization).
//
// A [Spec] is a compartment as a configuration file declares it: a
// semaphore, tiers, or, with a pool section, a worker pool.
//
// Invalid configuration (MaxConcurrent or Workers <= 0, negative waits,
// QueueSize < 0) is a *baldur.ConfigError naming the field, returned by the
// constructor. Time is read from Config.Clock, so tests drive waits and
// timeouts with clock.NewFake and never sleep.
package bulkhead
