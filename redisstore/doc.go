// Package redisstore shares the toolkit's fleet state through Redis: what
// one replica decides or writes, every replica of the service sees. It is a
// module of its own, so the core module never depends on a Redis client.
//
// It holds the stores of the fleet and the foundation they share:
//
//   - Governance (NewGovernance): kill switches, emergency state and break
//     glass as a governance.Store, with versioned writes, compare-and-set
//     of the emergency state, a data epoch and invalidation by pub/sub and
//     a version poll (Watch);
//   - ThrottleStore (NewThrottleStore): a throttle.Store shared by the
//     fleet, deciding exactly as throttle.Decide in Redis behind an exact
//     deny cache and short token leases, with fail modes local, open and
//     closed;
//   - FleetBudget (NewFleetBudget): the error budget's counts per bucket,
//     shared so every replica evaluates the service's SLO;
//   - Lock (NewLock): a fenced recovery lock (lock.Fenced);
//   - Membership (NewMembership): replica heartbeats and the live count the
//     throttle's local fail mode divides by, and the admin's GET /fleet;
//   - the foundation: Open and New (a checked client), Guard (a deadline
//     and a breaker on every call), the GCRA script, and a Prometheus
//     Collector over every store's counters.
//
// docs/fleet.md states what each store promises (exact or bounded, fail
// mode, round trips, memory per key, restart with and without AOF), each
// row naming the test that backs it against a real redis-server.
//
// # What is shared, what stays local
//
// The stores built on this package divide the state this way. In Redis
// goes what every replica must agree on: operator intent (kill switches,
// emergency level, break glass), fleet-wide quotas (GCRA buckets), the
// error budget's counts, recovery locks, idempotency records, DLQ entries,
// notification claims and fleet membership. Each process keeps every
// per-call decision that local state can make (the governance snapshot),
// breakers, bulkheads, share caps and metrics. Redis is never awaited on a
// call's admission path when a local decision can serve. Idempotency
// records, DLQ entries and notification claims join them with the services
// that need them.
//
// # The model
//
// A Backend is one Redis deployment: the user's go-redis client
// (*redis.Client, *redis.ClusterClient or *redis.Ring), checked at New.
// Every store takes a Guard from it by name. A Guard runs the store's calls:
//
//   - each call under a deadline of its class: ClassThrottle 5 ms (calls on
//     a request's admission path), ClassControl 250 ms (writes, reloads,
//     locks, heartbeats), both configurable;
//   - each call through the store's partition of a breaker on Redis (the
//     state machine of package blast: 3 consecutive failures open it; it
//     stays open 1 s, then one probe call decides), so a hung Redis costs a
//     handful of calls per replica, each bounded by its deadline, and then
//     calls are answered locally (ErrBreakerOpen, no allocation) until a
//     probe succeeds;
//   - scripts by SHA-1 (EVALSHA) with recovery from NOSCRIPT in the same
//     call (after a restart, a failover or SCRIPT FLUSH);
//   - counted: calls, round trips, errors, timeouts, breaker rejections,
//     script reloads and breaker openings, read with Guard.Stats.
//
// An error reply (WRONGTYPE, OOM, a script error) means the server
// answered: it is returned and counted but does not trip the breaker. A
// caller's own cancellation counts for nothing.
//
// # What the client must be
//
// CheckClient (run by New) returns a *baldur.ConfigError naming the option
// when ContextTimeoutEnabled is false (go-redis would ignore the deadline
// on the socket and hold a call for ReadTimeout, 5 s by default) or when
// MaxRetries is not -1 (go-redis would re-send a script whose reply was
// lost, and a throttle take would charge twice). New pings the server: an
// unreachable address is an *UnavailableError naming it.
//
// A store of state calls Backend.CheckServer at start-up: an evicting
// maxmemory-policy is a *baldur.ConfigError (an evicted kill switch reads
// as "off", an evicted lock as "free"); appendonly no is a warning through
// slog (state written since the last snapshot is lost on a restart).
// CONFIG GET is tried first and INFO where CONFIG is disabled.
//
// # Fail modes
//
// Every failure is a value, never a panic:
//
//	condition                           error                       breaker
//	----------------------------------  --------------------------  ----------------
//	client options unsafe               *baldur.ConfigError (New)   -
//	server evicts (state stores)        *baldur.ConfigError         -
//	AOF off (state stores)              none; slog warning          -
//	address unreachable at start-up     *UnavailableError (New)     -
//	deadline passed, dial failed, EOF   *UnavailableError           counts a failure
//	LOADING, BUSY, MASTERDOWN, ...      *UnavailableError           counts a failure
//	breaker open                        ErrBreakerOpen (no call)    -
//	error reply (WRONGTYPE, OOM, ...)   the reply                   counts a success
//	data under a key we did not write   ErrMalformed                counts a success
//	script cache empty (NOSCRIPT)       none: EVAL in the same call counts a success
//	caller's context ended              the context's error         ignored
//
// ErrBreakerOpen and *UnavailableError match ErrUnavailable, the one error
// a store maps to its documented fail mode.
//
// # GCRA
//
// GCRA.Take runs one script per call: throttle.Decide applied atomically to
// the bucket under one key, in exact integer nanoseconds (the script holds
// every value as seconds and nanoseconds, since Lua's doubles are exact
// only to 2^53). The bucket's key holds its TAT and expires when the bucket
// is full again, so idle buckets cost nothing; a denied call writes
// nothing. The clock is the server's TIME, which every replica shares, or
// the caller's when one is passed (deterministic tests). Cost and tolerance
// travel with each call, so Redis holds no configuration and a change of
// emergency factor applies at once. A differential test holds the script
// to throttle.Decide over seeded random traces.
//
// # Testing
//
// The tests run against real redis-server processes started by
// internal/redistest, on unix sockets, and through its fault-injecting
// proxy; without a server binary they skip, unless BALDUR_REQUIRE_REDIS=1
// or CI=true, where they fail with the install command.
package redisstore
