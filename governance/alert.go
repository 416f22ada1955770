package governance

import (
	"context"
	"sync"
	"time"
)

// AlertKind names what could not be evaluated.
type AlertKind string

// Alert kinds.
const (
	// AlertKillSwitchUnreadable: the store failed to list kill switches;
	// every call is treated as not switched off.
	AlertKillSwitchUnreadable AlertKind = "kill_switch_unreadable"
	// AlertKillSwitchMalformed: a stored kill switch has an invalid pattern
	// (edited outside this package); it is ignored.
	AlertKillSwitchMalformed AlertKind = "kill_switch_malformed"
	// AlertEmergencyUnreadable: the store failed to return the emergency
	// state; the level is treated as NORMAL by the checks.
	AlertEmergencyUnreadable AlertKind = "emergency_unreadable"
	// AlertBreakGlassUnreadable: the store failed to return break glass;
	// it is treated as off (the other checks still fail open).
	AlertBreakGlassUnreadable AlertKind = "break_glass_unreadable"
	// AlertStoreReset: the store reports that it lost its data (an error
	// matching ErrStoreReset: a Redis restarted without persistence, a
	// failover to a replica that missed writes). Its reads are treated as
	// failed reads: the last good state is held for StaleIfError.
	AlertStoreReset AlertKind = "store_reset"
	// AlertStaleExpired: a part of the state stayed unreadable for longer
	// than StaleIfError after its last good read; the last good state was
	// dropped and that part now fails open.
	AlertStaleExpired AlertKind = "stale_expired"
)

// Alert says that a governance check could not be evaluated: it was
// allowed (fail-open), or evaluated on the last good state (StaleSince set).
type Alert struct {
	Kind AlertKind
	Err  error
	Time time.Time
	// StaleSince is the time of the last good read whose state is held in
	// place of the unreadable one (Config.StaleIfError); zero when the
	// part fails open.
	StaleSince time.Time
	// Suppressed counts the alerts of this kind swallowed by the cooldown
	// since the previous one was raised.
	Suppressed uint64
}

// AlertSink receives fail-open alerts, at most one per kind per cooldown.
// It is called without any lock held.
//
// Implementations must be safe for concurrent use and should not block.
type AlertSink interface {
	Alert(ctx context.Context, a Alert)
}

// alerter applies the per-kind cooldown. Alerts happen on snapshot rebuilds
// only, never per call, so a mutex is fine here.
type alerter struct {
	sink     AlertSink
	cooldown time.Duration

	mu    sync.Mutex
	last  map[AlertKind]time.Time
	quiet map[AlertKind]uint64
}

func newAlerter(sink AlertSink, cooldown time.Duration) *alerter {
	return &alerter{sink: sink, cooldown: cooldown, last: map[AlertKind]time.Time{}, quiet: map[AlertKind]uint64{}}
}

func (a *alerter) raise(ctx context.Context, kind AlertKind, err error, now time.Time) {
	a.raiseStale(ctx, kind, err, now, time.Time{})
}

func (a *alerter) raiseStale(ctx context.Context, kind AlertKind, err error, now, staleSince time.Time) {
	a.mu.Lock()
	if last, ok := a.last[kind]; ok && now.Sub(last) < a.cooldown {
		a.quiet[kind]++
		a.mu.Unlock()
		return
	}
	a.last[kind] = now
	n := a.quiet[kind]
	a.quiet[kind] = 0
	a.mu.Unlock()
	a.sink.Alert(ctx, Alert{Kind: kind, Err: err, Time: now, StaleSince: staleSince, Suppressed: n})
}
