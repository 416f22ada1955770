package idempotency

import (
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// Status is the life cycle of an idempotency key: claimed → succeeded
// (remembered until expiry) | failed (released).
//
// The zero Status is Claimed, so a zero record blocks duplicates: idempotency
// fails closed.
type Status uint8

const (
	// Claimed: an execution holds the key.
	Claimed Status = iota
	// Succeeded: the execution succeeded; duplicates are refused
	// until the record expires.
	Succeeded
	// Failed: the execution failed and released the key; a retry
	// may claim it.
	Failed

	// NumStatuses is the number of idempotency statuses.
	NumStatuses = 3
)

var statusNames = enum.New[Status]("idempotency status", "claimed", "succeeded", "failed")

// String returns "claimed", "succeeded" or "failed".
func (s Status) String() string { return statusNames.String(s) }

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool { return statusNames.Valid(s) }

// ParseStatus returns the status named s (a String value). Any
// other input is an error naming it; it never panics.
func ParseStatus(s string) (Status, error) {
	return statusNames.Parse(s)
}

// TTL is how long a claim or a success is kept by default.
const TTL = 30 * time.Minute

// ErrDuplicateKey: the idempotency key is claimed or already succeeded. The
// original response is not replayed.
var ErrDuplicateKey = errors.New("idempotency: duplicate idempotency key")

// Record is the ledger entry of one idempotency key, namespaced by domain and
// operation. It is a plain value, not an interface: readers route on its
// fields, and an interface would add getters and an allocation for data with no
// behaviour. It has no NoOp: there is nothing to default, and the ledger that
// writes records fails closed when its store is unreachable.
//
// A record is a value; copies are independent, so it is safe to share
// between goroutines once written.
type Record struct {
	Key       string
	Domain    string
	Operation string
	Status    Status
	ClaimedAt time.Time
	// ExpiresAt is when the record stops blocking (TTL after the
	// claim or the success by default); zero means never.
	ExpiresAt time.Time
}

// Expired reports whether r is past its expiry at now.
func (r *Record) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Blocks reports whether r refuses a new claim of its key at now
// (ErrDuplicateKey). A failed record does not block, nor does an expired
// one; any other status, an unknown one included, blocks until it expires
// (fail closed).
func (r *Record) Blocks(now time.Time) bool {
	if r.Expired(now) {
		return false
	}
	return r.Status != Failed
}
