package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

// chaosConfig is the chaos phase's own service: one route whose breaker is
// partitioned by tenant, and a chaos section that is enabled and live (the
// defaults are disabled and dry run) with short phases for the demo.
const chaosConfig = `{
  "service": "recs",
  "governance": {"budget_window": "10m", "budget_bucket": "10s", "slo_target": 0.5},
  "breakers": {"per_tenant": {"partition_by": "key", "consecutive_failures": 3, "min_requests": 1000, "open_timeout": "400ms", "half_open_probes": 1}},
  "bulkheads": {"recs": {"max_concurrent": 64, "max_wait": "20ms"}},
  "policies": [{"name": "recs", "operations": ["GET /api/recs"], "governance": true, "breaker": "per_tenant", "bulkhead": "recs"}],
  "chaos": {"enabled": true, "dry_run": false, "max_rate": 0.5, "steady_state": "1s", "check_interval": "500ms",
            "lease": "1s", "poll": "100ms", "max_error_rate_delta": 1, "windows": ["00:00-24:00"]}
}`

// chaosPhase runs a latency experiment on GET /api/recs: a quarter of the
// tenants (the experiment cohort) get 300 ms of injected latency inside the
// guarded call, against a 100 ms request deadline, so their requests time
// out and their breakers open; another quarter (the control cohort) is
// observed and untouched. It prints the report and returns the
// expectations that were not met.
func chaosPhase(out io.Writer) []string {
	fail := func(err error) []string {
		fmt.Fprintf(out, "   unexpected: %v\n", err)
		return []string{"10. chaos: " + err.Error()}
	}
	fmt.Fprintf(out, "\n10. chaos: 300 ms latency injected into a quarter of the tenants of GET /api/recs (100 ms deadline)\n")
	cfg, err := registry.ParseConfig(strings.NewReader(chaosConfig))
	if err != nil {
		return fail(err)
	}
	reg := registry.New()
	if err := reg.Load(cfg); err != nil {
		return fail(err)
	}
	chaosCfg, _ := reg.ChaosConfig()
	blast, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}})
	if err != nil {
		return fail(err)
	}
	budget, _ := reg.ErrorBudgetService.SafeGet()
	chaosCfg.Governance, chaosCfg.Budget, chaosCfg.Blast = reg.Governance.Get(), budget, blast
	chaosCfg.Injector, chaosCfg.Policies = reg.Chaos(), reg
	sc, err := chaos.New(chaosCfg)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc.Run(ctx)
	defer sc.Close()

	lb, err := middleware.ParseTrustedProxies("127.0.0.1")
	if err != nil {
		return fail(err)
	}
	mw := middleware.New(reg, middleware.WithKey(middleware.KeyTrustedHeader("X-Tenant", lb, nil)))
	recs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // 5 ms of work, within the request's deadline
		case <-time.After(5 * time.Millisecond):
			_, _ = io.WriteString(w, "recommendations\n")
		case <-r.Context().Done():
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /api/recs", mw(recs))
	// Every request has a 100 ms budget, set before the guarded chain.
	withDeadline := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, stop := context.WithTimeout(r.Context(), 100*time.Millisecond)
		defer stop()
		mux.ServeHTTP(w, r.WithContext(c))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: withDeadline, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()

	exp := chaos.Experiment{
		ID: "recs-latency", Target: chaos.Target{Policy: "recs", Operation: "GET /api/recs"},
		Fault: chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(300 * time.Millisecond)},
		Rate:  0.25, Duration: baldur.Duration(2 * time.Second),
		Hypothesis: "the slow cohort's breakers open and shed it; the control cohort keeps its success rate",
	}
	// Eight tenants of each cohort and of neither, picked by the cohort hash.
	tenants, err := tenantsOf([]string{"experiment", "control", ""}, 8,
		func(i int) string { return fmt.Sprintf("tenant-%d", i) },
		func(t string) string { return chaos.Cohort(exp.ID, exp.Rate, t) })
	if err != nil {
		return fail(err)
	}
	if _, err := sc.Schedule(ctx, exp); err != nil {
		return fail(err)
	}

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	url := "http://" + ln.Addr().String() + "/api/recs"
	var wg sync.WaitGroup
	for _, t := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("X-Tenant", t)
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				time.Sleep(10 * time.Millisecond) // about 50 requests a second per tenant
			}
		}()
	}
	deadline := time.Now().Add(15 * time.Second)
	var run chaos.Run
	for time.Now().Before(deadline) {
		if run, err = sc.Get(exp.ID); err == nil && run.State.Ended() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	rep, err := sc.Generate(context.Background(), exp.ID)
	if err != nil {
		return fail(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(chaos.Markdown(rep))), "\n") {
		fmt.Fprintf(out, "   %s\n", line)
	}
	png, err := chaos.Chart(rep)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "   (chart: %d-byte PNG at GET /chaos/experiments/%s/report/chart.png on the admin API)\n", len(png), exp.ID)

	var failed []string
	expect := func(ok bool, msg string) {
		if !ok {
			fmt.Fprintf(out, "   unexpected: %s\n", msg)
			failed = append(failed, "10. chaos: "+msg)
		}
	}
	expect(run.State == chaos.StateDone, fmt.Sprintf("experiment ended %s (%s), want done", run.State, run.StopReason))
	expect(rep.Experiment.During.BreakerOpened > 0, "no breaker of the experiment cohort opened")
	expect(rep.Experiment.During.Rejected[baldur.ReasonBreakerOpen.String()] > 0, "the experiment cohort saw no breaker_open rejection")
	expect(rep.Control.During.BreakerOpened == 0, "a breaker of the control cohort opened")
	expect(rep.Control.During.Calls > 0 && rep.Control.During.SuccessRate >= 0.99,
		fmt.Sprintf("control cohort success %.1f %% during injection, want >= 99 %%", 100*rep.Control.During.SuccessRate))
	if errors.Is(ctx.Err(), context.Canceled) && len(failed) == 0 {
		fmt.Fprintf(out, "   the experiment cohort's breakers opened; the control cohort was untouched\n")
	}
	return failed
}
