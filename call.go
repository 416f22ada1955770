package baldur

import "time"

// Call describes one guarded call. An adapter builds it once per call and
// every gate reads the same value, including the single clock reading Now.
//
// Call is passed by value so that it never escapes to the heap; its strings
// should refer to memory the adapter already has (a route pattern, a header
// value) rather than be built per call.
type Call struct {
	// Operation names what is called: the ServeMux pattern
	// ("GET /items/{id}"), the gRPC full method ("/pkg.Service/Method") or
	// a name of the caller's choosing. Policies are resolved by it.
	Operation string
	// Service is the logical service the call belongs to (kill-switch
	// scope).
	Service string
	// Domain is an optional business domain (payments, search).
	Domain string
	// Region is the region serving the call; error-budget thresholds may be
	// overridden per region.
	Region string
	// Key is the partition key: a client IP, tenant or API key, or an
	// upstream host. Throttles, breakers and share caps partition by it.
	// It may identify a user, so it is never written to a response.
	Key string
	// Tier is the call's criticality class.
	Tier Tier
	// Deadline is when the caller gives up; zero means no deadline.
	Deadline time.Time
	// Now is the one clock reading of this call, taken by the adapter (or
	// by Policy.Admit when zero) and shared by every gate.
	Now time.Time

	// Pads the Call to 144 bytes, nine 16-byte moves: at 136 a copy ends
	// with a move that overlaps the one before it, and a later copy's load
	// of those bytes stalls until both are written.
	_ [8]byte
}

// Result classifies a finished call for the gates that learn from outcomes.
type Result uint8

const (
	// Success is a call that did what was asked (2xx, 3xx, gRPC OK).
	Success Result = iota
	// Failure is a call that failed on the server's side (5xx, panic,
	// transport error, timeout, gRPC Unavailable/Internal/...).
	Failure
	// Ignored is a call whose result says nothing about the callee's health
	// (4xx, caller cancellation, InvalidArgument). Breakers and the error
	// budget skip it.
	Ignored
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignored:
		return "ignored"
	}
	return "unknown"
}

// Outcome is what a finished call reports to every gate on release.
type Outcome struct {
	Result Result
	// Injected is true when a fault-injection gate (package chaos) caused
	// the failure. Breakers and the error budget count it like any other
	// failure, which is the point of injecting it; gates that judge a
	// change (canary) or adapt a limit to observed latency should skip it.
	Injected bool
	// Rejected is the reason of the gate that rejected the call after
	// this permit was granted (the permit is then released at admission);
	// zero for a call that ran. Gates that observe calls per cohort read it.
	Rejected Reason
	// Latency is the call's duration; zero when the adapter did not measure
	// it.
	Latency time.Duration
	// Status is the HTTP status or gRPC code, when there is one; zero
	// otherwise.
	Status int
}
