package watchdog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
)

// DefaultLeakedPermitAfter is how long a compartment must stay full before
// Permits pages.
const DefaultLeakedPermitAfter = 5 * time.Minute

// PermitsConfig configures Permits.
type PermitsConfig struct {
	// Policies are searched for gates with compartments
	// (baldur.CompartmentReporter); Bulkheads adds the named compartments
	// of a bulkhead registry. At least one is required.
	Policies  Policies
	Bulkheads baldur.BulkheadRegistry
	// After is how long a compartment must be at capacity at every pass
	// before it is paged. Zero means DefaultLeakedPermitAfter.
	After time.Duration
}

// Permits is the built-in check "leaked_permits", a detector: a bulkhead
// compartment whose in-flight count is at capacity at every pass for After
// is paged, because permits that are never released (a caller that lost
// its Ticket) look exactly like that. It has no action: the watchdog cannot
// release a permit it does not hold; an operator resizes, or restarts the
// replica.
//
// The compartments do not count completions, so a compartment saturated by
// work that turns over is full at every pass too. The check tells them
// apart as far as it can: at capacity with nobody waiting and no new
// rejections over the whole window (permits held while no one asks for
// one) is paged HIGH; at capacity under demand is paged WARNING (a leak,
// or a compartment too small for its load).
//
// It is a LocalCheck (compartments are per process). It keeps, per
// compartment, when it was first seen full and its rejection count then;
// a compartment seen below capacity starts afresh. Safe for concurrent
// use.
type Permits struct {
	policies  Policies
	bulkheads baldur.BulkheadRegistry
	after     time.Duration

	mu   sync.Mutex
	full map[string]fullSince
}

type fullSince struct {
	since    time.Time
	rejected uint64
	demand   bool // someone waited, or was rejected, since
}

var _ LocalCheck = (*Permits)(nil)

// NewPermits returns the leaked-permit detector.
func NewPermits(cfg PermitsConfig) (*Permits, error) {
	if cfg.Policies == nil && cfg.Bulkheads == nil {
		return nil, &baldur.ConfigError{Field: "Policies", Reason: "is required (or Bulkheads)"}
	}
	if cfg.After < 0 {
		return nil, &baldur.ConfigError{Field: "After", Value: cfg.After.String(), Reason: "must not be negative (zero means 5m)"}
	}
	p := &Permits{policies: cfg.Policies, bulkheads: cfg.Bulkheads, after: cfg.After, full: map[string]fullSince{}}
	if p.after == 0 {
		p.after = DefaultLeakedPermitAfter
	}
	return p, nil
}

// Name implements Check.
func (p *Permits) Name() string { return "leaked_permits" }

// Local implements LocalCheck.
func (p *Permits) Local() bool { return true }

func (p *Permits) states() []baldur.BulkheadState {
	var out []baldur.BulkheadState
	for _, ng := range gatesOf(p.policies) {
		if cr, ok := ng.gate.(baldur.CompartmentReporter); ok {
			out = append(out, cr.CompartmentStates()...)
		}
	}
	if p.bulkheads != nil {
		out = append(out, p.bulkheads.States()...)
	}
	return out
}

// Observe pages the compartments full at every pass for After.
func (p *Permits) Observe(_ context.Context, now time.Time) ([]Observation, error) {
	states := p.states()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := make(map[string]bool, len(states))
	var out []Observation
	for _, s := range states {
		if s.Name == "" || seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		if s.MaxConcurrent <= 0 || s.Active < s.MaxConcurrent {
			delete(p.full, s.Name)
			continue
		}
		f, ok := p.full[s.Name]
		if !ok {
			f = fullSince{since: now, rejected: s.Rejected}
		}
		f.demand = f.demand || s.Waiting > 0 || s.Rejected != f.rejected
		p.full[s.Name] = f
		held := now.Sub(f.since)
		if held < p.after {
			continue
		}
		o := Observation{Subject: s.Name, Page: true, Priority: notify.PriorityHigh,
			Detail: fmt.Sprintf("%s %s: %d/%d permits held for %s with no demand: leaked permits", s.Kind, s.Name, s.Active, s.MaxConcurrent, held.Round(time.Second))}
		if f.demand {
			o.Priority = notify.PriorityWarning
			o.Detail = fmt.Sprintf("%s %s: %d/%d permits held for %s under demand: leaked permits, or too small for its load", s.Kind, s.Name, s.Active, s.MaxConcurrent, held.Round(time.Second))
		}
		out = append(out, o)
	}
	for name := range p.full {
		if !seen[name] {
			delete(p.full, name)
		}
	}
	return out, nil
}
