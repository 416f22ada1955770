package registry

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/governance"
)

func decodeStrict(t *testing.T, src []byte, v any) error {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeAsFile reads a governance section the way ParseConfig reads it.
func decodeAsFile(t *testing.T, src []byte, v *governance.Config) error {
	t.Helper()
	return decode(bytes.NewReader(src), v)
}

// viaMirror is what Load gives the checker from a governance section: the
// section decoded into GovernanceConfig, then converted.
func viaMirror(t *testing.T, src []byte) (governance.Config, error) {
	t.Helper()
	var gc GovernanceConfig
	if err := decodeStrict(t, src, &gc); err != nil {
		return governance.Config{}, err
	}
	return governanceConfig(gc)
}

// governanceSections are governance sections as files write them: the
// example file's, and every key and spelling the file format accepts.
func governanceSections(t *testing.T) map[string]string {
	t.Helper()
	file, err := os.ReadFile("../examples/quickstart/baldur.json")
	require.NoError(t, err)
	var top struct {
		Governance json.RawMessage `json:"governance"`
	}
	require.NoError(t, json.Unmarshal(file, &top))
	require.NotEmpty(t, top.Governance)
	return map[string]string{
		"example file": string(top.Governance),
		"empty":        `{}`,
		"every key": `{
			"cache_ttl": "45s", "emergency_min_level": 3,
			"fractions": {"1": {"critical": 1, "standard": 0.5, "non_essential": 0},
				"LEVEL_2": {"critical": 1, "standard": 0.2, "non-essential": 0},
				"level_3": {"critical": 0.4, "standard": 0, "non_essential": 0},
				"0": {"critical": 1, "standard": 1, "non_essential": 1}},
			"exempt_operations": ["GET /healthz", "*/admin/*"],
			"kill_switch_retry_after": 20, "emergency_retry_after": "2s", "error_budget_retry_after": 1.5,
			"slo_target": 0.99, "budget_window": "24h", "budget_bucket": "1m", "budget_min_calls": 50,
			"thresholds": {"critical": {"block_pct": 20, "warn_pct": 40}, "non-essential": {"block_pct": 1, "warn_pct": 2}},
			"global_threshold": {"block_pct": 8, "warn_pct": 16},
			"region_thresholds": {"eu": {"default": {"block_pct": 12, "warn_pct": 24},
				"tiers": {"standard": {"block_pct": 3, "warn_pct": 6}}}, "us": {}},
			"hysteresis_pct": 4, "audit_rate": 0.5, "audit_burst": 20, "alert_cooldown": "10m",
			"budget_eval_interval": "250ms", "break_glass_duration": "-1s"}`,
		"empty lists and maps":   `{"exempt_operations": [], "thresholds": {}, "fractions": {}, "region_thresholds": {}}`,
		"nulls":                  `{"exempt_operations": null, "thresholds": null, "global_threshold": null, "cache_ttl": null, "emergency_min_level": null}`,
		"level zero is default":  `{"emergency_min_level": 0}`,
		"region without a tiers": `{"region_thresholds": {"eu": {"tiers": {}}}}`,
	}
}

// TestGovernanceConfigDecodesAsFile checks that a governance section
// decoded straight into governance.Config is the Config that
// GovernanceConfig and its conversion give.
func TestGovernanceConfigDecodesAsFile(t *testing.T) {
	t.Parallel()
	for name, src := range governanceSections(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := viaMirror(t, []byte(src))
			require.NoError(t, err)
			var got governance.Config
			require.NoError(t, decodeAsFile(t, []byte(src), &got))
			assert.Equal(t, want, got)
			var std governance.Config
			require.NoError(t, decodeStrict(t, []byte(src), &std))
			assert.Equal(t, want, std, "encoding/json reads governance.Config the same way")
			_, err = governance.New(got)
			require.NoError(t, err)

			// What encoding/json writes reads back the same.
			out, err := json.Marshal(got)
			require.NoError(t, err)
			var again governance.Config
			require.NoError(t, decodeStrict(t, out, &again), "%s", out)
			assert.Equal(t, got, again, "%s", out)
		})
	}
}

// TestGovernanceConfigRefusesAsFile checks that a section the conversion
// refuses is refused by the decoding or by governance.New, and that one
// whose conversion the checker refuses is refused by governance.New too.
func TestGovernanceConfigRefusesAsFile(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"unknown level key":    `{"fractions": {"9": {"critical": 1}}}`,
		"level name with junk": `{"fractions": {"LEVEL_X": {"critical": 1}}}`,
		"unknown tier key":     `{"thresholds": {"gold": {"block_pct": 1, "warn_pct": 2}}}`,
		"unknown fraction":     `{"fractions": {"2": {"gold": 1}}}`,
		"unknown region tier":  `{"region_thresholds": {"eu": {"tiers": {"gold": {"block_pct": 1, "warn_pct": 2}}}}}`,
		"min level too high":   `{"emergency_min_level": 4}`,
		"min level negative":   `{"emergency_min_level": -1}`,
		"min level fraction":   `{"emergency_min_level": 1.5}`,
		"min level overflow":   `{"emergency_min_level": 300}`,
		"bad duration":         `{"cache_ttl": "soon"}`,
		"unknown key":          `{"burn_windows": []}`,
		"go only key":          `{"store": {}}`,
		"incomplete fractions": `{"fractions": {"1": {"critical": 1}}}`,
		"null fractions":       `{"fractions": {"1": null}}`,
		"cache ttl too short":  `{"cache_ttl": "10ms"}`,
		"warn below block":     `{"global_threshold": {"block_pct": 10}}`,
		"empty region":         `{"region_thresholds": {"": {}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			build := func(cfg governance.Config, err error) error {
				if err != nil {
					return err
				}
				_, err = governance.New(cfg)
				return err
			}
			require.Error(t, build(viaMirror(t, []byte(src))), "the file format refuses it")
			var got governance.Config
			err := decodeAsFile(t, []byte(src), &got)
			require.Error(t, build(got, err), "read as the file is read")
		})
	}
}
