package bulkhead

import "github.com/baldur-go/baldur"

// Spec declares one compartment as a configuration file does: a semaphore
// (Config's fields); when Tiers is present, a tiered admission gate with
// one compartment per tier; when Pool is present, a worker pool. Its JSON
// shape is
//
//	{"max_concurrent": 8, "max_wait": "5ms", "retry_after": "1s"}
//	{"tiers": {"critical": {"max_concurrent": 10}}, "retry_after": "1s"}
//	{"pool": {"workers": 8, "queue_size": 16, "timeout": "2s", "retry_after": "1s"}}
//
// and an empty tiers object means every tier's default limit
// (DefaultTierLimit). A Spec is a plain value.
type Spec struct {
	Config
	// Tiers, when not nil, makes the compartment a Tiered gate; then
	// MaxConcurrent and MaxWait must be zero.
	Tiers map[baldur.Tier]TierLimit `json:"tiers,omitempty"`
	// Pool, when not nil, makes the compartment a worker pool; then every
	// other field must be zero (the pool's RetryAfter is its own).
	Pool *PoolConfig `json:"pool,omitempty"`
}

// Tiered reports whether s declares a tiered gate.
func (s Spec) Tiered() bool { return s.Tiers != nil }

// Pooled reports whether s declares a worker pool.
func (s Spec) Pooled() bool { return s.Pool != nil }

// TieredConfig returns the TieredConfig s declares, or a ConfigError when it
// mixes a semaphore's size with tiers.
func (s Spec) TieredConfig() (TieredConfig, error) {
	if s.MaxConcurrent != 0 || s.MaxWait != 0 {
		return TieredConfig{}, &baldur.ConfigError{Field: "Tiers", Reason: "set either tiers or max_concurrent/max_wait, not both"}
	}
	return TieredConfig{Name: s.Name, Tiers: s.Tiers, RetryAfter: s.RetryAfter, Clock: s.Clock}, nil
}

// PoolConfig returns the PoolConfig s declares, named and clocked as s, or
// a ConfigError when it mixes a pool with a semaphore's or tiers' fields.
func (s Spec) PoolConfig() (PoolConfig, error) {
	if s.MaxConcurrent != 0 || s.MaxWait != 0 || s.RetryAfter != 0 || s.Tiers != nil {
		return PoolConfig{}, &baldur.ConfigError{Field: "Pool", Reason: "set either pool or max_concurrent/max_wait/retry_after/tiers, not both"}
	}
	cfg := *s.Pool
	cfg.Name, cfg.Clock = s.Name, s.Clock
	return cfg, nil
}
