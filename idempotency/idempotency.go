package idempotency

import (
	"crypto/sha256"
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// Status is the life cycle of a record: in progress (a holder's lease) →
// completed (remembered until the TTL) | released (deleted: a retry may
// claim the key again).
//
// The zero Status is InProgress, so a zero record blocks duplicates:
// idempotency fails closed.
type Status uint8

const (
	// InProgress: a holder's lease covers the key; duplicates get 409.
	InProgress Status = iota
	// Completed: the work finished and its response is remembered until
	// the record expires; duplicates get the replay (or ErrDuplicateKey).
	Completed
	// Released: the work failed and released the key; a retry may claim
	// it. Ledgers delete released records, so readers see this status only
	// on values they build themselves.
	Released

	// NumStatuses is the number of statuses.
	NumStatuses = 3
)

var statusNames = enum.New[Status]("idempotency status", "in_progress", "completed", "released")

// String returns "in_progress", "completed" or "released".
func (s Status) String() string { return statusNames.String(s) }

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool { return statusNames.Valid(s) }

// ParseStatus returns the status named s (a String value). Any other input
// is an error naming it; it never panics.
func ParseStatus(s string) (Status, error) { return statusNames.Parse(s) }

// Defaults of the ledgers, the middleware and the step API.
const (
	// TTL is how long a completed record is remembered (the original
	// system's 30 minutes).
	TTL = 30 * time.Minute
	// DefaultLease is how long one claim or heartbeat keeps an in-progress
	// record alive: a holder that stops heartbeating (crashed, partitioned)
	// frees its key within this time.
	DefaultLease = 10 * time.Second
	// DefaultGrace is added to a request's deadline to bound a holder that
	// keeps heartbeating but never finishes.
	DefaultGrace = 5 * time.Second
	// MaxKeyLen is the longest idempotency key, in bytes.
	MaxKeyLen = 255
)

var (
	// ErrDuplicateKey: the key's work already completed and the caller
	// asked not to replay its response (mode reject, the step API).
	ErrDuplicateKey = errors.New("idempotency: duplicate idempotency key")
	// ErrInProgress: another holder's lease covers the key.
	ErrInProgress = errors.New("idempotency: request with this key is in progress")
	// ErrMismatch: the key was used with another request (fingerprint).
	ErrMismatch = errors.New("idempotency: key reused with a different request")
	// ErrLeaseLost: the claim no longer holds its key (the lease expired,
	// an operator released it, or another holder claimed it since).
	// Complete, Release and Heartbeat return it and change nothing.
	ErrLeaseLost = errors.New("idempotency: claim no longer holds its key")
	// ErrMemoryInProduction: a memory ledger was built in production
	// mode without AllowInProduction.
	ErrMemoryInProduction = errors.New("idempotency: memory ledger refused in production: " +
		"it is per process, so a retry that lands on another replica runs the work again; " +
		"use a shared ledger (redisstore.NewIdempotency) or set AllowInProduction to accept that")
)

// Key names one record: the caller's key, namespaced by domain and
// operation and scoped by the caller (tenant or principal, never a client
// address). Two keys are the same record only when all four fields are
// equal. Ledgers that persist records store a digest of it (Digest), never
// the raw key.
type Key struct {
	Domain    string
	Operation string
	Scope     string
	Key       string
}

// Digest returns the SHA-256 of k's fields, each length-prefixed, so that
// no two distinct keys share a digest by concatenation. It does not
// allocate for keys whose fields total up to 512 bytes.
func (k Key) Digest() [32]byte {
	fields := [...]string{k.Domain, k.Operation, k.Scope, k.Key}
	var buf [512]byte
	b := buf[:0]
	if n := 16 + len(k.Domain) + len(k.Operation) + len(k.Scope) + len(k.Key); n > len(buf) {
		b = make([]byte, 0, n)
	}
	for _, s := range fields {
		b = append(b, byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s)))
		b = append(b, s...)
	}
	return sha256.Sum256(b)
}

// Fingerprint identifies the request a key was first used with (a SHA-256
// over method, route and body for HTTP). A claim with the same key and
// another fingerprint is a mismatch. The zero Fingerprint is a valid value
// (work without a payload).
type Fingerprint [32]byte

// Record is the ledger entry of one key, as readers see it: status and
// times, never the raw key or the stored body. It is a plain value; copies
// are independent.
type Record struct {
	Key         Key
	Status      Status
	Fingerprint Fingerprint
	ClaimedAt   time.Time
	// CompletedAt is zero while in progress.
	CompletedAt time.Time
	// ExpiresAt is when the record stops blocking: the lease's end while
	// in progress, the TTL's after completion. Zero means never.
	ExpiresAt time.Time
	// Replayable is false for a completed record whose response was too
	// large to store (or carried no response): duplicates get 409.
	Replayable bool
	// StoredBytes is the size of the encoded response.
	StoredBytes int
}

// Expired reports whether r is past its expiry at now.
func (r *Record) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Blocks reports whether r refuses a new claim of its key at now. A
// released record does not block, nor does an expired one; any other
// status, an unknown one included, blocks until it expires (fail closed).
func (r *Record) Blocks(now time.Time) bool {
	if r.Expired(now) {
		return false
	}
	return r.Status != Released
}
