package registry

import "testing"

func TestJSONPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"MaxConcurrent":                           "max_concurrent",
		"Tiers.critical.MaxConcurrent":            "tiers.critical.max_concurrent",
		"Fractions[2].standard":                   "fractions[2].standard",
		"CacheTTL":                                "cache_ttl",
		`RegionThresholds["eu"].Default.BlockPct`: `region_thresholds["eu"].default.block_pct`,
		"shadow": "shadow",
		"":       "",
	} {
		if got := jsonPath(in); got != want {
			t.Errorf("jsonPath(%q) = %q, want %q", in, got, want)
		}
	}
}
