package baldur

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrRejected matches every rejection by any gate:
// errors.Is(err, baldur.ErrRejected).
var ErrRejected = errors.New("baldur: call rejected")

// Reason is why a gate rejected a call. Each reason has one gate, one HTTP
// status, one gRPC code and one sentinel error.
type Reason uint8

const (
	reasonNone Reason = iota
	// ReasonKillSwitch: the kill switch covers the call's scope.
	ReasonKillSwitch
	// ReasonEmergency: the emergency level sheds the call's tier.
	ReasonEmergency
	// ReasonErrorBudget: the error budget is below the tier's threshold.
	ReasonErrorBudget
	// ReasonThrottled: the partition key is over its rate.
	ReasonThrottled
	// ReasonShareCap: the partition key holds more than its share of
	// capacity.
	ReasonShareCap
	// ReasonBreakerOpen: the partition's circuit breaker is open.
	ReasonBreakerOpen
	// ReasonBulkheadFull: no bulkhead permit was free within the wait
	// bound.
	ReasonBulkheadFull
	// ReasonDeadline: too little time is left before the deadline to serve.
	ReasonDeadline
	// ReasonInjectedFault: a chaos experiment injected an error into the
	// call (package chaos). Its rejections carry the experiment's HTTP
	// status and gRPC code (RejectInjected), and the permits taken before
	// it are released as failures marked Injected, so that breakers and
	// the error budget see the fault.
	ReasonInjectedFault

	numReasons
)

// gRPC status codes, numerically equal to google.golang.org/grpc/codes, so
// that this package needs no gRPC import.
const (
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcUnavailable       = 14
)

type reasonInfo struct {
	code     string
	stage    Stage
	http     int
	grpc     uint32
	sentinel error
}

// Sentinels, one per reason. Each matches its own rejections and, through
// them, errors.Is(err, ErrRejected).
var (
	ErrKillSwitch    error = sentinel("baldur: kill switch active")
	ErrEmergency     error = sentinel("baldur: shed by emergency level")
	ErrErrorBudget   error = sentinel("baldur: error budget exhausted")
	ErrThrottled     error = sentinel("baldur: rate limit exceeded")
	ErrShareCap      error = sentinel("baldur: partition over its capacity share")
	ErrBreakerOpen   error = sentinel("baldur: circuit breaker open")
	ErrBulkheadFull  error = sentinel("baldur: bulkhead full")
	ErrDeadline      error = sentinel("baldur: deadline too short to serve")
	ErrInjectedFault error = sentinel("baldur: fault injected by a chaos experiment")
)

// sentinel is a reason's sentinel error. It matches ErrRejected itself, so
// that errors.Is(baldur.ErrThrottled, baldur.ErrRejected) holds as it does
// for every rejection.
type sentinel string

func (s sentinel) Error() string { return string(s) }

// Is reports whether target is ErrRejected.
func (s sentinel) Is(target error) bool { return target == ErrRejected }

var reasons = [numReasons]reasonInfo{
	reasonNone:          {"none", stagePolicy, 500, 2, ErrRejected},
	ReasonKillSwitch:    {"kill_switch", StageGovernance, 503, grpcUnavailable, ErrKillSwitch},
	ReasonEmergency:     {"emergency", StageGovernance, 503, grpcUnavailable, ErrEmergency},
	ReasonErrorBudget:   {"error_budget", StageGovernance, 503, grpcUnavailable, ErrErrorBudget},
	ReasonThrottled:     {"throttled", StageThrottle, 429, grpcResourceExhausted, ErrThrottled},
	ReasonShareCap:      {"share_cap", StageBlast, 429, grpcResourceExhausted, ErrShareCap},
	ReasonBreakerOpen:   {"breaker_open", StageBlast, 503, grpcUnavailable, ErrBreakerOpen},
	ReasonBulkheadFull:  {"bulkhead_full", StageBulkhead, 503, grpcUnavailable, ErrBulkheadFull},
	ReasonDeadline:      {"deadline", stagePolicy, 503, grpcDeadlineExceeded, ErrDeadline},
	ReasonInjectedFault: {"injected_fault", StageFault, 503, grpcUnavailable, ErrInjectedFault},
}

func (r Reason) info() *reasonInfo {
	if r >= numReasons {
		return &reasons[reasonNone]
	}
	return &reasons[r]
}

// String returns the reason code written in X-Baldur-Reason and JSON bodies,
// such as "kill_switch" or "throttled".
func (r Reason) String() string { return r.info().code }

// Stage returns the stage whose gates give this reason; ReasonDeadline is
// the policy's own check, which runs before every stage.
func (r Reason) Stage() Stage { return r.info().stage }

// Gate returns the name of the stage that gives this reason, as written in
// X-Baldur-Gate and in metrics: "governance", "throttle", "blast",
// "bulkhead", or "deadline" for the policy's own deadline check.
func (r Reason) Gate() string { return r.info().stage.String() }

// HTTPStatus returns the status an HTTP server answers with: 429 for a
// partition over its own quota, 503 for server-side shedding.
func (r Reason) HTTPStatus() int { return r.info().http }

// GRPCCode returns the gRPC status code (as a uint32 equal to codes.Code):
// RESOURCE_EXHAUSTED for quotas, UNAVAILABLE for shedding, DEADLINE_EXCEEDED
// for too short a deadline.
func (r Reason) GRPCCode() uint32 { return r.info().grpc }

// Sentinel returns the reason's sentinel error, such as ErrThrottled.
func (r Reason) Sentinel() error { return r.info().sentinel }

// Reasons lists every reason a gate can give, in a stable order.
func Reasons() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := ReasonKillSwitch; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// ParseReason returns the reason with the given code ("throttled", ...).
func ParseReason(code string) (Reason, bool) {
	for r := ReasonKillSwitch; r < numReasons; r++ {
		if reasons[r].code == code {
			return r, true
		}
	}
	return reasonNone, false
}

// Rejection is the error a gate returns when it rejects a call. It carries
// everything an adapter needs to answer: the gate, the reason and the time
// after which a retry may succeed.
//
// Rejections are immutable and interned by (reason, Retry-After seconds), so
// returning one allocates nothing; compare them with errors.Is, not ==.
type Rejection struct {
	reason     Reason
	retryAfter int64 // whole seconds
	msg        string
	http       int    // overrides the reason's HTTP status when not zero
	grpc       uint32 // overrides the reason's gRPC code when http is not zero
}

// Reason returns why the call was rejected.
func (r *Rejection) Reason() Reason { return r.reason }

// Gate returns the name of the rejecting gate.
func (r *Rejection) Gate() string { return r.reason.Gate() }

// RetryAfter returns the advised wait before a retry, in whole seconds.
func (r *Rejection) RetryAfter() time.Duration { return time.Duration(r.retryAfter) * time.Second }

// RetryAfterSeconds returns the advised wait in whole seconds, as written in
// the Retry-After header.
func (r *Rejection) RetryAfterSeconds() int64 { return r.retryAfter }

// HTTPStatus returns the HTTP status for this rejection: the reason's, or
// the injected fault's own (RejectInjected).
func (r *Rejection) HTTPStatus() int {
	if r.http != 0 {
		return r.http
	}
	return r.reason.HTTPStatus()
}

// GRPCCode returns the gRPC status code for this rejection: the reason's,
// or the injected fault's own (RejectInjected).
func (r *Rejection) GRPCCode() uint32 {
	if r.http != 0 {
		return r.grpc
	}
	return r.reason.GRPCCode()
}

func (r *Rejection) Error() string { return r.msg }

// Is makes a Rejection match ErrRejected and its reason's sentinel.
func (r *Rejection) Is(target error) bool {
	return target == ErrRejected || target == r.reason.Sentinel()
}

// MaxInternedRetryAfter is the longest Retry-After, in whole seconds, for
// which Reject returns a shared Rejection. Longer waits are rare and get a
// fresh Rejection each time, so an adapter that caches what it renders per
// Rejection must not cache those: its cache would grow without bound.
const MaxInternedRetryAfter = 3600

var interned [numReasons][MaxInternedRetryAfter + 1]atomic.Pointer[Rejection]

// Reject returns the rejection for reason with a retry advised after
// retryAfter, rounded up to whole seconds. Negative values count as zero.
// For the same reason and rounded wait it returns the same pointer, so the
// reject path allocates only the first time a value is seen.
func Reject(reason Reason, retryAfter time.Duration) *Rejection {
	if reason == reasonNone || reason >= numReasons {
		reason = reasonNone
	}
	secs := ceilSeconds(retryAfter)
	if secs > MaxInternedRetryAfter {
		return newRejection(reason, secs)
	}
	slot := &interned[reason][secs]
	if r := slot.Load(); r != nil {
		return r
	}
	r := newRejection(reason, secs)
	if slot.CompareAndSwap(nil, r) {
		return r
	}
	return slot.Load()
}

// RejectAtLeast is Reject with the wait raised to at least min. Throttle and
// breaker rejections use it with a floor of one second.
func RejectAtLeast(reason Reason, retryAfter, min time.Duration) *Rejection {
	if retryAfter < min {
		retryAfter = min
	}
	return Reject(reason, retryAfter)
}

func newRejection(reason Reason, secs int64) *Rejection {
	msg := "baldur: rejected by " + reason.Gate() + ": " + reason.String()
	if secs > 0 {
		msg += " (retry after " + strconv.FormatInt(secs, 10) + "s)"
	}
	return &Rejection{reason: reason, retryAfter: secs, msg: msg}
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// AsRejection returns the Rejection in err's chain, if any.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	ok := errors.As(err, &r)
	return r, ok
}
