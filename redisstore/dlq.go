package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/dlq"
)

var (
	//go:embed dlq_common.lua
	dlqCommonSource string
	//go:embed dlq_add.lua
	dlqAddSource string
	//go:embed dlq_move.lua
	dlqMoveSource string
	//go:embed dlq_delete.lua
	dlqDeleteSource string
	//go:embed dlq_counts.lua
	dlqCountsSource string
)

// The scripts of DLQ. Pass DLQScripts in Config.Scripts (or to OnConnect)
// to have them loaded before the first call.
var (
	DLQAddScript    = NewScript(dlqCommonSource + dlqAddSource)
	DLQMoveScript   = NewScript(dlqCommonSource + dlqMoveSource)
	DLQDeleteScript = NewScript(dlqCommonSource + dlqDeleteSource)
	DLQCountsScript = NewScript(dlqCommonSource + dlqCountsSource)
	DLQScripts      = []*Script{DLQAddScript, DLQMoveScript, DLQDeleteScript, DLQCountsScript}
)

// DLQConfig configures a DLQ repository.
type DLQConfig struct {
	// Prefix starts the repository's keys. Empty means DefaultPrefix.
	Prefix string
	// Limits bounds the entries (dlq.Config.Limits gives them).
	Limits dlq.Limits
	// Clock dates status changes and leases and decides expiry (the
	// logical expiry is the entries' ExpiresAt on this clock; key TTLs an
	// hour past it are only a safety net). Nil means baldur.SystemClock().
	Clock baldur.Clock
	// Server is checked by NewDLQ. Leave AllowEviction false: an evicted
	// entry is a failed call lost.
	Server ServerPolicy
}

// DLQ is a dlq.Repository on one Redis primary: one hash per entry
// (<prefix>dlq:e:<id>: the stored record plus the fields a status change
// touches), one sorted set per domain and status scored by capture time
// (the domain's ring), one sorted set of every entry scored by expiry, and
// the set of domains. Its keys are built inside the scripts, so it needs
// one primary (not Redis Cluster).
//
// Round trips: Add is one script per batch (expiry on write: it first
// drops up to 1000 expired entries; capacity: it evicts the domain's or
// the queue's oldest, or rejects); Move (a status change) is one script,
// a compare-and-set on status, holder and lease that counts attempts and
// moves the sorted-set membership; Get one HMGET; Delete and Counts one
// script each; List one or two pipelines. Every call is under the guard
// "dlq" (ClassControl deadline, the breaker on Redis).
//
// Fail mode: an unreachable Redis is an error matching ErrUnavailable. The
// dlq.Queue in front of it spills captures to disk and re-ingests them when
// Redis answers again (nothing lost, no caller error); replays and admin
// calls fail.
//
// DLQ is safe for concurrent use.
type DLQ struct {
	guard  *Guard
	prefix string
	lim    dlq.Limits
	clock  baldur.Clock
}

var _ dlq.Repository = (*DLQ)(nil)

// NewDLQ returns a DLQ repository on b, after checking the server (an
// evicting maxmemory-policy is a *baldur.ConfigError).
func NewDLQ(ctx context.Context, b *Backend, cfg DLQConfig) (*DLQ, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if _, err := b.CheckServer(ctx, cfg.Server); err != nil {
		return nil, err
	}
	r := &DLQ{guard: b.Guard("dlq", ClassControl), prefix: cfg.Prefix, lim: cfg.Limits, clock: cfg.Clock}
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	r.prefix += "dlq:"
	if r.lim.Capacity <= 0 {
		r.lim.Capacity = dlq.DefaultCapacity
	}
	if r.lim.DomainCapacity <= 0 {
		r.lim.DomainCapacity = min(dlq.DefaultDomainCapacity, r.lim.Capacity)
	}
	if r.clock == nil {
		r.clock = baldur.SystemClock()
	}
	return r, nil
}

// Guard returns the repository's guard (its counters are the round trips).
func (r *DLQ) Guard() *Guard { return r.guard }

// EntryKey returns the Redis key of the entry id.
func (r *DLQ) EntryKey(id string) string { return r.prefix + "e:" + id }

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func usArg(t time.Time) string { return strconv.FormatInt(us(t), 10) }

// validID checks an entry ID: 1..64 bytes of [0-9a-zA-Z._-], so that it is
// one key part.
func validID(id string) error {
	if dlq.ValidDomain(id) != nil {
		return fmt.Errorf("%w: invalid entry id %q", dlq.ErrMalformed, id)
	}
	return nil
}

// Add implements dlq.Repository.
func (r *DLQ) Add(ctx context.Context, entries []dlq.Entry) (dlq.AddResult, error) {
	res := dlq.AddResult{Status: make([]dlq.AddStatus, len(entries)), Evicted: map[string]int{}, Expired: map[string]int{}}
	if len(entries) == 0 {
		return res, nil
	}
	now := r.clock.Now()
	reject := "0"
	if r.lim.Overflow == dlq.Reject {
		reject = "1"
	}
	args := make([]any, 0, 5+9*len(entries))
	args = append(args, r.prefix, usArg(now), strconv.Itoa(r.lim.Capacity), reject, strconv.Itoa(len(entries)))
	for i := range entries {
		e := &entries[i]
		if err := validID(e.ID); err != nil {
			return dlq.AddResult{}, err
		}
		if err := dlq.ValidDomain(e.Domain); err != nil {
			return dlq.AddResult{}, fmt.Errorf("%w: invalid domain %q", dlq.ErrMalformed, e.Domain)
		}
		ttl := int64(0)
		if !e.ExpiresAt.IsZero() {
			ttl = max(e.ExpiresAt.Sub(now).Milliseconds(), 0) + time.Hour.Milliseconds()
		}
		args = append(args, e.ID, e.Domain, strconv.Itoa(r.lim.DomainCap(e.Domain)), usArg(e.CreatedAt), usArg(e.ExpiresAt),
			strconv.Itoa(int(e.Status)), strconv.Itoa(e.Attempts), string(dlq.AppendEntry(nil, e)), strconv.FormatInt(ttl, 10))
	}
	v, err := r.guard.Run(ctx, DLQAddScript, nil, args...)
	if err != nil {
		return dlq.AddResult{}, err
	}
	out, ok := v.([]any)
	if !ok || len(out) != 3 {
		return dlq.AddResult{}, fmt.Errorf("%w: add reply %T", ErrMalformed, v)
	}
	sts, _ := out[0].([]any)
	if len(sts) != len(entries) {
		return dlq.AddResult{}, fmt.Errorf("%w: add reply has %d statuses for %d entries", ErrMalformed, len(sts), len(entries))
	}
	for i, s := range sts {
		n, _ := s.(int64)
		res.Status[i] = dlq.AddStatus(n)
	}
	for j, m := range []map[string]int{res.Evicted, res.Expired} {
		ds, _ := out[j+1].([]any)
		for _, d := range ds {
			if s, ok := d.(string); ok {
				m[s]++
			}
		}
	}
	return res, nil
}

// decode builds an entry from the fields r, s, a, h, l, u.
func decode(f []any) (dlq.Entry, error) {
	if len(f) < 6 {
		return dlq.Entry{}, dlq.ErrMalformed
	}
	str := func(i int) string { s, _ := f[i].(string); return s }
	e, err := dlq.DecodeEntry([]byte(str(0)))
	if err != nil {
		return dlq.Entry{}, err
	}
	s, err1 := strconv.Atoi(str(1))
	a, err2 := strconv.Atoi(str(2))
	h, err3 := strconv.ParseUint(str(3), 10, 64)
	l, err4 := strconv.ParseInt(str(4), 10, 64)
	u, err5 := strconv.ParseInt(str(5), 10, 64)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil || !dlq.Status(s).Valid() || a < 0 {
		return dlq.Entry{}, dlq.ErrMalformed
	}
	e.Status, e.Attempts, e.Holder = dlq.Status(s), a, h
	e.LeaseUntil, e.UpdatedAt = time.Time{}, time.Time{}
	if l > 0 {
		e.LeaseUntil = time.UnixMicro(l).UTC()
	}
	if u > 0 {
		e.UpdatedAt = time.UnixMicro(u).UTC()
	}
	return e, nil
}

var entryFields = []string{"r", "s", "a", "h", "l", "u"}

// Get implements dlq.Repository.
func (r *DLQ) Get(ctx context.Context, id string) (dlq.Entry, error) {
	if validID(id) != nil {
		return dlq.Entry{}, dlq.ErrNotFound
	}
	var f []any
	err := r.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		f, err = c.HMGet(ctx, r.EntryKey(id), entryFields...).Result()
		return err
	})
	if err != nil {
		return dlq.Entry{}, err
	}
	if len(f) == 0 || f[0] == nil {
		return dlq.Entry{}, dlq.ErrNotFound
	}
	e, err := decode(f)
	if err != nil {
		return dlq.Entry{}, err
	}
	if e.Expired(r.clock.Now()) {
		return dlq.Entry{}, dlq.ErrNotFound
	}
	return e, nil
}

// Move implements dlq.Repository: one script, one round trip.
func (r *DLQ) Move(ctx context.Context, m dlq.Move) (dlq.Entry, error) {
	if validID(m.ID) != nil {
		return dlq.Entry{}, dlq.ErrNotFound
	}
	if !m.From.Valid() || !m.To.Valid() {
		return dlq.Entry{}, dlq.ErrConflict
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	v, err := r.guard.Run(ctx, DLQMoveScript, nil, r.prefix, m.ID, strconv.Itoa(int(m.From)), strconv.Itoa(int(m.To)),
		strconv.FormatUint(m.Holder, 10), strconv.FormatInt(m.Lease.Microseconds(), 10), b(m.Expired), b(m.Count),
		strconv.Itoa(m.ReviewAfter), b(m.ResetAttempts), usArg(r.clock.Now()))
	if err != nil {
		return dlq.Entry{}, err
	}
	out, ok := v.([]any)
	if !ok || len(out) == 0 {
		return dlq.Entry{}, fmt.Errorf("%w: move reply %T", ErrMalformed, v)
	}
	code, _ := out[0].(int64)
	if code == 0 {
		return dlq.Entry{}, dlq.ErrNotFound
	}
	e, err := decode(out[1:])
	if err != nil {
		return dlq.Entry{}, err
	}
	if code == 1 {
		return e, dlq.ErrConflict
	}
	return e, nil
}

// Delete implements dlq.Repository.
func (r *DLQ) Delete(ctx context.Context, ids ...string) (int, error) {
	args := []any{r.prefix}
	for _, id := range ids {
		if validID(id) == nil {
			args = append(args, id)
		}
	}
	if len(args) == 1 {
		return 0, nil
	}
	v, err := r.guard.Run(ctx, DLQDeleteScript, nil, args...)
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return int(n), nil
}

// Counts implements dlq.Repository.
func (r *DLQ) Counts(ctx context.Context) (map[string]dlq.Counts, error) {
	v, err := r.guard.Run(ctx, DLQCountsScript, nil, r.prefix, usArg(r.clock.Now()))
	if err != nil {
		return nil, err
	}
	flat, _ := v.([]any)
	if len(flat)%6 != 0 {
		return nil, fmt.Errorf("%w: counts reply of %d values", ErrMalformed, len(flat))
	}
	out := make(map[string]dlq.Counts, len(flat)/6)
	for i := 0; i < len(flat); i += 6 {
		d, _ := flat[i].(string)
		var c dlq.Counts
		for s := range dlq.NumStatuses {
			n, _ := flat[i+1+s].(int64)
			c.ByStatus[s] = int(n)
		}
		if o, _ := flat[i+5].(string); o != "" {
			if f, err := strconv.ParseFloat(o, 64); err == nil {
				c.OldestPending = time.UnixMicro(int64(f)).UTC()
			}
		}
		out[d] = c
	}
	return out, nil
}

type scored struct {
	id    string
	score float64
}

// List implements dlq.Repository: a pipeline of the selected sorted sets,
// then pipelines of the entries until the page is full.
func (r *DLQ) List(ctx context.Context, f dlq.Filter) ([]dlq.Entry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = dlq.DefaultListLimit
	}
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []dlq.Status{dlq.Pending, dlq.Replaying, dlq.Resolved, dlq.RequiresReview}
	}
	var domains []string
	if f.Domain != "" {
		if dlq.ValidDomain(f.Domain) != nil {
			return nil, nil
		}
		domains = []string{f.Domain}
	} else if err := r.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		domains, err = c.SMembers(ctx, r.prefix+"domains").Result()
		return err
	}); err != nil {
		return nil, err
	}
	// One sorted set from its head (a batch replay's page): read only the
	// page, not the whole set.
	head := len(domains) == 1 && len(statuses) == 1 && f.After == "" && f.Group == ""
	var cands []scored
	var afterScore float64
	haveAfter := false
	err := r.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		if head {
			if !statuses[0].Valid() {
				return nil
			}
			zs, err := c.ZRangeWithScores(ctx, r.prefix+"z:"+domains[0]+":"+strconv.Itoa(int(statuses[0])), 0, int64(limit-1)).Result()
			for _, z := range zs {
				id, _ := z.Member.(string)
				cands = append(cands, scored{id, z.Score})
			}
			return err
		}
		p := c.Pipeline()
		var cmds []*redis.ZSliceCmd
		for _, d := range domains {
			for _, s := range statuses {
				if s.Valid() {
					cmds = append(cmds, p.ZRangeWithScores(ctx, r.prefix+"z:"+d+":"+strconv.Itoa(int(s)), 0, -1))
				}
			}
		}
		var after *redis.StringCmd
		if f.After != "" && validID(f.After) == nil {
			after = p.HGet(ctx, r.EntryKey(f.After), "c")
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, cmd := range cmds {
			for _, z := range cmd.Val() {
				id, _ := z.Member.(string)
				cands = append(cands, scored{id, z.Score})
			}
		}
		if after != nil && after.Err() == nil {
			afterScore, _ = strconv.ParseFloat(after.Val(), 64)
			haveAfter = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.After != "" && !haveAfter {
		return nil, dlq.ErrNotFound
	}
	slices.SortFunc(cands, func(a, b scored) int {
		if a.score != b.score {
			if a.score < b.score {
				return -1
			}
			return 1
		}
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	if haveAfter {
		i := 0
		for i < len(cands) && (cands[i].score < afterScore || cands[i].score == afterScore && cands[i].id <= f.After) {
			i++
		}
		cands = cands[i:]
	}
	now := r.clock.Now()
	var out []dlq.Entry
	for len(cands) > 0 && len(out) < limit {
		chunk := cands[:min(len(cands), max(2*(limit-len(out)), 16), 1000)]
		cands = cands[len(chunk):]
		var cmds []*redis.SliceCmd
		err := r.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
			p := c.Pipeline()
			cmds = cmds[:0]
			for _, s := range chunk {
				cmds = append(cmds, p.HMGet(ctx, r.EntryKey(s.id), entryFields...))
			}
			_, err := p.Exec(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, cmd := range cmds {
			fs := cmd.Val()
			if len(fs) == 0 || fs[0] == nil {
				continue // expired by its key TTL
			}
			e, err := decode(fs)
			if err != nil || e.Expired(now) || (f.Group != "" && e.Group != f.Group) {
				continue
			}
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
