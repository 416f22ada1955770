package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// tightCandidate is the example file with its per-tenant throttle set ten
// times tighter.
func tightCandidate(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(exampleFile)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	th := doc["throttles"].(map[string]any)["per_tenant"].(map[string]any)
	th["rate"], th["burst"] = 10, 5
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

func TestDocumentRoundTripsByteForByte(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	doc := r.Document()
	require.NotEmpty(t, doc)
	require.NoError(t, r.LoadDocument(tightCandidate(t)))
	assert.NotEqual(t, doc, r.Document(), "a changed configuration has another document")
	require.NoError(t, r.LoadDocument(doc))
	assert.Equal(t, doc, r.Document(), "loading a document restores it byte for byte")
	assert.Nil(t, registry.New().Document(), "nothing loaded, no document")
}

func TestValidateCandidate(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	before := r.Document()
	require.NoError(t, r.ValidateCandidate(tightCandidate(t)))
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(tightCandidate(t), &cfg))
	edit := func(f func(map[string]any)) []byte {
		var d map[string]any
		require.NoError(t, json.Unmarshal(tightCandidate(t), &d))
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	tests := []struct {
		name, field string
		doc         []byte
	}{
		{"unknown field", "", []byte(`{"policies": [], "bogus": 1}`)},
		{"negative rate", "throttles.per_tenant.rate", edit(func(d map[string]any) {
			d["throttles"].(map[string]any)["per_tenant"].(map[string]any)["rate"] = -1
		})},
		{"unknown gate", "policies[0].throttle", edit(func(d map[string]any) {
			d["policies"].([]any)[0].(map[string]any)["throttle"] = "nope"
		})},
		{"governance changed", "governance", edit(func(d map[string]any) {
			d["governance"].(map[string]any)["slo_target"] = 0.9
		})},
		{"service changed", "service", edit(func(d map[string]any) { d["service"] = "other" })},
		{"not JSON", "", []byte(`{`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.ValidateCandidate(tt.doc)
			require.Error(t, err)
			if tt.field != "" {
				var ce *baldur.ConfigError
				require.True(t, errors.As(err, &ce), "%v", err)
				assert.Equal(t, tt.field, ce.Field)
			}
			assert.Error(t, r.StartCohorts(tt.doc, "r", 1, nil, nil))
			_, installed := r.CohortShare()
			assert.False(t, installed, "an invalid candidate installs nothing")
		})
	}
	assert.Equal(t, before, r.Document(), "validation changes nothing")
	assert.Error(t, registry.New().ValidateCandidate(tightCandidate(t)), "nothing loaded to compare with")
}

func TestPolicyForSplitsByCohort(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	const op = "GET /api/items/{id}"
	running := r.Policy(op)
	assert.Same(t, running, r.PolicyFor(op, "tenant-1"), "no split: the running policy")

	require.NoError(t, r.StartCohorts(tightCandidate(t), "r1", 0.25, nil, nil))
	share, ok := r.CohortShare()
	require.True(t, ok)
	assert.Equal(t, 0.25, share)
	assert.Same(t, running, r.Policy(op), "Policy keeps answering the running table")

	const n = 100_000
	cand := 0
	for i := range n {
		key := "tenant-" + strconv.Itoa(i)
		p := r.PolicyFor(op, key)
		require.NotNil(t, p)
		if r.InCandidate(key) {
			cand++
			require.NotSame(t, running, p)
		}
		if i < 1000 {
			assert.Same(t, p, r.PolicyFor(op, key), "a key keeps its cohort")
		}
	}
	assert.InDelta(t, 0.25, float64(cand)/n, 0.01)

	candP, baseP := r.CohortPolicies()
	require.Contains(t, candP, "api")
	// Unchanged gates are shared: the bulkhead of "api" is the running one
	// in both cohorts; the changed throttle is the candidate's own.
	candPol, basePol := candP["api"], baseP["api"]
	assert.Same(t, gateAt(t, running, baldur.StageBulkhead), gateAt(t, candPol, baldur.StageBulkhead), "bulkhead shared with the candidate")
	assert.Same(t, gateAt(t, running, baldur.StageThrottle), gateAt(t, basePol, baldur.StageThrottle), "throttle shared with the baseline cohort")
	assert.NotSame(t, gateAt(t, running, baldur.StageThrottle), gateAt(t, candPol, baldur.StageThrottle), "the candidate's changed throttle is its own")

	assert.True(t, r.SetCohortShare(0))
	assert.False(t, r.InCandidate("tenant-1"))
	assert.True(t, r.StopCohorts())
	assert.False(t, r.StopCohorts())
	assert.Same(t, running, r.PolicyFor(op, "tenant-1"))
	assert.False(t, r.SetCohortShare(1))
}

// The cohort's extra gate is appended to every policy of its table, and
// only there.
func TestStartCohortsAppendsObserveGates(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	base, cand := &countingGate{}, &countingGate{}
	require.NoError(t, r.StartCohorts(r.Document(), "r", 0.5, base, cand))
	ctx := context.Background()
	for i := range 200 {
		key := strconv.Itoa(i)
		tk, err := r.PolicyFor("GET /api/inventory", key).Admit(ctx, baldur.Call{Key: key})
		require.NoError(t, err)
		tk.Release(baldur.Outcome{})
	}
	assert.Equal(t, int64(200), base.released.Load()+cand.released.Load())
	assert.NotZero(t, base.released.Load())
	assert.NotZero(t, cand.released.Load())
	for _, p := range []string{"GET /api/items/{id}", "GET /api/reports"} {
		for _, g := range r.Policy(p).Gates() {
			assert.NotSame(t, base, g, "the running table is not observed")
		}
	}
}

func TestPolicyForAllocatesNothing(t *testing.T) {
	r, _ := loadExample(t)
	require.NoError(t, r.StartCohorts(tightCandidate(t), "r1", 0.05, nil, nil))
	n := testing.AllocsPerRun(1000, func() {
		_ = r.PolicyFor("GET /api/items/{id}", "tenant-42")
		_ = r.PolicyFor("GET /unrouted", "tenant-7")
	})
	assert.Zero(t, n)
}

// BenchmarkPolicyFor compares, in one run, today's resolve (Policy) with
// the cohort step on top of it (PolicyFor while a split is installed).
func BenchmarkPolicyFor(b *testing.B) {
	r := registry.New()
	require.NoError(b, r.LoadFile(exampleFile))
	const op, key = "GET /api/items/{id}", "tenant-00042"
	b.Run("policy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Policy(op)
		}
	})
	b.Run("policy_for/no_split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.PolicyFor(op, key)
		}
	})
	require.NoError(b, r.StartCohorts(tightCandidate(b), "r1", 0.05, nil, nil))
	b.Run("policy_for/split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.PolicyFor(op, key)
		}
	})
}

// A candidate that only resizes a bulkhead gets a compartment of the new
// size for its cohort; the running compartment keeps its size.
func TestCandidateBulkheadResizeIsItsOwn(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(r.Document(), &doc))
	doc["bulkheads"].(map[string]any)["api"].(map[string]any)["max_concurrent"] = 2
	cand, err := json.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, r.ValidateCandidate(cand))
	require.NoError(t, r.StartCohorts(cand, "r", 1, nil, nil))
	running := gateAt(t, r.Policy("GET /api/items/{id}"), baldur.StageBulkhead)
	candP, _ := r.CohortPolicies()
	cg := gateAt(t, candP["api"], baldur.StageBulkhead)
	require.NotSame(t, running, cg, "the candidate's bulkhead is its own")
	bhs, _ := r.Bulkheads.SafeGet()
	api, err := bhs.Get("api")
	require.NoError(t, err)
	assert.Equal(t, 64, api.State().MaxConcurrent, "the running compartment is not resized")
	st := cg.(baldur.CompartmentReporter).CompartmentStates()
	require.Len(t, st, 1)
	assert.Equal(t, 2, st[0].MaxConcurrent, "the candidate's cohort has a compartment of 2")
}
