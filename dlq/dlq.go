package dlq

import (
	"context"
	"errors"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/enum"
)

// Status is where a dead-letter entry is in its life cycle:
//
//	pending → replaying → resolved
//	replaying → pending (failed or blocked replay) | requires_review (after MaxAttempts failures)
//	requires_review → pending (an operator's redrive)
//
// The zero Status is Pending, the state of a fresh capture.
type Status uint8

const (
	// Pending: captured and waiting for a replay.
	Pending Status = iota
	// Replaying: a replay holds the entry, under a lease.
	Replaying
	// Resolved: a replay succeeded.
	Resolved
	// RequiresReview: replays failed too often; only an operator's redrive
	// replays it again.
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
// truncates longer ones (after masking) and flags them Truncated.
const MaxPayload = 4 << 10

// ErrDLQ is the package's sentinel: every error of the package's own
// decisions matches it. ErrFull and ErrReplayBlocked also match
// baldur.ErrRejected, as rejections do.
var ErrDLQ = errors.New("dlq")

// Errors of DLQ implementations, matched with errors.Is.
var (
	// ErrNotFound: no entry has the ID.
	ErrNotFound = &dlqError{msg: "dlq: entry not found"}
	// ErrConflict: the entry is not in the expected status or lease
	// (another replay holds it, or it was resolved meanwhile).
	ErrConflict = &dlqError{msg: "dlq: entry status conflict"}
	// ErrFull: the queue (or the domain's share) is at capacity and the
	// overflow policy is "reject".
	ErrFull = &dlqError{msg: "dlq: full", rejected: true}
	// ErrReplayBlocked: governance (emergency level 2 and up, kill switch),
	// the error-budget gate, or the policy of the entry's operation does
	// not admit the replay now. The entry is back in pending, its attempts
	// unchanged.
	ErrReplayBlocked = &dlqError{msg: "dlq: replay blocked", rejected: true}
	// ErrClosed: the queue was closed.
	ErrClosed = &dlqError{msg: "dlq: closed"}
	// ErrMalformed: a stored record (spill file, Redis hash) does not
	// decode.
	ErrMalformed = &dlqError{msg: "dlq: malformed record"}
)

type dlqError struct {
	msg      string
	rejected bool
}

func (e *dlqError) Error() string { return e.msg }

func (e *dlqError) Is(target error) bool {
	return target == ErrDLQ || (e.rejected && target == baldur.ErrRejected)
}

// Origin says which capture point captured an entry.
type Origin uint8

const (
	// OriginApp: Queue.Capture from application code (a job handler).
	OriginApp Origin = iota
	// OriginHTTP: the outbound HTTP transport (middleware.TransportConfig.DLQ).
	OriginHTTP
	// OriginGRPC: the gRPC client interceptor (interceptor.WithDLQ).
	OriginGRPC
	numOrigins
)

var originNames = enum.New[Origin]("DLQ origin", "app", "http", "grpc")

// String returns "app", "http" or "grpc".
func (o Origin) String() string { return originNames.String(o) }

// Entry is one failed call kept for replay.
type Entry struct {
	// ID is assigned at capture: unique, [0-9a-z-], at most 64 bytes.
	ID string
	// Domain selects the replay handler and the per-domain capacity.
	Domain string
	// Operation is the failed call's operation (route, gRPC full method);
	// its policy guards the replay.
	Operation string
	// Tier is the failed call's tier; the replay is admitted in it.
	Tier baldur.Tier
	// Origin is the capture point.
	Origin Origin
	// Method, URL and Header describe an HTTP request (Header reduced to
	// the capture's allow-list, userinfo stripped from URL); empty
	// otherwise.
	Method, URL string
	Header      map[string]string
	// Payload is the call's input, masked, at most MaxPayload bytes.
	Payload []byte
	// Truncated reports that Payload was cut to MaxPayload after masking.
	Truncated bool
	// PayloadDropped, when not empty, says why the payload was dropped
	// and only the metadata kept: "mask_error" (it could not be masked),
	// "too_large" (over the capture limit with masking configured).
	PayloadDropped string
	// FailureType classifies the failure ("timeout", "breaker_open",
	// "http_503", "status_unavailable", an application's word); Error is
	// its message.
	FailureType string
	Error       string
	// Group is the failure fingerprint: a hash of domain, operation,
	// failure type and the normalized error (digits, hex and quoted runs
	// folded), so that one incident's entries share it.
	Group string
	// TraceID is the failed call's trace, to link the replay to it.
	TraceID string
	// Attempts counts failed replays.
	Attempts int
	Status   Status
	// LeaseUntil and Holder are set while a replay holds the entry: a
	// lease past LeaseUntil may be reclaimed (the watchdog's
	// stuck-replay check), and only Holder may finish the replay.
	LeaseUntil time.Time
	Holder     uint64
	// CreatedAt is the capture time; UpdatedAt the last status change.
	CreatedAt time.Time
	UpdatedAt time.Time
	// ExpiresAt is when the entry is dropped (72 h after capture by
	// default); zero means never.
	ExpiresAt time.Time

	// pooled is the capture buffer Payload lives in, between Capture and
	// the writer; nil once the payload is the entry's own.
	pooled *capture
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
	// Group, when not empty, selects one failure fingerprint.
	Group string
	// Limit caps the result; zero means DefaultListLimit.
	Limit int
	// After is the ID of the last entry of the previous page; entries are
	// listed oldest first.
	After string
}

// DefaultListLimit is the page size of a Filter without a Limit.
const DefaultListLimit = 100

// Move is one compare-and-set status change of Repository.Move.
type Move struct {
	ID       string
	From, To Status
	// Holder, when moving to Replaying, is stored as the entry's holder
	// with a lease of Lease; when moving from Replaying, the move succeeds
	// only if the entry's holder is Holder (zero: any holder).
	Holder uint64
	Lease  time.Duration
	// Expired, moving from Replaying, succeeds only if the lease has
	// passed (a reclaim); the holder then need not match.
	Expired bool
	// Count adds one failed attempt. With ReviewAfter > 0, an entry whose
	// attempts reach it goes to RequiresReview instead of To.
	Count       bool
	ReviewAfter int
	// ResetAttempts sets the attempts to zero (an operator's redrive).
	ResetAttempts bool
}

// AddStatus is what Repository.Add did with one entry.
type AddStatus uint8

const (
	// Stored: stored.
	Stored AddStatus = iota
	// Duplicate: an entry with the ID exists and was left as it is.
	Duplicate
	// Rejected: the queue or the domain was full and the overflow policy
	// is reject.
	Rejected
	// Stale: the entry was past its expiry already.
	Stale
)

// AddResult reports a Repository.Add.
type AddResult struct {
	// Status is parallel to the entries added.
	Status []AddStatus
	// Evicted counts the entries dropped by drop_oldest, Expired those
	// dropped as expired, by domain.
	Evicted, Expired map[string]int
}

// Counts are a domain's entries by status, and its oldest pending capture
// (zero when none pends).
type Counts struct {
	ByStatus      [NumStatuses]int
	OldestPending time.Time
}

// Total is the number of the domain's entries.
func (c Counts) Total() int {
	n := 0
	for _, v := range c.ByStatus {
		n += v
	}
	return n
}

// Repository stores dead-letter entries. There is no NoOp: a repository
// that drops entries would lose failed calls silently. Capacity, overflow
// policy and expiry are the repository's (Limits), enforced on write.
//
// Implementations must be safe for concurrent use; Move is a
// compare-and-set so that two replayers never both take an entry.
// dlq/dlqtest is the suite every implementation passes.
type Repository interface {
	// Add stores the entries whose IDs are new (an ID already stored is
	// left as it is, so a re-ingested spill never undoes a replay),
	// dropping expired entries first and applying the capacity.
	Add(ctx context.Context, entries []Entry) (AddResult, error)
	// Get returns the entry with id, or ErrNotFound.
	Get(ctx context.Context, id string) (Entry, error)
	// List returns the entries f selects, oldest first.
	List(ctx context.Context, f Filter) ([]Entry, error)
	// Move changes the entry's status by compare-and-set and returns it
	// updated; ErrConflict when it is not in m.From (or its holder or
	// lease do not match), ErrNotFound when absent.
	Move(ctx context.Context, m Move) (Entry, error)
	// Delete removes the entries; unknown ids are skipped. It returns how
	// many it removed.
	Delete(ctx context.Context, ids ...string) (int, error)
	// Counts returns every domain's counts.
	Counts(ctx context.Context) (map[string]Counts, error)
}

// BatchResult counts what a batch replay did.
type BatchResult struct {
	// Attempted entries were taken for replay; Resolved succeeded; Failed
	// went back to pending or to review; Blocked went back to pending
	// without an attempt counted. Skipped were held by another replay.
	Attempted, Resolved, Failed, Blocked, Skipped int
	// IDs are the entries a dry run would replay.
	IDs []string `json:",omitempty"`
}

// Stats describes the queue.
type Stats struct {
	Total    int
	ByStatus [NumStatuses]int
	ByDomain map[string]int
	// Capacity and DomainCapacity are the configured bounds (100 000 and
	// 20 000 by default).
	Capacity, DomainCapacity int
	// AutoReplayArmed lists the domains whose replay on breaker close is
	// armed.
	AutoReplayArmed []string
	// Oldest is the capture time of the oldest pending entry; zero when
	// none.
	Oldest time.Time
	// OutboxDepth is the captures waiting for the writer; Spilled the
	// entries in the spill files.
	OutboxDepth, Spilled int
	// Dropped counts what this process dropped since its start, by reason
	// (overflow, expired, mask_error, outbox_full, spill_full).
	Dropped map[string]uint64
}

// Service captures failed calls and replays them through a handler per
// domain. Queue implements it. There is no NoOp, for the reason
// Repository has none; a caller with no Service skips capture and counts
// it, never failing the original call for it.
//
// Implementations must be safe for concurrent use.
type Service interface {
	// Capture queues e (masked and capped by the writer, status pending)
	// and returns its ID. It never blocks the caller on the store.
	Capture(ctx context.Context, e Entry) (id string, err error)
	// Replay replays one entry and returns it afterwards.
	Replay(ctx context.Context, id string) (Entry, error)
	// ReplayBatch replays up to n pending entries of domain (every domain
	// when empty), oldest first.
	ReplayBatch(ctx context.Context, domain string, n int) (BatchResult, error)
	// Stats describes the queue.
	Stats(ctx context.Context) (Stats, error)
}
