package metrics_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/registry"
)

// testConfig declares one policy per mechanism, so that each policy's
// rejections can be driven and counted on their own.
const testConfig = `{
  "service": "shop",
  "governance": {"audit_rate": 1, "audit_burst": 1},
  "throttles": {
    "t":      {"rate": 1, "burst": 2, "max_keys": 1000},
    "shadow": {"rate": 1, "burst": 1, "max_keys": 1000}
  },
  "breakers":   {"b": {"partition_by": "key", "consecutive_failures": 1, "open_timeout": "10s", "max_partitions": 100000}},
  "share_caps": {"s": {"capacity": 4, "share": 0.5}},
  "bulkheads":  {"bh": {"max_concurrent": 3}},
  "policies": [
    {"name": "rate",     "operations": ["GET /rate"], "throttle": "t", "min_time_left": "10ms"},
    {"name": "pool",     "operations": ["GET /pool"], "bulkhead": "bh"},
    {"name": "edge",     "operations": ["GET /edge"], "governance": true, "breaker": "b", "share_cap": "s"},
    {"name": "shadowed", "operations": ["GET /shadow"], "throttle": "shadow", "shadow": ["throttle"]}
  ]
}`

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newRegistry(t *testing.T) (*registry.Registry, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	reg := registry.New(registry.WithClock(clk))
	cfg, err := registry.ParseConfig(strings.NewReader(testConfig))
	require.NoError(t, err)
	require.NoError(t, reg.Load(cfg))
	return reg, clk
}

func policy(t *testing.T, reg *registry.Registry, name string) *baldur.Policy {
	t.Helper()
	p, ok := reg.PolicyByName(name)
	require.True(t, ok, name)
	return p
}

// admit admits c and returns the ticket, or counts the rejection's reason.
func admit(t *testing.T, p *baldur.Policy, c baldur.Call, rejected map[baldur.Reason]int) (baldur.Ticket, bool) {
	t.Helper()
	tk, err := p.Admit(context.Background(), c)
	if err != nil {
		rej, ok := baldur.AsRejection(err)
		require.True(t, ok, "not a rejection: %v", err)
		rejected[rej.Reason()]++
		return tk, false
	}
	return tk, true
}

// drive sends a known mix of calls through every policy and returns the
// tickets still held, so that bulkhead and share-cap occupancy is known.
func drive(t *testing.T, reg *registry.Registry, clk *clock.Fake) []baldur.Ticket {
	t.Helper()
	ctx := context.Background()
	got := map[baldur.Reason]int{}
	var held []baldur.Ticket
	now := clk.Now()

	// rate: burst 2 admits 2 of 5, then one deadline rejection.
	rate := policy(t, reg, "rate")
	for range 5 {
		if tk, ok := admit(t, rate, baldur.Call{Operation: "GET /rate", Key: "k", Now: now}, got); ok {
			tk.Release(baldur.Outcome{Result: baldur.Success})
		}
	}
	admit(t, rate, baldur.Call{Operation: "GET /rate", Key: "k", Now: now, Deadline: now.Add(time.Millisecond)}, got)

	// pool: 3 permits held, 2 calls turned away at once.
	pool := policy(t, reg, "pool")
	for range 5 {
		if tk, ok := admit(t, pool, baldur.Call{Operation: "GET /pool", Now: now}, got); ok {
			held = append(held, tk)
		}
	}

	// edge: emergency LEVEL_1 sheds non_essential; a kill switch on
	// "payments"; a failing partition opens its breaker; a tenant over its
	// share of 2.
	edge := policy(t, reg, "edge")
	gc := reg.Governance.Get().(*governance.Checker)
	_, err := gc.Emergency().Trigger(ctx, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "test"})
	require.NoError(t, err)
	for range 4 {
		admit(t, edge, baldur.Call{Operation: "GET /edge", Service: "shop", Key: "x", Tier: baldur.TierNonEssential, Now: now}, got)
	}
	require.NoError(t, gc.Activate(ctx, governance.KillSwitch{Scope: governance.ScopeService, Pattern: "payments", Reason: "test"}))
	for range 3 {
		admit(t, edge, baldur.Call{Operation: "GET /edge", Service: "payments", Key: "x", Now: now}, got)
	}
	tk, ok := admit(t, edge, baldur.Call{Operation: "GET /edge", Service: "shop", Key: "down", Now: now}, got)
	require.True(t, ok)
	tk.Release(baldur.Outcome{Result: baldur.Failure})
	admit(t, edge, baldur.Call{Operation: "GET /edge", Service: "shop", Key: "down", Now: now}, got)
	for range 3 {
		if tk, ok := admit(t, edge, baldur.Call{Operation: "GET /edge", Service: "shop", Key: "tenant", Now: now}, got); ok {
			held = append(held, tk)
		}
	}

	// shadowed: burst 1, so 2 of 3 would have been throttled.
	shadowed := policy(t, reg, "shadowed")
	for range 3 {
		tk, ok := admit(t, shadowed, baldur.Call{Operation: "GET /shadow", Key: "k", Now: now}, got)
		require.True(t, ok)
		tk.Release(baldur.Outcome{Result: baldur.Success})
	}

	require.Equal(t, map[baldur.Reason]int{
		baldur.ReasonThrottled:    3,
		baldur.ReasonDeadline:     1,
		baldur.ReasonBulkheadFull: 2,
		baldur.ReasonEmergency:    4,
		baldur.ReasonKillSwitch:   3,
		baldur.ReasonBreakerOpen:  1,
		baldur.ReasonShareCap:     1,
	}, got, "the scenario itself")
	return held
}

func release(held []baldur.Ticket) {
	for i := range held {
		held[i].Release(baldur.Outcome{Result: baldur.Success})
	}
}

func TestCollectorRejections(t *testing.T) {
	t.Parallel()
	reg, clk := newRegistry(t)
	defer release(drive(t, reg, clk))
	c := metrics.NewCollector(reg, metrics.WithClock(clk))

	const want = `
# HELP baldur_rejections_total Calls a policy rejected, by gate and reason.
# TYPE baldur_rejections_total counter
baldur_rejections_total{gate="blast",policy="edge",reason="breaker_open"} 1
baldur_rejections_total{gate="blast",policy="edge",reason="share_cap"} 1
baldur_rejections_total{gate="deadline",policy="edge",reason="deadline"} 0
baldur_rejections_total{gate="governance",policy="edge",reason="emergency"} 4
baldur_rejections_total{gate="governance",policy="edge",reason="error_budget"} 0
baldur_rejections_total{gate="governance",policy="edge",reason="kill_switch"} 3
baldur_rejections_total{gate="bulkhead",policy="pool",reason="bulkhead_full"} 2
baldur_rejections_total{gate="deadline",policy="pool",reason="deadline"} 0
baldur_rejections_total{gate="deadline",policy="rate",reason="deadline"} 1
baldur_rejections_total{gate="throttle",policy="rate",reason="throttled"} 3
baldur_rejections_total{gate="deadline",policy="shadowed",reason="deadline"} 0
baldur_rejections_total{gate="throttle",policy="shadowed",reason="throttled"} 0
# HELP baldur_shadow_rejections_total Calls a shadow gate would have rejected but let through, by gate and reason.
# TYPE baldur_shadow_rejections_total counter
baldur_shadow_rejections_total{gate="blast",policy="edge",reason="breaker_open"} 0
baldur_shadow_rejections_total{gate="blast",policy="edge",reason="share_cap"} 0
baldur_shadow_rejections_total{gate="deadline",policy="edge",reason="deadline"} 0
baldur_shadow_rejections_total{gate="governance",policy="edge",reason="emergency"} 0
baldur_shadow_rejections_total{gate="governance",policy="edge",reason="error_budget"} 0
baldur_shadow_rejections_total{gate="governance",policy="edge",reason="kill_switch"} 0
baldur_shadow_rejections_total{gate="bulkhead",policy="pool",reason="bulkhead_full"} 0
baldur_shadow_rejections_total{gate="deadline",policy="pool",reason="deadline"} 0
baldur_shadow_rejections_total{gate="deadline",policy="rate",reason="deadline"} 0
baldur_shadow_rejections_total{gate="throttle",policy="rate",reason="throttled"} 0
baldur_shadow_rejections_total{gate="deadline",policy="shadowed",reason="deadline"} 0
baldur_shadow_rejections_total{gate="throttle",policy="shadowed",reason="throttled"} 2
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"baldur_rejections_total", "baldur_shadow_rejections_total"))
}

func TestCollectorGates(t *testing.T) {
	t.Parallel()
	reg, clk := newRegistry(t)
	defer release(drive(t, reg, clk))
	c := metrics.NewCollector(reg, metrics.WithClock(clk))

	const want = `
# HELP baldur_breaker_partitions Breaker partitions held in memory, by state; closed counts the rest.
# TYPE baldur_breaker_partitions gauge
baldur_breaker_partitions{policy="edge",state="closed"} 1
baldur_breaker_partitions{policy="edge",state="forced_closed"} 0
baldur_breaker_partitions{policy="edge",state="forced_open"} 0
baldur_breaker_partitions{policy="edge",state="half_open"} 0
baldur_breaker_partitions{policy="edge",state="open"} 1
# HELP baldur_bulkhead_active Permits held in the bulkhead compartment.
# TYPE baldur_bulkhead_active gauge
baldur_bulkhead_active{compartment="bh"} 3
# HELP baldur_bulkhead_max_concurrent Permits the bulkhead compartment grants at most.
# TYPE baldur_bulkhead_max_concurrent gauge
baldur_bulkhead_max_concurrent{compartment="bh"} 3
# HELP baldur_bulkhead_rejected_total Calls the bulkhead compartment turned away.
# TYPE baldur_bulkhead_rejected_total counter
baldur_bulkhead_rejected_total{compartment="bh"} 2
# HELP baldur_bulkhead_utilization_ratio Active permits over max concurrent, 0..1.
# TYPE baldur_bulkhead_utilization_ratio gauge
baldur_bulkhead_utilization_ratio{compartment="bh"} 1
# HELP baldur_bulkhead_waiting Calls waiting for a permit of the bulkhead compartment.
# TYPE baldur_bulkhead_waiting gauge
baldur_bulkhead_waiting{compartment="bh"} 0
# HELP baldur_share_cap_keys Partition keys the policy's share cap remembers, idle ones included.
# TYPE baldur_share_cap_keys gauge
baldur_share_cap_keys{policy="edge"} 2
# HELP baldur_throttle_keys Token buckets the policy's throttle tracks in memory.
# TYPE baldur_throttle_keys gauge
baldur_throttle_keys{policy="rate"} 1
baldur_throttle_keys{policy="shadowed"} 1
# HELP baldur_throttle_keys_capacity Token buckets the policy's throttle may track in memory.
# TYPE baldur_throttle_keys_capacity gauge
baldur_throttle_keys_capacity{policy="rate"} 1000
baldur_throttle_keys_capacity{policy="shadowed"} 1000
# HELP baldur_throttle_lossy_evictions_total Token buckets evicted before they were full (a key may have regained a burst early).
# TYPE baldur_throttle_lossy_evictions_total counter
baldur_throttle_lossy_evictions_total{policy="rate"} 0
baldur_throttle_lossy_evictions_total{policy="shadowed"} 0
# HELP baldur_throttle_store_errors_total Throttle store errors that admitted a call (fail-open).
# TYPE baldur_throttle_store_errors_total counter
baldur_throttle_store_errors_total{policy="rate"} 0
baldur_throttle_store_errors_total{policy="shadowed"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"baldur_breaker_partitions", "baldur_bulkhead_active", "baldur_bulkhead_max_concurrent",
		"baldur_bulkhead_rejected_total", "baldur_bulkhead_utilization_ratio", "baldur_bulkhead_waiting",
		"baldur_share_cap_keys", "baldur_throttle_keys", "baldur_throttle_keys_capacity",
		"baldur_throttle_lossy_evictions_total", "baldur_throttle_store_errors_total"))
}

func TestCollectorGovernanceAndRegistry(t *testing.T) {
	t.Parallel()
	reg, clk := newRegistry(t)
	defer release(drive(t, reg, clk))
	c := metrics.NewCollector(reg, metrics.WithClock(clk))

	// Audit: burst 1 at one instant writes the first block of each reason
	// and drops the rest (4 emergency, 3 kill switch).
	const want = `
# HELP baldur_emergency_level Emergency level: 0 NORMAL to 3 LEVEL_3, -1 unknown.
# TYPE baldur_emergency_level gauge
baldur_emergency_level 1
# HELP baldur_kill_switches_active Active kill switches.
# TYPE baldur_kill_switches_active gauge
baldur_kill_switches_active 1
# HELP baldur_governance_audit_dropped_total Governance audit records suppressed by the audit rate limit.
# TYPE baldur_governance_audit_dropped_total counter
baldur_governance_audit_dropped_total{reason="emergency_mode"} 3
baldur_governance_audit_dropped_total{reason="error_budget"} 0
baldur_governance_audit_dropped_total{reason="kill_switch"} 2
# HELP baldur_collect_errors_total State the collector could not read during scrapes, by source.
# TYPE baldur_collect_errors_total counter
baldur_collect_errors_total{source="kill_switches"} 0
# HELP baldur_error_budget_remaining_ratio Share of the error budget left over the SLO window, 0..1.
# TYPE baldur_error_budget_remaining_ratio gauge
baldur_error_budget_remaining_ratio 1
# HELP baldur_registry_config_version Generation of the registry's policy table; changes on every load or apply.
# TYPE baldur_registry_config_version gauge
baldur_registry_config_version 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"baldur_emergency_level", "baldur_kill_switches_active", "baldur_governance_audit_dropped_total",
		"baldur_collect_errors_total", "baldur_error_budget_remaining_ratio", "baldur_registry_config_version"))

	slots := map[string]float64{}
	for _, s := range reg.Slots() {
		slots[s.Name] = 0
	}
	for _, n := range []string{"governance", "emergency_manager", "error_budget_service", "error_budget_decider", "bulkhead_registry"} {
		slots[n] = 1
	}
	got := map[string]float64{}
	for k, v := range series(t, c, "baldur_slot_set") {
		got[strings.TrimPrefix(k, "slot=")] = v
	}
	require.Equal(t, slots, got)
}

// series gathers c through a pedantic registry (which checks every metric
// against its description) and returns the values of the named metric by
// its labels, written "k=v,k=v" in label-name order ("" without labels).
func series(t *testing.T, c prometheus.Collector, name string) map[string]float64 {
	t.Helper()
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(c))
	mfs, err := pr.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var kv []string
			for _, lp := range m.GetLabel() {
				kv = append(kv, lp.GetName()+"="+lp.GetValue())
			}
			out[strings.Join(kv, ",")] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

// labelValues returns the distinct values of label among the named
// metric's series, sorted.
func labelValues(t *testing.T, c prometheus.Collector, name, label string) []string {
	t.Helper()
	seen := map[string]bool{}
	for k := range series(t, c, name) {
		for _, kv := range strings.Split(k, ",") {
			if v, ok := strings.CutPrefix(kv, label+"="); ok {
				seen[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// fakeBudget reports a fixed error-budget status.
type fakeBudget struct{ st baldur.ErrorBudgetStatus }

func (f fakeBudget) Record(time.Time, baldur.Result)           {}
func (f fakeBudget) Status(time.Time) baldur.ErrorBudgetStatus { return f.st }

func TestCollectorErrorBudget(t *testing.T) {
	t.Parallel()
	reg := registry.New()
	reg.ErrorBudgetService.Set(fakeBudget{baldur.ErrorBudgetStatus{
		RemainingPct: 42,
		BurnRates: []baldur.BurnRate{
			{Window: 5 * time.Minute, Rate: 14.5},
			{Window: time.Hour, Rate: 2},
			{Window: 90 * time.Second, Rate: 0.25},
			{Window: time.Hour, Rate: 99}, // a duplicate window is sent once
		},
	}})
	c := metrics.NewCollector(reg)
	const want = `
# HELP baldur_error_budget_burn_rate Error rate over the look-back window divided by the rate the SLO allows.
# TYPE baldur_error_budget_burn_rate gauge
baldur_error_budget_burn_rate{window="1h"} 2
baldur_error_budget_burn_rate{window="5m"} 14.5
baldur_error_budget_burn_rate{window="90s"} 0.25
# HELP baldur_error_budget_remaining_ratio Share of the error budget left over the SLO window, 0..1.
# TYPE baldur_error_budget_remaining_ratio gauge
baldur_error_budget_remaining_ratio 0.42
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"baldur_error_budget_burn_rate", "baldur_error_budget_remaining_ratio"))
}

func TestCollectorBudgetFromGovernance(t *testing.T) {
	t.Parallel()
	reg, clk := newRegistry(t)
	c := metrics.NewCollector(reg, metrics.WithClock(clk))
	// The default burn windows of governance: the SRE workbook's.
	require.Equal(t, []string{"1h", "24h", "2h", "30m", "5m", "6h", "72h"},
		labelValues(t, c, "baldur_error_budget_burn_rate", "window"))
}

// TestCollectorEmptyRegistry: a registry without configuration reports its
// version and slots, nothing else; a nil registry reports nothing.
func TestCollectorEmptyRegistry(t *testing.T) {
	t.Parallel()
	reg := registry.New()
	require.Equal(t, 1+len(reg.Slots()), testutil.CollectAndCount(metrics.NewCollector(reg)))
	require.Equal(t, 0, testutil.CollectAndCount(metrics.NewCollector(nil)))
}

// TestCollectorCardinality floods every partitioned gate with 10,000
// distinct keys, half of them failing, and checks that the series do not
// change in number and that no key becomes a label value.
func TestCollectorCardinality(t *testing.T) {
	t.Parallel()
	reg, clk := newRegistry(t)
	defer release(drive(t, reg, clk))
	c := metrics.NewCollector(reg, metrics.WithClock(clk))
	before := testutil.CollectAndCount(c)

	rate, edge := policy(t, reg, "rate"), policy(t, reg, "edge")
	now := clk.Now()
	var keys [10000]string
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	for i, k := range keys {
		for _, p := range []*baldur.Policy{rate, edge} {
			tk, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /x", Service: "shop", Key: k, Now: now})
			if err != nil {
				continue
			}
			res := baldur.Success
			if i%2 == 0 {
				res = baldur.Failure
			}
			tk.Release(baldur.Outcome{Result: res})
		}
	}
	require.Equal(t, before, testutil.CollectAndCount(c))

	// The flood's failing half opened its partitions; the rest are closed.
	got := series(t, c, "baldur_breaker_partitions")
	require.Equal(t, float64(1+5000), got["policy=edge,state=open"])
	require.Equal(t, float64(1+5000), got["policy=edge,state=closed"])

	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(c))
	mfs, err := pr.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				require.NotContains(t, lp.GetValue(), "tenant", "%s{%s}", mf.GetName(), lp.GetName())
			}
		}
	}
}

// TestCollectorFollowsReload: a scrape after a reload shows the new
// policies and version, without re-registering the collector.
func TestCollectorFollowsReload(t *testing.T) {
	t.Parallel()
	reg, clk := newRegistry(t)
	c := metrics.NewCollector(reg, metrics.WithClock(clk))
	require.Equal(t, []string{"edge", "pool", "rate", "shadowed"}, labelValues(t, c, "baldur_rejections_total", "policy"))
	require.Equal(t, []string{"rate", "shadowed"}, labelValues(t, c, "baldur_throttle_keys", "policy"))

	cfg, err := registry.ParseConfig(strings.NewReader(`{
	  "bulkheads": {"small": {"max_concurrent": 1}},
	  "policies": [{"name": "only", "bulkhead": "small"}]
	}`))
	require.NoError(t, err)
	require.NoError(t, reg.Load(cfg))
	require.Equal(t, []string{"only"}, labelValues(t, c, "baldur_rejections_total", "policy"))
	require.Equal(t, []string{"small"}, labelValues(t, c, "baldur_bulkhead_active", "compartment"))
	require.Empty(t, series(t, c, "baldur_throttle_keys"))
	require.Equal(t, map[string]float64{"": 2}, series(t, c, "baldur_registry_config_version"))
}
