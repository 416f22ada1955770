package dlq

import (
	"context"
	"errors"
	"time"

	"github.com/baldur-go/baldur/internal/enum"
)

// Status is where a dead-letter entry is in its life cycle:
//
//	pending → replaying → resolved
//	replaying → pending (failed replay) | requires_review (after 2 failures)
//
// The zero Status is Pending, the state of a fresh capture.
type Status uint8

const (
	// Pending: captured and waiting for a replay.
	Pending Status = iota
	// Replaying: a replay holds the entry.
	Replaying
	// Resolved: a replay succeeded.
	Resolved
	// RequiresReview: replays failed too often; only an operator's forced
	// redrive replays it again.
	RequiresReview

	// NumStatuses is the number of DLQ statuses.
	NumStatuses = 4
)

var statusNames = enum.New[Status]("DLQ status", "pending", "replaying", "resolved", "requires_review")

// String returns "pending", "replaying", "resolved" or "requires_review".
func (s Status) String() string { return statusNames.String(s) }

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool { return statusNames.Valid(s) }

// ParseStatus returns the status named s (a String value). Any other
// input is an error naming it; ParseStatus never panics.
func ParseStatus(s string) (Status, error) { return statusNames.Parse(s) }

// MaxPayload is the largest payload a DLQ entry keeps, in bytes; capture
// truncates longer ones (see Entry.CapPayload).
const MaxPayload = 4 << 10

// Errors of DLQ implementations, matched with errors.Is.
var (
	// ErrNotFound: no entry has the ID.
	ErrNotFound = errors.New("dlq: DLQ entry not found")
	// ErrConflict: the entry is not in the expected status (another
	// replay holds it, or it was resolved meanwhile).
	ErrConflict = errors.New("dlq: DLQ entry status conflict")
	// ErrFull: the queue (or the domain's share) is at capacity and the
	// overflow policy is "reject".
	ErrFull = errors.New("dlq: DLQ full")
	// ErrReplayBlocked: governance (emergency level 2 and up, kill switch)
	// or the error-budget gate does not allow replays now.
	ErrReplayBlocked = errors.New("dlq: DLQ replay blocked")
)

// Entry is one failed call kept for replay.
type Entry struct {
	// ID is assigned at capture.
	ID string
	// Domain selects the replay handler and the per-domain capacity.
	Domain    string
	Operation string
	// Payload is the call's input, masked, at most MaxPayload bytes.
	Payload []byte
	// Truncated reports that Payload was cut to MaxPayload.
	Truncated bool
	// FailureType classifies the failure ("timeout", "breaker_open", an
	// error type name); Error is its message.
	FailureType string
	Error       string
	// TraceID is the failed call's trace, to link the replay to it.
	TraceID string
	// Attempts counts failed replays.
	Attempts int
	Status   Status
	// CreatedAt and UpdatedAt are set by the repository.
	CreatedAt time.Time
	UpdatedAt time.Time
	// ExpiresAt is when the entry is dropped (72 h after capture by
	// default); zero means never.
	ExpiresAt time.Time
}

// Expired reports whether e is past its expiry at now.
func (e *Entry) Expired(now time.Time) bool {
	return !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt)
}

// CapPayload replaces e.Payload with a copy of at most MaxPayload bytes
// and sets Truncated when it cut. The copy keeps a DLQ from retaining (or
// seeing later writes to) the caller's buffer.
func (e *Entry) CapPayload() {
	p := e.Payload
	if len(p) > MaxPayload {
		p = p[:MaxPayload]
		e.Truncated = true
	}
	if p != nil {
		p = append([]byte(nil), p...)
	}
	e.Payload = p
}

// Filter selects entries for Repository.List. The zero value selects
// every entry, up to the implementation's default page size.
type Filter struct {
	// Domain, when not empty, selects one domain.
	Domain string
	// Statuses, when not empty, selects entries in any of them.
	Statuses []Status
	// Limit caps the result; zero means the implementation's default.
	Limit int
	// After is the ID of the last entry of the previous page; entries are
	// listed oldest first.
	After string
}

// Repository stores dead-letter entries. There is no NoOp: a repository
// that drops entries would lose failed calls silently.
//
// Implementations must be safe for concurrent use; UpdateStatus is a
// compare-and-set so that two replayers never both take an entry.
type Repository interface {
	// Put stores e, replacing an entry with the same ID.
	Put(ctx context.Context, e Entry) error
	// Get returns the entry with id, or ErrNotFound.
	Get(ctx context.Context, id string) (Entry, error)
	// List returns the entries f selects, oldest first.
	List(ctx context.Context, f Filter) ([]Entry, error)
	// UpdateStatus moves the entry from status from to status to and
	// returns it updated; ErrConflict when it is not in from. A move from
	// Replaying to Pending or RequiresReview counts a failed attempt
	// (Attempts+1).
	UpdateStatus(ctx context.Context, id string, from, to Status) (Entry, error)
	// Delete removes the entry with id; deleting an unknown id is a no-op.
	Delete(ctx context.Context, id string) error
	// Count returns the number of entries in domain, or in all domains when
	// domain is empty.
	Count(ctx context.Context, domain string) (int, error)
}

// BatchResult counts what a batch replay did.
type BatchResult struct {
	// Attempted entries were taken for replay; Resolved succeeded; Failed
	// went back to pending or to review. Skipped were held by another
	// replay.
	Attempted, Resolved, Failed, Skipped int
}

// Stats describes the queue.
type Stats struct {
	Total    int
	ByStatus [NumStatuses]int
	ByDomain map[string]int
	// Capacity and DomainCapacity are the configured bounds (100 000 and
	// 20 000 by default).
	Capacity, DomainCapacity int
	// AutoReplayArmed reports whether replay on breaker close is armed.
	AutoReplayArmed bool
	// Oldest is the capture time of the oldest pending entry; zero when
	// none.
	Oldest time.Time
}

// Service captures failed calls and replays them through a handler per
// domain. There is no NoOp, for the reason Repository has none; a caller
// with no Service skips capture and counts it, never failing the original
// call for it.
//
// Implementations must be safe for concurrent use.
type Service interface {
	// Capture stores e (payload capped, status pending) and returns its ID.
	// It never blocks the caller on the store: implementations queue the
	// write. A full queue with the "reject" policy is ErrFull.
	Capture(ctx context.Context, e Entry) (id string, err error)
	// Replay replays one entry and returns it afterwards. It wraps
	// ErrReplayBlocked when governance or the budget forbid replays,
	// ErrNotFound and ErrConflict as the repository does; a failed
	// handler is an error with the entry back in pending (or in review).
	Replay(ctx context.Context, id string) (Entry, error)
	// ReplayBatch replays up to n pending entries of domain (every domain
	// when empty), oldest first.
	ReplayBatch(ctx context.Context, domain string, n int) (BatchResult, error)
	// Stats describes the queue.
	Stats(ctx context.Context) (Stats, error)
}
