package baldur

import (
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// IdempotencyStatus is the life cycle of an idempotency key:
// claimed → succeeded (remembered until expiry) | failed (released).
//
// The zero IdempotencyStatus is IdempotencyClaimed, so a zero record blocks
// duplicates: idempotency fails closed.
type IdempotencyStatus uint8

const (
	// IdempotencyClaimed: an execution holds the key.
	IdempotencyClaimed IdempotencyStatus = iota
	// IdempotencySucceeded: the execution succeeded; duplicates are refused
	// until the record expires.
	IdempotencySucceeded
	// IdempotencyFailed: the execution failed and released the key; a retry
	// may claim it.
	IdempotencyFailed

	// NumIdempotencyStatuses is the number of idempotency statuses.
	NumIdempotencyStatuses = 3
)

var idempotencyStatusNames = enum.New[IdempotencyStatus]("idempotency status", "claimed", "succeeded", "failed")

// String returns "claimed", "succeeded" or "failed".
func (s IdempotencyStatus) String() string { return idempotencyStatusNames.String(s) }

// Valid reports whether s is one of the defined statuses.
func (s IdempotencyStatus) Valid() bool { return idempotencyStatusNames.Valid(s) }

// ParseIdempotencyStatus returns the status named s (a String value). Any
// other input is an error naming it; it never panics.
func ParseIdempotencyStatus(s string) (IdempotencyStatus, error) {
	return idempotencyStatusNames.Parse(s)
}

// IdempotencyTTL is how long a claim or a success is kept by default.
const IdempotencyTTL = 30 * time.Minute

// ErrDuplicateKey: the idempotency key is claimed or already succeeded. The
// original response is not replayed.
var ErrDuplicateKey = errors.New("baldur: duplicate idempotency key")

// IdempotencyRecord is the ledger entry of one idempotency key, namespaced by
// domain and operation. It is a plain value, not an interface: readers route on its fields, and an interface would add
// getters and an allocation for data with no behaviour. It has no NoOp:
// there is nothing to default, and the ledger that writes records fails
// closed when its store is unreachable.
//
// A record is a value; copies are independent, so it is safe to share
// between goroutines once written.
type IdempotencyRecord struct {
	Key       string
	Domain    string
	Operation string
	Status    IdempotencyStatus
	ClaimedAt time.Time
	// ExpiresAt is when the record stops blocking (IdempotencyTTL after the
	// claim or the success by default); zero means never.
	ExpiresAt time.Time
}

// Expired reports whether r is past its expiry at now.
func (r *IdempotencyRecord) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Blocks reports whether r refuses a new claim of its key at now
// (ErrDuplicateKey). A failed record does not block, nor does an expired
// one; any other status, an unknown one included, blocks until it expires
// (fail closed).
func (r *IdempotencyRecord) Blocks(now time.Time) bool {
	if r.Expired(now) {
		return false
	}
	return r.Status != IdempotencyFailed
}
