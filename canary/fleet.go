package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
)

// DesiredStore holds the desired state of each config type for the
// fleet's replicas to read. Publish is fenced: it refuses, with an error
// matching lock.ErrStaleToken, a Desired whose Token is smaller than the
// one stored for the config type (a panic restore is admitted regardless).
// Implementations must be safe for concurrent use.
type DesiredStore interface {
	Publish(ctx context.Context, d Desired) error
	// Desired returns the state stored for configType; false when none.
	Desired(ctx context.Context, configType string) (Desired, bool, error)
}

// Fleet is the Applier of a fleet: it publishes each apply to a
// DesiredStore, where every replica's Agent reads it, and applies it to the
// controller's own replica (Local) too. Validation and the snapshot are the
// controller's replica's, which runs the same configuration code as every
// other. It is a Flusher through Local. Safe for concurrent use.
type Fleet struct {
	Store DesiredStore
	Local *Local
}

// Snapshot returns the controller replica's running document.
func (f *Fleet) Snapshot(ctx context.Context) ([]byte, error) { return f.Local.Snapshot(ctx) }

// Validate checks a candidate on the controller's replica.
func (f *Fleet) Validate(ctx context.Context, doc []byte) error { return f.Local.Validate(ctx, doc) }

// Apply publishes d, then applies it locally.
func (f *Fleet) Apply(ctx context.Context, d Desired) error {
	if err := f.Store.Publish(ctx, d); err != nil {
		return err
	}
	return f.Local.Apply(ctx, d)
}

// Flush flushes the controller replica's observation.
func (f *Fleet) Flush(ctx context.Context, rollout string) ([NumCohorts]Window, error) {
	return f.Local.Flush(ctx, rollout)
}

// AgentConfig configures an Agent.
type AgentConfig struct {
	// Store is where the controller publishes. Required.
	Store DesiredStore
	// Local applies to this replica. Required.
	Local *Local
	// Windows receives this replica's observation. Nil means none is
	// flushed (a replica that only applies).
	Windows WindowStore
	// Window must be the controller's window setting. Zero means 1m.
	Window time.Duration
	// ConfigType is the config type followed. Empty means "registry".
	ConfigType string
	// Clock aligns the windows. Nil means baldur.SystemClock().
	Clock baldur.Clock
}

// Agent makes one replica follow the fleet's desired state: each Poll
// applies a published state this replica does not run yet (the replica's
// fence refuses a stale one) and flushes the replica's observation of the
// rollout into the fleet's windows. Safe for concurrent use.
type Agent struct {
	cfg AgentConfig
	mu  sync.Mutex
}

// NewAgent returns the agent of cfg.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	switch {
	case cfg.Store == nil:
		return nil, &baldur.ConfigError{Field: "Store", Reason: "is required"}
	case cfg.Local == nil:
		return nil, &baldur.ConfigError{Field: "Local", Reason: "is required"}
	case cfg.Window < 0:
		return nil, &baldur.ConfigError{Field: "Window", Value: cfg.Window.String(), Reason: "must not be negative"}
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.ConfigType == "" {
		cfg.ConfigType = "registry"
	}
	if cfg.Clock == nil {
		cfg.Clock = baldur.SystemClock()
	}
	return &Agent{cfg: cfg}, nil
}

// Poll runs one pass: apply, then flush. It is level triggered: a missed
// pass is caught up by the next.
func (a *Agent) Poll(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok, err := a.cfg.Store.Desired(ctx, a.cfg.ConfigType)
	if err != nil || !ok {
		return err
	}
	if a.cfg.Local.Applied() != d.Ack() {
		if err := a.cfg.Local.Apply(ctx, d); err != nil && !errors.Is(err, lock.ErrStaleToken) {
			return fmt.Errorf("canary: agent apply %s stage %d: %w", d.Rollout, d.Stage, err)
		}
	}
	if a.cfg.Windows == nil || d.Phase != PhaseCanary {
		return nil
	}
	got, err := a.cfg.Local.Flush(ctx, d.Rollout)
	if err != nil {
		return err
	}
	w := a.cfg.Clock.Now().UnixNano() / int64(a.cfg.Window)
	for c, win := range got {
		if win.Requests() == 0 {
			continue
		}
		if err := a.cfg.Windows.AddWindow(ctx, d.Rollout, w, Cohort(c), win); err != nil {
			return err
		}
	}
	return nil
}

// Run calls Poll every interval (5 s is usual) until ctx ends.
func (a *Agent) Run(ctx context.Context, interval time.Duration) {
	for {
		fire := make(chan struct{}, 1)
		t := a.cfg.Clock.AfterFunc(interval, func() { fire <- struct{}{} })
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-fire:
		}
		_ = a.Poll(ctx)
	}
}

// MemoryDesired is a DesiredStore for one process (tests, a fleet of
// registries in one binary). Safe for concurrent use.
type MemoryDesired struct {
	mu sync.Mutex
	m  map[string][]byte // config type -> JSON of the Desired
}

// NewMemoryDesired returns an empty store.
func NewMemoryDesired() *MemoryDesired { return &MemoryDesired{m: map[string][]byte{}} }

// Publish stores d when its token is not stale.
func (s *MemoryDesired) Publish(_ context.Context, d Desired) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.m[d.ConfigType]; ok {
		var p Desired
		if json.Unmarshal(prev, &p) == nil && d.Token < p.Token {
			if !d.Panic {
				return fmt.Errorf("canary: publish %s: token %d < %d: %w", d.Rollout, d.Token, p.Token, lock.ErrStaleToken)
			}
			// A panic restore is admitted but keeps the fence's height.
			d.Token = p.Token
			if b, err = json.Marshal(d); err != nil {
				return err
			}
		}
	}
	s.m[d.ConfigType] = b
	return nil
}

// Desired returns the stored state.
func (s *MemoryDesired) Desired(_ context.Context, configType string) (Desired, bool, error) {
	s.mu.Lock()
	b, ok := s.m[configType]
	s.mu.Unlock()
	if !ok {
		return Desired{}, false, nil
	}
	var d Desired
	if err := json.Unmarshal(b, &d); err != nil {
		return Desired{}, false, err
	}
	return d, true, nil
}
