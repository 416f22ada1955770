// Package watchdog is the self-healing watchdog: it runs level-triggered
// checks over the toolkit's state (leases of long-running actions, breaker
// forces, bulkhead permits, the emergency level, and the checks the DLQ,
// canary and chaos packages and applications add) and applies their
// remediations safely.
//
// # The model
//
// A Check observes and says what is wrong now ([]Observation); it never
// acts. The Runner decides. Each pass (every Interval, or Tick), per check:
//
//   - lead: a check that is not a LocalCheck is acted on only by the holder
//     of the fenced lock "watchdog:"+name; the others report standby. Apply
//     gets the lease's fencing token, and a store that refuses it
//     (lock.ErrStaleToken) makes the replica stand down;
//   - observe, then per observation: never apply what an operator holds
//     (OperatorHeld); apply only while leading, with the brake off and the
//     subject's backoff elapsed (exponential, capped at BackoffMax);
//   - budget: at most MaxActionsPerHour actions per check per rolling hour;
//     the next engages the brake: no more actions and one CRITICAL page
//     until an operator releases it (ReleaseBrake);
//   - incidents: a Page observation opens the incident (check, subject)
//     once in the IncidentStore and pages it; when the subject is no longer
//     observed it resolves, once, by the same key (through the notifier's
//     Resolve when it has one). With a store shared by the fleet
//     (redisstore.Incidents) a leader change does not page again.
//
// Because checks report conditions, not events, a missed event or a crash
// in the middle of a pass is harmless: the next pass sees the same thing.
// Every Apply must be idempotent.
//
// # A watchdog that can be watched
//
// A pass ends by its deadline on the watchdog's clock, whatever its checks
// do: a check still running is abandoned for the pass and skipped until it
// returns. Status reports the role per check, the brake and the budget;
// Collector exports the last-pass timestamp and counters; an optional
// heartbeat URL is pinged after every pass without errors (a dead man's
// switch). Start and Stop are idempotent; Stop waits for the pass in
// progress and gives up the checks' locks.
//
// # Built-in checks
//
// Leases (lock_renewal), Breakers (breaker_force_expired), Permits
// (leaked_permits) and Emergency (emergency_stuck) read root capability
// interfaces only. None of them changes what an operator set explicitly
// before it ends: a breaker force that has not ended, a level set by hand.
//
// Nothing here is on a request's path.
package watchdog
