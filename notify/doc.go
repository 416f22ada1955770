// Package notify defines the pipeline of operator notifications: rate
// limits, a per-key cooldown shared by the fleet, priority escalation with
// an emergency floor, routing by priority, and audit, each step able to
// suppress a notification with a reason.
//
// This package holds the notification's protocol and value types:
// Notification, Priority, Result with its SuppressReason, the Manager
// interface an implementation fills, and NoOp, which delivers nothing and
// says so. It ships no Manager that sends.
package notify
