package notify

import (
	"context"
	"strings"

	"github.com/baldur-go/baldur/internal/enum"
)

// Priority orders notifications; a higher priority reaches more
// channels. The zero value is PriorityInfo.
type Priority uint8

const (
	// PriorityInfo goes to the log only.
	PriorityInfo Priority = iota
	// PriorityWarning goes to chat.
	PriorityWarning
	// PriorityHigh goes to chat, flagged.
	PriorityHigh
	// PriorityCritical goes to chat and pages (Slack and PagerDuty).
	PriorityCritical

	// NumPriorities is the number of priorities.
	NumPriorities = 4
)

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(strings.ToUpper(string(b)))
	if err == nil {
		*p = v
	}
	return err
}

var priorityNames = enum.New[Priority]("notification priority", "INFO", "WARNING", "HIGH", "CRITICAL")

// String returns "INFO", "WARNING", "HIGH" or "CRITICAL".
func (p Priority) String() string { return priorityNames.String(p) }

// Valid reports whether p is one of the defined priorities.
func (p Priority) Valid() bool { return priorityNames.Valid(p) }

// ParsePriority returns the priority named s (a String value).
// Any other input is an error naming it; it never panics.
func ParsePriority(s string) (Priority, error) {
	return priorityNames.Parse(s)
}

// SuppressReason is why a notification was not delivered. Suppression is
// not an error.
type SuppressReason string

// Suppression reasons of Result, in the order of the pipeline's steps.
const (
	SuppressNone SuppressReason = ""
	// SuppressInvalid: an invalid priority, an empty or oversized title, or
	// an oversized source or key.
	SuppressInvalid  SuppressReason = "invalid"
	SuppressDisabled SuppressReason = "disabled"
	// SuppressSilenced: an operator's silence matched it.
	SuppressSilenced SuppressReason = "silenced"
	// SuppressInhibited: an inhibition rule held it back (an inhibiting
	// notification is active, or a condition such as the kill switch holds).
	SuppressInhibited SuppressReason = "inhibited"
	// SuppressCooldown: its key was sent within the cooldown, by this
	// replica or (with fleet claims) by another.
	SuppressCooldown SuppressReason = "cooldown"
	// SuppressGrouped: it joined the open group of its source and is sent
	// in the group's summary at the end of the window: held, not lost.
	SuppressGrouped SuppressReason = "grouped"
	// SuppressRateLimited: the global rate limit was spent (never for
	// CRITICAL, which is coalesced).
	SuppressRateLimited SuppressReason = "rate_limited"
	// SuppressCoalesced: a CRITICAL over the spent rate limit joined the
	// coalesced message sent at the end of the window: held, not lost.
	SuppressCoalesced SuppressReason = "coalesced"
	// SuppressLogOnly: the notification was logged but sent to no channel.
	SuppressLogOnly SuppressReason = "log_only"
	// SuppressRefused: every channel chosen refused it (its queue full of
	// CRITICAL notifications); Notify also returns ErrRefused.
	SuppressRefused SuppressReason = "refused"
	// SuppressNotOpen: a resolve of a key already resolved within the
	// cooldown.
	SuppressNotOpen SuppressReason = "not_open"
)

// Notification is one message for operators.
type Notification struct {
	Priority Priority
	// Source is the component that raises it ("governance", "canary",
	// "watchdog"); a noisy source is escalated.
	Source string
	Title  string
	Body   string
	// Key groups repeats for the cooldown; empty means Source and Title.
	Key string
}

// Result is what became of a notification.
type Result struct {
	// Delivered is true when at least one channel took it.
	Delivered bool
	// Suppressed is why it was not delivered; SuppressNone when delivered.
	Suppressed SuppressReason
	// Priority is the priority after escalation.
	Priority Priority
	// Channels lists the channels that took it.
	Channels []string
}

// Manager sends operator notifications through one pipeline: rate limit (per
// minute and per hour), per-key cooldown (fleet-wide), priority escalation (a
// floor while in emergency; a noisy source escalated), routing by priority,
// audit. Where none is configured, NoOp stands in: it delivers nothing and says
// so (fail-open: a missing notifier never blocks the action being notified).
//
// Notify returns an error only when every channel chosen failed; a
// suppressed notification is a result, not an error.
//
// Implementations must be safe for concurrent use.
type Manager interface {
	Notify(ctx context.Context, n Notification) (Result, error)
}

// Resolver resolves what an earlier notification of the same key opened:
// PagerDuty gets a resolve event with the trigger's dedup key, chat and logs
// one "resolved" line, once per key. The watchdog resolves its incidents
// with it when the Manager it was given implements it.
//
// Implementations must be safe for concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, n Notification) (Result, error)
}

// NoOp drops every notification and reports it suppressed with
// SuppressDisabled. It stands in where no Manager is configured. Safe for
// concurrent use.
type NoOp struct{}

var (
	_ Manager  = NoOp{}
	_ Resolver = NoOp{}
)

// Notify drops n.
func (NoOp) Notify(_ context.Context, n Notification) (Result, error) {
	return Result{Suppressed: SuppressDisabled, Priority: n.Priority}, nil
}

// Resolve drops n.
func (NoOp) Resolve(_ context.Context, n Notification) (Result, error) {
	return Result{Suppressed: SuppressDisabled, Priority: n.Priority}, nil
}

// ManagerFunc adapts a function to Manager.
type ManagerFunc func(ctx context.Context, n Notification) (Result, error)

// Notify calls f.
func (f ManagerFunc) Notify(ctx context.Context, n Notification) (Result, error) { return f(ctx, n) }
