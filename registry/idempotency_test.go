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

// TestLoadValidatesIdempotencySection: Load refuses a section the
// middleware would refuse, with a *baldur.ConfigError whose Field is the
// JSON path, and the previous configuration keeps serving.
func TestLoadValidatesIdempotencySection(t *testing.T) {
	t.Parallel()
	bad := idempotency.Mode(9)
	hour, minute := baldur.Duration(time.Hour), baldur.Duration(time.Minute)
	for _, tt := range []struct {
		name  string
		ic    idempotency.Config
		field string
	}{
		{"unknown store", idempotency.Config{Store: "etcd"}, "idempotency.store"},
		{"memory in production", idempotency.Config{Store: "memory", Production: true}, "idempotency.store"},
		{"negative ttl", idempotency.Config{TTL: -1}, "idempotency.ttl"},
		{"ttl past a week", idempotency.Config{TTL: 8 * 24 * hour}, "idempotency.ttl"},
		{"negative grace", idempotency.Config{Grace: -1}, "idempotency.grace"},
		{"lease over ttl", idempotency.Config{Lease: hour, TTL: minute}, "idempotency.lease"},
		{"lower-case method", idempotency.Config{Methods: []string{"POST", "patch"}}, "idempotency.methods[1]"},
		{"negative max_body", idempotency.Config{MaxBody: -1}, "idempotency.max_body"},
		{"huge max_stored", idempotency.Config{MaxStored: 1 << 30}, "idempotency.max_stored"},
		{"bad mode", idempotency.Config{Mode: bad}, "idempotency.mode"},
		{"bad header", idempotency.Config{Headers: []string{"Content Type"}}, "idempotency.headers[0]"},
		{"route without match", idempotency.Config{Routes: []idempotency.Route{{Match: "a"}, {}}}, "idempotency.routes[1].match"},
		{"route mode", idempotency.Config{Routes: []idempotency.Route{{Match: "a"}, {Match: "b"}, {Match: "c", Mode: &bad}}}, "idempotency.routes[2].mode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := registry.New()
			good := idempotency.Config{TTL: hour}
			require.NoError(t, r.Load(registry.Config{Service: "before", Policies: []registry.PolicyConfig{}, Idempotency: &good}))
			ic := tt.ic
			err := r.Load(registry.Config{Service: "after", Policies: []registry.PolicyConfig{}, Idempotency: &ic})
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field, "%v", err)
			assert.NotEmpty(t, ce.Reason)
			assert.Equal(t, "before", r.Service(), "the previous configuration keeps serving")
		})
	}
	// From a file: a parse-time error already names the path; a valid
	// section loads.
	_, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "idempotency": {"routes": [{"match": "a"}, {"match": "b"}, {"match": "c", "mode": "again"}]}}`))
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "idempotency.routes[2].mode", ce.Field)
	cfg, err := registry.ParseConfig(strings.NewReader(`{"policies": [], "idempotency": {"ttl": "24h", "routes": [{"match": "POST /x", "fail_open": true}]}}`))
	require.NoError(t, err)
	require.NoError(t, registry.New().Load(cfg))
	cfg, err = registry.ParseConfig(strings.NewReader(`{"policies": [], "idempotency": {"ttl": "-1s"}}`))
	require.NoError(t, err, "ranges are Load's")
	require.ErrorAs(t, registry.New().Load(cfg), &ce)
	assert.Equal(t, "idempotency.ttl", ce.Field)
}
