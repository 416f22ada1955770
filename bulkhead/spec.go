package bulkhead

import "github.com/baldur-go/baldur"

// Spec declares one compartment as a configuration file does: a semaphore
// (Config's fields) or, when Tiers is present, a tiered admission gate
// with one compartment per tier. Its JSON shape is
//
//	{"max_concurrent": 8, "max_wait": "5ms", "retry_after": "1s"}
//	{"tiers": {"critical": {"max_concurrent": 10}}, "retry_after": "1s"}
//
// and an empty tiers object means every tier's default limit
// (DefaultTierLimit). A Spec is a plain value.
type Spec struct {
	Config
	// Tiers, when not nil, makes the compartment a Tiered gate; then
	// MaxConcurrent and MaxWait must be zero.
	Tiers map[baldur.Tier]TierLimit `json:"tiers,omitempty"`
}

// Tiered reports whether s declares a tiered gate.
func (s Spec) Tiered() bool { return s.Tiers != nil }

// TieredConfig returns the TieredConfig s declares, or a ConfigError when it
// mixes a semaphore's size with tiers.
func (s Spec) TieredConfig() (TieredConfig, error) {
	if s.MaxConcurrent != 0 || s.MaxWait != 0 {
		return TieredConfig{}, &baldur.ConfigError{Field: "Tiers", Reason: "set either tiers or max_concurrent/max_wait, not both"}
	}
	return TieredConfig{Name: s.Name, Tiers: s.Tiers, RetryAfter: s.RetryAfter, Clock: s.Clock}, nil
}
