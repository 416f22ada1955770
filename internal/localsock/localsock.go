// Package localsock notices callers on local (unix domain) sockets that get
// no partition key, for the HTTP middleware and the gRPC interceptors.
//
// Such a peer has no address, so unless a trusted gateway forwards a key,
// every call over the socket shares one partition key: a throttle
// partitioned by key puts all of them in one bucket and a share cap caps
// none (or all) of them, and nothing else would show it.
package localsock

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// WarnAfter is how many unkeyed calls from local sockets are seen, with no
// keyed one among them, before the warning is logged.
const WarnAfter = 16

// Monitor counts calls from local-socket peers and logs one warning when
// they only ever arrive without a partition key. The zero value is ready;
// it is safe for concurrent use. Once the warning is logged, or once a
// keyed call was seen, each call costs one atomic load.
type Monitor struct {
	done    atomic.Bool // warned, or a keyed call was seen: nothing more to do
	unkeyed atomic.Int64
	// Logger returns the logger of the warning; nil means slog.Default.
	Logger func() *slog.Logger
}

// Keyed records a local-socket call that got a partition key of its own.
func (m *Monitor) Keyed() {
	if !m.done.Load() {
		m.done.Store(true)
	}
}

// Unkeyed records a local-socket call that got no partition key of its own
// and logs msg (at Warn, with attr unless it is the zero Attr) once
// WarnAfter such calls came with no keyed one. It allocates nothing until
// it logs.
func (m *Monitor) Unkeyed(ctx context.Context, msg string, attr slog.Attr) {
	if m.done.Load() || m.unkeyed.Add(1) < WarnAfter || !m.done.CompareAndSwap(false, true) {
		return
	}
	l := slog.Default
	if m.Logger != nil {
		l = m.Logger
	}
	if attr.Key == "" {
		l().LogAttrs(ctx, slog.LevelWarn, msg)
		return
	}
	l().LogAttrs(ctx, slog.LevelWarn, msg, attr)
}

// Reset forgets what was seen, for tests.
func (m *Monitor) Reset() {
	m.unkeyed.Store(0)
	m.done.Store(false)
}
