package bulkhead

import (
	"context"
	"time"

	"github.com/baldur-go/baldur"
)

// TierLimit is the compartment of one tier in a Tiered gate.
type TierLimit struct {
	// MaxConcurrent is the tier's permits. Must be > 0.
	MaxConcurrent int `json:"max_concurrent"`
	// MaxWait bounds the wait for a permit; zero means fail fast. Must not
	// be negative.
	MaxWait baldur.Duration `json:"max_wait,omitempty"`
}

// DefaultTierLimit returns the default compartment of tier t: critical 100
// permits waiting up to 50 ms, standard 50 / 30 ms, non_essential 20 with no
// wait. An unknown tier gets the standard limit.
func DefaultTierLimit(t baldur.Tier) TierLimit {
	switch t {
	case baldur.TierCritical:
		return TierLimit{MaxConcurrent: 100, MaxWait: baldur.Duration(50 * time.Millisecond)}
	case baldur.TierNonEssential:
		return TierLimit{MaxConcurrent: 20}
	}
	return TierLimit{MaxConcurrent: 50, MaxWait: baldur.Duration(30 * time.Millisecond)}
}

// TieredConfig declares a Tiered gate.
type TieredConfig struct {
	// Name prefixes the compartments' names: "<Name>.critical",
	// "<Name>.standard", "<Name>.non_essential". Empty means "admission".
	Name string `json:"-"`
	// Tiers overrides the default limit (DefaultTierLimit) of the tiers it
	// lists; an entry replaces both fields, so {MaxConcurrent: 10} means
	// ten permits and fail fast. Nil means the defaults for every tier.
	Tiers map[baldur.Tier]TierLimit `json:"tiers,omitempty"`
	// RetryAfter is advised to rejected callers. Zero means
	// DefaultRetryAfter (1 s). Must not be negative.
	RetryAfter baldur.Duration `json:"retry_after,omitempty"`
	// Clock times the waits. Nil means baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
}

// Tiered is an admission gate with one semaphore compartment per tier, so
// that a flood of non-essential calls cannot take the permits critical
// calls need. It implements baldur.Gate and selects the compartment by
// Call.Tier (an unknown tier counts as standard). It is safe for concurrent
// use.
type Tiered struct {
	tiers [baldur.NumTiers]*Semaphore
}

var _ baldur.Gate = (*Tiered)(nil)

// NewTiered validates cfg and returns the gate it declares. Errors name the
// field as "Tiers.<tier>.MaxConcurrent" and so on.
func NewTiered(cfg TieredConfig) (*Tiered, error) {
	if cfg.Name == "" {
		cfg.Name = "admission"
	}
	for t := range cfg.Tiers {
		if !t.Valid() {
			return nil, &baldur.ConfigError{Field: "Tiers", Value: t.String(), Reason: "unknown tier"}
		}
	}
	g := &Tiered{}
	for _, t := range baldur.Tiers() {
		lim, ok := cfg.Tiers[t]
		if !ok {
			lim = DefaultTierLimit(t)
		}
		s, err := New(Config{
			Name:          cfg.Name + "." + t.String(),
			MaxConcurrent: lim.MaxConcurrent,
			MaxWait:       lim.MaxWait,
			RetryAfter:    cfg.RetryAfter,
			Clock:         cfg.Clock,
		})
		if err != nil {
			if ce, ok := err.(*baldur.ConfigError); ok && ce.Field != "RetryAfter" {
				ce.Field = "Tiers." + t.String() + "." + ce.Field
			}
			return nil, err
		}
		g.tiers[t] = s
	}
	return g, nil
}

// Stage returns baldur.StageBulkhead.
func (g *Tiered) Stage() baldur.Stage { return baldur.StageBulkhead }

// Admit admits c into its tier's compartment; see Semaphore.Admit.
func (g *Tiered) Admit(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	return g.Compartment(c.Tier).Admit(ctx, c)
}

// Compartment returns tier t's semaphore (standard for an unknown tier), to
// resize it or read its state.
func (g *Tiered) Compartment(t baldur.Tier) *Semaphore {
	if !t.Valid() {
		t = baldur.TierStandard
	}
	return g.tiers[t]
}

// Compartments returns the tiers' semaphores from most to least protected,
// for Registry.Register.
func (g *Tiered) Compartments() []*Semaphore {
	ts := baldur.Tiers()
	out := make([]*Semaphore, len(ts))
	for i, t := range ts {
		out[i] = g.tiers[t]
	}
	return out
}
