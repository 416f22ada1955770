// Package governance is the real governance checker of baldur-go: the
// operator-controlled switches that decide, before any other gate, whether a
// call (or an automated action such as a replay or a canary step) may run.
//
// # The checks, in order
//
// A check stops at the first block:
//
//  1. Break glass: while on, everything is allowed and every allowance is
//     audited. It turns itself off after Config.BreakGlassDuration.
//  2. Kill switch: a [KillSwitch] covers everything ([ScopeAll]), services
//     ([ScopeService]) or operations ([ScopeOperation]) matched by a glob
//     pattern ('*' matches any run of characters). It has a reason, an actor
//     and an optional expiry. Exempt operations (health probes, the admin API
//     that lifts the switch; [DefaultExemptOperations]) are never blocked.
//  3. Emergency level: the [Emergency] manager holds NORMAL..LEVEL_3. Each
//     level admits a fraction of each tier (non_essential / standard /
//     critical): L0 1/1/1, L1 0/1/1, L2 0/0.1/1, L3 0/0/0.5. Raising is a
//     manual Trigger with a reason and an optional duration; lowering is
//     StepDown, one level at a time, keeping a timed level's end. A
//     triggered duration that runs out drops the level straight to NORMAL,
//     whatever it was raised from.
//  4. Error budget: the [Budget] counts call outcomes over a rolling SLO
//     window (remaining %, multi-window burn rates after the Google SRE
//     workbook) and the [BudgetDecider] blocks a tier whose remaining
//     budget is below its threshold (critical 15 %, standard 10 %,
//     non_essential 5 %; region override, then tier, then global), with 2
//     points of hysteresis on recovery. Running sums over the SLO window
//     and each burn window make an evaluation cost O(burn windows), not a
//     walk over the 43 200 buckets of 30 days, so recorded outcomes can
//     afford to re-evaluate the decider: at most once per
//     Config.BudgetEvalInterval (1 s, on the recorded times), by the one
//     recording goroutine that wins a CAS.
//
// [Checker.CheckAll] answers for an action (a replay, a canary step): its
// emergency check blocks from a minimum level, LEVEL_2 by default.
// [Checker.Gate] is the per-call [baldur.Gate] of a policy chain: it sheds by
// the tier fractions instead, admitting a fraction strictly between 0 and 1
// at random, and its permit's release feeds the call's outcome back into the
// error budget.
//
// # One snapshot, no lock per call
//
// Every check reads one immutable snapshot through an atomic pointer: the
// active kill switches with precompiled patterns, the level and its admit
// fractions, break glass, and the budget decision of every (region, tier).
// When nothing can block (the normal state), the gate's cost is that pointer
// load and two comparisons. The snapshot is rebuilt from the [Store]
// immediately on every transition made through the Checker (kill switch
// toggled, level changed, break glass, a budget threshold crossed or
// recovered: seen by the next recorded outcome an interval later) and
// otherwise when it expires: after Config.CacheTTL (30 s), or exactly when a
// kill switch, break glass or a triggered level expires, measured on the
// injected clock. On the per-call path the rebuild is done by the one caller
// that wins a try-lock; everyone else keeps using the previous snapshot, so
// no call ever waits.
//
// # Failing open, auditing without flooding
//
// State lives behind the [Store] interface ([MemoryStore] here; a Redis
// store fits the same methods). A store read that fails does not block
// anything: the unreadable check allows, the snapshot is retried within a
// second, and an [Alert] is raised at most once per kind per
// Config.AlertCooldown. Blocks are written to an [AuditSink] through a
// lock-free token bucket per reason (Config.AuditRate per second plus
// Config.AuditBurst): once its budget is spent a blocked call costs one
// atomic load and one add to a striped drop counter, and a flood yields a
// trickle of records, each carrying the count of the ones dropped before it.
// Exemption is decided once per operation and remembered (up to 4096
// operations), so a rejected call does not match the exempt patterns.
//
// # Operating and configuring
//
// The Checker owns every transition of the snapshot. Its parts report their
// changes through a function the Checker gives them when it builds them:
// the [Emergency] manager after a trigger, a step down or an expiry (the
// Checker rebuilds at once), the [BudgetDecider] when a tier's blocked state
// flips (the Checker marks the snapshot stale, since the flip may happen on
// the per-call path or during a rebuild). Kill switches and break glass are
// the Checker's own methods, the [Switchboard] that the admin API and the
// metrics find on the registry's governance slot; [AuditCounter] reports
// the dropped audit records.
//
// [Config] reads from JSON as the governance section of a configuration
// file (snake_case keys, baldur.Duration durations, levels and tiers as map
// keys by name). [SlogSink], the default of both sinks, logs audit records
// at Warn and alerts at Error.
//
// # Rejections
//
// The gate rejects with interned baldur rejections: baldur.ReasonKillSwitch
// (Retry-After Config.KillSwitchRetryAfter, 30 s), baldur.ReasonEmergency
// (5 s × 1, 1, 2, 4 by level) and baldur.ReasonErrorBudget
// (Config.ErrorBudgetRetryAfter, 60 s). They match baldur.ErrRejected and
// the reason's sentinel (baldur.ErrKillSwitch, ...).
package governance
