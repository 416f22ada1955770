package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/registry"
)

// TestLoadBoundsHugeValues: values at the edges of their types are refused
// at load with a ConfigError naming the field as the file spells it, never
// a panic, an allocation proportional to the value, or a value that wraps.
func TestLoadBoundsHugeValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, field string
	}{
		{"max_keys 1e10", `{"throttles":{"t":{"rate":1,"burst":1,"max_keys":10000000000}},"policies":[]}`, "throttles.t.max_keys"},
		{"max_keys 2^62", `{"throttles":{"t":{"rate":1,"burst":1,"max_keys":4611686018427387904}},"policies":[]}`, "throttles.t.max_keys"},
		{"max_keys max int", `{"throttles":{"t":{"rate":1,"burst":1,"max_keys":9223372036854775807}},"policies":[]}`, "throttles.t.max_keys"},
		{"max_partitions 2^62", `{"breakers":{"b":{"max_partitions":4611686018427387904}},"policies":[]}`, "breakers.b.max_partitions"},
		{"half_open_probes 2^62", `{"breakers":{"b":{"half_open_probes":4611686018427387904}},"policies":[]}`, "breakers.b.half_open_probes"},
		{"share cap capacity 2^62", `{"share_caps":{"s":{"capacity":4611686018427387904,"share":1}},"policies":[]}`, "share_caps.s.capacity"},
		{"share cap max_per_key 2^62", `{"share_caps":{"s":{"max_per_key":4611686018427387904}},"policies":[]}`, "share_caps.s.max_per_key"},
		{"share cap max_keys 2^62", `{"share_caps":{"s":{"max_per_key":1,"max_keys":4611686018427387904}},"policies":[]}`, "share_caps.s.max_keys"},
		{"bulkhead 3e9", `{"bulkheads":{"b":{"max_concurrent":3000000000}},"policies":[]}`, "bulkheads.b.max_concurrent"},
		{"tier bulkhead 3e9", `{"bulkheads":{"b":{"tiers":{"critical":{"max_concurrent":3000000000}}}},"policies":[]}`, "bulkheads.b.tiers.critical.max_concurrent"},
		{"tier burst 2^62", `{"throttles":{"t":{"rate":1,"burst":1,"tiers":{"critical":{"rate":1,"burst":4611686018427387904}}}},"policies":[]}`, "throttles.t.tiers.critical.burst"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := registry.ParseConfig(strings.NewReader(tc.src))
			require.NoError(t, err)
			err = registry.New().Load(cfg)
			var ce *baldur.ConfigError
			require.True(t, errors.As(err, &ce), "want a ConfigError, got %v", err)
			assert.Equal(t, tc.field, ce.Field, "%v", err)
		})
	}
}

// TestLoadHugeDurationsKeepGatesUsable: durations near the int64 limit
// load and leave working gates (they saturate rather than wrap).
func TestLoadHugeDurationsKeepGatesUsable(t *testing.T) {
	t.Parallel()
	const huge = `"2562047h47m16.854775807s"` // math.MaxInt64 ns
	src := `{
	  "throttles": {"t": {"rate": 1, "burst": 1, "max_wait": ` + huge + `}},
	  "breakers": {"b": {"window": ` + huge + `, "open_timeout": ` + huge + `, "force_ttl": ` + huge + `, "idle_timeout": ` + huge + `}},
	  "share_caps": {"s": {"max_per_key": 1, "retry_after": ` + huge + `}},
	  "bulkheads": {"b": {"max_concurrent": 1, "max_wait": ` + huge + `, "retry_after": ` + huge + `}},
	  "policies": [{"name": "p", "operations": ["*"], "throttle": "t", "breaker": "b", "share_cap": "s", "bulkhead": "b", "min_time_left": ` + huge + `}]
	}`
	cfg, err := registry.ParseConfig(strings.NewReader(src))
	require.NoError(t, err)
	r := registry.New()
	require.NoError(t, r.Load(cfg))
	tk, err := r.Policy("GET /x").Admit(context.Background(), baldur.Call{Operation: "GET /x", Key: "k"})
	require.NoError(t, err, "a fresh call passes every gate")
	tk.Release(baldur.Outcome{Result: baldur.Success})
}

// TestParseConfigDurationEdges: a number of seconds whose nanoseconds do
// not fit an int64 is a parse error, including 2^63 ns exactly, which the
// float conversion used to wrap to a negative duration.
func TestParseConfigDurationEdges(t *testing.T) {
	t.Parallel()
	for _, v := range []string{`9223372036.854776`, `-9223372036.854776`, `1e308`, `-1e308`, `"NaN"`, `"Inf"`, `"9223372036854775808ns"`, `"-2562048h"`} {
		_, err := registry.ParseConfig(strings.NewReader(`{"bulkheads":{"a":{"max_concurrent":1,"max_wait":` + v + `}}}`))
		assert.Error(t, err, v)
	}
	cfg, err := registry.ParseConfig(strings.NewReader(`{"bulkheads":{"a":{"max_concurrent":1,"max_wait":9223372036.854775}}}`))
	require.NoError(t, err)
	assert.Positive(t, cfg.Bulkheads["a"].MaxWait.D())
}

// TestReloadValidatesResize: a change of max_concurrent alone is validated
// like a fresh load, and an invalid size fails the reload, changing nothing.
func TestReloadValidatesResize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{3_000_000_000, 1 << 31} {
		r, _ := loadExample(t)
		v := r.Version()
		cfg, err := registry.ReadConfigFile(exampleFile)
		require.NoError(t, err)
		slow := cfg.Bulkheads["slow"]
		slow.MaxConcurrent = size
		cfg.Bulkheads["slow"] = slow

		fresh := registry.New().Load(cfg)
		var want *baldur.ConfigError
		require.ErrorAs(t, fresh, &want, "a fresh load refuses %d", size)

		err = r.Load(cfg)
		var got *baldur.ConfigError
		require.ErrorAs(t, err, &got, "a reload must refuse %d as a fresh load does", size)
		assert.Equal(t, want.Field, got.Field)
		assert.Equal(t, "bulkheads.slow.max_concurrent", got.Field)
		assert.Equal(t, v, r.Version(), "a refused reload changes nothing")
		bh := gateAt(t, r.Policy("GET /api/slow"), baldur.StageBulkhead).(*bulkhead.Semaphore)
		assert.Equal(t, 8, bh.State().MaxConcurrent)
	}
}
