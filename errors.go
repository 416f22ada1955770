package baldur

import "fmt"

// ConfigError reports an invalid configuration value. Every constructor and
// reload in the toolkit returns one (possibly wrapped) naming the field,
// never panicking at first use.
type ConfigError struct {
	// Field is the configuration field, dotted for nested values
	// ("policies[2].bulkhead", "Tiers.critical.Rate").
	Field string
	// Value is the offending value as text; empty when irrelevant.
	Value string
	// Reason says what is wrong.
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("baldur: invalid config: %s %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("baldur: invalid config: %s = %s: %s", e.Field, e.Value, e.Reason)
}
