package idempotency

import (
	"context"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// Outcome is what a claim found.
type Outcome uint8

const (
	// Claimed: the caller holds the key's lease and runs the work, then
	// calls Complete or Release.
	Claimed Outcome = iota + 1
	// Busy: another holder's lease covers the key (409 + Retry-After).
	Busy
	// Done: the key's work completed; Claim.Response is what it answered
	// (replay, or ErrDuplicateKey in reject mode).
	Done
	// Mismatch: the key is in use, in progress or completed, with another
	// fingerprint (422). Mismatch wins over Busy and Done.
	Mismatch
)

var outcomeNames = enum.New[Outcome]("claim outcome", "invalid", "claimed", "busy", "done", "mismatch")

// String returns "claimed", "busy", "done" or "mismatch".
func (o Outcome) String() string { return outcomeNames.String(o) }

// ClaimRequest asks a ledger for a key.
type ClaimRequest struct {
	Key         Key
	Fingerprint Fingerprint
	// Lease is how long the claim holds the key without a heartbeat. Zero
	// means the ledger's (DefaultLease).
	Lease time.Duration
	// TTL is how long a completion is remembered. Zero means the ledger's
	// (TTL).
	TTL time.Duration
}

// Claim is the answer to a ClaimRequest. For Claimed it is the holder's
// handle (Token) to pass to Heartbeat, Complete and Release.
type Claim struct {
	Outcome Outcome
	Key     Key
	// Token identifies this holder; Complete, Release and Heartbeat change
	// the record only while it still carries the token.
	Token uint64
	// Record is the key's record: the new claim's for Claimed, the
	// existing one otherwise.
	Record Record
	// Response is the stored response of a Done claim; nil when the
	// record is not replayable.
	Response *Response
	// Lease and TTL are the request's, defaults filled in.
	Lease, TTL time.Duration
}

// Ledger is a store of idempotency records. One claim per key is granted at
// a time (atomically); a claim holds its key for a lease, renewed by
// Heartbeat, until Complete remembers its response for the TTL or Release
// frees the key.
//
// Errors are the store's (unreachable, deadline); callers fail closed on
// them. Implementations are safe for concurrent use.
type Ledger interface {
	// Claim claims req.Key or reports what holds it.
	Claim(ctx context.Context, req ClaimRequest) (Claim, error)
	// Heartbeat pushes the claim's lease to lease from now (zero: the
	// claim's Lease); ErrLeaseLost when the claim no longer holds the key.
	Heartbeat(ctx context.Context, c *Claim, lease time.Duration) error
	// Complete stores resp under the claim's key for its TTL (nil resp:
	// completed, not replayable); ErrLeaseLost when the claim no longer
	// holds the key.
	Complete(ctx context.Context, c *Claim, resp *Response) error
	// Release deletes the claim's record so that a retry runs;
	// ErrLeaseLost when the claim no longer holds the key.
	Release(ctx context.Context, c *Claim) error
	// Lookup returns the record of k (without its response); false when
	// there is none.
	Lookup(ctx context.Context, k Key) (Record, bool, error)
	// ForceRelease deletes k's record while it is in progress (an
	// operator freeing a stuck claim); false when there was no in-progress
	// record. A completed record is left alone.
	ForceRelease(ctx context.Context, k Key) (bool, error)
}
