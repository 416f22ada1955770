package registry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/registry"
)

// TestIdempotencySection: the idempotency section decodes strictly, with
// path-named errors, and validates through idempotency.Config.Validate.
func TestIdempotencySection(t *testing.T) {
	t.Parallel()
	cfg, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "idempotency": {
		"store": "redis", "ttl": "24h", "lease": "15s", "methods": ["POST"], "max_body": 65536,
		"mode": "reject", "require": true,
		"routes": [{"match": "POST /webhooks/*", "off": true}, {"match": "POST /orders", "fail_open": true, "mode": "replay"}]}}`))
	require.NoError(t, err)
	require.NotNil(t, cfg.Idempotency)
	ic := cfg.Idempotency
	assert.Equal(t, 24*time.Hour, ic.TTL.D())
	assert.Equal(t, idempotency.ModeReject, ic.Mode)
	require.Len(t, ic.Routes, 2)
	assert.Equal(t, idempotency.ModeReplay, *ic.Routes[1].Mode)
	require.NoError(t, ic.Validate())

	for _, tt := range []struct{ doc, field string }{
		{`{"idempotency": {"tll": "1m"}}`, "idempotency.tll"},
		{`{"idempotency": {"mode": "again"}}`, "idempotency.mode"},
		{`{"idempotency": {"routes": [{"match": "x", "fial_open": true}]}}`, "idempotency.routes[0].fial_open"},
	} {
		_, err := registry.ParseConfig(strings.NewReader(tt.doc))
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tt.doc)
		assert.Equal(t, tt.field, ce.Field)
	}
	for _, bad := range []idempotency.Config{
		{Store: "etcd"}, {Store: "memory", Production: true}, {TTL: -1}, {Lease: baldur.Duration(time.Hour), TTL: baldur.Duration(time.Minute)},
		{Methods: []string{"post"}}, {MaxBody: -1}, {Routes: []idempotency.Route{{}}},
	} {
		assert.Error(t, bad.Validate(), "%+v", bad)
	}
}
