// Package chaos runs fault-injection experiments inside the guarded call,
// under a fail-closed safety guard. Chaos is off and every experiment is a
// dry run unless the configuration says otherwise.
//
// # Where faults are injected
//
// The registry puts two gates into every policy when its configuration
// has a chaos section: the FaultGate at baldur.StageFault, after the
// bulkhead, and the ObserveGate at StageObserve, before every other gate.
// A latency fault sleeps inside the fault stage, so the delayed call holds
// its bulkhead permit as a slow dependency would, and never past the call's
// deadline; an error or abort fault rejects the call with an
// injected_fault rejection carrying the experiment's HTTP status and gRPC
// code, which the policy releases to the earlier gates as a failure marked
// baldur.Outcome.Injected: breakers and the error budget see it (the point
// of the exercise), canary judging and adaptive limits can skip it. Each
// policy's gates read their own view of the active set (only the
// experiments that may target the policy), so with no active experiment,
// or none that targets the policy, each gate costs one atomic load.
//
// # Experiments and cohorts
//
// An Experiment names a Target (service, policy, operation glob, region,
// tiers; critical only when allowed), a Fault, a rate, a duration capped by
// a TTL, an optional start time and windows, and a hypothesis. A partition
// key hashing below the rate (per experiment, the same on every replica)
// is in the experiment cohort and gets the fault; one hashing in
// [rate, 2·rate) is in the control cohort, only observed; the rest is
// untouched. Cohorts are sticky, so the report compares like with like.
//
// # Safety
//
// The Guard refuses to start an experiment, and the Scheduler aborts a
// running one, when chaos is disabled, the kill switch is on, the
// emergency level is LEVEL_1 or higher, or the error budget is below its
// threshold; it also refuses one outside the allowed windows, within the
// cooldown, or beyond the blast-radius manager's limits (which may ask for
// an approval first). A missing dependency or a failing store refuses.
// Force waives the cooldown and the windows, and nothing else. While
// faults are injected the stop conditions (burn rate, error-rate delta and
// p95/p99 delta of the experiment cohort against the control cohort) are
// evaluated every check interval; Breaches consecutive breaches abort. An
// abort stops injecting at once and then observes the after phase, so the
// report shows the recovery. An experiment is never retried.
//
// # Fleet
//
// The active set lives in a Store (Memory here, redisstore.Chaos for a
// fleet) as one lease per experiment, refreshed by its owner's scheduler
// every poll. Every replica's scheduler loads the set each poll and
// installs it into its Injector with a local lease: a replica that cannot
// refresh, an owner that dies and a deleted experiment all stop injecting
// within one lease. KillAll empties the set and moves its generation, so it
// reaches every replica at its next poll and no owner can put its lease
// back.
//
// # Reports
//
// Each experiment's Report gives both cohorts before, during and after
// injection (calls, success rate, latency percentiles, rejections by
// reason, breaker partitions that opened and closed), the verdict on the
// hypothesis, and why it stopped; Markdown, HTML and Chart render it. The
// counts are this replica's.
//
// The protocol types (Controller, SafetyGuard, ReportGenerator) and the
// fail-closed NoOpController and NoOpSafetyGuard stand where no scheduler
// is configured.
package chaos
