// Package dlq is the dead-letter queue: it keeps the outbound calls that
// finally failed so that they can be replayed safely once the dependency
// recovers.
//
// # Capture
//
// A capture comes from middleware.TransportConfig.DLQ and
// interceptor.WithDLQ (through Queue.CapturePoint) or from application
// code (Queue.Capture, for job handlers). Capture never blocks and never
// fails the original call: it copies the payload into a pooled buffer,
// stamps an ID and the time, and puts the entry in a bounded outbox (a
// full outbox drops the entry and counts it). A writer goroutine then
// masks the payload (Mask: a JSON field-path deny list and regex
// redactors; a payload that cannot be masked is dropped, its metadata
// kept), caps it at MaxPayload (Truncated), computes the failure group
// (Fingerprint: domain, operation, failure type and the error with its
// numbers and identifiers folded) and the expiry, and hands batches to one
// store goroutine. When that goroutine is still busy (a slow or hung
// repository) or the repository failed, the batch is appended to a
// bounded spill file instead, and the spill is re-ingested once the
// repository takes a write again and at the next start. Repository.Add
// leaves an existing ID as it is, so a re-ingested segment stores each
// entry once.
//
// # Life cycle
//
//	pending → replaying → resolved
//	          replaying → pending (blocked: uncounted; failed: attempts+1)
//	          replaying → requires_review (MaxAttempts failures, default 2)
//	requires_review → pending (Redrive, attempts reset)
//
// Entries expire ExpiresAt (72 h after capture by default) and are bounded
// in total (100 000) and per domain (20 000): drop_oldest evicts the
// domain's oldest, reject refuses the new one. Both are enforced by the
// repository on write.
//
// # Replay
//
// Replay is a guarded call. The entry is taken by compare-and-set
// (pending → replaying) with a lease and a holder token; governance is
// asked (CheckAll, blocking from emergency level 2, operation
// "dlq.replay") and the error budget's ReplayAllowed; the policy of the
// entry's operation admits it like live traffic (its throttle, breaker and
// bulkhead, in the entry's tier) and learns its outcome; the domain's
// Handler runs with the key dlq:{id}:{attempt}, sent as Idempotency-Key by
// HTTPHandler and run at most once per key through idempotency.Steps when
// configured. A governance block or a rejection puts the entry back
// without counting an attempt; a failure counts one. A replayer that dies
// leaves its entry in replaying; StuckCheck (a watchdog.Check) reclaims it
// once the lease has passed.
//
// Auto-replay: OnBreakerStateChange (as blast.BreakerConfig.OnStateChange)
// arms a domain when one of its partitions closes; the run replays at most
// AutoReplay.Max entries in token-bucket-paced batches on the clock and
// stops at the first failure, as a half-open probe would.
//
// # Repositories
//
// Memory keeps entries in the process; redisstore.DLQ shares them across
// the fleet. Both pass the dlqtest conformance suite.
//
// Queue, Memory, Masker and CapturePoint are safe for concurrent use.
package dlq
