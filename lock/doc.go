// Package lock serializes automated recovery across a fleet: one session per
// namespace (a runbook, a breaker, a rollout) at a time, with fencing tokens
// so that a holder that lost its lease cannot damage what the lock protects.
//
// # The model
//
// A Locker grants a namespace to one session until its lease expires (30 min
// by default) or the session releases it. Locks expire so that a crashed
// holder cannot block recovery for ever. Three rules hold for every
// implementation here:
//
//   - Acquire by the session that holds the lock succeeds again (and pushes
//     its expiry), so a retried acquire is harmless;
//   - Extend never resurrects an expired lock: once a lease has lapsed, only
//     a new Acquire takes the namespace, under a new token;
//   - Release is compare-and-delete: it never releases another session's
//     lock (releasing a lock the session does not hold is a no-op).
//
// The fail mode is open: with no lock configured (NoOp), or when Acquire
// returns an error (the backend is unreachable), callers proceed unlocked and
// log it. A false held with a nil error means another session holds the
// lock, and the caller skips its run.
//
// # Fencing
//
// A lease can be lost while its holder still runs: a GC pause, a stopped
// process or a partition outlasts the TTL, another session acquires, and the
// first one wakes up believing it holds the lock. No lock service can prevent
// that; the resource must. A Fenced lock gives every grant a token that is
// larger than every token granted before it in the namespace, and a store
// that a lock protects keeps the highest token it has seen and rejects writes
// that carry a smaller one (ErrStaleToken). Fence is that check; Guarded is a
// value whose writes it fences.
//
// # Holding a lease
//
// Hold acquires a fenced lease and keeps it: it renews every TTL/3 and
// cancels the work's context, with a cause matching ErrLeaseLost, as soon as
// the lease is lost: when a renewal answers ErrNotHeld (it expired, or was
// deleted), or when no renewal succeeded before the local deadline, the time
// of the last successful renewal's request plus TTL minus Margin. The work
// stops before the lock can be granted to another session, as long as the
// clocks of the holder and the lock server do not drift apart by more than
// Margin within a TTL. Writes carry Held.Token, so whatever the work does
// after that is rejected by the fence.
//
// # Implementations
//
// Memory serves one process (tests, single-replica deployments). The Redis
// implementation is redisstore.Lock in the redisstore module. NoOp grants
// everything and holds nothing.
package lock
