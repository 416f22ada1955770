package dlq

import (
	"context"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// MemoryConfig configures a Memory repository.
type MemoryConfig struct {
	// Limits bounds the entries (Config.Limits gives them from a Config).
	Limits Limits
	// Clock dates status changes and decides expiry. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock
}

// Memory is a Repository in the process's memory: per domain, one list per
// status ordered by capture time (the domain's ring: drop_oldest evicts the
// oldest head), and one list of all entries ordered by expiry (expired
// entries are dropped from its head on every write). Entries are lost with
// the process; use it for one replica, in tests, and as the model of the
// Redis repository (both pass dlq/dlqtest).
//
// The entries it returns share their Payload and Header with the stored
// entry: do not modify them. Memory is safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	lim     Limits
	clock   baldur.Clock
	byID    map[string]*node
	all     dlist // by ExpiresAt (zero last), then insertion
	domains map[string]*domainLists
}

// node is one entry, linked into two lists: its domain's list of its
// status, in capture order, and the expiry list of all entries.
type node struct {
	e    Entry
	link [2]links // by list kind: byCapture, byExpiry
}

type links struct{ prev, next *node }

// The kinds of list a node is in; a dlist's zero kind is byCapture.
const (
	byCapture = iota
	byExpiry
)

type dlist struct {
	head, tail *node
	n          int
	kind       int // which of a node's links this list uses
}

type domainLists struct {
	st [NumStatuses]dlist
	n  int
}

var _ Repository = (*Memory)(nil)

// NewMemory returns an empty Memory repository.
func NewMemory(cfg MemoryConfig) *Memory {
	m := &Memory{lim: cfg.Limits.withDefaults(), clock: cfg.Clock, byID: map[string]*node{}, domains: map[string]*domainLists{},
		all: dlist{kind: byExpiry}}
	if m.clock == nil {
		m.clock = baldur.SystemClock()
	}
	return m
}

func expiresBefore(a, b *Entry) bool {
	if a.ExpiresAt.IsZero() {
		return false
	}
	return b.ExpiresAt.IsZero() || a.ExpiresAt.Before(b.ExpiresAt)
}

// insertAll links n into the expiry list, walking from the tail (captures
// mostly arrive in order).
func (m *Memory) insertAll(n *node) {
	at := m.all.tail
	for at != nil && expiresBefore(&n.e, &at.e) {
		at = at.link[byExpiry].prev
	}
	m.all.linkAfter(at, n)
}

func createdBefore(a, b *Entry) bool {
	return a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID
}

// insert links n in capture order. It walks from both ends at once: new
// captures land at the tail, reclaimed and retried entries (the oldest,
// which replays take first) near the head, so either walk is short.
func (l *dlist) insert(n *node) {
	var at *node // n goes after at; nil: at the head
	for back, fwd := l.tail, l.head; ; back, fwd = back.link[byCapture].prev, fwd.link[byCapture].next {
		if back == nil || !createdBefore(&n.e, &back.e) {
			at = back
			break
		}
		if createdBefore(&n.e, &fwd.e) {
			at = fwd.link[byCapture].prev
			break
		}
	}
	l.linkAfter(at, n)
}

// linkAfter links n into l after at (nil: at the head).
func (l *dlist) linkAfter(at, n *node) {
	k := l.kind
	n.link[k].prev = at
	if at == nil {
		n.link[k].next = l.head
		l.head = n
	} else {
		n.link[k].next = at.link[k].next
		at.link[k].next = n
	}
	if nx := n.link[k].next; nx == nil {
		l.tail = n
	} else {
		nx.link[k].prev = n
	}
	l.n++
}

// remove unlinks n from l.
func (l *dlist) remove(n *node) {
	k := l.kind
	prev, next := n.link[k].prev, n.link[k].next
	if prev == nil {
		l.head = next
	} else {
		prev.link[k].next = next
	}
	if next == nil {
		l.tail = prev
	} else {
		next.link[k].prev = prev
	}
	n.link[k] = links{}
	l.n--
}

func (m *Memory) link(n *node) {
	d := m.domains[n.e.Domain]
	if d == nil {
		d = &domainLists{}
		m.domains[n.e.Domain] = d
	}
	d.st[n.e.Status].insert(n)
	d.n++
	m.insertAll(n)
	m.byID[n.e.ID] = n
}

func (m *Memory) unlink(n *node) {
	d := m.domains[n.e.Domain]
	d.st[n.e.Status].remove(n)
	d.n--
	if d.n == 0 {
		delete(m.domains, n.e.Domain)
	}
	m.all.remove(n)
	delete(m.byID, n.e.ID)
}

// purge drops the expired entries at the head of the expiry list.
func (m *Memory) purge(now time.Time, expired map[string]int) {
	for h := m.all.head; h != nil && h.e.Expired(now); h = m.all.head {
		m.unlink(h)
		if expired != nil {
			expired[h.e.Domain]++
		}
	}
}

// oldest returns the domain's entry captured first.
func (d *domainLists) oldest() *node {
	var o *node
	for i := range d.st {
		if h := d.st[i].head; h != nil && (o == nil || createdBefore(&h.e, &o.e)) {
			o = h
		}
	}
	return o
}

// Add implements Repository.
func (m *Memory) Add(ctx context.Context, entries []Entry) (AddResult, error) {
	if err := ctx.Err(); err != nil {
		return AddResult{}, err
	}
	now := m.clock.Now()
	res := AddResult{Status: make([]AddStatus, len(entries)), Evicted: map[string]int{}, Expired: map[string]int{}}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purge(now, res.Expired)
	for i := range entries {
		e := &entries[i]
		if _, ok := m.byID[e.ID]; ok {
			res.Status[i] = Duplicate
			continue
		}
		if e.Expired(now) {
			res.Status[i] = Stale
			continue
		}
		if d := m.domains[e.Domain]; d != nil && d.n >= m.lim.DomainCap(e.Domain) {
			if m.lim.Overflow == Reject {
				res.Status[i] = Rejected
				continue
			}
			o := d.oldest()
			m.unlink(o)
			res.Evicted[o.e.Domain]++
		}
		if m.all.n >= m.lim.Capacity {
			if m.lim.Overflow == Reject {
				res.Status[i] = Rejected
				continue
			}
			o := m.all.head
			m.unlink(o)
			res.Evicted[o.e.Domain]++
		}
		n := &node{e: *e}
		if n.e.UpdatedAt.IsZero() {
			n.e.UpdatedAt = now
		}
		m.link(n)
	}
	return res, nil
}

// Get implements Repository.
func (m *Memory) Get(ctx context.Context, id string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.byID[id]
	if !ok || n.e.Expired(now) {
		return Entry{}, ErrNotFound
	}
	return n.e, nil
}

// List implements Repository.
func (m *Memory) List(ctx context.Context, f Filter) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var after *Entry
	if f.After != "" {
		n, ok := m.byID[f.After]
		if !ok {
			return nil, ErrNotFound
		}
		after = &n.e
	}
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []Status{Pending, Replaying, Resolved, RequiresReview}
	}
	keep := func(e *Entry) bool {
		return !e.Expired(now) && (f.Group == "" || e.Group == f.Group) && (after == nil || createdBefore(after, e))
	}
	var out []Entry
	if f.Domain != "" && len(statuses) == 1 {
		// One ordered list: walk it and stop at the limit.
		d := m.domains[f.Domain]
		if d == nil || !statuses[0].Valid() {
			return nil, nil
		}
		for n := d.st[statuses[0]].head; n != nil && len(out) < limit; n = n.link[byCapture].next {
			if keep(&n.e) {
				out = append(out, n.e)
			}
		}
		return out, nil
	}
	// Every (domain, status) list is ordered by capture: merge them,
	// taking the oldest head each step, and stop at the limit, so that a
	// page costs the entries it returns (plus those filtered out), not
	// every entry of the listed statuses.
	var heads nodeHeap
	for name, d := range m.domains {
		if f.Domain != "" && name != f.Domain {
			continue
		}
		for _, s := range statuses {
			if s.Valid() && d.st[s].head != nil {
				heads = append(heads, d.st[s].head)
			}
		}
	}
	heads.init()
	for len(heads) > 0 && len(out) < limit {
		n := heads[0]
		if keep(&n.e) {
			out = append(out, n.e)
		}
		heads.next()
	}
	return out, nil
}

// nodeHeap is a min-heap of list nodes by capture order: the heads of the
// lists a List merges.
type nodeHeap []*node

func (h nodeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// next replaces the top with its successor in its list (or drops it at
// the list's end) and restores the heap.
func (h *nodeHeap) next() {
	if s := (*h)[0].link[byCapture].next; s != nil {
		(*h)[0] = s
	} else {
		last := len(*h) - 1
		(*h)[0] = (*h)[last]
		*h = (*h)[:last]
	}
	h.down(0)
}

func (h nodeHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && createdBefore(&h[r].e, &h[l].e) {
			m = r
		}
		if !createdBefore(&h[m].e, &h[i].e) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// Move implements Repository.
func (m *Memory) Move(ctx context.Context, mv Move) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if !mv.From.Valid() || !mv.To.Valid() {
		return Entry{}, ErrConflict
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.byID[mv.ID]
	if !ok || n.e.Expired(now) {
		return Entry{}, ErrNotFound
	}
	e := &n.e
	if e.Status != mv.From {
		return *e, ErrConflict
	}
	if mv.From == Replaying {
		if mv.Expired {
			if now.Before(e.LeaseUntil) {
				return *e, ErrConflict
			}
		} else if mv.Holder != 0 && e.Holder != mv.Holder {
			return *e, ErrConflict
		}
	}
	to := mv.To
	att := e.Attempts
	if mv.ResetAttempts {
		att = 0
	}
	if mv.Count {
		att++
		if mv.ReviewAfter > 0 && att >= mv.ReviewAfter {
			to = RequiresReview
		}
	}
	d := m.domains[e.Domain]
	d.st[e.Status].remove(n)
	e.Status, e.Attempts, e.UpdatedAt = to, att, now
	if to == Replaying {
		e.Holder, e.LeaseUntil = mv.Holder, now.Add(mv.Lease)
	} else {
		e.Holder, e.LeaseUntil = 0, time.Time{}
	}
	d.st[to].insert(n)
	return *e, nil
}

// Delete implements Repository.
func (m *Memory) Delete(ctx context.Context, ids ...string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := 0
	for _, id := range ids {
		if n, ok := m.byID[id]; ok {
			m.unlink(n)
			k++
		}
	}
	return k, nil
}

// Counts implements Repository.
func (m *Memory) Counts(ctx context.Context) (map[string]Counts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purge(now, nil)
	out := make(map[string]Counts, len(m.domains))
	for name, d := range m.domains {
		var c Counts
		for s := range d.st {
			c.ByStatus[s] = d.st[s].n
		}
		if h := d.st[Pending].head; h != nil {
			c.OldestPending = h.e.CreatedAt
		}
		out[name] = c
	}
	return out, nil
}
