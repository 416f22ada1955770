package bulkhead

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
)

// ErrFull matches every rejection by a full compartment, on the policy chain
// (the interned *baldur.Rejection with ReasonBulkheadFull) and standalone (a
// *FullError). It is baldur.ErrBulkheadFull, so errors.Is(err, ErrFull)
// implies errors.Is(err, baldur.ErrRejected).
var ErrFull = baldur.ErrBulkheadFull

// ErrTimeout matches a pool execution that overran its Timeout (a
// *TimeoutError) and the cause of the work's cancelled context. It matches
// baldur.ErrRejected too.
var ErrTimeout error = rejectedSentinel("bulkhead: execution timed out")

// ErrClosed is returned by a Pool after Close or Shutdown began. It is not a
// rejection: the pool is gone, not busy.
var ErrClosed = errors.New("bulkhead: pool closed")

type rejectedSentinel string

func (e rejectedSentinel) Error() string        { return string(e) }
func (e rejectedSentinel) Is(target error) bool { return target == baldur.ErrRejected }

// FullError is the descriptive rejection returned by Acquire and Execute when
// a compartment stays full: it names the compartment and its occupancy at the
// time of the rejection. It unwraps to the compartment's *baldur.Rejection,
// so errors.Is(err, ErrFull), errors.Is(err, baldur.ErrRejected) and
// baldur.AsRejection(err) all hold.
type FullError struct {
	// Name is the compartment's name.
	Name string
	// Active, Max and Waiting are the occupancy seen when rejecting.
	Active, Max, Waiting int
	rej                  *baldur.Rejection
}

func (e *FullError) Error() string {
	return fmt.Sprintf("bulkhead %q full: %d/%d active, %d waiting", e.Name, e.Active, e.Max, e.Waiting)
}

// Unwrap returns the *baldur.Rejection the policy chain would have returned.
func (e *FullError) Unwrap() error { return e.rej }

// RetryAfter returns the advised wait before a retry.
func (e *FullError) RetryAfter() time.Duration { return e.rej.RetryAfter() }

// TimeoutError is returned by a Pool when an execution overran the pool's
// Timeout. It matches ErrTimeout and baldur.ErrRejected, but not ErrFull;
// errors.As finds a *baldur.Rejection (ReasonBulkheadFull, the "queue
// timeout" row of the rejection table) so adapters answer 503 / UNAVAILABLE
// with Retry-After.
type TimeoutError struct {
	// Name is the pool's name.
	Name string
	// Timeout is the bound that passed.
	Timeout time.Duration
	rej     *baldur.Rejection
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("bulkhead %q: execution timed out after %v", e.Name, e.Timeout)
}

// Is reports whether target is ErrTimeout or baldur.ErrRejected.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == baldur.ErrRejected
}

// As sets a **baldur.Rejection target to the pool's rejection. It is As
// rather than Unwrap so that a timeout does not match ErrFull.
func (e *TimeoutError) As(target any) bool {
	if p, ok := target.(**baldur.Rejection); ok {
		*p = e.rej
		return true
	}
	return false
}

// UnknownError is returned by Registry.Get for a name that is not
// registered. It lists the registered names, sorted.
type UnknownError struct {
	Name       string
	Registered []string
}

func (e *UnknownError) Error() string {
	if len(e.Registered) == 0 {
		return fmt.Sprintf("bulkhead: unknown compartment %q (none registered)", e.Name)
	}
	return fmt.Sprintf("bulkhead: unknown compartment %q (registered: %s)", e.Name, strings.Join(e.Registered, ", "))
}
