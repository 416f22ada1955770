package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// gatesConfig has a policy with one gate of every stage.
const gatesConfig = `{
  "service": "shop",
  "region": "eu",
  "governance": {"budget_window": "10m", "budget_bucket": "10s",
    "thresholds": {"critical": {"block_pct": 15, "warn_pct": 30}, "standard": {"block_pct": 10, "warn_pct": 20},
      "non_essential": {"block_pct": 5, "warn_pct": 10}}},
  "throttles": {"tenant": {"rate": 1, "burst": 2, "key_by": "key", "max_keys": 1000}},
  "breakers": {"up": {"partition_by": "key"}},
  "share_caps": {"tenants": {"capacity": 8, "share": 0.25}},
  "bulkheads": {"api": {"max_concurrent": 4}},
  "policies": [{"name": "api", "operations": ["GET /api/*"], "governance": true, "throttle": "tenant",
    "breaker": "up", "share_cap": "tenants", "bulkhead": "api"}]
}`

func gatesEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, true, nil)
	cfg, err := registry.ParseConfig(strings.NewReader(gatesConfig))
	require.NoError(t, err)
	require.NoError(t, e.reg.Load(cfg))
	return e
}

func items(t *testing.T, e *env, path string) []map[string]any {
	t.Helper()
	w := e.call(http.MethodGet, path, viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code, "%s: %s", path, w.Body)
	var out []map[string]any
	for _, it := range decodeBody(t, w)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// GET /policies shows each gate with the state its capabilities report.
func TestPoliciesShowsLiveGateState(t *testing.T) {
	t.Parallel()
	e := gatesEnv(t)
	p := e.reg.Policy("GET /api/x")
	ctx := context.Background()
	held, err := p.Admit(ctx, baldur.Call{Operation: "GET /api/x", Key: "t1", Tier: baldur.TierStandard})
	require.NoError(t, err)
	defer held.Release(baldur.Outcome{Result: baldur.Success})
	tk, err := p.Admit(ctx, baldur.Call{Operation: "GET /api/x", Key: "t1", Tier: baldur.TierStandard})
	require.NoError(t, err)
	tk.Release(baldur.Outcome{Result: baldur.Success})
	_, err = p.Admit(ctx, baldur.Call{Operation: "GET /api/x", Key: "t1", Tier: baldur.TierStandard})
	require.ErrorIs(t, err, baldur.ErrRejected) // burst 2 spent

	byStage := map[string]map[string]any{}
	for _, it := range items(t, e, "/policies") {
		assert.Equal(t, "api", it["policy"])
		if it["stage"] == "blast" {
			byStage[it["kind"].(string)] = it
		} else {
			byStage[it["stage"].(string)] = it
		}
	}
	th := byStage["throttle"]
	require.NotNil(t, th, "%v", byStage)
	assert.EqualValues(t, 1, th["rejected"])
	assert.EqualValues(t, 1, th["keys"])
	assert.EqualValues(t, 1000, th["key_cap"])
	assert.NotEmpty(t, th["quota"])
	bh := byStage["bulkhead"]
	require.NotNil(t, bh)
	assert.EqualValues(t, 1, bh["active"])
	assert.EqualValues(t, 4, bh["capacity"])
	assert.InDelta(t, 0.25, bh["utilization"], 1e-9)
	assert.EqualValues(t, 0, bh["rejected"])
	var sawBreaker, sawShare bool
	for kind, it := range byStage {
		if it["open"] != nil {
			sawBreaker = true
			assert.EqualValues(t, 0, it["open"], kind)
		}
		if it["share_limit"] != nil {
			sawShare = true
			assert.EqualValues(t, 2, it["share_limit"], kind)
			assert.EqualValues(t, 1, it["keys"], kind)
		}
	}
	assert.True(t, sawBreaker, "%v", byStage)
	assert.True(t, sawShare, "%v", byStage)
	assert.NotNil(t, byStage["governance"])

	assert.Equal(t, http.StatusForbidden, e.call(http.MethodGet, "/policies", "", "").Code)
}

// GET /budget gives each tier's thresholds and state against the remaining
// budget; without an error budget it is 404, which the console shows as
// "not configured".
func TestBudgetPerTier(t *testing.T) {
	t.Parallel()
	e := gatesEnv(t)
	w := e.call(http.MethodGet, "/budget", viewerKey, "")
	require.Equal(t, http.StatusOK, w.Code)
	m := decodeBody(t, w)
	assert.EqualValues(t, 100, m["remaining_pct"])
	assert.Equal(t, "eu", m["region"])
	assert.NotEmpty(t, m["burn_rates"])
	tiers := map[string]map[string]any{}
	for _, it := range m["items"].([]any) {
		it := it.(map[string]any)
		tiers[it["tier"].(string)] = it
	}
	require.Len(t, tiers, 3)
	assert.EqualValues(t, 15, tiers["critical"]["block_pct"])
	assert.EqualValues(t, 20, tiers["standard"]["warn_pct"])
	assert.Equal(t, "ok", tiers["non_essential"]["state"])

	bare := newEnv(t, true, nil)
	assert.Equal(t, http.StatusNotFound, bare.call(http.MethodGet, "/budget", viewerKey, "").Code)
}

// GET /rejections counts per reason since start and over the last minute
// and five minutes: between the oldest sample it took inside the window
// (it samples when asked, at most every 5 s) and now.
func TestRejectionsByReasonOverTime(t *testing.T) {
	t.Parallel()
	e := gatesEnv(t)
	p := e.reg.Policy("GET /api/x")
	reject := func(n int) {
		for range n {
			_, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /api/x", Key: "k", Tier: baldur.TierStandard})
			require.ErrorIs(t, err, baldur.ErrKillSwitch)
		}
	}
	assert.Empty(t, items(t, e, "/rejections"), "first sample (t0): nothing rejected yet")
	require.Equal(t, http.StatusOK, e.op(http.MethodPost, "/killswitch", `{"scope":"all","reason":"drill"}`).Code)
	reject(3)
	e.clock.Advance(30 * time.Second)
	got := items(t, e, "/rejections") // sample at t0+30s
	require.Len(t, got, 1)
	assert.Equal(t, "kill_switch", got[0]["reason"])
	assert.Equal(t, "governance", got[0]["gate"])
	for _, k := range []string{"total", "last_1m", "last_5m"} {
		assert.EqualValues(t, 3, got[0][k], k)
	}

	e.clock.Advance(40 * time.Second)
	reject(2)
	m := decodeBody(t, e.call(http.MethodGet, "/rejections", viewerKey, "")) // sample at t0+70s
	got0 := m["items"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 5, got0["total"])
	assert.EqualValues(t, 5, got0["last_5m"])
	assert.EqualValues(t, 2, got0["last_1m"], "the sample 40 s ago already had 3")
	assert.InDelta(t, 70, m["history_s"], 1e-9)
	series := m["series"].([]any)
	require.Len(t, series, 2)
	assert.EqualValues(t, 3, series[0].(map[string]any)["rejected"])
	assert.EqualValues(t, 2, series[1].(map[string]any)["rejected"])

	// Asked again within 5 s: no new sample.
	e.clock.Advance(time.Second)
	assert.Len(t, decodeBody(t, e.call(http.MethodGet, "/rejections", viewerKey, ""))["series"], 2)
}

// countingGate admits everything and counts it: a stand-in for any gate's
// hot-path counter.
type countingGate struct{ admits, releases atomic.Int64 }

func (g *countingGate) Stage() baldur.Stage { return baldur.StageGovernance }
func (g *countingGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	g.admits.Add(1)
	return baldur.NewPermit(g, 0), nil
}
func (g *countingGate) Release(uint64, baldur.Outcome) { g.releases.Add(1) }

// No console request costs the guarded service anything on its request
// path: polling every endpoint the console reads, as every level, admits no
// call through any gate, moves no bucket, breaker or bulkhead, and records
// nothing in the error budget.
func TestConsolePollingCostsTheRequestPathNothing(t *testing.T) {
	t.Parallel()
	e := gatesEnv(t)
	loaded, ok := e.reg.PolicyByName("api")
	require.True(t, ok)
	counter := &countingGate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: append([]baldur.Gate{counter}, loaded.Gates()...), Clock: e.clock})
	require.NoError(t, err)
	require.NoError(t, e.reg.Apply(registry.Spec{Policies: []*baldur.Policy{p}, Routes: map[string]string{"GET /api/*": "api"}}))
	for range 3 {
		tk, err := e.reg.Policy("GET /api/x").Admit(context.Background(), baldur.Call{Operation: "GET /api/x", Key: "t", Tier: baldur.TierStandard})
		if err == nil {
			tk.Release(baldur.Outcome{Result: baldur.Success})
		}
	}
	// The gates' own counters, as GET /policies reads them.
	snapshot := func() string {
		var rows []map[string]any
		for _, it := range items(t, e, "/policies") {
			rows = append(rows, map[string]any{"rejected": it["rejected"], "keys": it["keys"], "active": it["active"],
				"open": it["open"], "partitions": it["partitions"]})
		}
		return jsonString(rows)
	}
	admits, releases := counter.admits.Load(), counter.releases.Load()
	before := snapshot()
	budget := e.reg.ErrorBudgetService.Get().Status(e.clock.Now())

	for _, key := range []string{viewerKey, operatorKey, ""} {
		for _, path := range []string{"/console", "/console/assets/console.js", "/console/assets/console.css", "/access",
			"/status", "/fleet", "/policies", "/budget", "/rejections", "/audit",
			"/dlq/stats", "/canary/rollouts", "/chaos/experiments", "/watchdog/status", "/notifications/channels"} {
			w := e.call(http.MethodGet, path, key, "")
			assert.Less(t, w.Code, 500, path)
		}
		e.clock.Advance(5 * time.Second)
	}

	assert.Equal(t, admits, counter.admits.Load(), "a gate admitted a console request")
	assert.Equal(t, releases, counter.releases.Load())
	assert.Equal(t, before, snapshot())
	after := e.reg.ErrorBudgetService.Get().Status(e.clock.Now())
	assert.Equal(t, budget.Total, after.Total, "console requests were counted in the error budget")
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
