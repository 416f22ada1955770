package registry

import (
	"errors"

	"github.com/baldur-go/baldur"
)

// serviceSection is a section of the file that a service package reads
// (the registry builds nothing from it) but whose values Load still
// checks, so that a file the service would refuse fails at Load, not at
// the service's wiring.
type serviceSection struct {
	name     string // the JSON name: "idempotency"
	validate func(*Config) error
}

// serviceSections lists them; a service with a section adds one row.
// Each validate checks only the JSON fields (never wiring such as a
// repository or a clock) and returns nil for an absent section.
var serviceSections = [...]serviceSection{
	{"idempotency", func(c *Config) error { return validIf(c.Idempotency != nil, c.Idempotency.Validate) }},
	{"notifications", func(c *Config) error { return validIf(c.Notifications != nil, c.Notifications.Validate) }},
	{"watchdog", func(c *Config) error { return validIf(c.Watchdog != nil, c.Watchdog.Validate) }},
	{"dlq", func(c *Config) error { return validIf(c.DLQ != nil, c.DLQ.Validate) }},
	{"canary", func(c *Config) error {
		if c.Canary == nil {
			return nil
		}
		return c.Canary.Validate()
	}},
}

func validIf(present bool, validate func() error) error {
	if !present {
		return nil
	}
	return validate()
}

// validateSections checks every service section; the error's Field is the
// JSON path ("idempotency.ttl", "dlq.domains[1].name").
func validateSections(cfg *Config) error {
	for _, s := range serviceSections {
		err := s.validate(cfg)
		if err == nil {
			continue
		}
		var ce *baldur.ConfigError
		if errors.As(err, &ce) {
			field := s.name
			if ce.Field != "" {
				field += "." + ce.Field
			}
			return &baldur.ConfigError{Field: field, Value: ce.Value, Reason: ce.Reason}
		}
		return err
	}
	return nil
}
