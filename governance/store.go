package governance

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Store holds the governance state that operators change: kill switches,
// the emergency state and break glass. Every method takes a context and may
// fail, so that a networked store (Redis, a database) fits behind the same
// callers as the in-memory one. The Checker never calls a Store on the
// per-call path: it reads the store when it rebuilds its snapshot (on every
// transition and once per cache TTL) and treats an error as "allow"
// (fail-open) while raising an alert.
//
// Implementations must be safe for concurrent use and must return values
// that the caller may keep (no shared slices).
type Store interface {
	// KillSwitches returns every stored kill switch, expired ones included
	// (the Checker filters by expiry against its clock, and removes expired
	// ones from a store that implements KillSwitchPurger).
	KillSwitches(ctx context.Context) ([]KillSwitch, error)
	// PutKillSwitch stores ks, replacing the switch with the same scope and
	// pattern.
	PutKillSwitch(ctx context.Context, ks KillSwitch) error
	// DeleteKillSwitch removes the switch with scope and pattern and
	// reports whether there was one.
	DeleteKillSwitch(ctx context.Context, scope Scope, pattern string) (bool, error)

	// Emergency returns the emergency state; the zero state (NORMAL) when
	// none was stored.
	Emergency(ctx context.Context) (baldur.EmergencyState, error)
	// PutEmergency stores the emergency state.
	PutEmergency(ctx context.Context, st baldur.EmergencyState) error

	// BreakGlass returns the break-glass state; the zero state (off) when
	// none was stored.
	BreakGlass(ctx context.Context) (BreakGlass, error)
	// PutBreakGlass stores the break-glass state.
	PutBreakGlass(ctx context.Context, bg BreakGlass) error
}

// BreakGlass is the break-glass state: while On (and not expired), every
// governance check allows and every allowance it grants is audited.
type BreakGlass struct {
	On     bool
	Actor  string
	Reason string
	Since  time.Time
	// ExpiresAt ends break glass on its own; zero means until turned off.
	ExpiresAt time.Time
}

// active reports whether break glass is on at now.
func (bg BreakGlass) active(now time.Time) bool {
	return bg.On && (bg.ExpiresAt.IsZero() || now.Before(bg.ExpiresAt))
}

// MemoryStore is the in-memory Store: state lives in this process only. It
// implements KillSwitchPurger, so expired kill switches do not pile up. It
// is safe for concurrent use. The zero value is ready to use.
type MemoryStore struct {
	mu         sync.Mutex
	switches   map[switchKey]KillSwitch
	emergency  baldur.EmergencyState
	breakGlass BreakGlass
}

type switchKey struct {
	scope   Scope
	pattern string
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// KillSwitches implements Store.
func (m *MemoryStore) KillSwitches(context.Context) ([]KillSwitch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]KillSwitch, 0, len(m.switches))
	for _, ks := range m.switches {
		out = append(out, ks)
	}
	return out, nil
}

// PutKillSwitch implements Store.
func (m *MemoryStore) PutKillSwitch(_ context.Context, ks KillSwitch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.switches == nil {
		m.switches = make(map[switchKey]KillSwitch)
	}
	m.switches[switchKey{ks.Scope, ks.Pattern}] = ks
	return nil
}

// DeleteKillSwitch implements Store.
func (m *MemoryStore) DeleteKillSwitch(_ context.Context, scope Scope, pattern string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := switchKey{scope, pattern}
	_, ok := m.switches[k]
	delete(m.switches, k)
	return ok, nil
}

// Emergency implements Store.
func (m *MemoryStore) Emergency(context.Context) (baldur.EmergencyState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.emergency, nil
}

// PutEmergency implements Store.
func (m *MemoryStore) PutEmergency(_ context.Context, st baldur.EmergencyState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.emergency = st
	return nil
}

// BreakGlass implements Store.
func (m *MemoryStore) BreakGlass(context.Context) (BreakGlass, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.breakGlass, nil
}

// PutBreakGlass implements Store.
func (m *MemoryStore) PutBreakGlass(_ context.Context, bg BreakGlass) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.breakGlass = bg
	return nil
}

// KillSwitchPurger is an optional Store interface. The Checker calls it on
// a snapshot rebuild that found expired kill switches, so that they stop
// accumulating and being walked by every rebuild. A Store without it keeps
// them (the Checker never deletes by scope and pattern: between its read
// and the delete, another process may have replaced an expired switch by
// a live one); such a store should expire entries itself (a TTL).
type KillSwitchPurger interface {
	// PurgeKillSwitches removes every kill switch whose ExpiresAt is set
	// and not after now, atomically with respect to PutKillSwitch (a
	// switch replaced by a live one stays), and reports how many.
	PurgeKillSwitches(ctx context.Context, now time.Time) (int, error)
}

var _ KillSwitchPurger = (*MemoryStore)(nil)

// PurgeKillSwitches implements KillSwitchPurger.
func (m *MemoryStore) PurgeKillSwitches(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, ks := range m.switches {
		if !ks.active(now) {
			delete(m.switches, k)
			n++
		}
	}
	return n, nil
}

// ErrStoreReset is matched by the read errors of a Store that detected the
// loss of its data (a shared store restarted without persistence, or failed
// over to a replica that missed writes), so that an empty store is not read
// as "no kill switch, NORMAL": the Checker raises AlertStoreReset and holds
// the last good state for Config.StaleIfError.
var ErrStoreReset = errors.New("governance: store lost its data")

// EmergencyUpdater is an optional Store interface: an atomic
// read-modify-write of the emergency state, for stores shared by several
// processes, where Emergency's own lock serializes only this process.
// When the store implements it, Trigger, StepDown and the expiry of a
// timed level go through it, so that two operators acting on two replicas
// never lose an update.
type EmergencyUpdater interface {
	// UpdateEmergency reads the state, calls fn with it and stores fn's
	// result if the state was not changed in between, calling fn again on
	// the new state when it was (fn may run several times and must have no
	// side effects). When fn returns an error nothing is stored and
	// UpdateEmergency returns fn's state and error.
	UpdateEmergency(ctx context.Context, fn func(cur baldur.EmergencyState) (baldur.EmergencyState, error)) (baldur.EmergencyState, error)
}

// Watcher is an optional Store interface for stores that other processes
// change: Watch calls changed (serially, never concurrently) when the state
// may have changed elsewhere, until ctx ends, and returns ctx's error or
// the error that stopped it. Checker.Watch runs it with InvalidateCache.
type Watcher interface {
	Watch(ctx context.Context, changed func()) error
}
