package dlq

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// Handler replays one entry. key is the replay's idempotency key,
// dlq:{id}:{attempt}, to be sent as Idempotency-Key (HTTPHandler does),
// so that a replay that ran but was not recorded is not applied twice. A
// nil error resolves the entry; an error counts a failed attempt, except
// a *baldur.Rejection (the dependency's own throttle), which puts the
// entry back uncounted.
type Handler func(ctx context.Context, e Entry, key string) error

// Queue is the dead-letter queue: it captures failed calls without
// blocking their callers and replays them as guarded calls. It implements
// Service.
//
// Capture copies the payload, stamps an ID and the time and puts the entry
// in a bounded outbox; it never waits. A writer goroutine masks, caps and
// fingerprints what the outbox holds and hands batches to a store
// goroutine that calls Repository.Add. When that goroutine is still busy
// with an earlier batch (a slow or hung repository) or the repository
// failed, the writer appends the batch to the spill files instead; the
// spill is re-ingested once the repository takes a write again (retried
// every Retry) and at the next start.
//
// Queue is safe for concurrent use. Close it to flush the writer.
type Queue struct {
	cfg      Config
	repo     Repository
	clock    baldur.Clock
	mask     *Masker
	log      *slog.Logger
	expiry   time.Duration
	lease    time.Duration
	prefix   [7]byte
	seq      atomic.Uint64
	outbox   chan *capture
	closed   atomic.Bool
	stop     chan struct{} // ends the writer
	storeEnd chan struct{} // ends the store goroutine, after the writer
	writerWG sync.WaitGroup
	storeWG  sync.WaitGroup

	// store goroutine
	storeCh chan storeJob
	busy    atomic.Bool
	idle    chan struct{} // signalled when the store goroutine goes idle
	abort   chan struct{} // closed when Close's context ends: stop waiting
	healthy atomic.Bool
	retry   atomic.Bool // a retry timer is set
	spill   *spill

	domainIdx map[string]int
	counters  []domainCounters // one per configured domain, then "other"
	outboxMax int
	spilled   atomic.Uint64
	reingest  atomic.Uint64
	storeErrs atomic.Uint64

	replay replayState
	auto   autoState
}

type storeJob struct {
	entries []Entry
	ingest  bool
}

// Drop reasons of the dropped counters.
const (
	dropOverflow = iota
	dropExpired
	dropMask
	dropOutbox
	dropSpill
	numDrops
)

var dropNames = [numDrops]string{"overflow", "expired", "mask_error", "outbox_full", "spill_full"}

// Replay results of the replay counters.
const (
	replayResolved = iota
	replayFailed
	replayBlocked
	replaySkipped
	numReplayResults
)

var replayNames = [numReplayResults]string{"resolved", "failed", "blocked", "skipped"}

type domainCounters struct {
	captured atomic.Uint64
	dropped  [numDrops]atomic.Uint64
	replays  [numReplayResults]atomic.Uint64
	_        [64]byte // keep domains off each other's cache lines
}

// Errors of Capture.
var (
	// ErrOutboxFull: the outbox was full; the entry was dropped (counted
	// outbox_full). The failed call itself is unaffected.
	ErrOutboxFull = &dlqError{msg: "dlq: outbox full, entry dropped"}
	// ErrNoDomain: the entry has no domain.
	ErrNoDomain = &dlqError{msg: "dlq: entry has no domain"}
)

// New returns a running Queue. It opens the spill directory (re-ingesting
// what a previous process left there) and starts the writer.
func New(cfg Config) (*Queue, error) {
	q, err := build(cfg)
	if err != nil {
		return nil, err
	}
	q.start()
	return q, nil
}

func build(cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Repository == nil {
		return nil, &baldur.ConfigError{Field: "Repository", Reason: "is required"}
	}
	d := cfg.withDefaults()
	m, err := NewMasker(d.Mask)
	if err != nil {
		return nil, &baldur.ConfigError{Field: "mask", Reason: err.Error()}
	}
	q := &Queue{cfg: d, repo: d.Repository, clock: d.Clock, mask: m, log: d.Logger, expiry: d.Expiry.D(), lease: d.Lease.D(),
		outbox: make(chan *capture, d.Outbox), stop: make(chan struct{}), storeEnd: make(chan struct{}), storeCh: make(chan storeJob, 1),
		idle: make(chan struct{}, 1), abort: make(chan struct{}),
		domainIdx: map[string]int{}, outboxMax: d.Outbox}
	if q.clock == nil {
		q.clock = baldur.SystemClock()
	}
	if q.log == nil {
		q.log = slog.Default()
	}
	if q.cfg.Governance == nil {
		q.cfg.Governance = baldur.NoOpGovernance{}
	}
	for i, dm := range d.Domains {
		q.domainIdx[dm.Name] = i
	}
	q.counters = make([]domainCounters, len(d.Domains)+1)
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	const b32 = "abcdefghijklmnopqrstuvwxyz234567"
	v := uint64(rnd[0]) | uint64(rnd[1])<<8 | uint64(rnd[2])<<16 | uint64(rnd[3])<<24 | uint64(rnd[4])<<32
	for i := range 6 {
		q.prefix[i] = b32[v&31]
		v >>= 5
	}
	q.prefix[6] = '-'
	if d.SpillDir != "" {
		if q.spill, err = openSpill(d.SpillDir, d.SpillBytes); err != nil {
			return nil, &baldur.ConfigError{Field: "spill_dir", Value: d.SpillDir, Reason: err.Error()}
		}
	}
	q.healthy.Store(true)
	q.initReplay()
	q.initAuto()
	return q, nil
}

func (q *Queue) start() {
	q.storeWG.Add(1)
	go q.storer()
	q.writerWG.Add(1)
	go q.writer()
	if q.spill != nil && q.spill.pending() {
		q.kick()
	}
}

// counter returns the counters of domain ("other" when not configured).
func (q *Queue) counter(domain string) *domainCounters {
	if i, ok := q.domainIdx[domain]; ok {
		return &q.counters[i]
	}
	return &q.counters[len(q.counters)-1]
}

// newID returns a unique entry ID: the queue's random prefix and a
// sequence number, base 36.
func (q *Queue) newID() string {
	var b [7 + 13]byte
	copy(b[:], q.prefix[:])
	return string(strconv.AppendUint(b[:7], q.seq.Add(1), 36))
}

// Capture queues e for storage and returns its ID. It copies the payload
// (so the caller may reuse its buffer), sets ID, status pending and
// CreatedAt, and never blocks: a full outbox drops the entry
// (ErrOutboxFull, counted). Masking, the payload cap, the fingerprint and
// the expiry are the writer's, off the caller's path. Fields a capture
// does not own (Attempts, lease) are cleared. e.Header is kept as given:
// do not modify it afterwards.
func (q *Queue) Capture(ctx context.Context, e Entry) (string, error) {
	if q.closed.Load() {
		return "", ErrClosed
	}
	if e.Domain == "" {
		return "", ErrNoDomain
	}
	c := q.counter(e.Domain)
	box := capturePool.Get().(*capture)
	box.e = e
	x := &box.e
	x.pooled = box
	x.ID = q.newID()
	x.Status, x.Attempts, x.Holder, x.LeaseUntil, x.Group = Pending, 0, 0, time.Time{}, ""
	x.CreatedAt = q.clock.Now()
	x.UpdatedAt = time.Time{}
	q.copyPayload(x)
	id := x.ID
	select {
	case q.outbox <- box:
		c.captured.Add(1)
		return id, nil
	default:
		c.dropped[dropOutbox].Add(1)
		q.release(x)
		return "", ErrOutboxFull
	}
}

// copyPayload copies what the writer needs of the payload: all of it when
// masking applies (masking comes before the cap), else at most
// MaxPayload.
func (q *Queue) copyPayload(e *Entry) {
	p := e.Payload
	e.Payload = nil
	if len(p) == 0 {
		return
	}
	limit := MaxPayload
	if q.mask.Needed() {
		if len(p) > q.cfg.MaxCapture {
			e.PayloadDropped = "too_large"
			return
		}
		limit = len(p)
	}
	if len(p) > limit {
		p = p[:limit]
		e.Truncated = true
	}
	if len(p) > MaxPayload {
		e.Payload = append(make([]byte, 0, len(p)), p...)
		return
	}
	// The common case copies into the capture's own buffer.
	e.Payload = e.pooled.buf[:copy(e.pooled.buf[:], p)]
}

// capture is an entry on its way through the outbox, with the buffer its
// payload is copied into: one pooled object per capture, so that the
// caller's path allocates only the ID.
type capture struct {
	e   Entry
	buf [MaxPayload]byte
}

var capturePool = sync.Pool{New: func() any { return new(capture) }}

// release gives e's capture back to the pool; e.Payload must no longer be
// read.
func (q *Queue) release(e *Entry) {
	if c := e.pooled; c != nil {
		e.pooled = nil
		c.e = Entry{}
		capturePool.Put(c)
	}
}

// own makes e's payload its own (an exact copy), releasing the capture
// buffer, for a repository that keeps it.
func (q *Queue) own(e *Entry) {
	if e.pooled != nil {
		if len(e.Payload) > 0 {
			e.Payload = append([]byte(nil), e.Payload...)
		} else {
			e.Payload = nil
		}
		q.release(e)
	}
}

// prepare masks, caps, fingerprints and dates an entry, on the writer.
func (q *Queue) prepare(e *Entry) {
	if len(e.Payload) > 0 {
		out, ok := q.mask.Apply(e.Payload)
		switch {
		case !ok:
			e.Payload, e.Truncated, e.PayloadDropped = nil, false, "mask_error"
			q.counter(e.Domain).dropped[dropMask].Add(1)
			q.release(e)
		case len(out) > MaxPayload:
			e.Payload, e.Truncated = append([]byte(nil), out[:MaxPayload]...), true
			q.release(e)
		default:
			e.Payload = out
		}
	}
	e.URL = string(q.mask.redactText([]byte(e.URL)))
	e.Group = Fingerprint(e.Domain, e.Operation, e.FailureType, e.Error)
	if q.expiry > 0 {
		e.ExpiresAt = e.CreatedAt.Add(q.expiry)
	}
}

// writer drains the outbox in batches.
func (q *Queue) writer() {
	defer q.writerWG.Done()
	batch := make([]Entry, 0, q.cfg.Batch)
	for {
		select {
		case c := <-q.outbox:
			batch = append(batch[:0], c.e)
		case <-q.stop:
			// Drain what was captured before Close.
			for {
				batch = batch[:0]
				for len(batch) < cap(batch) {
					select {
					case c := <-q.outbox:
						batch = append(batch, c.e)
						continue
					default:
					}
					break
				}
				if len(batch) == 0 {
					return
				}
				q.dispatch(batch)
			}
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case c := <-q.outbox:
				batch = append(batch, c.e)
			default:
				break fill
			}
		}
		q.dispatch(batch)
	}
}

// dispatch prepares a batch and hands it to the store goroutine when it
// is idle and the repository healthy, else spills it.
func (q *Queue) dispatch(batch []Entry) {
	for i := range batch {
		q.prepare(&batch[i])
	}
	if q.healthy.Load() && (q.busy.CompareAndSwap(false, true) || q.spill == nil && q.awaitIdle()) {
		job := storeJob{entries: append([]Entry(nil), batch...)}
		for i := range job.entries {
			q.own(&job.entries[i])
		}
		q.storeCh <- job
		return
	}
	q.spillBatch(batch)
	for i := range batch {
		q.release(&batch[i])
	}
}

// awaitIdle waits, on the writer goroutine, for the store goroutine to
// finish its write and takes it (busy), so that without a spill a burst
// on a healthy repository is written rather than dropped; the callers
// never wait, the outbox absorbs what arrives meanwhile (counted as
// outbox_full past its size). It gives up, false, when the repository
// turned unhealthy or Close's context ended.
func (q *Queue) awaitIdle() bool {
	for {
		select {
		case <-q.idle:
		case <-q.abort:
			return false
		}
		if !q.healthy.Load() {
			return false
		}
		if q.busy.CompareAndSwap(false, true) {
			return true
		}
	}
}

// spillBatch writes entries to the spill (or drops and counts them when
// there is none or it is full) and arms a retry.
func (q *Queue) spillBatch(entries []Entry) {
	n := 0
	if q.spill != nil {
		var err error
		n, err = q.spill.write(entries)
		if err == nil {
			err = q.spill.flush(len(q.outbox) == 0)
		}
		if err != nil {
			q.log.Warn("dlq: spill write failed", slog.String("error", err.Error()))
		}
		q.spilled.Add(uint64(n))
	}
	for i := n; i < len(entries); i++ {
		q.counter(entries[i].Domain).dropped[dropSpill].Add(1)
	}
	q.armRetry()
}

// armRetry sets the retry timer once: when it fires, the store goroutine
// re-ingests the spill (and so probes the repository).
func (q *Queue) armRetry() {
	if q.closed.Load() || !q.retry.CompareAndSwap(false, true) {
		return
	}
	q.clock.AfterFunc(q.cfg.Retry.D(), func() {
		q.retry.Store(false)
		q.kick()
	})
}

// kick asks the store goroutine to re-ingest the spill, if it is idle; a
// busy one re-ingests after its write.
func (q *Queue) kick() {
	if q.spill == nil {
		// Nothing to re-ingest: the next batch probes the repository.
		q.healthy.Store(true)
		return
	}
	if q.busy.CompareAndSwap(false, true) {
		q.storeCh <- storeJob{ingest: true}
		return
	}
	q.armRetry()
}

// storer runs the repository writes, one at a time.
func (q *Queue) storer() {
	defer q.storeWG.Done()
	for {
		select {
		case job := <-q.storeCh:
			q.run(job)
			q.busy.Store(false)
			select {
			case q.idle <- struct{}{}:
			default:
			}
		case <-q.storeEnd:
			// The writer is done: run the job it may have handed last.
			select {
			case job := <-q.storeCh:
				q.run(job)
				q.busy.Store(false)
			default:
			}
			return
		}
	}
}

func (q *Queue) run(job storeJob) {
	if !job.ingest {
		if err := q.add(job.entries); err != nil {
			q.healthy.Store(false)
			q.spillBatch(job.entries)
			return
		}
	}
	if q.spill != nil && q.spill.pending() {
		if err := q.ingest(); err != nil {
			q.healthy.Store(false)
			q.armRetry()
			return
		}
	}
	q.healthy.Store(true)
}

// add stores entries and counts what the repository dropped.
func (q *Queue) add(entries []Entry) error {
	res, err := q.repo.Add(context.Background(), entries)
	if err != nil {
		q.storeErrs.Add(1)
		q.log.Warn("dlq: repository write failed; spilling", slog.Int("entries", len(entries)), slog.String("error", err.Error()))
		return err
	}
	for i, s := range res.Status {
		switch s {
		case Rejected:
			q.counter(entries[i].Domain).dropped[dropOverflow].Add(1)
		case Stale:
			q.counter(entries[i].Domain).dropped[dropExpired].Add(1)
		}
	}
	for d, n := range res.Evicted {
		q.counter(d).dropped[dropOverflow].Add(uint64(n))
	}
	for d, n := range res.Expired {
		q.counter(d).dropped[dropExpired].Add(uint64(n))
	}
	return nil
}

// ingest seals the current spill segment and adds every sealed segment,
// oldest first, deleting each once the repository took all of it.
func (q *Queue) ingest() error {
	if err := q.spill.seal(); err != nil {
		return err
	}
	for {
		seq, entries, bad, ok, err := q.spill.oldest()
		if !ok || err != nil {
			return err
		}
		if bad > 0 {
			q.log.Warn("dlq: spill segment has damaged records", slog.Uint64("segment", seq), slog.Int("records", bad))
		}
		for i := 0; i < len(entries); i += q.cfg.Batch {
			if err := q.add(entries[i:min(i+q.cfg.Batch, len(entries))]); err != nil {
				return err
			}
		}
		if err := q.spill.done(seq, len(entries)); err != nil {
			return err
		}
		q.reingest.Add(uint64(len(entries)))
	}
}

// ErrBusy: the store goroutine is writing; try again.
var ErrBusy = &dlqError{msg: "dlq: store busy"}

// Reingest re-ingests the spill now, on the caller's goroutine, when the
// store goroutine is idle (ErrBusy otherwise); the retry timer does the
// same every Retry while the repository is down. It returns the first
// repository error, with what was not taken left in the spill.
func (q *Queue) Reingest(ctx context.Context) error {
	if q.spill == nil {
		return nil
	}
	if !q.busy.CompareAndSwap(false, true) {
		return ErrBusy
	}
	defer q.busy.Store(false)
	if err := q.ingest(); err != nil {
		q.healthy.Store(false)
		q.armRetry()
		return err
	}
	q.healthy.Store(true)
	return ctx.Err()
}

// SpillDir returns the spill directory ("" without one).
func (q *Queue) SpillDir() string { return q.cfg.SpillDir }

// Close stops capturing, drains the outbox (to the repository when it is
// idle, else to the spill), and seals the spill. It waits for a write in
// flight until ctx ends; a hung write is abandoned (its batch was handed to
// the repository and is not spilled).
func (q *Queue) Close(ctx context.Context) error {
	if !q.closed.CompareAndSwap(false, true) {
		return nil
	}
	q.auto.stopAll()
	close(q.stop)
	var err error
	written := make(chan struct{})
	go func() { q.writerWG.Wait(); close(written) }()
	select {
	case <-written:
	case <-ctx.Done():
		// A writer waiting for a hung repository drops what it holds
		// (counted) and ends.
		err = ctx.Err()
		close(q.abort)
		<-written
	}
	close(q.storeEnd)
	done := make(chan struct{})
	go func() { q.storeWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if q.spill != nil {
		if serr := q.spill.close(); err == nil {
			err = serr
		}
	}
	return err
}
