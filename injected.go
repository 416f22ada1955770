package baldur

import (
	"strconv"
	"sync"
)

// injectedRejections interns the rejections RejectInjected returns, one
// per (HTTP status, gRPC code): at most 200 × 17, so an adapter's cache of
// renderings per Rejection stays bounded.
var injectedRejections sync.Map // [2]uint32{http, grpc} -> *Rejection

// RejectInjected returns the ReasonInjectedFault rejection that answers
// with httpStatus (400..599; anything else is 503) and grpcCode (1..16;
// anything else is UNAVAILABLE), without Retry-After. It is what a
// fault-injection gate returns for an injected error; one pointer per
// pair, so a gate fetches it once per experiment and rejecting allocates
// nothing.
func RejectInjected(httpStatus int, grpcCode uint32) *Rejection {
	if httpStatus < 400 || httpStatus > 599 {
		httpStatus = 503
	}
	if grpcCode < 1 || grpcCode > 16 {
		grpcCode = grpcUnavailable
	}
	k := [2]uint32{uint32(httpStatus), grpcCode}
	if v, ok := injectedRejections.Load(k); ok {
		return v.(*Rejection)
	}
	r := newRejection(ReasonInjectedFault, 0)
	r.http, r.grpc = httpStatus, grpcCode
	r.msg += " (status " + strconv.Itoa(httpStatus) + ", grpc code " + strconv.FormatUint(uint64(grpcCode), 10) + ")"
	v, _ := injectedRejections.LoadOrStore(k, r)
	return v.(*Rejection)
}

// releaseOutcome is the outcome the permits granted before a rejection are
// released with: Ignored (the call never ran), except for an injected
// fault, which is released as the failure it stands for, marked Injected.
// A nil r (the call ended on a context error) is Ignored too.
func (r *Rejection) releaseOutcome() Outcome {
	if r == nil {
		return Outcome{Result: Ignored}
	}
	if r.reason == ReasonInjectedFault {
		return Outcome{Result: Failure, Injected: true, Rejected: r.reason, Status: r.HTTPStatus()}
	}
	return Outcome{Result: Ignored, Rejected: r.reason}
}

// InjectionMarker is implemented by a fault-injection gate (package chaos)
// whose permits may stand for a fault injected into a call that then ran,
// such as a delay. The policy asks it (the first one of its gates that is
// one) about each permit it grants, once at admission; when Injected reports true, the ticket's Release marks the
// Outcome every gate of the call sees as Injected, so that gates judging a
// change or adapting a limit to latency skip the artificial delay. Policies
// without such a gate pay one branch per release.
type InjectionMarker interface {
	Gate
	// Injected reports whether the permit the gate granted with token
	// stands for an injected fault. It must not lock or allocate.
	Injected(token uint64) bool
}
