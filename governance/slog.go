package governance

import (
	"context"
	"log/slog"
)

// SlogSink writes audit records at level Warn and fail-open alerts at level
// Error to Logger; a nil Logger means slog.Default(). It is the default of
// both Config.Audit and Config.Alerts. Safe for concurrent use.
type SlogSink struct {
	Logger *slog.Logger
}

var (
	_ AuditSink = SlogSink{}
	_ AlertSink = SlogSink{}
)

func (s SlogSink) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Audit implements AuditSink.
func (s SlogSink) Audit(ctx context.Context, r AuditRecord) {
	s.logger().LogAttrs(ctx, slog.LevelWarn, "governance: "+string(r.Reason),
		slog.String("message", r.Message),
		slog.String("operation", r.Operation),
		slog.String("service", r.Service),
		slog.String("tier", r.Tier.String()),
		slog.String("region", r.Region),
		slog.String("level", r.Level.String()),
		slog.String("actor", r.Actor),
		slog.Uint64("dropped", r.Dropped),
	)
}

// Alert implements AlertSink.
func (s SlogSink) Alert(ctx context.Context, a Alert) {
	msg := ""
	if a.Err != nil {
		msg = a.Err.Error()
	}
	if !a.StaleSince.IsZero() {
		s.logger().LogAttrs(ctx, slog.LevelError, "governance: store unreadable, holding the last good state",
			slog.String("kind", string(a.Kind)),
			slog.String("error", msg),
			slog.Time("stale_since", a.StaleSince),
			slog.Uint64("suppressed", a.Suppressed))
		return
	}
	s.logger().LogAttrs(ctx, slog.LevelError, "governance: check failed open",
		slog.String("kind", string(a.Kind)),
		slog.String("error", msg),
		slog.Uint64("suppressed", a.Suppressed))
}
