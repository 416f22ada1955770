// Package idempotency makes a request run at most once per key across a
// fleet, and answers its retries with the first response.
//
// # The model
//
// A Ledger keeps one Record per Key (the caller's key, namespaced by domain
// and operation and scoped by tenant or principal). Claim is atomic and
// answers one of four outcomes:
//
//   - Claimed: the caller holds the key and runs the work;
//   - Busy: another holder is running it (HTTP 409 + Retry-After);
//   - Done: it completed; the stored Response is replayed (or
//     ErrDuplicateKey in reject mode);
//   - Mismatch: the key came with another request (fingerprint): 422.
//
// An in-progress claim is a lease, not a flag: it holds the key for Lease
// (default 10 s) and a Keeper renews it every Lease/3 while the work runs,
// never past the request's deadline plus Grace. A holder that crashes stops
// renewing and its key frees itself within one lease, so a retry succeeds
// seconds later instead of after the 30-minute TTL (the stuck "in
// progress" record of ledgers that tie the claim to the TTL).
//
// The work's outcome decides what is kept: Complete remembers the response
// for the TTL (default 30 min); Release deletes the record so that a retry
// runs. Heartbeat, Complete and Release compare the claim's token, so a
// holder whose lease ran out can never overwrite its successor.
//
// # Ledgers
//
// Memory is per process: right for tests and single-replica services, and
// refused in production mode unless allowed (a retry that reaches another
// replica would run the work again). Its records are map values, so a claim
// allocates nothing and a completion only its copy of the response; an
// in-progress record whose lease ended (a crashed holder) no longer blocks
// its key, and ExpiredClaimsCheck is the watchdog check that reports such
// records (by key digest, never the key) and reclaims them, comparing the
// claim's token. redisstore.NewIdempotency is the
// fleet's ledger: one hash per record under the SHA-256 of the key (never
// the raw key), one script per call, fail closed. Package ledgertest is the
// conformance suite both pass.
//
// # Adapters
//
// Middleware guards HTTP handlers per draft-ietf-httpapi-idempotency-key-
// header: the Idempotency-Key field is one RFC 9651 sf-string without
// parameters (ParseKey; `"abc";p=1` is 400); the fingerprint is a SHA-256
// over method, route and body; successes and deterministic 4xx are stored,
// 5xx, panics and transient 4xx (408, 409, 425, 429) release, and so does
// a handler that hijacks the connection (its answer bypasses the
// middleware, so there is nothing to store); the ledger unreachable is 503
// without running the handler, unless the route fails open. Methods not
// configured pass through after one test of the method's first byte,
// without allocating; a first request allocates only the ledger's copy of
// the response (the working set is pooled, the lease keeper re-arms its
// timer).
//
// Package idemgrpc (kept apart so that this package does not depend on
// gRPC) is the unary server interceptor: the key is the idempotency-key
// metadata entry (ParseKey's rules), the fingerprint a SHA-256 over the
// full method and the request's deterministic proto encoding; OK replies
// and deterministic errors (InvalidArgument, NotFound, AlreadyExists,
// PermissionDenied, FailedPrecondition, OutOfRange, Unimplemented,
// Unauthenticated) are stored, other codes and panics release. Duplicates
// in flight get Aborted with a google.rpc.RetryInfo, completed ones the
// stored reply with trailer idempotent-replayed: true (AlreadyExists in
// reject mode), mismatches InvalidArgument, and an unreachable ledger
// Unavailable without running the handler. Aborted also sets the trailer
// grpc-retry-pushback-ms to RetryInfo's delay, which grpc-go's retry policy
// honors.
//
// Steps runs the toolkit's own actions (DLQ replays, canary applies,
// watchdog actions) once per key (DLQKey, CanaryKey, WatchdogKey), with
// ErrDuplicateKey after completion.
//
// Config is the "idempotency" section of the registry's JSON tree
// (registry.Load validates it, errors naming "idempotency.<field>");
// Metrics counts decisions and is a prometheus.Collector.
package idempotency
