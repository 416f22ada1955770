// Package peer builds the comparison chains of the benchmarks: failsafe-go's
// composed rate limiter + bulkhead + circuit breaker (as an executor, an HTTP
// handler and a gRPC interceptor), a hand-rolled x/time/rate + channel
// semaphore + gobreaker chain, and go-grpc-middleware's ratelimit interceptor
// over an x/time/rate limiter.
//
// Every chain comes in two modes: Admit (limits so generous that every call
// is admitted) and Reject (the rate limiter, the first and cheapest stage,
// is exhausted so every call is rejected), mirroring the admit and reject
// paths measured for baldur.
package peer

import (
	"time"

	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
)

// Mode selects the path a chain takes.
type Mode int

const (
	// Admit configures limits that never reject.
	Admit Mode = iota
	// Reject exhausts the rate limiter so that every call is rejected by
	// the first stage.
	Reject
)

func (m Mode) String() string {
	if m == Reject {
		return "reject"
	}
	return "admit"
}

// Concurrency is the bulkhead size of the admit-mode chains: far above the
// benchmarks' parallelism, so it never rejects.
const Concurrency = 1024

// BreakerTrip is the consecutive failures that trip the peers' breakers: high,
// so that a few client timeouts on a busy machine cannot open a breaker and
// turn a cost measurement into a rejection measurement. The breakers still
// do all their per-call bookkeeping.
const BreakerTrip = 1 << 20

// FailsafePolicies returns failsafe-go's rate limiter, bulkhead and circuit
// breaker for result type R, outermost first (the same order as baldur's
// throttle, bulkhead... cheapest first).
func FailsafePolicies[R any](m Mode) []failsafe.Policy[R] {
	var rl ratelimiter.RateLimiter[R]
	if m == Reject {
		rl = ratelimiter.NewBursty[R](1, time.Hour)
		rl.TryAcquirePermit() // exhaust the only permit of the hour
	} else {
		rl = ratelimiter.NewBursty[R](1<<40, time.Second)
	}
	bh := fsbulkhead.New[R](Concurrency)
	cb := circuitbreaker.NewBuilder[R]().WithFailureThreshold(BreakerTrip).Build()
	return []failsafe.Policy[R]{rl, bh, cb}
}

// FailsafeExecutor returns an executor composing FailsafePolicies.
func FailsafeExecutor[R any](m Mode) failsafe.Executor[R] {
	return failsafe.With(FailsafePolicies[R](m)...)
}

// FailsafeBulkhead returns failsafe-go's bulkhead alone, of max concurrency
// waiting at most maxWait, for the overload experiment.
func FailsafeBulkhead[R any](max int, maxWait time.Duration) failsafe.Policy[R] {
	return fsbulkhead.NewBuilder[R](uint(max)).WithMaxWaitTime(maxWait).Build()
}
