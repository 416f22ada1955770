package redisstore

import (
	"errors"
	"fmt"
)

// ErrUnavailable matches every error that means Redis could not be reached
// in time: a dial or read failure, a per-call deadline, an open breaker.
// Stores answer it with their documented fail mode.
var ErrUnavailable = errors.New("redisstore: redis unavailable")

// ErrBreakerOpen is returned, without a round trip and without allocating,
// while the breaker on Redis is open. It matches ErrUnavailable.
var ErrBreakerOpen error = breakerOpen{}

type breakerOpen struct{}

func (breakerOpen) Error() string        { return "redisstore: breaker on redis is open" }
func (breakerOpen) Is(target error) bool { return target == ErrUnavailable }

// UnavailableError is a failed exchange with Redis: the server at Addr did
// not answer Store's command in time, or could not be reached. It matches
// ErrUnavailable and unwraps to the client's error (a context deadline, a
// dial error, io.EOF).
type UnavailableError struct {
	// Addr is the server address as the client has it (host:port or a
	// socket path; comma-separated for a cluster or ring).
	Addr string
	// Store names the guard that made the call ("ping" at start-up).
	Store string
	// Err is the client's error.
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("redisstore: %s: redis at %s unavailable: %v", e.Store, e.Addr, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes an UnavailableError match ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// ErrMalformed matches a value under a store's key that the store did not
// write (a wrong type or an unparsable number). The call fails; nothing is
// overwritten.
var ErrMalformed = errors.New("redisstore: malformed data under a store key")
