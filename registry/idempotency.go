package registry

import (
	"errors"

	"github.com/baldur-go/baldur"
)

// validateIdempotency checks the idempotency section, so that a file whose
// section the middleware would refuse fails at Load, not at the service's
// wiring; the error's Field is the JSON path ("idempotency.ttl",
// "idempotency.routes[2].mode").
func validateIdempotency(cfg *Config) error {
	if cfg.Idempotency == nil {
		return nil
	}
	err := cfg.Idempotency.Validate()
	var ce *baldur.ConfigError
	if errors.As(err, &ce) {
		return &baldur.ConfigError{Field: "idempotency." + ce.Field, Value: ce.Value, Reason: ce.Reason}
	}
	return err
}
