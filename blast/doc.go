// Package blast limits how far a failure or a tenant can reach within the
// calls a service serves or makes. It holds two per-call mechanisms:
//
//   - [Breakers]: a circuit breaker per partition, so that a failing upstream
//     host, route or tenant is cut off without touching the others;
//   - [ShareCap]: a cap on the in-flight calls of each partition key, so that
//     one tenant cannot fill a bulkhead alone.
//
// Risky actions (chaos experiments, canary stages) are bounded by package
// blastradius, which is not on the call path.
//
// Breakers and ShareCap are gates of stage baldur.StageBlast. Put them in a
// Policy in that order: an open breaker rejects for free, while a share-cap
// permit is a held slot.
//
// # Partitioned breakers
//
// A partition is named by Call.Key, Call.Operation or both (BreakerConfig.
// PartitionBy), hashed with hash/maphash: no string is built per call. Its
// breaker is created on first use and kept in a sharded table that lookups
// read without a lock, bounded by MaxPartitions; when the bound is reached
// (or one shard holds twice its share), a random sample of the new
// partition's shard is examined and the idle ones are dropped, or else the
// least recently used closed one. Open partitions are the last to go, so a
// flood of new keys cannot wash out the breaker of a failing upstream, and
// forced ones are never evicted while their force holds.
//
// Each breaker is the state machine of github.com/sony/gobreaker/v2:
//
//	closed --trip--> open --OpenTimeout--> half-open --probes succeed--> closed
//	                  ^                        |
//	                  +------one failure-------+
//
// A closed breaker trips on ConsecutiveFailures failures in a row (default
// 5) or when failures reach FailureRatio (0.5) of the outcomes in a rolling
// Window (60 s in buckets of 6 s) once MinRequests (10) were seen. An open
// breaker rejects with baldur.ReasonBreakerOpen and a Retry-After of its
// remaining open time (at least 1 s, at most 1 h: baldur.MaxInternedRetryAfter,
// so that rejecting never allocates). After OpenTimeout (60 s) it admits
// HalfOpenProbes (3) probe calls; that many successes in a row close it and
// one failure reopens it. Outcomes of calls admitted before a state change
// are ignored, as in gobreaker.
//
// Outcomes come from baldur.Outcome.Result: Failure counts (5xx, transport
// errors, timeouts), Success counts, and Ignored (4xx, caller cancellation)
// counts as neither, except that an ignored probe frees its probe slot.
//
// The state machine and its rolling counts are ported from gobreaker v2.4
// rather than wrapped, for two reasons: gobreaker reads time.Now itself, while
// here every decision uses the call's single clock reading (Call.Now) or the
// injected Clock, so tests never sleep; and its two-step API allocates a
// closure and takes the mutex twice per call, while here admission in the
// closed and open states reads atomics only, a closed-state success is released
// with one compare-and-swap (the lock is taken only for failures, probes and
// state changes), and nothing allocates. A differential test feeds a partition
// and a plain gobreaker the same outcomes and requires the same decisions.
//
// An operator can ForceOpen or ForceClosed a partition for a TTL (default
// 90 min). A force outranks every automatic transition: a forced-open
// partition rejects whatever the outcomes, a forced-closed one admits and does
// not count. When a force ends (expiry or Unforce), a forced-open partition
// resumes half-open, so traffic returns through probes, and a forced-closed
// one resumes closed with fresh counts. A forced-open partition advises the
// time left of the force as its Retry-After (at least 1 s, at most 1 h).
// Forced partitions count toward MaxPartitions, and at most half of it may
// be forced at once: beyond, ForceOpen and ForceClosed return
// ErrTooManyForced, after ending the forces that have expired.
//
// OnStateChange runs after the breaker's lock is released, on the goroutine
// that caused the change, so a hook may call back into the Breakers.
//
// # Share caps
//
// A ShareCap allows each key at most floor(Share × Capacity) calls in flight,
// or MaxPerKey, whichever is smaller. Admission is one compare-and-swap on the
// key's counter (never a load followed by an add), the key's counter is found
// under a read lock of one shard, and the permit points at the counter, so
// release is a single atomic add. Keys with no call in flight are forgotten
// once their shard grows past its share of MaxKeys, so random keys cannot grow
// memory without bound.
package blast
