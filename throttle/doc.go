// Package throttle is the rate gate of baldur-go: a token bucket per key and
// tier, with the semantics of golang.org/x/time/rate, bounded key memory,
// emergency-level scaling and the IETF RateLimit header fields.
//
// # The bucket
//
// A bucket of rate r and burst b holds up to b tokens and gains r per
// second; a call takes one token or is rejected. Instead of a token count
// and a timestamp, the bucket is kept the way GCRA (the generic cell rate
// algorithm) keeps it: as one int64, its theoretical arrival time (TAT),
// the instant at which the bucket will be full again. With one call costing
// T = 1/r and a tolerance τ = (b-1)·T, a call at now conforms when
// TAT - now <= τ, and then TAT = max(TAT, now) + T. Both forms make the same
// decisions, up to nanosecond rounding (a differential test holds this
// package to x/time/rate's AllowN(now, 1) on random traces), but one word is
// easy to update under a short lock or in one Redis script, and a bucket
// whose TAT is in the past is the same as a bucket never seen, which makes
// eviction lossless.
//
// Decide is that arithmetic as a pure function; a Store applies it
// atomically to the bucket of a Key. Memory is the in-process store.
//
// Call.Now is read before the chain runs, so concurrent calls reach the bucket
// slightly out of order. x/time/rate decides a call older than its last update
// at that update's time; Memory does the same with the latest time a call of
// the key's set was allowed at, so a late arrival is never charged for time
// that already passed. Decide rounds 1/rate to whole nanoseconds: the rate is
// exact to 0.5 ns per call (5e-6 relative at 10,000 calls/s).
//
// # Keys and memory
//
// Config.KeyBy chooses what shares a bucket: the partition key (Call.Key:
// client IP, tenant, API key, chosen by the adapter), the operation, both,
// or nothing (Global). Each tier has its own bucket per key. Keys are hashed
// with a seeded hash (a random seed per Throttle and tier), and never
// stored, so a key costs the same whatever its length; only hashing time
// grows with it, and adapters bound header-derived keys.
//
// Memory holds at most Config.MaxKeys buckets in sets of seven. A call for
// a tracked key takes no lock: it decides on the bucket's state word and
// installs the new one with a compare-and-swap (a rejection writes
// nothing); only inserting a key takes its set's mutex. A new key takes a
// free slot of its set or evicts the bucket closest to full, so the table
// never grows, eviction costs one seven-slot scan on insert and there is no
// sweep to cause latency spikes. A tracked key costs BytesPerKey (18) bytes.
//
// # Tiers and emergencies
//
// Rate and Burst apply to the critical and standard tiers; non_essential
// gets half of both unless Config.Tiers says otherwise. Under an emergency
// level (Config.Level) each call costs more: T/0.8 at LEVEL_1, T/0.5 at
// LEVEL_2, and LEVEL_3 keeps the factor in effect when it began. The
// tolerance stays in time units, so a rate change never hands out tokens.
//
// # Responses
//
// A rejection is baldur.RejectAtLeast(baldur.ReasonThrottled, wait, 1s):
// Retry-After is the time until the next token, rounded up to whole seconds,
// at least one. An admitted call's permit token carries the calls remaining
// and the time until the bucket is full; Throttle.QuotaStatus decodes it
// and AppendPolicy / AppendRateLimit format the RateLimit-Policy and
// RateLimit fields (quota = burst per the refill time of a full bucket),
// never with the partition key. With Config.MaxWait a call waits for its
// token instead of being rejected, up to that bound and its deadline.
package throttle
