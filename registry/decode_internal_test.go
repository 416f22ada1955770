package registry

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/throttle"
)

func TestFieldPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  any
		in   string
		want string
	}{
		{bulkhead.Config{}, "MaxConcurrent", "max_concurrent"},
		{bulkhead.TieredConfig{}, "Tiers.critical.MaxConcurrent", "tiers.critical.max_concurrent"},
		{bulkhead.TieredConfig{}, "Tiers[critical].MaxWait", "tiers[critical].max_wait"},
		{throttle.Config{}, "Tiers.non_essential.Burst", "tiers.non_essential.burst"},
		{blast.BreakerConfig{}, "OpenTimeout", "open_timeout"},
		{GovernanceConfig{}, "Fractions[2].standard", "fractions[2].standard"},
		{GovernanceConfig{}, `RegionThresholds["eu"].Default.BlockPct`, `region_thresholds["eu"].default.block_pct`},
		{GovernanceConfig{}, "CacheTTL", "cache_ttl"},
		{throttle.Config{}, "NoSuchField.X", "NoSuchField.X"},
		{throttle.Config{}, "", ""},
		{nil, "Anything", "Anything"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, fieldPath(reflect.TypeOf(tt.cfg), tt.in), "%T %q", tt.cfg, tt.in)
	}
}

func TestDecodeNamesThePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, field string
	}{
		{"unknown top field", `{"policys": []}`, "policys"},
		{"unknown gate field", `{"throttles": {"api": {"rate": 1, "burst": 1, "rat": 2}}}`, "throttles.api.rat"},
		{"bad key_by", `{"throttles": {"api": {"rate": 1, "burst": 1, "key_by": "cookie"}}}`, "throttles.api.key_by"},
		{"unknown tier key", `{"throttles": {"api": {"tiers": {"gold": {"rate": 1, "burst": 1}}}}}`, "throttles.api.tiers"},
		{"bad duration", `{"bulkheads": {"b": {"max_concurrent": 1, "max_wait": "soon"}}}`, "bulkheads.b.max_wait"},
		{"number as string", `{"bulkheads": {"b": {"max_concurrent": "8"}}}`, "bulkheads.b.max_concurrent"},
		{"int overflow", `{"breakers": {"b": {"max_partitions": 1e30}}}`, "breakers.b.max_partitions"},
		{"object for array", `{"policies": {}}`, "policies"},
		{"unknown stage", `{"policies": [{"name": "p"}, {"name": "q", "shadow": ["cache"]}]}`, "policies[1].shadow[0]"},
		{"nested policy field", `{"policies": [{"name": "p", "operatons": []}]}`, "policies[0].operatons"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c Config
			err := decode(strings.NewReader(tt.src), &c)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field, "%v", err)
		})
	}
}

func TestDecodeReadsTheTree(t *testing.T) {
	t.Parallel()
	src := `{"service": "shop",
	  "throttles": {"api": {"rate": 10.5, "burst": 20, "key_by": "operation", "max_wait": "5ms",
	    "tiers": {"critical": {"rate": 100, "burst": 100}, "non-essential": {"rate": 1, "burst": 1}},
	    "ignore_emergency": true}},
	  "breakers": {"up": {"partition_by": "key_and_operation", "open_timeout": 1.5}},
	  "bulkheads": {"b": {"max_concurrent": 4}, "t": {"tiers": {}}},
	  "policies": [{"name": "p", "operations": ["GET /x"], "throttle": "api", "shadow": ["throttle", "blast"], "min_time_left": null}]}`
	var c Config
	require.NoError(t, decode(strings.NewReader(src), &c))
	api := c.Throttles["api"]
	assert.Equal(t, 10.5, api.Rate)
	assert.Equal(t, 20, api.Burst)
	assert.Equal(t, throttle.ByOperation, api.KeyBy)
	assert.Equal(t, 5*time.Millisecond, api.MaxWait.D())
	assert.True(t, api.IgnoreEmergency)
	assert.Equal(t, throttle.TierLimit{Rate: 1, Burst: 1}, api.Tiers[baldur.TierNonEssential])
	assert.Equal(t, blast.ByKeyAndOperation, c.Breakers["up"].PartitionBy)
	assert.Equal(t, 1500*time.Millisecond, c.Breakers["up"].OpenTimeout.D())
	assert.Equal(t, 4, c.Bulkheads["b"].MaxConcurrent)
	assert.True(t, c.Bulkheads["t"].Tiered(), "an empty tiers object declares a tiered gate")
	assert.False(t, c.Bulkheads["b"].Tiered())
	assert.Equal(t, []baldur.Stage{baldur.StageThrottle, baldur.StageBlast}, c.Policies[0].Shadow)
}

func TestDecodeRefusesTrailingDataAndDepth(t *testing.T) {
	t.Parallel()
	var c Config
	assert.Error(t, decode(strings.NewReader(`{"policies": []} {}`), &c))
	assert.Error(t, decode(strings.NewReader(`{"policies": [`), &c))
	deep := `{"governance": {"fractions": {"1": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}}`
	assert.Error(t, decode(strings.NewReader(deep), &c))
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"throttles": {"a": {"rate": 1, "burst": 1, "tiers": {"critical": {"rate": 2, "burst": 2}}}}, "policies": []}`)
	f.Add(`{"bulkheads": {"b": {"tiers": {"standard": {"max_concurrent": 1, "max_wait": "1s"}}}}}`)
	f.Add(`{"policies": [{"name": "p", "shadow": ["stage(45)"], "min_time_left": 0.5}]}`)
	f.Add(`{"governance": {"fractions": {"LEVEL_2": {"standard": 0.5}}, "region_thresholds": {"eu": {"default": {"block_pct": 1}}}}}`)
	f.Add(`null`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, src string) {
		var c Config
		if err := decode(strings.NewReader(src), &c); err != nil {
			return
		}
		// What decodes must load or be refused with a ConfigError, never
		// panic.
		if err := New().Load(c); err != nil {
			var ce *baldur.ConfigError
			assert.ErrorAs(t, err, &ce, "Load error %v is not a ConfigError", err)
		}
	})
}
