package dlq_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/registry"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   dlq.Config
		field string
	}{
		{"zero is valid", dlq.Config{}, ""},
		{"negative capacity", dlq.Config{Capacity: -1}, "capacity"},
		{"domain over total", dlq.Config{Capacity: 10, DomainCapacity: 11}, "domain_capacity"},
		{"unknown overflow", dlq.Config{Overflow: 7}, "overflow"},
		{"negative expiry", dlq.Config{Expiry: -1}, "expiry"},
		{"capture under the cap", dlq.Config{MaxCapture: 100}, "max_capture"},
		{"bad regex", dlq.Config{Mask: dlq.Mask{Redact: []string{"("}}}, "mask.redact[0]"},
		{"bad deny path", dlq.Config{Mask: dlq.Mask{Deny: []string{"a..b"}}}, "mask.deny[0]"},
		{"duplicate domain", dlq.Config{Domains: []dlq.Domain{{Name: "a"}, {Name: "a"}}}, "domains[1].name"},
		{"domain name with a colon", dlq.Config{Domains: []dlq.Domain{{Name: "a:b"}}}, "domains[0].name"},
		{"sample over 1", dlq.Config{ThrottleCapture: dlq.ThrottleCapture{StandardSample: 2}}, "throttle_capture.standard_sample"},
		{"bad header", dlq.Config{Headers: []string{"X Y"}}, "headers[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ce *baldur.ConfigError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
	_, err := dlq.New(dlq.Config{})
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Repository", ce.Field)
}

func TestConfigFromRegistryFile(t *testing.T) {
	t.Parallel()
	cfg, err := registry.ParseConfig(strings.NewReader(`{"policies":[],"dlq":{"capacity":5000,"domain_capacity":1000,"overflow":"reject",
		"expiry":"24h","domains":[{"name":"payments","auto_replay":true}],"mask":{"deny":["card.number"]},"spill_dir":"/var/lib/dlq"}}`))
	require.NoError(t, err)
	require.NotNil(t, cfg.DLQ)
	assert.Equal(t, dlq.Reject, cfg.DLQ.Overflow)
	assert.Equal(t, "payments", cfg.DLQ.Domains[0].Name)
	assert.NoError(t, cfg.DLQ.Validate())
	l := cfg.DLQ.Limits()
	assert.Equal(t, dlq.Limits{Capacity: 5000, DomainCapacity: 1000, Overflow: dlq.Reject}, l)
	_, err = registry.ParseConfig(strings.NewReader(`{"policies":[],"dlq":{"overflow":"compress_oldest"}}`))
	assert.Error(t, err, "an unknown overflow policy")
	_, err = registry.ParseConfig(strings.NewReader(`{"policies":[],"dlq":{"capacty":1}}`))
	assert.Error(t, err, "an unknown field")
}

func FuzzConfig(f *testing.F) {
	f.Add(`{"capacity":10,"overflow":"reject","mask":{"deny":["a.b"],"redact":["x+"]},"domains":[{"name":"p"}]}`)
	f.Add(`{"expiry":"-1h","auto_replay":{"rate":1e300}}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := registry.ParseConfig(strings.NewReader(`{"policies":[],"dlq":` + s + `}`))
		if err != nil || c.DLQ == nil {
			return
		}
		if c.DLQ.Validate() != nil {
			return
		}
		_, err = dlq.NewMasker(c.DLQ.Mask)
		require.NoError(t, err, "a valid config's mask compiles")
		if c.DLQ.SpillDir != "" {
			return // a fuzz run creates no directories
		}
		c.DLQ.Repository = dlq.NewMemory(dlq.MemoryConfig{})
		q, err := dlq.New(*c.DLQ)
		require.NoError(t, err, "a valid config builds a queue")
		require.NoError(t, q.Close(context.Background()))
	})
}
