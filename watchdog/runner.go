package watchdog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// ErrPassDeadline is the cause of a pass's context when the pass deadline
// passed; a check cut off by it is reported as KindDeadline.
var ErrPassDeadline = errors.New("watchdog: pass deadline exceeded")

// resolver is what the watchdog needs of a notifier that resolves by key;
// notify's managers that page (PagerDuty) have it.
type resolver interface {
	Resolve(ctx context.Context, n notify.Notification) (notify.Result, error)
}

// Runner is the Watchdog: it runs its checks every interval, each pass
// level-triggered (every check observes, then the runner applies what it
// may), and keeps per check its leadership, action budget and brake, the
// per-subject backoff and the incidents it paged.
//
// A pass runs the checks concurrently, one goroutine each, and ends by the
// pass deadline whatever they do: a check still running then is abandoned
// for the pass (its context is cancelled) and skipped by later passes
// until it returns, so a hanging store costs one goroutine, never a
// stretched pass or a pile of them. One pass runs at a time.
//
// Runner is safe for concurrent use.
type Runner struct {
	clock     baldur.Clock
	lock      lock.Fenced
	incidents IncidentStore    // led checks'
	local     *MemoryIncidents // local checks'
	notifier  notify.Manager
	resolver  resolver
	log       *slog.Logger
	http      *http.Client
	heartbeat string
	session   string

	interval, deadline, leaseTTL time.Duration
	jitter                       float64
	backoffBase, backoffMax      time.Duration
	dryRun                       bool

	checks []*checkState
	byName map[string]*checkState

	passMu sync.Mutex // one pass at a time

	mu       sync.Mutex
	running  bool
	stop     chan struct{}
	loopDone chan struct{}
	passes   uint64
	lastPass time.Time
	lastErr  string
	last     Report

	m runnerMetrics
}

var _ Watchdog = (*Runner)(nil)

// New validates cfg and returns a stopped Runner. An invalid field is a
// *baldur.ConfigError naming it.
func New(cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{clock: cfg.Clock, lock: cfg.Lock, incidents: cfg.Incidents, notifier: cfg.Notifier, log: cfg.Logger,
		http: cfg.HTTPClient, session: cfg.Session, dryRun: cfg.DryRun, byName: map[string]*checkState{}}
	if r.clock == nil {
		r.clock = baldur.SystemClock()
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.notifier == nil {
		r.notifier = notify.NoOp{}
	}
	r.resolver, _ = r.notifier.(resolver)
	if r.incidents == nil {
		r.incidents = NewMemoryIncidents()
	}
	host, _ := os.Hostname()
	replica := cfg.Replica
	if replica == "" {
		replica = cfg.Session
	}
	if replica == "" {
		replica = host
	}
	if r.session == "" {
		r.session = host + "-" + strconv.Itoa(os.Getpid())
	}
	r.local = NewMemoryIncidents()
	r.interval = orDefault(cfg.Interval.D(), DefaultInterval)
	r.deadline = orDefault(cfg.PassDeadline.D(), r.interval/2)
	r.leaseTTL = orDefault(cfg.LeaseTTL.D(), 3*r.interval)
	r.backoffBase = orDefault(cfg.BackoffBase.D(), DefaultBackoffBase)
	r.backoffMax = orDefault(cfg.BackoffMax.D(), DefaultBackoffMax)
	r.backoffBase = min(r.backoffBase, r.backoffMax)
	switch {
	case cfg.Jitter == 0:
		r.jitter = DefaultJitter
	case cfg.Jitter > 0:
		r.jitter = cfg.Jitter
	}
	if r.lock == nil {
		m, err := lock.NewMemory(lock.MemoryConfig{Clock: r.clock})
		if err != nil {
			return nil, err
		}
		r.lock = m
	}
	r.heartbeat = cfg.HeartbeatURL
	if r.heartbeat == "" && cfg.HeartbeatURLEnv != "" {
		r.heartbeat = os.Getenv(cfg.HeartbeatURLEnv)
	}
	if r.http == nil {
		r.http = &http.Client{Timeout: orDefault(cfg.HeartbeatTimeout.D(), DefaultHeartbeatTimeout)}
	}
	budget := cfg.MaxActionsPerHour
	if budget == 0 {
		budget = DefaultMaxActionsPerHour
	}
	for i, c := range cfg.Checks {
		if c == nil {
			return nil, &baldur.ConfigError{Field: "Checks[" + strconv.Itoa(i) + "]", Reason: "is nil"}
		}
		name := c.Name()
		if err := validName(name); err != nil {
			return nil, &baldur.ConfigError{Field: "Checks[" + strconv.Itoa(i) + "]", Value: name, Reason: err.Error()}
		}
		if _, dup := r.byName[name]; dup {
			return nil, &baldur.ConfigError{Field: "Checks[" + strconv.Itoa(i) + "]", Value: name, Reason: "duplicates another check's name"}
		}
		pc := cfg.PerCheck[name]
		if pc.Disabled {
			continue
		}
		cs := newCheckState(c, replica, budget)
		cs.store = r.incidents
		if cs.local {
			cs.store = r.local
		}
		if bc, ok := c.(BudgetedCheck); ok && bc.MaxActionsPerHour() > 0 {
			cs.maxActions = bc.MaxActionsPerHour()
		}
		if pc.MaxActionsPerHour > 0 {
			cs.maxActions = pc.MaxActionsPerHour
		}
		r.checks = append(r.checks, cs)
		r.byName[name] = cs
	}
	for name := range cfg.PerCheck {
		if _, ok := r.byName[name]; !ok && !cfg.PerCheck[name].Disabled {
			return nil, &baldur.ConfigError{Field: "checks." + name, Reason: "names no check"}
		}
	}
	return r, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// validName accepts a short lower_snake_case name (digits and '.' too).
func validName(s string) error {
	if s == "" || len(s) > 64 {
		return configErr("must be 1 to 64 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return configErr("must be lower-case letters, digits, '_', '.' or '-'")
		}
	}
	return nil
}

// Session returns the identity under which the runner takes its locks.
func (r *Runner) Session() string { return r.session }

// Start runs a pass at once and then every interval (± jitter) until Stop
// or until ctx is done. Passes run under ctx. Starting a running watchdog is
// a no-op.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.running = true
	stop, done := make(chan struct{}), make(chan struct{})
	r.stop, r.loopDone = stop, done
	go r.loop(ctx, stop, done)
	return nil
}

func (r *Runner) loop(ctx context.Context, stop, done chan struct{}) {
	defer func() {
		r.mu.Lock()
		if r.loopDone == done {
			r.running = false
		}
		r.mu.Unlock()
		close(done)
	}()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		_, _ = r.run(ctx, r.dryRun)
		due := make(chan struct{})
		t := r.clock.AfterFunc(r.nextWait(), func() { close(due) })
		select {
		case <-due:
		case <-stop:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (r *Runner) nextWait() time.Duration {
	if r.jitter == 0 {
		return r.interval
	}
	f := 1 + r.jitter*(2*rand.Float64()-1)
	return time.Duration(float64(r.interval) * f)
}

// Stop ends the loop, waits for the pass in progress (bounded by the pass
// deadline) or for ctx, then gives up the locks of the checks it led so
// that another replica takes them over at its next pass. Stopping a stopped
// watchdog is a no-op.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.running {
		r.mu.Unlock()
		return nil
	}
	r.running = false
	stop, done := r.stop, r.loopDone
	r.stop = nil
	r.mu.Unlock()
	close(stop)
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.releaseLeases(ctx)
	return nil
}

// releaseLeases gives up the leases of the checks led, after the last pass.
func (r *Runner) releaseLeases(ctx context.Context) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	for _, cs := range r.checks {
		cs.mu.Lock()
		token, leader := cs.token, cs.role == RoleLeader
		if leader {
			cs.role, cs.token = RoleUnknown, 0
		}
		cs.mu.Unlock()
		if leader {
			if err := r.lock.ReleaseFenced(ctx, cs.ns, r.session, token); err != nil {
				r.log.LogAttrs(ctx, slog.LevelWarn, "watchdog: releasing a check's lock failed", slog.String("check", cs.name), slog.String("error", err.Error()))
			}
		}
	}
}

// Tick runs one pass now, in the caller's goroutine (a dry run when the
// configuration says so). The error is ctx's, or ErrPassDeadline when
// checks were cut off; the report holds what each check found and did.
func (r *Runner) Tick(ctx context.Context) (Report, error) { return r.run(ctx, r.dryRun) }

// DryRunTick runs one pass that only observes: it takes no lock, applies
// nothing and pages nothing, and reports what a pass would do
// (KindWouldAct, KindWouldPage) with the roles of the last pass.
func (r *Runner) DryRunTick(ctx context.Context) (Report, error) { return r.run(ctx, true) }

// LastReport returns the report of the last pass that was not a dry run.
func (r *Runner) LastReport() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Status implements Watchdog.
func (r *Runner) Status() Status {
	r.mu.Lock()
	st := Status{Running: r.running, Interval: r.interval, Passes: r.passes, LastPass: r.lastPass, LastError: r.lastErr,
		DryRun: r.dryRun, Session: r.session}
	r.mu.Unlock()
	now := r.clock.Now()
	st.Checks = make([]CheckStatus, len(r.checks))
	for i, cs := range r.checks {
		st.Checks[i] = cs.status(now)
	}
	return st
}

// ReleaseBrake releases check's brake on an operator's word: the brake's
// incident resolves (fleet-wide), the check's action budget starts afresh,
// and the release is logged with actor and reason. released is false when
// the brake was not engaged. An unknown check is an error.
func (r *Runner) ReleaseBrake(ctx context.Context, check, actor, reason string) (released bool, err error) {
	cs, ok := r.byName[check]
	if !ok {
		return false, fmt.Errorf("watchdog: no check named %q", check)
	}
	// The store first: a pass in between still sees the brake engaged
	// here, reads the store (it does while engaged), and finds it released.
	cs.cacheStale.Store(true)
	inStore, err := cs.store.Resolve(ctx, cs.incKey, "", 0)
	if err != nil {
		return false, err
	}
	cs.mu.Lock()
	engaged := cs.brake
	cs.brake, cs.brakeSince, cs.brakeStored, cs.actions = false, time.Time{}, false, cs.actions[:0]
	cs.mu.Unlock()
	if engaged || inStore {
		r.log.LogAttrs(ctx, slog.LevelWarn, "watchdog: brake released", slog.String("check", check),
			slog.String("actor", actor), slog.String("reason", reason))
		r.m.brakeReleases.Add(1)
		r.sendResolve(ctx, Incident{Check: cs.incKey, Title: brakeTitle(cs.name), Priority: notify.PriorityCritical})
	}
	return engaged || inStore, nil
}

// Incidents returns the open incidents of every check: the led checks'
// from the store (fleet-wide), the local checks' of this replica.
func (r *Runner) Incidents(ctx context.Context) ([]Incident, error) {
	var out []Incident
	for _, st := range []IncidentStore{r.local, r.incidents} {
		keys, err := st.Checks(ctx)
		if err != nil {
			return out, err
		}
		for _, k := range keys {
			l, err := st.List(ctx, k)
			if err != nil {
				return out, err
			}
			out = append(out, l...)
		}
	}
	return out, nil
}

// runnerMetrics are the runner's counters, read by its collector.
type runnerMetrics struct {
	passesOK, passesFailed, passesDry atomic.Uint64
	lastPassNs, lastDurationNs        atomic.Int64
	pages, resolves, brakeReleases    atomic.Uint64
	heartbeats, heartbeatFailures     atomic.Uint64
	findings                          sync.Map // kind -> *atomic.Uint64
}

func (m *runnerMetrics) add(kind string, n uint64) {
	v, ok := m.findings.Load(kind)
	if !ok {
		v, _ = m.findings.LoadOrStore(kind, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(n)
}
