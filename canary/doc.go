// Package canary rolls resilience policy out on a slice of traffic first: a
// configuration change (a throttle's rate, a breaker's thresholds) is
// applied in stages, each a share of the partition keys, and judged by the
// calls it serves against the calls the running configuration serves at
// the same time.
//
// The pieces:
//
//   - Plan: the candidate configuration document and its stages (shares of
//     keys, growing). Service.Create validates it and the candidate (through
//     the Applier, as Registry.Load would) before anything starts, and
//     snapshots the running configuration for rollback.
//   - Cohorts: a key's cohort is a stable hash of the key salted with the
//     rollout's ID; registry.Registry.PolicyFor resolves the canary cohort in
//     the candidate's table, the others in the running one, without a lock
//     or an allocation.
//   - Recorder and its observe gate (StageObserve, after every gate that
//     can reject): per-cohort outcome counts and a latency histogram from
//     released tickets; ignored and injected outcomes are not counted.
//   - Judge: pass, fail or inconclusive for one window, candidate against
//     baseline (error rate, p95, p99, rejection rate); too few calls is
//     always inconclusive.
//   - Service: the life cycle (State), behind fail-closed governance gates,
//     the blast-radius manager and a fenced lock per config type; a stage is
//     applied only when the replicas acknowledge it; Tick judges the windows
//     and acts by the opt-in verdict policy; Checks are the watchdog's
//     interlock, stall and lock-renewal checks.
//   - Local: the Applier, AckSource and Flusher of one process's registry,
//     fenced per config type and idempotent per apply key. In a fleet, the
//     controller's Fleet applier publishes each apply to a DesiredStore and
//     every replica's Agent applies it and flushes its observation; the
//     replicas acknowledge through their membership heartbeats.
//   - RecordStore: the rollouts' records, saved after every action, so that
//     a controller replacing a crashed one takes them over (Recover).
//
// See docs/canary.md for the model, the configuration and the endpoints.
package canary
