package baldur

import (
	"context"
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// DLQStatus is where a dead-letter entry is in its life cycle:
//
//	pending → replaying → resolved
//	replaying → pending (failed replay) | requires_review (after 2 failures)
//
// The zero DLQStatus is DLQPending, the state of a fresh capture.
type DLQStatus uint8

const (
	// DLQPending: captured and waiting for a replay.
	DLQPending DLQStatus = iota
	// DLQReplaying: a replay holds the entry.
	DLQReplaying
	// DLQResolved: a replay succeeded.
	DLQResolved
	// DLQRequiresReview: replays failed too often; only an operator's forced
	// redrive replays it again.
	DLQRequiresReview

	// NumDLQStatuses is the number of DLQ statuses.
	NumDLQStatuses = 4
)

var dlqStatusNames = enum.New[DLQStatus]("DLQ status", "pending", "replaying", "resolved", "requires_review")

// String returns "pending", "replaying", "resolved" or "requires_review".
func (s DLQStatus) String() string { return dlqStatusNames.String(s) }

// Valid reports whether s is one of the defined statuses.
func (s DLQStatus) Valid() bool { return dlqStatusNames.Valid(s) }

// ParseDLQStatus returns the status named s (a String value). Any other
// input is an error naming it; ParseDLQStatus never panics.
func ParseDLQStatus(s string) (DLQStatus, error) { return dlqStatusNames.Parse(s) }

// DLQMaxPayload is the largest payload a DLQ entry keeps, in bytes; capture
// truncates longer ones (see DLQEntry.CapPayload).
const DLQMaxPayload = 4 << 10

// Errors of DLQ implementations, matched with errors.Is.
var (
	// ErrDLQNotFound: no entry has the ID.
	ErrDLQNotFound = errors.New("baldur: DLQ entry not found")
	// ErrDLQConflict: the entry is not in the expected status (another
	// replay holds it, or it was resolved meanwhile).
	ErrDLQConflict = errors.New("baldur: DLQ entry status conflict")
	// ErrDLQFull: the queue (or the domain's share) is at capacity and the
	// overflow policy is "reject".
	ErrDLQFull = errors.New("baldur: DLQ full")
	// ErrDLQReplayBlocked: governance (emergency level 2 and up, kill switch)
	// or the error-budget gate does not allow replays now.
	ErrDLQReplayBlocked = errors.New("baldur: DLQ replay blocked")
)

// DLQEntry is one failed call kept for replay.
type DLQEntry struct {
	// ID is assigned at capture.
	ID string
	// Domain selects the replay handler and the per-domain capacity.
	Domain    string
	Operation string
	// Payload is the call's input, masked, at most DLQMaxPayload bytes.
	Payload []byte
	// Truncated reports that Payload was cut to DLQMaxPayload.
	Truncated bool
	// FailureType classifies the failure ("timeout", "breaker_open", an
	// error type name); Error is its message.
	FailureType string
	Error       string
	// TraceID is the failed call's trace, to link the replay to it.
	TraceID string
	// Attempts counts failed replays.
	Attempts int
	Status   DLQStatus
	// CreatedAt and UpdatedAt are set by the repository.
	CreatedAt time.Time
	UpdatedAt time.Time
	// ExpiresAt is when the entry is dropped (72 h after capture by
	// default); zero means never.
	ExpiresAt time.Time
}

// Expired reports whether e is past its expiry at now.
func (e *DLQEntry) Expired(now time.Time) bool {
	return !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt)
}

// CapPayload replaces e.Payload with a copy of at most DLQMaxPayload bytes
// and sets Truncated when it cut. The copy keeps a DLQ from retaining (or
// seeing later writes to) the caller's buffer.
func (e *DLQEntry) CapPayload() {
	p := e.Payload
	if len(p) > DLQMaxPayload {
		p = p[:DLQMaxPayload]
		e.Truncated = true
	}
	if p != nil {
		p = append([]byte(nil), p...)
	}
	e.Payload = p
}

// DLQFilter selects entries for DLQRepository.List. The zero value selects
// every entry, up to the implementation's default page size.
type DLQFilter struct {
	// Domain, when not empty, selects one domain.
	Domain string
	// Statuses, when not empty, selects entries in any of them.
	Statuses []DLQStatus
	// Limit caps the result; zero means the implementation's default.
	Limit int
	// After is the ID of the last entry of the previous page; entries are
	// listed oldest first.
	After string
}

// DLQRepository stores dead-letter entries. It is the registry's
// "dlq_repository" slot. There is no NoOp default: a repository that drops
// entries would lose failed calls silently. SafeGet reports the slot unset.
//
// Implementations must be safe for concurrent use; UpdateStatus is a
// compare-and-set so that two replayers never both take an entry.
type DLQRepository interface {
	// Put stores e, replacing an entry with the same ID.
	Put(ctx context.Context, e DLQEntry) error
	// Get returns the entry with id, or ErrDLQNotFound.
	Get(ctx context.Context, id string) (DLQEntry, error)
	// List returns the entries f selects, oldest first.
	List(ctx context.Context, f DLQFilter) ([]DLQEntry, error)
	// UpdateStatus moves the entry from status from to status to and returns
	// it updated; ErrDLQConflict when it is not in from. A move from
	// DLQReplaying to DLQPending or DLQRequiresReview counts a failed
	// attempt (Attempts+1).
	UpdateStatus(ctx context.Context, id string, from, to DLQStatus) (DLQEntry, error)
	// Delete removes the entry with id; deleting an unknown id is a no-op.
	Delete(ctx context.Context, id string) error
	// Count returns the number of entries in domain, or in all domains when
	// domain is empty.
	Count(ctx context.Context, domain string) (int, error)
}

// DLQBatchResult counts what a batch replay did.
type DLQBatchResult struct {
	// Attempted entries were taken for replay; Resolved succeeded; Failed
	// went back to pending or to review. Skipped were held by another
	// replay.
	Attempted, Resolved, Failed, Skipped int
}

// DLQStats describes the queue.
type DLQStats struct {
	Total    int
	ByStatus [NumDLQStatuses]int
	ByDomain map[string]int
	// Capacity and DomainCapacity are the configured bounds (100 000 and
	// 20 000 by default).
	Capacity, DomainCapacity int
	// AutoReplayArmed reports whether replay on breaker close is armed.
	AutoReplayArmed bool
	// Oldest is the capture time of the oldest pending entry; zero when none.
	Oldest time.Time
}

// DLQService captures failed calls and replays them through a handler per
// domain. It is the registry's "dlq_service" slot. There is no NoOp default,
// for the reason DLQRepository has none; a caller that finds the slot unset
// skips capture and counts it, never failing the original call for it.
//
// Implementations must be safe for concurrent use.
type DLQService interface {
	// Capture stores e (payload capped, status pending) and returns its ID.
	// It never blocks the caller on the store: implementations queue the
	// write. A full queue with the "reject" policy is ErrDLQFull.
	Capture(ctx context.Context, e DLQEntry) (id string, err error)
	// Replay replays one entry and returns it afterwards. It wraps
	// ErrDLQReplayBlocked when governance or the budget forbid replays,
	// ErrDLQNotFound and ErrDLQConflict as the repository does; a failed
	// handler is an error with the entry back in pending (or in review).
	Replay(ctx context.Context, id string) (DLQEntry, error)
	// ReplayBatch replays up to n pending entries of domain (every domain
	// when empty), oldest first.
	ReplayBatch(ctx context.Context, domain string, n int) (DLQBatchResult, error)
	// Stats describes the queue.
	Stats(ctx context.Context) (DLQStats, error)
}
