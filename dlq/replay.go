package dlq

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/idempotency"
)

// ReplayOperation is the operation governance sees for a replay (the kill
// switch scope and the audit record).
const ReplayOperation = "dlq.replay"

// ReplayMinLevel is the emergency level from which replays are blocked.
const ReplayMinLevel baldur.EmergencyLevel = 2

// ErrNoHandler: the entry's domain has no replay handler.
var ErrNoHandler = &dlqError{msg: "dlq: no replay handler for the domain"}

type replayState struct {
	salt    uint64
	holders atomic.Uint64
}

func (q *Queue) initReplay() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	q.replay.salt = binary.LittleEndian.Uint64(b[:])
}

// holder returns a replay's holder token: unique in the process, random
// across processes, never zero.
func (q *Queue) holder() uint64 {
	for {
		if h := q.replay.salt ^ q.replay.holders.Add(1); h != 0 {
			return h
		}
	}
}

func (q *Queue) handler(domain string) Handler {
	if h, ok := q.cfg.Handlers[domain]; ok && h != nil {
		return h
	}
	return q.cfg.Handler
}

// Replay takes the pending entry id (compare-and-set pending → replaying,
// under a lease) and replays it as a guarded call:
//
//  1. governance (CheckAll, emergency level 2 and up blocks, operation
//     "dlq.replay") and the error budget's ReplayAllowed;
//  2. the policy of the entry's operation admits it (throttle, breaker,
//     bulkhead, in the entry's tier), and learns its outcome;
//  3. the domain's handler runs with the key dlq:{id}:{attempt} (through
//     Config.Steps when set, so that it runs once per key fleet-wide).
//
// A block or rejection in 1 or 2, or a *baldur.Rejection from the handler,
// puts the entry back in pending with its attempts unchanged and returns
// an error matching ErrReplayBlocked (and the rejection). A handler error
// counts a failed attempt: the entry goes back to pending, or to
// requires_review at MaxAttempts. Success resolves it. An entry another
// replay holds is ErrConflict.
func (q *Queue) Replay(ctx context.Context, id string) (Entry, error) {
	h := q.holder()
	e, err := q.repo.Move(ctx, Move{ID: id, From: Pending, To: Replaying, Holder: h, Lease: q.lease})
	if err != nil {
		if errors.Is(err, ErrConflict) {
			q.counter(e.Domain).replays[replaySkipped].Add(1)
		}
		return e, err
	}
	return q.replayHeld(ctx, e, h)
}

func (q *Queue) replayHeld(ctx context.Context, e Entry, holder uint64) (Entry, error) {
	c := q.counter(e.Domain)
	back := func(count bool) (Entry, error) {
		return q.repo.Move(context.WithoutCancel(ctx), Move{ID: e.ID, From: Replaying, To: Pending, Holder: holder, Count: count, ReviewAfter: q.cfg.MaxAttempts})
	}
	blocked := func(cause error) (Entry, error) {
		c.replays[replayBlocked].Add(1)
		got, err := back(false)
		if err != nil {
			return got, err
		}
		return got, cause
	}
	h := q.handler(e.Domain)
	if h == nil {
		return blocked(ErrNoHandler)
	}
	res := q.cfg.Governance.CheckAll(ctx, baldur.GovernanceRequest{EmergencyMinLevel: ReplayMinLevel, Operation: ReplayOperation,
		Domain: e.Domain, Tier: e.Tier})
	if !res.Allowed {
		return blocked(fmt.Errorf("%w: governance: %s", ErrReplayBlocked, res.Reason))
	}
	now := q.clock.Now()
	if q.cfg.Budget != nil && !q.cfg.Budget.ReplayAllowed(now) {
		return blocked(fmt.Errorf("%w: error budget", ErrReplayBlocked))
	}
	var t baldur.Ticket
	if q.cfg.Policies != nil {
		if p := q.cfg.Policies.Policy(e.Operation); p != nil {
			var err error
			if t, err = p.Admit(ctx, baldur.Call{Operation: e.Operation, Domain: e.Domain, Tier: e.Tier, Now: now}); err != nil {
				return blocked(fmt.Errorf("%w: %w", ErrReplayBlocked, err))
			}
		}
	}
	key := idempotency.DLQKey(e.ID, e.Attempts+1)
	herr := q.runHandler(ctx, h, e, key)
	if t.Held() {
		t.Release(baldur.Outcome{Result: resultOf(ctx, herr), Latency: q.clock.Now().Sub(now)})
	}
	if rej, ok := baldur.AsRejection(herr); ok {
		return blocked(fmt.Errorf("%w: %w", ErrReplayBlocked, rej))
	}
	if herr != nil && (errors.Is(herr, idempotency.ErrInProgress) || ctx.Err() != nil) {
		// Another holder runs this key, or the replayer itself is going
		// away: nothing was learned about the entry.
		return blocked(herr)
	}
	if herr != nil {
		c.replays[replayFailed].Add(1)
		got, err := back(true)
		if err != nil {
			return got, err
		}
		return got, fmt.Errorf("dlq: replay of %s failed: %w", e.ID, herr)
	}
	got, err := q.repo.Move(context.WithoutCancel(ctx), Move{ID: e.ID, From: Replaying, To: Resolved, Holder: holder})
	if err == nil {
		c.replays[replayResolved].Add(1)
	}
	return got, err
}

// runHandler runs h, once per key through Steps when configured, turning
// a panic into an error. A key Steps completed before is a success (the
// replay ran; only its resolution was lost).
func (q *Queue) runHandler(ctx context.Context, h Handler, e Entry, key string) (err error) {
	run := func(ctx context.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("dlq: replay handler panicked: %v", v)
			}
		}()
		return h(ctx, e, key)
	}
	if q.cfg.Steps == nil {
		return run(ctx)
	}
	_, err = q.cfg.Steps.Do(ctx, ReplayOperation, key, run)
	if errors.Is(err, idempotency.ErrDuplicateKey) {
		return nil
	}
	return err
}

func resultOf(ctx context.Context, err error) baldur.Result {
	switch {
	case err == nil:
		return baldur.Success
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return baldur.Ignored
	}
	if _, ok := baldur.AsRejection(err); ok {
		return baldur.Ignored
	}
	return baldur.Failure
}

// ReplayBatch replays up to n pending entries of domain (every domain when
// empty), oldest first. It stops at the first block (governance, budget
// or the policy: the next entries would be blocked too).
func (q *Queue) ReplayBatch(ctx context.Context, domain string, n int) (BatchResult, error) {
	return q.replayBatch(ctx, Filter{Domain: domain, Statuses: []Status{Pending}, Limit: n}, false)
}

// ReplayGroup replays up to n pending entries of a failure group, oldest
// first; with dryRun it only lists them in BatchResult.IDs.
func (q *Queue) ReplayGroup(ctx context.Context, group string, n int, dryRun bool) (BatchResult, error) {
	return q.replayFiltered(ctx, Filter{Group: group, Statuses: []Status{Pending}, Limit: n}, dryRun)
}

// ReplayDomain is ReplayBatch with a dry run.
func (q *Queue) ReplayDomain(ctx context.Context, domain string, n int, dryRun bool) (BatchResult, error) {
	return q.replayFiltered(ctx, Filter{Domain: domain, Statuses: []Status{Pending}, Limit: n}, dryRun)
}

func (q *Queue) replayFiltered(ctx context.Context, f Filter, dryRun bool) (BatchResult, error) {
	if !dryRun {
		return q.replayBatch(ctx, f, false)
	}
	es, err := q.repo.List(ctx, f)
	if err != nil {
		return BatchResult{}, err
	}
	var r BatchResult
	for _, e := range es {
		r.IDs = append(r.IDs, e.ID)
	}
	return r, nil
}

// ReplayIDs replays the entries with ids; with dryRun it lists those that
// are pending.
func (q *Queue) ReplayIDs(ctx context.Context, ids []string, dryRun bool) (BatchResult, error) {
	var r BatchResult
	for _, id := range ids {
		if dryRun {
			if e, err := q.repo.Get(ctx, id); err == nil && e.Status == Pending {
				r.IDs = append(r.IDs, id)
			}
			continue
		}
		_, err := q.Replay(ctx, id)
		if stop := r.tally(err); stop {
			return r, nil
		}
	}
	return r, nil
}

// tally counts one replay's result and reports whether a batch should
// stop (a block).
func (r *BatchResult) tally(err error) (stop bool) {
	switch {
	case err == nil:
		r.Attempted++
		r.Resolved++
	case errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound):
		r.Skipped++
	case errors.Is(err, ErrReplayBlocked) || errors.Is(err, ErrNoHandler):
		r.Attempted++
		r.Blocked++
		return true
	default:
		r.Attempted++
		r.Failed++
	}
	return false
}

func (q *Queue) replayBatch(ctx context.Context, f Filter, stopOnFailure bool) (BatchResult, error) {
	var r BatchResult
	if f.Limit <= 0 {
		return r, nil
	}
	es, err := q.repo.List(ctx, f)
	if err != nil {
		return r, err
	}
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		h := q.holder()
		got, err := q.repo.Move(ctx, Move{ID: e.ID, From: Pending, To: Replaying, Holder: h, Lease: q.lease})
		if err == nil {
			_, err = q.replayHeld(ctx, got, h)
		} else if errors.Is(err, ErrConflict) {
			q.counter(e.Domain).replays[replaySkipped].Add(1)
		}
		stop := r.tally(err)
		if stop || (stopOnFailure && err != nil && r.Failed > 0) {
			break
		}
	}
	return r, nil
}

// Redrive moves entries from requires_review back to pending with their
// attempts reset (an operator's decision). It returns the IDs moved.
func (q *Queue) Redrive(ctx context.Context, ids []string) ([]string, error) {
	var moved []string
	for _, id := range ids {
		_, err := q.repo.Move(ctx, Move{ID: id, From: RequiresReview, To: Pending, ResetAttempts: true})
		switch {
		case err == nil:
			moved = append(moved, id)
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
		default:
			return moved, err
		}
	}
	return moved, nil
}

// Delete removes entries; it returns how many.
func (q *Queue) Delete(ctx context.Context, ids []string) (int, error) {
	return q.repo.Delete(ctx, ids...)
}

// GroupIDs returns the IDs of up to n entries of a group, in any status.
func (q *Queue) GroupIDs(ctx context.Context, group string, n int) ([]string, error) {
	es, err := q.repo.List(ctx, Filter{Group: group, Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out, nil
}

// Group is one failure fingerprint and its entries.
type Group struct {
	Group, Domain, Operation, FailureType string
	// Error is the message of the group's oldest entry.
	Error    string
	Count    int
	ByStatus [NumStatuses]int
	// First and Last are the capture times of the group's oldest and
	// newest entries.
	First, Last time.Time
}

// Groups aggregates the entries (at most Capacity) by failure group,
// largest first.
func (q *Queue) Groups(ctx context.Context) ([]Group, error) {
	es, err := q.repo.List(ctx, Filter{Limit: q.cfg.Capacity})
	if err != nil {
		return nil, err
	}
	m := map[string]*Group{}
	for _, e := range es {
		g := m[e.Group]
		if g == nil {
			g = &Group{Group: e.Group, Domain: e.Domain, Operation: e.Operation, FailureType: e.FailureType, Error: e.Error, First: e.CreatedAt}
			m[e.Group] = g
		}
		g.Count++
		if e.Status.Valid() {
			g.ByStatus[e.Status]++
		}
		g.Last = e.CreatedAt
	}
	out := make([]Group, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Group < out[j].Group
	})
	return out, nil
}

// Get returns one entry.
func (q *Queue) Get(ctx context.Context, id string) (Entry, error) { return q.repo.Get(ctx, id) }

// List lists entries.
func (q *Queue) List(ctx context.Context, f Filter) ([]Entry, error) { return q.repo.List(ctx, f) }

// Stats implements Service.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	counts, err := q.repo.Counts(ctx)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{ByDomain: map[string]int{}, Capacity: q.cfg.Capacity, DomainCapacity: q.cfg.DomainCapacity,
		AutoReplayArmed: q.auto.armedDomains(), OutboxDepth: len(q.outbox)}
	if q.spill != nil {
		s.Spilled = q.spill.count()
	}
	s.Dropped = q.dropped()
	for d, c := range counts {
		s.ByDomain[d] = c.Total()
		s.Total += c.Total()
		for i, n := range c.ByStatus {
			s.ByStatus[i] += n
		}
		if !c.OldestPending.IsZero() && (s.Oldest.IsZero() || c.OldestPending.Before(s.Oldest)) {
			s.Oldest = c.OldestPending
		}
	}
	return s, nil
}

var _ Service = (*Queue)(nil)
