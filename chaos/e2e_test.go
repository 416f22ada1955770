package chaos_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/interceptor"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

const e2eConfig = `{
  "service": "shop",
  "governance": {"budget_window": "10m", "budget_bucket": "10s", "slo_target": 0.5},
  "breakers": {"per_key": {"partition_by": "key", "consecutive_failures": 3, "open_timeout": "1m"}},
  "bulkheads": {"api": {"max_concurrent": 8}},
  "policies": [{"name": "api", "operations": ["GET /items"], "governance": true, "breaker": "per_key", "bulkhead": "api"}],
  "chaos": {"enabled": true, "dry_run": false, "max_rate": 0.5, "steady_state": "1s", "windows": ["00:00-24:00"]}
}`

// Through a real server: an injected error answers with the experiment's
// status and reason injected_fault, the experiment cohort's breakers open
// on those injected failures, the control cohort is served throughout, and
// the report shows it.
func TestEndToEndInjectedErrorsOpenTheExperimentCohortsBreakers(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC))
	cfg, err := registry.ParseConfig(strings.NewReader(e2eConfig))
	require.NoError(t, err)
	reg := registry.New(registry.WithClock(clk))
	require.NoError(t, reg.Load(cfg))
	cc, ok := reg.ChaosConfig()
	require.True(t, ok)
	blast, err := blastradius.New(blastradius.Config{Clock: clk, Windows: []blastradius.Window{blastradius.AnyTime}})
	require.NoError(t, err)
	budget, _ := reg.ErrorBudgetService.SafeGet()
	cc.Governance, cc.Budget, cc.Blast, cc.Injector, cc.Policies, cc.Clock, cc.Logger = reg.Governance.Get(), budget, blast, reg.Chaos(), reg, clk, discard
	sc, err := chaos.New(cc)
	require.NoError(t, err)

	lb, err := middleware.ParseTrustedProxies("127.0.0.1")
	require.NoError(t, err)
	mw := middleware.New(reg, middleware.WithKey(middleware.KeyTrustedHeader("X-Tenant", lb, nil)), middleware.WithClock(clk))
	mux := http.NewServeMux()
	mux.Handle("GET /items", mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	get := func(tenant string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/items", nil)
		req.Header.Set("X-Tenant", tenant)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get(middleware.HeaderReason)
	}

	x := errorExp("e2e", 0.25)
	x.Target = chaos.Target{Policy: "api"}
	x.Duration = baldur.Duration(10 * time.Second)
	ctx := context.Background()
	_, err = sc.Schedule(ctx, x)
	require.NoError(t, err)
	sc.Tick(ctx)
	exp, ctl := firstKey(t, "e2e", 0.25, "experiment"), firstKey(t, "e2e", 0.25, "control")
	code, _ := get(exp)
	require.Equal(t, http.StatusOK, code, "steady state: nothing injected yet")
	clk.Advance(time.Second)
	sc.Tick(ctx)
	r, _ := sc.Get("e2e")
	require.Equal(t, chaos.StateDuring, r.State)

	for i := range 3 {
		code, reason := get(exp)
		assert.Equal(t, 500, code, "call %d", i)
		assert.Equal(t, "injected_fault", reason)
	}
	code, reason := get(exp)
	assert.Equal(t, http.StatusServiceUnavailable, code, "the breaker opened on the injected failures")
	assert.Equal(t, "breaker_open", reason)
	for range 10 {
		code, _ := get(ctl)
		assert.Equal(t, http.StatusOK, code, "control untouched")
	}
	sc.Tick(ctx)
	rep, err := sc.Generate(ctx, "e2e")
	require.NoError(t, err)
	assert.EqualValues(t, 3, rep.Experiment.During.Injected)
	assert.EqualValues(t, 1, rep.Experiment.During.Rejected["breaker_open"])
	assert.Equal(t, 1, rep.Experiment.During.BreakerOpened)
	assert.Zero(t, rep.Control.During.BreakerOpened)
	assert.EqualValues(t, 10, rep.Control.During.Successes)

	// The same rejection over gRPC carries the configured code.
	st := interceptor.StatusOf(baldur.RejectInjected(500, 13))
	assert.Equal(t, codes.Internal, st.Code())
}

// BenchmarkPolicyWithChaosStages compares, in one run, a policy (breaker,
// bulkhead) with and without the chaos stages while no experiment runs.
func BenchmarkPolicyWithChaosStages(b *testing.B) {
	for _, withChaos := range []bool{false, true} {
		name := "without"
		doc := strings.Replace(e2eConfig, `"chaos": {"enabled": true, "dry_run": false, "max_rate": 0.5, "steady_state": "1s", "windows": ["00:00-24:00"]}`, `"region": "x"`, 1)
		if withChaos {
			name, doc = "with", e2eConfig
		}
		b.Run(name, func(b *testing.B) {
			cfg, err := registry.ParseConfig(strings.NewReader(doc))
			require.NoError(b, err)
			reg := registry.New()
			require.NoError(b, reg.Load(cfg))
			p := reg.Policy("GET /items")
			c := baldur.Call{Operation: "GET /items", Key: "tenant-1", Now: time.Now()}
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t, err := p.Admit(ctx, c)
					if err == nil {
						t.Release(baldur.Outcome{Result: baldur.Success})
					}
				}
			})
		})
	}
}
