package registry_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/registry"
)

const exampleFile = "../examples/quickstart/baldur.json"

func loadExample(t *testing.T) (*registry.Registry, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	r := registry.New(registry.WithClock(clk))
	require.NoError(t, r.LoadFile(exampleFile))
	return r, clk
}

// gateKinds lists the stages of p's gates that its policy declares; the
// stages the chaos section adds to every policy (an observer and the
// fault stage) are left out.
func gateKinds(p *baldur.Policy) []string {
	var out []string
	for _, g := range p.Gates() {
		if s := g.Stage(); s != baldur.StageFault && s != chaos.StageObserve {
			out = append(out, s.String())
		}
	}
	return out
}

func TestLoadExampleFile(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	assert.Equal(t, "shop", r.Service())
	assert.Equal(t, []string{"api", "reports", "slow", "upstream"}, r.PolicyNames())
	assert.Equal(t, "api", r.Policy("GET /api/items/{id}").Name())
	assert.Equal(t, "upstream", r.Policy("GET /api/inventory").Name())
	assert.Equal(t, "api", r.Policy("GET /unrouted").Name(), "default policy")
	assert.Equal(t, []string{"governance", "throttle", "bulkhead"}, gateKinds(r.Policy("GET /api/items/{id}")))
	assert.Len(t, r.Policy("GET /api/items/{id}").Gates(), 5, "plus the chaos section's observer and fault stages")
	assert.Equal(t, []string{"governance", "blast", "bulkhead"}, gateKinds(r.Policy("GET /api/inventory")))
	assert.Equal(t, []string{"governance", "blast", "bulkhead"}, gateKinds(r.Policy("GET /api/reports")))

	gov, ok := r.Governance.Get().(*governance.Checker)
	require.True(t, ok, "Load fills the governance slot with the checker it built")
	em, ok := r.Emergency.SafeGet()
	require.True(t, ok)
	assert.Equal(t, baldur.LevelNormal, em.Level())
	assert.Same(t, gov.Emergency(), em)

	bhs, ok := r.Bulkheads.SafeGet()
	require.True(t, ok)
	assert.Equal(t, []string{"api", "reports", "slow"}, bhs.Names())
}

func TestLoadErrorsNameTheField(t *testing.T) {
	t.Parallel()
	base, err := os.ReadFile(exampleFile)
	require.NoError(t, err)
	tests := []struct {
		name, from, to, field string
	}{
		{"zero bulkhead", `"max_concurrent": 8,`, `"max_concurrent": 0,`, "bulkheads.slow.max_concurrent"},
		{"negative wait", `"max_wait": "5ms"`, `"max_wait": "-5ms"`, "bulkheads.slow.max_wait"},
		{"unknown tier", `"non_essential": {"rate": 50`, `"gold": {"rate": 50`, "throttles.per_tenant.tiers"},
		{"zero rate", `"rate": 100,`, `"rate": 0,`, "throttles.per_tenant.rate"},
		{"burst below one", `"burst": 50,`, `"burst": 0,`, "throttles.per_tenant.burst"},
		{"bad key_by", `"key_by": "key"`, `"key_by": "cookie"`, "throttles.per_tenant.key_by"},
		{"ratio above one", `"failure_ratio": 0.5`, `"failure_ratio": 1.5`, "breakers.upstreams.failure_ratio"},
		{"share above one", `"share": 0.25`, `"share": 2`, "share_caps.tenants.share"},
		{"bad operation", `"GET /api/slow"`, `"GET /api/slow/{"`, "policies[2].operations[0].operation"},
		{"duplicate policy", `"name": "slow"`, `"name": "api"`, "policies[2].name"},
		{"unknown bulkhead ref", `"bulkhead": "slow"`, `"bulkhead": "nope"`, "policies[2].bulkhead"},
		{"unknown default", `"default_policy": "api"`, `"default_policy": "zzz"`, "default_policy"},
		{"unknown shadow kind", `"bulkhead": "slow"`, `"bulkhead": "slow", "shadow": ["cache"]`, "policies[2].shadow"},
		{"fraction out of range", `"emergency_min_level": 2,`, `"emergency_min_level": 2, "fractions": {"2": {"critical": 1, "standard": 1.5, "non_essential": 0}},`, "governance.fractions[2].standard"},
		{"unknown level", `"emergency_min_level": 2,`, `"emergency_min_level": 2, "fractions": {"9": {"critical": 1}},`, "governance.fractions"},
		{"operation routed twice", `"GET /api/shipping"`, `"GET /api/recs"`, "policies[1].operations[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, string(base), tc.from)
			src := strings.Replace(string(base), tc.from, tc.to, 1)
			// A value its type refuses (a tier, a key_by, a stage) is
			// refused while the file is read; a range, when it loads.
			// Either way the error names the field the file spells.
			r := registry.New()
			cfg, err := registry.ParseConfig(strings.NewReader(src))
			if err == nil {
				err = r.Load(cfg)
			}
			var ce *baldur.ConfigError
			require.True(t, errors.As(err, &ce), "want a ConfigError, got %v", err)
			assert.True(t, strings.HasPrefix(ce.Field, tc.field), "field %q does not start with %q (%v)", ce.Field, tc.field, err)
			assert.Nil(t, r.Policy("GET /api/slow"), "nothing is served after a failed first load")
		})
	}
}

func TestParseConfigStrict(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`{"policies": [], "polices": []}`,
		`{"policies": []} {}`,
		`{"bulkheads": {"a": {"max_wait": "fast"}}}`,
		`{"bulkheads": {"a": {"max_wait": true}}}`,
		`[`,
	} {
		_, err := registry.ParseConfig(strings.NewReader(src))
		assert.Error(t, err, src)
	}
	cfg, err := registry.ParseConfig(strings.NewReader(`{"bulkheads": {"a": {"max_concurrent": 1, "max_wait": 0.25}}}`))
	require.NoError(t, err)
	assert.Equal(t, 250*time.Millisecond, cfg.Bulkheads["a"].MaxWait.D())
}

func TestFailedReloadKeepsServing(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	before := r.Policy("GET /api/slow")
	v := r.Version()
	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	cfg.Bulkheads["slow"] = bulkhead.Spec{Config: bulkhead.Config{MaxConcurrent: -1}}
	require.Error(t, r.Load(cfg))
	assert.Same(t, before, r.Policy("GET /api/slow"))
	assert.Equal(t, v, r.Version())
}

func TestReloadKeepsUnchangedGatesAndResizesBulkheads(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	ctx := context.Background()
	gov := r.Governance.Get()
	slowBefore := gateAt(t, r.Policy("GET /api/slow"), baldur.StageBulkhead)
	throttleBefore := gateAt(t, r.Policy("GET /api/recs"), baldur.StageThrottle)

	// Hold 3 permits of the "slow" bulkhead across the reload.
	var held []baldur.Ticket
	for range 3 {
		tk, err := r.Policy("GET /api/slow").Admit(ctx, baldur.Call{Operation: "GET /api/slow"})
		require.NoError(t, err)
		held = append(held, tk)
	}

	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	slow := cfg.Bulkheads["slow"]
	slow.MaxConcurrent = 4
	cfg.Bulkheads["slow"] = slow
	require.NoError(t, r.Load(cfg))

	assert.Same(t, gov, r.Governance.Get(), "unchanged governance keeps its checker")
	assert.Same(t, throttleBefore, gateAt(t, r.Policy("GET /api/recs"), baldur.StageThrottle), "unchanged throttle keeps its buckets")
	slowAfter := gateAt(t, r.Policy("GET /api/slow"), baldur.StageBulkhead)
	assert.Same(t, slowBefore, slowAfter, "a resized bulkhead is the same compartment")

	bh := slowAfter.(*bulkhead.Semaphore)
	st := bh.State()
	assert.Equal(t, 4, st.MaxConcurrent)
	assert.Equal(t, 3, st.Active, "permits taken before the reload still count")
	// One more fits, the fifth does not.
	tk, err := r.Policy("GET /api/slow").Admit(ctx, baldur.Call{Operation: "GET /api/slow"})
	require.NoError(t, err)
	held = append(held, tk)
	_, ok := bh.TryAcquire()
	require.False(t, ok, "a fifth permit must not fit in four")

	for i := range held {
		held[i].Release(baldur.Outcome{})
	}
	assert.Equal(t, 0, bh.State().Active, "no permit lost across the reload")
}

func TestKillSwitchSurvivesGovernanceRebuild(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	ctx := context.Background()
	gov := r.Governance.Get().(*governance.Checker)
	require.NoError(t, gov.Activate(ctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /api/recs", Reason: "incident 42", Actor: "test"}))

	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	cfg.Governance.KillSwitchRetryAfter = registry.Duration(45 * time.Second)
	require.NoError(t, r.Load(cfg))
	assert.NotSame(t, gov, r.Governance.Get(), "changed governance settings build a new checker")

	_, err = r.Policy("GET /api/recs").Admit(ctx, baldur.Call{Operation: "GET /api/recs"})
	rej, ok := baldur.AsRejection(err)
	require.True(t, ok, "kill switch state kept across the rebuild: %v", err)
	assert.Equal(t, baldur.ReasonKillSwitch, rej.Reason())
	assert.Equal(t, 45*time.Second, rej.RetryAfter())
}

func TestUserCheckerWins(t *testing.T) {
	t.Parallel()
	gov, err := governance.New(governance.Config{})
	require.NoError(t, err)
	r := registry.New()
	r.Governance.Set(gov)
	require.NoError(t, r.LoadFile(exampleFile))
	assert.Same(t, gov, r.Governance.Get())
	assert.Same(t, gov.Gate(), gateAt(t, r.Policy("GET /api/slow"), baldur.StageGovernance))
}

func FuzzLoad(f *testing.F) {
	base, err := os.ReadFile(exampleFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(base))
	f.Add(`{"bulkheads":{"a":{"max_concurrent":1e300}},"policies":[{"name":"p","bulkhead":"a"}]}`)
	f.Add(`{"throttles":{"t":{"rate":-1,"burst":-5}},"policies":[{"name":"p","throttle":"t","operations":["*"]}]}`)
	f.Add(`{"governance":{"fractions":{"LEVEL_2":{"critical":-1}}},"policies":[]}`)
	// Values at the edges of their types, for every gate kind: the fuzzer's
	// mutations rarely reach them from the example file.
	for _, v := range fuzzEdgeNumbers {
		f.Add(`{"throttles":{"t":{"rate":1,"burst":1,"max_keys":` + v + `}},"policies":[{"name":"p","throttle":"t","operations":["*"]}]}`)
		f.Add(`{"throttles":{"t":{"rate":` + v + `,"burst":` + v + `,"tiers":{"critical":{"rate":` + v + `,"burst":` + v + `}}}},"policies":[{"name":"p","throttle":"t"}]}`)
		f.Add(`{"breakers":{"b":{"consecutive_failures":` + v + `,"min_requests":` + v + `,"half_open_probes":` + v + `,"max_partitions":` + v + `}},"policies":[{"name":"p","breaker":"b"}]}`)
		f.Add(`{"share_caps":{"s":{"capacity":` + v + `,"share":1,"max_per_key":` + v + `,"max_keys":` + v + `}},"policies":[{"name":"p","share_cap":"s"}]}`)
		f.Add(`{"bulkheads":{"b":{"max_concurrent":` + v + `}},"policies":[{"name":"p","bulkhead":"b"}]}`)
		f.Add(`{"bulkheads":{"b":{"tiers":{"critical":{"max_concurrent":` + v + `}}}},"policies":[{"name":"p","bulkhead":"b"}]}`)
		f.Add(`{"bulkheads":{"b":{"pool":{"workers":` + v + `,"queue_size":` + v + `}}},"policies":[{"name":"p","bulkhead":"b"}]}`)
		f.Add(`{"governance":{"budget_min_calls":` + v + `,"audit_burst":` + v + `,"emergency_min_level":` + v + `},"policies":[{"name":"p","governance":true}]}`)
	}
	for _, d := range fuzzEdgeDurations {
		f.Add(`{"throttles":{"t":{"rate":1,"burst":1,"max_wait":` + d + `}},"policies":[{"name":"p","throttle":"t","min_time_left":` + d + `}]}`)
		f.Add(`{"breakers":{"b":{"window":` + d + `,"bucket_period":` + d + `,"open_timeout":` + d + `,"force_ttl":` + d + `,"idle_timeout":` + d + `}},"policies":[{"name":"p","breaker":"b"}]}`)
		f.Add(`{"breakers":{"b":{"open_timeout":` + d + `,"force_ttl":` + d + `,"idle_timeout":` + d + `}},"policies":[{"name":"p","breaker":"b"}]}`)
		f.Add(`{"share_caps":{"s":{"max_per_key":1,"retry_after":` + d + `}},"policies":[{"name":"p","share_cap":"s"}]}`)
		f.Add(`{"bulkheads":{"b":{"max_concurrent":1,"max_wait":` + d + `,"retry_after":` + d + `}},"policies":[{"name":"p","bulkhead":"b"}]}`)
		f.Add(`{"bulkheads":{"b":{"pool":{"workers":1,"timeout":` + d + `,"retry_after":` + d + `}}},"policies":[{"name":"p","bulkhead":"b"}]}`)
		f.Add(`{"governance":{"cache_ttl":` + d + `,"emergency_retry_after":` + d + `,"kill_switch_retry_after":` + d + `,"budget_window":` + d + `,"break_glass_duration":` + d + `,"alert_cooldown":` + d + `},"policies":[{"name":"p","governance":true}]}`)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := registry.ParseConfig(strings.NewReader(src))
		if err != nil {
			return
		}
		r := registry.New()
		if err := r.Load(cfg); err != nil {
			return
		}
		// Loading nothing retires the document's worker pools, whose
		// workers then exit: fuzzing must not pile them up.
		defer func() { require.NoError(t, r.Load(registry.Config{})) }()
		exercise := func() {
			for _, name := range r.PolicyNames() {
				p, _ := r.PolicyByName(name)
				for _, g := range p.Gates() {
					if b, ok := g.(*blast.Breakers); ok {
						// The force TTL (force_ttl) and its Retry-After.
						_ = b.ForceOpen(blast.Partition{Key: "forced", Operation: "x"}, 0)
					}
				}
				for _, key := range []string{"k", "forced"} {
					// The deadline bounds a throttle's max_wait: the second
					// round finds the buckets empty.
					tk, err := p.Admit(context.Background(), baldur.Call{Operation: "x", Key: key, Deadline: time.Now().Add(time.Millisecond)})
					if err == nil {
						tk.Release(baldur.Outcome{Result: baldur.Failure})
					} else if rej, ok := baldur.AsRejection(err); ok {
						require.GreaterOrEqual(t, rej.RetryAfter(), time.Duration(0), "negative Retry-After from %s", name)
					}
				}
			}
		}
		exercise()
		// A reload of the same document keeps every gate and must succeed.
		v := r.Version()
		require.NoError(t, r.Load(cfg), "reloading a document that loaded failed")
		require.Equal(t, v+1, r.Version(), "version after a reload of version %d", v)
		exercise()
	})
}

// fuzzEdgeNumbers are JSON numbers at the edges of int and float64.
var fuzzEdgeNumbers = []string{
	"0", "-1", "1", "2147483647", "2147483648", "3000000000", "4294967296",
	"10000000000", "100000000000", "4611686018427387904", "9223372036854775807",
	"-9223372036854775808", "1e308", "-1e308", "1e-308", "0.5",
}

// fuzzEdgeDurations are JSON durations at the edges of int64 nanoseconds,
// and strings that look like numbers but are not durations.
var fuzzEdgeDurations = []string{
	`"2562047h47m16.854775807s"`, `"2562047h"`, `"-2562047h"`, `"292y"`, `"9223372036854775807ns"`,
	`"-1ns"`, `"NaN"`, `"Inf"`, `"-Inf"`, `"1e308s"`, `"0x10s"`,
	`9223372036.854775`, `9223372036.854776`, `-9223372036.854776`, `1e308`, `-1e308`, `5e-324`,
	`3153600000`, `0`, `null`,
}

func TestGovernanceRebuildKeepsThrottleBuckets(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	before := gateAt(t, r.Policy("GET /api/recs"), baldur.StageThrottle)
	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	cfg.Governance.KillSwitchRetryAfter = registry.Duration(time.Minute)
	require.NoError(t, r.Load(cfg))
	assert.Same(t, before, gateAt(t, r.Policy("GET /api/recs"), baldur.StageThrottle), "the throttle reads the level through the registry, so it survives a new checker")

	// The kept throttle follows the new checker's level.
	gov := r.Governance.Get().(*governance.Checker)
	_, err = gov.Emergency().Trigger(context.Background(), baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "test"})
	require.NoError(t, err)
	em, _ := r.Emergency.SafeGet()
	assert.Equal(t, baldur.Level1, em.Level())
}

type customGovernance struct{ baldur.NoOpGovernance }

func TestUserSlotsAreNotReplaced(t *testing.T) {
	t.Parallel()
	r := registry.New()
	custom := customGovernance{}
	r.Governance.Set(custom)
	mine := bulkhead.NewRegistry()
	r.Bulkheads.Set(mine)
	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	// A custom checker without a per-call gate cannot back "governance": true.
	err = r.Load(cfg)
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "policies[0].governance", ce.Field)
	for i := range cfg.Policies {
		cfg.Policies[i].Governance = false
	}
	require.NoError(t, r.Load(cfg))
	assert.Equal(t, custom, r.Governance.Get(), "a user's checker is never replaced by the file's")
	assert.Same(t, mine, r.Bulkheads.Get(), "a user's bulkhead registry is never replaced")
}

func TestUserCheckerFillsEmptySlots(t *testing.T) {
	t.Parallel()
	gov, err := governance.New(governance.Config{})
	require.NoError(t, err)
	r := registry.New()
	r.Governance.Set(gov)
	require.NoError(t, r.LoadFile(exampleFile))
	em, ok := r.Emergency.SafeGet()
	require.True(t, ok)
	assert.Same(t, gov.Emergency(), em)
	_, ok = r.ErrorBudgetDecider.SafeGet()
	assert.True(t, ok)
}

// TestPoliciesCarryServiceAndRegion: a call whose adapter set no service
// still meets a kill switch scoped to the file's service, because every
// policy Load builds fills it in; an adapter's own service wins.
func TestPoliciesCarryServiceAndRegion(t *testing.T) {
	t.Parallel()
	cfg, err := registry.ParseConfig(strings.NewReader(`{"service": "shop", "region": "eu", "governance": {},
		"policies": [{"name": "api", "operations": ["GET /x"], "governance": true}]}`))
	require.NoError(t, err)
	r := registry.New()
	require.NoError(t, r.Load(cfg))
	gc, ok := r.Governance.Get().(governance.Switchboard)
	require.True(t, ok)
	require.NoError(t, gc.Activate(context.Background(), governance.KillSwitch{Scope: governance.ScopeService, Pattern: "shop", Reason: "test"}))

	p := r.Policy("GET /x")
	_, err = p.Admit(context.Background(), baldur.Call{Operation: "GET /x"})
	require.ErrorIs(t, err, baldur.ErrKillSwitch, "the file's service reaches the kill switch")
	tk, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /x", Service: "search"})
	require.NoError(t, err, "an adapter's own service wins")
	tk.Release(baldur.Outcome{Result: baldur.Success})
}
