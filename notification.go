package baldur

import (
	"context"

	"github.com/baldur-go/baldur/internal/enum"
)

// NotificationPriority orders notifications; a higher priority reaches more
// channels. The zero value is PriorityInfo.
type NotificationPriority uint8

const (
	// PriorityInfo goes to the log only.
	PriorityInfo NotificationPriority = iota
	// PriorityWarning goes to chat.
	PriorityWarning
	// PriorityHigh goes to chat, flagged.
	PriorityHigh
	// PriorityCritical goes to chat and pages (Slack and PagerDuty).
	PriorityCritical

	// NumNotificationPriorities is the number of priorities.
	NumNotificationPriorities = 4
)

var notificationPriorityNames = enum.New[NotificationPriority]("notification priority", "INFO", "WARNING", "HIGH", "CRITICAL")

// String returns "INFO", "WARNING", "HIGH" or "CRITICAL".
func (p NotificationPriority) String() string { return notificationPriorityNames.String(p) }

// Valid reports whether p is one of the defined priorities.
func (p NotificationPriority) Valid() bool { return notificationPriorityNames.Valid(p) }

// ParseNotificationPriority returns the priority named s (a String value).
// Any other input is an error naming it; it never panics.
func ParseNotificationPriority(s string) (NotificationPriority, error) {
	return notificationPriorityNames.Parse(s)
}

// SuppressReason is why a notification was not delivered. Suppression is
// not an error.
type SuppressReason string

// Suppression reasons of NotifyResult.
const (
	SuppressNone        SuppressReason = ""
	SuppressDisabled    SuppressReason = "disabled"
	SuppressRateLimited SuppressReason = "rate_limited"
	SuppressCooldown    SuppressReason = "cooldown"
	// SuppressLogOnly: the notification was logged but sent to no channel.
	SuppressLogOnly SuppressReason = "log_only"
)

// Notification is one message for operators.
type Notification struct {
	Priority NotificationPriority
	// Source is the component that raises it ("governance", "canary",
	// "watchdog"); a noisy source is escalated.
	Source string
	Title  string
	Body   string
	// Key groups repeats for the cooldown; empty means Source and Title.
	Key string
}

// NotifyResult is what became of a notification.
type NotifyResult struct {
	// Delivered is true when at least one channel took it.
	Delivered bool
	// Suppressed is why it was not delivered; SuppressNone when delivered.
	Suppressed SuppressReason
	// Priority is the priority after escalation.
	Priority NotificationPriority
	// Channels lists the channels that took it.
	Channels []string
}

// UnifiedNotificationManager sends operator notifications through one
// pipeline: rate limit (per minute and per hour), per-key cooldown
// (fleet-wide), priority escalation (a floor while in emergency; a noisy
// source escalated), routing by priority, audit. It is the registry's
// "notification" slot; its default is NoOpNotifications, which delivers
// nothing and says so (fail-open: a missing notifier never blocks the
// action being notified).
//
// Notify returns an error only when every channel chosen failed; a
// suppressed notification is a result, not an error.
//
// Implementations must be safe for concurrent use.
type UnifiedNotificationManager interface {
	Notify(ctx context.Context, n Notification) (NotifyResult, error)
}

// NoOpNotifications drops every notification and reports it suppressed with
// SuppressDisabled. It is the default UnifiedNotificationManager. Safe for
// concurrent use.
type NoOpNotifications struct{}

var _ UnifiedNotificationManager = NoOpNotifications{}

// Notify drops n.
func (NoOpNotifications) Notify(_ context.Context, n Notification) (NotifyResult, error) {
	return NotifyResult{Suppressed: SuppressDisabled, Priority: n.Priority}, nil
}
