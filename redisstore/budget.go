package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
)

//go:embed budget.lua
var budgetSource string

// BudgetScript is the script FleetBudget runs. Pass it in Config.Scripts (or
// to OnConnect) to have it loaded before the first sync.
var BudgetScript = NewScript(budgetSource)

// Defaults of FleetBudgetConfig.
const (
	DefaultBudgetFlushInterval = time.Second
	DefaultBudgetStaleAfter    = 5 * time.Second
	DefaultBudgetMaxBatch      = 1024
	DefaultBudgetKeySlack      = time.Hour
	// MaxBudgetMaxBatch bounds MaxBatch: one sync's script runs on Redis'
	// single thread for about 3 µs per bucket written or read.
	MaxBudgetMaxBatch = 8192
)

// scanLag is how many buckets before the current one a scan re-reads:
// records a little late (a call released after its bucket turned) land
// there. Later records are missed by the fleet, as the governance Budget's
// running sums miss them (its sealLag).
const scanLag = 2

// FleetBudgetConfig configures a FleetBudget.
type FleetBudgetConfig struct {
	// Service names the SLO: every replica of the service shares its
	// counts under keys named after it. Required; no braces (the keys'
	// hash tag).
	Service string
	// ReplicaID names this replica (the fleet section's replica id, a pod
	// name). Required. A random incarnation is appended, so a restarted
	// process never overwrites the counts of the one before it, and two
	// processes given one id never overwrite each other.
	ReplicaID string
	// Prefix starts every key. Empty means "bd".
	Prefix string
	// FlushInterval is the time between two syncs, each one round trip:
	// flush this replica's changed buckets and read the fleet's. Zero means
	// 1 s, the minimum: at most one round trip per second per replica.
	FlushInterval time.Duration
	// StaleAfter is how long after the last successful sync the fleet view
	// is still used; past it the Budget falls back to its local counts,
	// flagged in Budget.FleetState and counted. Zero means 5 s; at least
	// FlushInterval.
	StaleAfter time.Duration
	// MaxBatch bounds the buckets one sync writes and the periods it reads
	// (the rest go in the next syncs). Zero means 1024; at most 8192.
	MaxBatch int
	// KeySlack is added to the window for each bucket key's lifetime.
	// Zero means 1 h.
	KeySlack time.Duration
	// Clock times the syncs and decides staleness. Nil means the Backend's.
	Clock baldur.Clock
	// Logger receives fallbacks, recoveries and data loss. Nil means the
	// Backend's.
	Logger *slog.Logger
}

// FleetBudget shares a governance.Budget's counts with the other replicas
// of its service and feeds the fleet's counts back, so that the budget,
// its decider (the error-budget gate) and its burn-rate alerts evaluate the
// fleet's totals.
//
// Every FlushInterval one sync makes one round trip (one script): it
// writes this replica's absolute counts of each bucket changed since the
// last acknowledged write (HSET bucket field=replica#incarnation, so a
// resend is idempotent), removes periods older than the window from its
// logs, and reads the buckets any replica wrote since its last read. The
// Budget adds the other replicas' counts to its own, read from memory on
// evaluation; nothing of this is on a call's path.
//
// When syncs fail for StaleAfter the Budget falls back to its local
// counts: Budget.FleetState reports Fallback, the fallback is counted
// there and in Stats, and a warning is logged. Unflushed counts are kept
// (they are the Budget's own ring) and written once Redis answers. A
// Redis that lost its data (a new epoch) is detected: every replica
// writes its whole window again and re-reads the fleet's, falling back
// to local counts meanwhile.
//
// Safe for concurrent use.
type FleetBudget struct {
	guard  *Guard
	budget *governance.Budget
	clock  baldur.Clock
	log    *slog.Logger
	cfg    FleetBudgetConfig
	keys   []string
	bucket string // bucket key prefix
	field  string
	ttl    string // ms
	width  int64

	mu       sync.Mutex // one sync at a time; guards the state below
	epoch    string
	lastSeq  int64
	scanFrom int64                             // next scan starts here; 0: the whole window
	sent     map[int64]governance.BucketCounts // acknowledged values
	pending  map[int64]governance.BucketCounts // values to write
	fresh    bool                              // the Budget was last told Fresh
	lastOK   time.Time
	lastErr  error
	args     []any

	tmu    sync.Mutex
	timer  baldur.Timer
	closed bool
	wg     sync.WaitGroup
	onSync func(error) // tests

	syncs, failures, flushed, read, malformed, resets, fallbacks atomic.Uint64
}

// NewFleetBudget returns a FleetBudget sharing b's counts through g
// (normally a ClassControl guard). Start attaches it to b and starts the
// syncs. An invalid option is a *baldur.ConfigError naming it.
func NewFleetBudget(g *Guard, b *governance.Budget, cfg FleetBudgetConfig) (*FleetBudget, error) {
	switch {
	case g == nil:
		return nil, &baldur.ConfigError{Field: "Guard", Reason: "is required"}
	case b == nil:
		return nil, &baldur.ConfigError{Field: "Budget", Reason: "is required"}
	case cfg.Service == "":
		return nil, &baldur.ConfigError{Field: "Service", Reason: "is required"}
	case strings.ContainsAny(cfg.Service, "{}"):
		return nil, &baldur.ConfigError{Field: "Service", Value: cfg.Service, Reason: "must not contain braces"}
	case cfg.ReplicaID == "":
		return nil, &baldur.ConfigError{Field: "ReplicaID", Reason: "is required"}
	case cfg.FlushInterval != 0 && cfg.FlushInterval < DefaultBudgetFlushInterval:
		return nil, &baldur.ConfigError{Field: "FlushInterval", Value: cfg.FlushInterval.String(), Reason: "must be at least 1s (zero means 1s)"}
	case cfg.MaxBatch < 0 || cfg.MaxBatch > MaxBudgetMaxBatch:
		return nil, &baldur.ConfigError{Field: "MaxBatch", Value: strconv.Itoa(cfg.MaxBatch), Reason: "must be 0..8192 (zero means 1024)"}
	case cfg.KeySlack < 0:
		return nil, &baldur.ConfigError{Field: "KeySlack", Value: cfg.KeySlack.String(), Reason: "must not be negative"}
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultBudgetFlushInterval
	}
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = max(DefaultBudgetStaleAfter, cfg.FlushInterval)
	}
	if cfg.StaleAfter < cfg.FlushInterval {
		return nil, &baldur.ConfigError{Field: "StaleAfter", Value: cfg.StaleAfter.String(), Reason: "must be at least FlushInterval"}
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultBudgetMaxBatch
	}
	if cfg.KeySlack == 0 {
		cfg.KeySlack = DefaultBudgetKeySlack
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "bd"
	}
	if cfg.Clock == nil {
		cfg.Clock = g.b.clock
	}
	if cfg.Logger == nil {
		cfg.Logger = g.b.log
	}
	var inc [6]byte
	if _, err := rand.Read(inc[:]); err != nil {
		return nil, err
	}
	width := int64(b.Bucket())
	// One hash tag for every key: a cluster keeps them in one slot, as the
	// script needs. The bucket width is in it: replicas counting in other
	// buckets (a rollout changing budget_bucket) cannot be summed.
	tag := fmt.Sprintf("%s:{budget:%s:%d}:", cfg.Prefix, cfg.Service, width)
	return &FleetBudget{
		guard: g, budget: b, clock: cfg.Clock, log: cfg.Logger, cfg: cfg,
		keys:    []string{tag + "meta", tag + "log", tag + "periods"},
		bucket:  tag + "b:",
		field:   cfg.ReplicaID + "#" + hex.EncodeToString(inc[:]),
		ttl:     strconv.FormatInt((b.Window() + cfg.KeySlack).Milliseconds(), 10),
		width:   width,
		sent:    map[int64]governance.BucketCounts{},
		pending: map[int64]governance.BucketCounts{},
	}, nil
}

// Field returns this replica's field in the bucket hashes:
// "<ReplicaID>#<incarnation>".
func (f *FleetBudget) Field() string { return f.field }

// Start attaches the fleet view to the Budget (which reports Fallback
// until the first complete sync) and starts the syncs, one every
// FlushInterval on the clock. Close stops them.
func (f *FleetBudget) Start() {
	f.budget.AttachFleet()
	f.arm()
}

func (f *FleetBudget) arm() {
	f.tmu.Lock()
	defer f.tmu.Unlock()
	if f.closed {
		return
	}
	f.wg.Add(1)
	f.timer = f.clock.AfterFunc(f.cfg.FlushInterval, func() {
		defer f.wg.Done()
		err := f.Sync(context.Background())
		if h := f.onSync; h != nil {
			h(err)
		}
		f.arm()
	})
}

// Close stops the syncs, waits for one in progress, makes a last sync so
// that a replica shutting down loses none of its counts (one round trip,
// within the guard's deadline), and detaches the fleet view from the
// Budget. It returns the last sync's error.
func (f *FleetBudget) Close() error {
	f.tmu.Lock()
	if f.closed {
		f.tmu.Unlock()
		return nil
	}
	f.closed = true
	if f.timer != nil && f.timer.Stop() {
		f.wg.Done()
	}
	f.tmu.Unlock()
	f.wg.Wait()
	err := f.Sync(context.Background())
	f.budget.DetachFleet()
	return err
}

// Sync runs one sync now: one round trip (none while the breaker on Redis
// is open). The syncs Start runs call it; tests call it directly.
func (f *FleetBudget) Sync(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	nowIdx := now.UnixNano() / f.width
	first := nowIdx - f.budget.Buckets() + 1
	f.scan(first, nowIdx)
	batch := f.batch()

	args := append(f.args[:0], f.field+"#"+strconv.FormatInt(now.UnixNano(), 36), f.field, f.ttl,
		strconv.FormatInt(first, 10), strconv.FormatInt(f.lastSeq, 10), strconv.Itoa(f.cfg.MaxBatch),
		f.bucket, strconv.Itoa(len(batch)))
	for _, p := range batch {
		args = append(args, strconv.FormatInt(p, 10), formatCounts(f.pending[p]))
	}
	f.args = args
	f.syncs.Add(1)
	v, err := f.guard.Run(ctx, BudgetScript, f.keys, args...)
	var r budgetReply
	if err == nil {
		r, err = parseBudgetReply(v, f.field)
	} else if isReply(err) && (strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "not an integer")) {
		err = fmt.Errorf("%w: %s: %v", ErrMalformed, f.keys[0], err)
	}
	if err != nil {
		f.failed(now, err)
		return err
	}
	f.lastOK, f.lastErr = now, nil
	f.malformed.Add(uint64(r.skipped) + uint64(r.malformed))
	for _, p := range batch {
		f.sent[p] = f.pending[p]
		delete(f.pending, p)
	}
	f.flushed.Add(uint64(len(batch)))
	if f.epoch != "" && (r.epoch != f.epoch || r.seq < f.lastSeq) {
		// A new epoch, or (the meta key rewritten) a seq gone backwards.
		f.lostData(r.epoch)
		return nil
	}
	f.epoch = r.epoch
	buckets := make([]governance.FleetBucket, 0, len(r.entries))
	for _, e := range r.entries {
		buckets = append(buckets, governance.FleetBucket{Period: e.period, BucketCounts: e.others})
		f.lastSeq = max(f.lastSeq, e.seq)
	}
	f.read.Add(uint64(len(r.entries)))
	complete := len(r.entries) < f.cfg.MaxBatch
	if complete && !f.fresh && f.fallbacks.Load() > 0 {
		f.log.Info("redisstore: fleet error budget: fleet view restored", "service", f.cfg.Service, "addr", f.guard.b.addr)
	}
	f.fresh = complete
	f.budget.UpdateFleet(governance.FleetUpdate{Buckets: buckets, Fresh: complete})
	f.budget.Reevaluate(now)
	return nil
}

// scan moves the buckets whose local counts differ from the acknowledged
// ones into pending, from scanFrom (the whole window the first time) to
// nowIdx, and forgets periods that left the window.
func (f *FleetBudget) scan(first, nowIdx int64) {
	for p := range f.sent {
		if p < first {
			delete(f.sent, p)
		}
	}
	for p := range f.pending {
		if p < first {
			delete(f.pending, p)
		}
	}
	for p := max(first, f.scanFrom); p <= nowIdx; p++ {
		c := f.budget.Counts(p)
		if c != f.sent[p] && c != (governance.BucketCounts{}) {
			f.pending[p] = c
		}
	}
	f.scanFrom = max(f.scanFrom, nowIdx-scanLag)
}

// batch returns the pending periods to write in this sync: the newest
// MaxBatch.
func (f *FleetBudget) batch() []int64 {
	b := make([]int64, 0, len(f.pending))
	for p := range f.pending {
		b = append(b, p)
	}
	slices.Sort(b)
	if len(b) > f.cfg.MaxBatch {
		b = b[len(b)-f.cfg.MaxBatch:]
	}
	return b
}

// failed records a failed sync: past StaleAfter since the last success the
// Budget falls back to its local counts.
func (f *FleetBudget) failed(now time.Time, err error) {
	f.failures.Add(1)
	f.lastErr = err
	if errors.Is(err, ErrMalformed) {
		f.malformed.Add(1)
	}
	if f.fresh && now.Sub(f.lastOK) >= f.cfg.StaleAfter {
		f.fresh = false
		f.fallbacks.Add(1)
		f.budget.UpdateFleet(governance.FleetUpdate{Fresh: false})
		f.budget.Reevaluate(now)
		f.log.Warn("redisstore: fleet error budget: falling back to local counts", "service", f.cfg.Service,
			"addr", f.guard.b.addr, "since", f.lastOK, "error", err)
	}
}

// lostData starts over after Redis lost the budget's data (its epoch
// changed: a restart without persistence, a failover to an empty
// replica): the Budget forgets the others' counts and evaluates locally
// until the fleet's are read again, and every bucket of this replica's
// window is written again.
func (f *FleetBudget) lostData(epoch string) {
	f.resets.Add(1)
	if f.fresh {
		f.fallbacks.Add(1)
	}
	f.log.Warn("redisstore: fleet error budget: redis lost the budget's data; writing the window again",
		"service", f.cfg.Service, "addr", f.guard.b.addr)
	f.epoch, f.lastSeq, f.scanFrom, f.fresh = epoch, 0, 0, false
	clear(f.sent)
	f.budget.UpdateFleet(governance.FleetUpdate{Reset: true, Fresh: false})
}

// FleetBudgetStats are a FleetBudget's counters.
type FleetBudgetStats struct {
	// Syncs counts the syncs attempted (each one round trip unless the
	// breaker answered); Failures those that failed.
	Syncs, Failures uint64
	// Flushed counts the bucket values written (acknowledged); Read the
	// buckets read.
	Flushed, Read uint64
	// Pending is how many buckets wait to be written (at most the window's).
	Pending int
	// Malformed counts values under the budget's keys that were skipped (a
	// bucket key of another type, an unparsable count) and syncs that
	// failed on a malformed meta or log key.
	Malformed uint64
	// Resets counts the times Redis was found to have lost the data.
	Resets uint64
	// Fallbacks counts the times the Budget fell back to local counts.
	Fallbacks uint64
	// Fresh is true while the Budget evaluates fleet totals.
	Fresh bool
	// LastSync is the time of the last successful sync; LastError the
	// error of the last sync (nil when it succeeded).
	LastSync  time.Time
	LastError error
}

// Stats returns the counters.
func (f *FleetBudget) Stats() FleetBudgetStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FleetBudgetStats{
		Syncs: f.syncs.Load(), Failures: f.failures.Load(),
		Flushed: f.flushed.Load(), Read: f.read.Load(), Pending: len(f.pending),
		Malformed: f.malformed.Load(), Resets: f.resets.Load(), Fallbacks: f.fallbacks.Load(),
		Fresh: f.fresh, LastSync: f.lastOK, LastError: f.lastErr,
	}
}

// budgetReply is the script's reply, the own field left out of the sums.
type budgetReply struct {
	epoch     string
	seq       int64
	skipped   int64
	malformed int
	entries   []budgetEntry
}

type budgetEntry struct {
	period, seq int64
	others      governance.BucketCounts
}

// parseBudgetReply parses the sync script's reply. A reply of the wrong
// shape is an error matching ErrMalformed; a period, seq or field value
// that does not parse is skipped and counted in malformed.
func parseBudgetReply(v any, own string) (budgetReply, error) {
	var r budgetReply
	a, ok := v.([]any)
	if !ok || len(a) < 3 || (len(a)-3)%3 != 0 {
		return r, fmt.Errorf("%w: budget sync reply of unexpected shape %T", ErrMalformed, v)
	}
	epoch, ok1 := a[0].(string)
	seqStr, ok2 := a[1].(string)
	skipped, ok3 := a[2].(int64)
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if !ok1 || !ok2 || !ok3 || err != nil || epoch == "" {
		return r, fmt.Errorf("%w: budget sync reply header %q %q %v", ErrMalformed, a[0], a[1], a[2])
	}
	r.epoch, r.seq, r.skipped = epoch, seq, skipped
	for i := 3; i < len(a); i += 3 {
		ps, _ := a[i].(string)
		ss, _ := a[i+1].(string)
		fields, fok := a[i+2].([]any)
		p, perr := strconv.ParseInt(ps, 10, 64)
		s, serr := strconv.ParseInt(ss, 10, 64)
		if serr != nil || s > seq {
			// Every write takes a seq at most meta's: a higher score was not
			// written by a sync, and reading past it would skip real writes.
			r.malformed++
			continue
		}
		if perr != nil || !fok || p <= 0 || len(fields)%2 != 0 {
			r.malformed++
			r.entries = append(r.entries, budgetEntry{seq: s}) // read past it
			continue
		}
		e := budgetEntry{period: p, seq: s}
		for j := 0; j < len(fields); j += 2 {
			name, _ := fields[j].(string)
			val, _ := fields[j+1].(string)
			if name == own {
				continue
			}
			c, ok := parseCounts(val)
			if !ok || e.others.Total+c.Total < e.others.Total {
				r.malformed++
				continue
			}
			e.others.Total += c.Total
			e.others.Failed += c.Failed
		}
		r.entries = append(r.entries, e)
	}
	return r, nil
}

// formatCounts is a bucket field's value: "<total>:<failed>".
func formatCounts(c governance.BucketCounts) string {
	b := make([]byte, 0, 24)
	b = strconv.AppendUint(b, c.Total, 10)
	b = append(b, ':')
	return string(strconv.AppendUint(b, c.Failed, 10))
}

// parseCounts parses formatCounts' output: two decimal numbers without
// sign, failed at most total.
func parseCounts(s string) (governance.BucketCounts, bool) {
	t, f, ok := strings.Cut(s, ":")
	if !ok {
		return governance.BucketCounts{}, false
	}
	total, err1 := strconv.ParseUint(t, 10, 64)
	failed, err2 := strconv.ParseUint(f, 10, 64)
	if err1 != nil || err2 != nil || failed > total {
		return governance.BucketCounts{}, false
	}
	return governance.BucketCounts{Total: total, Failed: failed}, true
}
