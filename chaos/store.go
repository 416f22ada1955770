package chaos

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Errors of a Store's Put.
var (
	// ErrKilled: the store's generation moved past the caller's: a kill-all
	// happened, and the experiment must stop.
	ErrKilled = errors.New("chaos: active set killed since this experiment started")
	// ErrGone: a refresh found no entry: it was removed (stopped from
	// another replica) or its lease ran out. The experiment must stop.
	ErrGone = errors.New("chaos: experiment no longer in the active set")
)

// Store is the fleet-wide active set: one entry per running experiment,
// each a lease its owner refreshes. An entry whose lease runs out is gone,
// so an owner that dies, hangs or loses the store stops its experiment
// everywhere within one lease; KillAll empties the set and moves the
// generation, so no owner can put its entry back. The cooldown's last-run
// times live here too, so every replica's guard sees them.
//
// Implementations must be safe for concurrent use.
type Store interface {
	// Put writes e with a lease under generation gen. create adds an
	// absent entry; otherwise Put only refreshes one that exists and
	// returns ErrGone when there is none. A generation other than the
	// store's returns ErrKilled.
	Put(ctx context.Context, gen uint64, e Entry, lease time.Duration, create bool) error
	// Remove deletes id's entry; removing an absent one is no error.
	Remove(ctx context.Context, id string) error
	// Load returns the generation and the entries whose lease holds.
	Load(ctx context.Context) (gen uint64, entries []Entry, err error)
	// KillAll deletes every entry and moves the generation; it returns how
	// many entries it deleted and the new generation.
	KillAll(ctx context.Context) (removed int, gen uint64, err error)
	// LastRun returns when an experiment last started on service; zero
	// when never (or longer ago than the store keeps).
	LastRun(ctx context.Context, service string) (time.Time, error)
	// MarkRun records that an experiment started on service at t, kept
	// for keep.
	MarkRun(ctx context.Context, service string, t time.Time, keep time.Duration) error
}

// Memory is a Store for one process, with leases on its clock. Safe for
// concurrent use.
type Memory struct {
	clock   baldur.Clock
	mu      sync.Mutex
	gen     uint64
	entries map[string]memEntry
	runs    map[string]memRun
}

type memEntry struct {
	e       Entry
	expires time.Time
}

type memRun struct{ at, until time.Time }

// NewMemory returns an empty Memory store; nil clock means
// baldur.SystemClock().
func NewMemory(clock baldur.Clock) *Memory {
	if clock == nil {
		clock = baldur.SystemClock()
	}
	return &Memory{clock: clock, gen: 1, entries: map[string]memEntry{}, runs: map[string]memRun{}}
}

var _ Store = (*Memory)(nil)

// expire drops dead leases; mu is held.
func (m *Memory) expire(now time.Time) {
	for id, me := range m.entries {
		if !now.Before(me.expires) {
			delete(m.entries, id)
		}
	}
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, gen uint64, e Entry, lease time.Duration, create bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	if gen != m.gen {
		return ErrKilled
	}
	if _, ok := m.entries[e.Experiment.ID]; !ok && !create {
		return ErrGone
	}
	m.entries[e.Experiment.ID] = memEntry{e: e, expires: now.Add(lease)}
	return nil
}

// Remove implements Store.
func (m *Memory) Remove(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.entries, id)
	m.mu.Unlock()
	return nil
}

// Load implements Store.
func (m *Memory) Load(ctx context.Context) (uint64, []Entry, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	out := make([]Entry, 0, len(m.entries))
	for _, me := range m.entries {
		out = append(out, me.e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Experiment.ID < out[j].Experiment.ID })
	return m.gen, out, nil
}

// KillAll implements Store.
func (m *Memory) KillAll(ctx context.Context) (int, uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	n := len(m.entries)
	clear(m.entries)
	m.gen++
	return n, m.gen, nil
}

// LastRun implements Store.
func (m *Memory) LastRun(ctx context.Context, service string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[service]
	if !ok || !now.Before(r.until) {
		return time.Time{}, nil
	}
	return r.at, nil
}

// MarkRun implements Store.
func (m *Memory) MarkRun(ctx context.Context, service string, t time.Time, keep time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for s, r := range m.runs {
		if !t.Before(r.until) {
			delete(m.runs, s)
		}
	}
	m.runs[service] = memRun{at: t, until: t.Add(keep)}
	return nil
}
