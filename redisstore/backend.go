package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/redis/go-redis/v9"
)

// Class selects the per-call deadline of a Guard.
type Class uint8

const (
	// ClassThrottle is for calls on a request's admission path (a GCRA
	// take): Config.ThrottleTimeout, default 5 ms.
	ClassThrottle Class = iota
	// ClassControl is for control paths (governance writes and reloads,
	// locks, heartbeats): Config.ControlTimeout, default 250 ms.
	ClassControl
)

// Defaults of Config.
const (
	DefaultThrottleTimeout = 5 * time.Millisecond
	DefaultControlTimeout  = 250 * time.Millisecond
)

// Config configures a Backend. The zero value is valid.
type Config struct {
	// ThrottleTimeout is the deadline of each call of a ClassThrottle
	// guard, including any NOSCRIPT recovery. Default 5 ms.
	ThrottleTimeout time.Duration
	// ControlTimeout is the deadline of each call of a ClassControl guard
	// and of New's start-up ping and script preload. Default 250 ms.
	ControlTimeout time.Duration
	// Breaker configures the breaker on Redis; each Guard is one partition
	// of it. Zero fields take the defaults below, not package blast's:
	// ConsecutiveFailures 3, OpenTimeout 1 s, HalfOpenProbes 1, Window 10 s
	// (BucketPeriod 1 s), MinRequests 20 with FailureRatio 0.5. PartitionBy
	// is ignored (one partition per guard name), and OnStateChange is
	// called after the backend has counted and logged the change.
	Breaker blast.BreakerConfig
	// Clock drives the breaker (open time, rolling window). Nil means
	// baldur.SystemClock(). Deadlines always use real time.
	Clock baldur.Clock
	// Logger receives breaker state changes and start-up warnings. Nil
	// means slog.Default().
	Logger *slog.Logger
	// Scripts are loaded (SCRIPT LOAD) by New, so that their first EVALSHA
	// finds them. Guard.Run recovers from NOSCRIPT anyway.
	Scripts []*Script
}

// Backend is one Redis deployment as the stores see it: a client whose
// options were checked, a breaker on Redis with one partition per store
// (Guard), and per-store counters. Several stores share one Backend.
//
// Backend is safe for concurrent use. It does not own the client: closing
// the client is the caller's business.
type Backend struct {
	client   redis.UniversalClient
	addr     string
	cfg      Config
	clock    baldur.Clock
	log      *slog.Logger
	breakers *blast.Breakers

	mu     sync.Mutex
	guards map[string]*Guard
}

// New checks c (CheckClient), pings it and loads cfg.Scripts, each within
// cfg.ControlTimeout, and returns a Backend. Invalid options are a
// *baldur.ConfigError; a server that cannot be reached is an
// *UnavailableError naming its address.
func New(ctx context.Context, c redis.UniversalClient, cfg Config) (*Backend, error) {
	if err := CheckClient(c); err != nil {
		return nil, err
	}
	if cfg.ThrottleTimeout < 0 {
		return nil, &baldur.ConfigError{Field: "ThrottleTimeout", Value: cfg.ThrottleTimeout.String(), Reason: "must be positive (zero means 5ms)"}
	}
	if cfg.ControlTimeout < 0 {
		return nil, &baldur.ConfigError{Field: "ControlTimeout", Value: cfg.ControlTimeout.String(), Reason: "must be positive (zero means 250ms)"}
	}
	if cfg.ThrottleTimeout == 0 {
		cfg.ThrottleTimeout = DefaultThrottleTimeout
	}
	if cfg.ControlTimeout == 0 {
		cfg.ControlTimeout = DefaultControlTimeout
	}
	b := &Backend{client: c, addr: addrOf(c), cfg: cfg, clock: cfg.Clock, log: cfg.Logger, guards: map[string]*Guard{}}
	if b.clock == nil {
		b.clock = baldur.SystemClock()
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	bc := cfg.Breaker
	bc.PartitionBy = blast.ByKey
	bc.Clock = b.clock
	if bc.ConsecutiveFailures == 0 {
		bc.ConsecutiveFailures = 3
	}
	if bc.OpenTimeout == 0 {
		bc.OpenTimeout = baldur.Duration(time.Second)
	}
	if bc.HalfOpenProbes == 0 {
		bc.HalfOpenProbes = 1
	}
	if bc.Window == 0 {
		bc.Window = baldur.Duration(10 * time.Second)
	}
	if bc.MinRequests == 0 {
		bc.MinRequests = 20
	}
	user := bc.OnStateChange
	bc.OnStateChange = func(p blast.Partition, from, to blast.State) {
		b.stateChanged(p.Key, from, to)
		if user != nil {
			user(p, from, to)
		}
	}
	br, err := blast.NewBreakers(bc)
	if err != nil {
		var ce *baldur.ConfigError
		if errors.As(err, &ce) {
			ce.Field = "Breaker." + ce.Field
		}
		return nil, err
	}
	b.breakers = br

	start, cancel := context.WithTimeout(ctx, cfg.ControlTimeout)
	defer cancel()
	if err := c.Ping(start).Err(); err != nil {
		if isReply(err) {
			return nil, err // e.g. NOAUTH: the server answered
		}
		return nil, &UnavailableError{Addr: b.addr, Store: "ping", Err: err}
	}
	for _, s := range cfg.Scripts {
		if err := loadScript(start, c, s); err != nil {
			if isReply(err) {
				return nil, err
			}
			return nil, &UnavailableError{Addr: b.addr, Store: "script load", Err: err}
		}
	}
	return b, nil
}

func loadScript(ctx context.Context, c redis.UniversalClient, s *Script) error {
	if r, ok := c.(*redis.Ring); ok {
		return r.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return s.rs.Load(ctx, n).Err()
		})
	}
	return s.rs.Load(ctx, c).Err() // a ClusterClient loads on every primary
}

// OnConnect returns a go-redis Options.OnConnect hook that loads scripts on
// every new connection (then calls next, when not nil), so that a restarted
// or failed-over server has them before the first EVALSHA. Use it in
// clients built for the stores; Guard.Run recovers from NOSCRIPT without
// it, at the price of one more round trip per connection.
func OnConnect(next func(context.Context, *redis.Conn) error, scripts ...*Script) func(context.Context, *redis.Conn) error {
	return func(ctx context.Context, cn *redis.Conn) error {
		for _, s := range scripts {
			if err := cn.ScriptLoad(ctx, s.src).Err(); err != nil {
				return err
			}
		}
		if next != nil {
			return next(ctx, cn)
		}
		return nil
	}
}

// Client returns the client the backend calls.
func (b *Backend) Client() redis.UniversalClient { return b.client }

// Addr returns the server address(es) as errors name them.
func (b *Backend) Addr() string { return b.addr }

// CheckServer runs CheckServer on the backend's client within the control
// deadline. State stores call it from their constructors.
func (b *Backend) CheckServer(ctx context.Context, p ServerPolicy) ([]ServerSettings, error) {
	if p.Logger == nil {
		p.Logger = b.log
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ControlTimeout)
	defer cancel()
	return CheckServer(ctx, b.client, p)
}

// Guard returns the guard named name (creating it with class's deadline on
// first use; a later call with another class returns the first guard
// unchanged). Each name is one partition of the breaker on Redis, so a
// store whose calls fail does not cut off the others.
func (b *Backend) Guard(name string, class Class) *Guard {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.guards[name]; ok {
		return g
	}
	timeout := b.cfg.ThrottleTimeout
	if class == ClassControl {
		timeout = b.cfg.ControlTimeout
	}
	g := &Guard{b: b, name: name, timeout: timeout}
	b.guards[name] = g
	return g
}

func (b *Backend) stateChanged(name string, from, to blast.State) {
	b.mu.Lock()
	g := b.guards[name]
	b.mu.Unlock()
	if g != nil && to == blast.StateOpen {
		g.opens.Add(1)
	}
	lvl := slog.LevelInfo
	if to == blast.StateOpen || to == blast.StateForcedOpen {
		lvl = slog.LevelWarn
	}
	b.log.Log(context.Background(), lvl, "redisstore: breaker on redis changed state",
		"store", name, "addr", b.addr, "from", from.String(), "to", to.String())
}

// Guard runs one store's Redis calls: each under the store's deadline and
// through its partition of the breaker on Redis, counted. While the breaker
// is open, Do returns ErrBreakerOpen at once, without a round trip.
//
// Guard is safe for concurrent use.
type Guard struct {
	b       *Backend
	name    string
	timeout time.Duration

	calls, roundTrips, errs, timeouts, poolTimeouts, rejected, reloads, opens atomic.Uint64
}

// Name returns the guard's name (its breaker partition).
func (g *Guard) Name() string { return g.name }

// Timeout returns the per-call deadline.
func (g *Guard) Timeout() time.Duration { return g.timeout }

// Do runs fn with a context bounded by the guard's deadline (and by ctx),
// when the breaker admits the call, and reports the outcome to the
// breaker:
//
//   - nil and redis.Nil are successes;
//   - an error reply (WRONGTYPE, OOM, a script error) is returned as is and
//     counted as an error, but the server answered, so the breaker counts a
//     success; replies that mean the server cannot serve (LOADING, BUSY,
//     MASTERDOWN, CLUSTERDOWN, TRYAGAIN) count as failures;
//   - anything else (deadline, dial error, EOF) is a failure, returned as an
//     *UnavailableError;
//   - when ctx itself ended, the outcome is ignored and ctx's error returned.
//
// fn must make one round trip (or say otherwise through its own
// counters): Stats counts Do calls as round trips.
func (g *Guard) Do(ctx context.Context, fn func(ctx context.Context, c redis.UniversalClient) error) error {
	p, err := g.b.breakers.Admit(ctx, baldur.Call{Key: g.name, Now: g.b.clock.Now()})
	if err != nil {
		g.rejected.Add(1)
		return ErrBreakerOpen
	}
	g.calls.Add(1)
	g.roundTrips.Add(1)
	cctx, cancel := context.WithTimeout(ctx, g.timeout)
	err = fn(cctx, g.b.client)
	cancel()
	res, err := g.classify(ctx, err)
	p.Release(baldur.Outcome{Result: res})
	return err
}

func (g *Guard) classify(ctx context.Context, err error) (baldur.Result, error) {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return baldur.Success, err
	case ctx.Err() != nil:
		return baldur.Ignored, ctx.Err()
	case errors.Is(err, redis.ErrPoolTimeout):
		// Every connection of this process was busy: local congestion,
		// not a sign of Redis's health. The call fails (its store takes
		// its fail mode) but the breaker does not count it, so a burst on
		// a healthy Redis cannot send every store local for a second. A
		// hung Redis still trips it: the calls holding the connections
		// end at their deadline, and those count.
		g.errs.Add(1)
		g.poolTimeouts.Add(1)
		return baldur.Ignored, &UnavailableError{Addr: g.b.addr, Store: g.name, Err: err}
	case isReply(err):
		g.errs.Add(1)
		if unavailableReply(err) {
			return baldur.Failure, &UnavailableError{Addr: g.b.addr, Store: g.name, Err: err}
		}
		return baldur.Success, err
	}
	g.errs.Add(1)
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		g.timeouts.Add(1)
	}
	return baldur.Failure, &UnavailableError{Addr: g.b.addr, Store: g.name, Err: err}
}

func unavailableReply(err error) bool {
	for _, p := range [...]string{"LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}

// Run runs script s with EVALSHA through Do and, when the server lost its
// script cache (NOSCRIPT: after a restart, a failover or SCRIPT FLUSH),
// again with EVAL within the same deadline, which also reloads it.
func (g *Guard) Run(ctx context.Context, s *Script, keys []string, args ...any) (any, error) {
	var v any
	err := g.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		v, err = s.rs.EvalSha(ctx, c, keys, args...).Result()
		if err != nil && isReply(err) && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			g.reloads.Add(1)
			g.roundTrips.Add(1)
			v, err = s.rs.Eval(ctx, c, keys, args...).Result()
		}
		return err
	})
	return v, err
}

// Stats are a guard's counters since the backend was built, and its
// breaker's state.
type Stats struct {
	// Calls counts the calls the breaker admitted (Do).
	Calls uint64
	// RoundTrips counts the requests sent: one per call, plus one per
	// NOSCRIPT recovery.
	RoundTrips uint64
	// Errors counts the calls that failed, whether Redis was unavailable or
	// answered with an error reply.
	Errors uint64
	// Timeouts counts the errors that were the per-call deadline.
	Timeouts uint64
	// PoolTimeouts counts the calls that found every connection busy; the
	// breaker does not count them (local congestion, not Redis's health).
	PoolTimeouts uint64
	// Rejected counts the calls the open breaker answered locally.
	Rejected uint64
	// ScriptReloads counts NOSCRIPT recoveries.
	ScriptReloads uint64
	// Opens counts the times the breaker opened.
	Opens uint64
	// State is the breaker's state now.
	State blast.State
}

// Stats returns the guard's counters. It does not allocate.
func (g *Guard) Stats() Stats {
	return Stats{
		Calls:         g.calls.Load(),
		RoundTrips:    g.roundTrips.Load(),
		Errors:        g.errs.Load(),
		Timeouts:      g.timeouts.Load(),
		PoolTimeouts:  g.poolTimeouts.Load(),
		Rejected:      g.rejected.Load(),
		ScriptReloads: g.reloads.Load(),
		Opens:         g.opens.Load(),
		State:         g.b.breakers.State(blast.Partition{Key: g.name}),
	}
}

// Script is a Lua script the stores run by its SHA-1 (EVALSHA), falling
// back to its source on NOSCRIPT. Safe for concurrent use.
type Script struct {
	src string
	rs  *redis.Script
}

// NewScript returns the script of source src.
func NewScript(src string) *Script { return &Script{src: src, rs: redis.NewScript(src)} }

// Hash returns the script's SHA-1, as EVALSHA takes it.
func (s *Script) Hash() string { return s.rs.Hash() }
