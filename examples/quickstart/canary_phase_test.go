package main

import (
	"hash/fnv"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCohortFlowsTakeNTenantsOfEachCohort: however the rollout's salt
// splits the tenants, the canary phase drives as many of each cohort, so
// neither cohort's windows starve the judge.
func TestCohortFlowsTakeNTenantsOfEachCohort(t *testing.T) {
	t.Parallel()
	hashed := func(salt string, share uint32) func(string) bool {
		return func(tenant string) bool {
			h := fnv.New32a()
			_, _ = h.Write([]byte(salt + tenant))
			return h.Sum32()%100 < share
		}
	}
	for _, tc := range []struct {
		name        string
		inCandidate func(string) bool
	}{
		{"alternating", func(tenant string) bool { n, _ := strconv.Atoi(tenant[1:]); return n%2 == 0 }},
		{"half by hash", hashed("r1", 50)},
		{"another salt", hashed("r1796216305-1", 50)},
		{"one in ten", hashed("r2", 10)},
		{"nine in ten", hashed("r3", 90)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			flows, err := cohortFlows(tc.inCandidate, tenantsPerCohort)
			require.NoError(t, err)
			rows := map[string]int{}
			seen := map[string]bool{}
			for _, f := range flows {
				rows[f.row]++
				assert.False(t, seen[f.tenant], "tenant %s twice", f.tenant)
				seen[f.tenant] = true
				assert.Equal(t, tc.inCandidate(f.tenant), f.row == canaryRow, f.tenant)
			}
			assert.Equal(t, map[string]int{baselineRow: tenantsPerCohort, canaryRow: tenantsPerCohort}, rows)
		})
	}
}

// TestCohortFlowsFailWhenACohortIsEmpty: a split that never places a
// tenant in one cohort is an error, not an endless search.
func TestCohortFlowsFailWhenACohortIsEmpty(t *testing.T) {
	t.Parallel()
	for _, in := range []bool{true, false} {
		_, err := cohortFlows(func(string) bool { return in }, tenantsPerCohort)
		require.Error(t, err, "every tenant in the candidate cohort: %v", in)
	}
}
