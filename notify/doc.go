// Package notify is the pipeline of operator notifications: every
// notification passes the same steps in a fixed order, and each step may
// suppress it with a reason that the Result, the audit ring and the
// metrics carry.
//
//  1. validate: a valid priority, a title of 1..256 bytes, source and key
//     bounded; a body over 4 KiB is truncated (SuppressInvalid).
//  2. disabled: the whole pipeline is off (SuppressDisabled).
//  3. silences: an operator's matcher (source and key globs, a priority
//     range) with a required actor, reason and expiry at most 7 days
//     ahead (SuppressSilenced).
//  4. inhibition: while a named condition holds (the kill switch) or an
//     inhibiting notification was sent and not resolved, matching targets
//     are held back (SuppressInhibited).
//  5. escalation: the emergency floor (level 2 at least HIGH, level 3
//     CRITICAL, for the governance, canary and watchdog sources) and one
//     step up per repeat step reached (5 and 10 within 15 min).
//  6. cooldown by key: Key, or Source and Title, never broader, so alerts
//     never mute each other (default 300 s; SuppressCooldown). A higher
//     priority than the one sent breaks the cooldown. With Claims the
//     cooldown is the fleet's: claim-before-send.
//  7. grouping: below CRITICAL, the first notification of a source is
//     sent and the others within GroupWait go out as one summary with
//     their count and distinct titles (SuppressGrouped: held, not lost).
//  8. rate limits: a global token bucket per minute and per hour
//     (SuppressRateLimited). CRITICAL is never dropped: the first over the
//     limit is sent, the others of the window go in one coalesced message
//     (SuppressCoalesced: held, not lost).
//  9. routing: a tree of routes on priority and source with continue; by
//     default logs take everything, chat WARNING and above, PagerDuty
//     CRITICAL. No channel chosen: logged only (SuppressLogOnly).
//  10. bounded per-channel queues: Notify returns once the message is
//     queued. Each channel has one worker that sends through the toolkit's
//     own transport (middleware.NewTransport) with a breaker and the
//     429/503 cooldown; a full queue drops its oldest non-CRITICAL message,
//     and refuses only when it holds nothing but CRITICAL ones
//     (SuppressRefused, ErrRefused).
//  11. audit: every result is counted by priority and reason and kept in
//     a ring of the last 100 (repeats within a key's cooldown are counted
//     only); what was sent is logged.
//
// # Fleet: claim-before-send
//
// With Config.Claims (redisstore.NotifyClaims), the first notification of
// a key in a cooldown claims the key for a short sending lease (30 s)
// before anything is sent; exactly one replica wins. Once a channel took
// the message the claim is extended to the cooldown; when every channel
// failed it is deleted, so a retry or another replica may send. A replica
// that dies after claiming delays the notice by at most the lease. Repeats
// are answered from the replica's own table without a round trip. Without
// Claims, or while Redis cannot be reached, each replica keeps its own
// cooldown: N replicas may send a key up to N times per cooldown, counted
// (Stats.LocalCooldowns, Stats.ClaimErrors).
//
// # Resolve
//
// Pipeline implements Resolver: a resolve of a key sends PagerDuty a
// resolve event with the trigger's dedup key (DedupKey) and chat and logs
// one "resolved" line, once per key (fleet-wide with Claims), and reopens
// the key so that the next trigger pages again.
//
// # Secrets
//
// Webhook URLs and routing keys come from the environment variables the
// configuration names; they never appear in logs, errors, statuses or
// metrics (errors name the channel and the status, transport errors are
// scrubbed).
//
// # Producers
//
// GovernanceAlerts (a governance.AlertSink), BurnAlerts (the error
// budget's multi-window alerts), EmergencyLevels and BreakerChanges
// (blast's OnStateChange) turn the toolkit's existing signals into
// notifications; the watchdog resolves its incidents through Resolver.
//
// NoOp stands in where no pipeline is configured: it delivers nothing and
// says so. Pipeline and every adapter are safe for concurrent use.
package notify
