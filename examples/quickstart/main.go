// Command quickstart runs a guarded HTTP server on 127.0.0.1 with the
// embedded in-memory registry and drives it through phases with a built-in
// load generator: normal traffic, emergency LEVEL_2 and a kill switch on one
// route (thrown through the admin API), a noisy tenant, a burst into a small
// bulkhead, a failing upstream, a tenant over its share, and recovery. After
// each phase it prints, per tier (and per special client), how many requests
// were admitted and why the others were rejected, and at the end the
// rejection counters of GET /metrics. It ends by itself in under 30 seconds.
//
//	go run ./examples/quickstart   (or: make demo)
//
// With -serve it instead keeps the service, its admin API and the browser
// console up on fixed loopback ports under a gentle load until interrupted
// (see serve.go):
//
//	go run ./examples/quickstart -serve
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

//go:embed baldur.json
var configJSON []byte

func main() {
	// Governance audits every block through slog, rate limited; keep the
	// demo's output to its tables.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	flag.Parse()
	if *serveMode {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "quickstart:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	start := time.Now()
	cfg, err := registry.ParseConfig(bytes.NewReader(configJSON))
	if err != nil {
		return err
	}
	reg := registry.New()
	if err := reg.Load(cfg); err != nil {
		return err
	}
	emergency, ok := reg.Emergency.SafeGet()
	if !ok {
		return errors.New("the configuration has no governance section")
	}

	// The load generator stands in for the load balancer in front of the
	// service: only it may say which tenant a request belongs to.
	loadBalancer, err := middleware.ParseTrustedProxies("127.0.0.1")
	if err != nil {
		return err
	}
	app := newApp()
	mw := middleware.New(reg,
		// One bucket and one share per tenant; requests without a tenant
		// header are keyed by their client IP.
		middleware.WithKey(middleware.KeyTrustedHeader("X-Tenant", loadBalancer, nil)),
		middleware.WithTierRules(
			middleware.TierRule{Method: "POST", Path: "/api/pay", Tier: baldur.TierCritical},
			middleware.TierRule{Path: "/api/recs", Tier: baldur.TierNonEssential},
		),
	)
	mux := http.NewServeMux()
	for pattern, h := range app.routes() {
		mux.Handle(pattern, mw(h))
	}
	// Prometheus metrics, read from the gates at scrape time.
	mux.Handle("GET /metrics", metrics.Handler(reg))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()

	// The control plane on its own loopback listener. The demo's phases
	// throw its switches the way an operator would: over HTTP, with a key.
	operatorKey := "quickstart-operator-key-0123456789"
	adm, err := admin.New(admin.Config{Registry: reg, OperatorKey: operatorKey})
	if err != nil {
		return err
	}
	admLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	admSrv := &http.Server{Handler: adm, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = admSrv.Serve(admLn) }()
	defer func() { _ = admSrv.Close() }()
	control := func(method, path, body string) error {
		return adminCall("http://"+admLn.Addr().String(), operatorKey, method, path, body)
	}

	lg := newLoadgen("http://" + ln.Addr().String())
	defer lg.close()
	fmt.Fprintf(out, "baldur-go quickstart: service %q on %s, admin API on %s, policies %v\n", reg.Service(), ln.Addr(), admLn.Addr(), reg.PolicyNames())

	normal := []flow{
		{row: "critical", method: "POST", path: "/api/pay", tenant: "a", rate: 20},
		{row: "standard", method: "GET", path: "/api/items/1", tenant: "b", rate: 40},
		{row: "standard", method: "GET", path: "/api/items/2", tenant: "c", rate: 40},
		{row: "non_essential", method: "GET", path: "/api/recs", tenant: "a", rate: 30},
	}
	phases := []phase{
		{
			name:   "1. normal traffic",
			flows:  normal,
			expect: []expect{{row: "critical", admittedOnly: true}, {row: "standard", admittedOnly: true}, {row: "non_essential", admittedOnly: true}},
		},
		{
			name: "2. POST /emergency/trigger LEVEL_2: non_essential shed, 90 % of standard shed, critical served",
			setup: func() error {
				return control("POST", "/emergency/trigger", `{"level": 2, "reason": "demo: checkout latency incident"}`)
			},
			flows:  normal,
			expect: []expect{{row: "critical", admittedOnly: true}, {row: "standard", reason: "emergency"}, {row: "non_essential", reason: "emergency", none: true}},
		},
		{
			name: "3. POST /emergency/stepdown twice (2 -> 1 -> 0), POST /killswitch on GET /api/items/{id}",
			setup: func() error {
				for range 2 {
					if err := control("POST", "/emergency/stepdown", `{"reason": "demo: incident mitigated"}`); err != nil {
						return err
					}
				}
				if lvl := emergency.Level(); lvl != baldur.LevelNormal {
					return fmt.Errorf("level %v after two step-downs, want NORMAL", lvl)
				}
				return control("POST", "/killswitch", `{"scope": "operation", "pattern": "GET /api/items/{id}", "reason": "demo: bad deploy of items"}`)
			},
			flows:  normal,
			expect: []expect{{row: "critical", admittedOnly: true}, {row: "standard", reason: "kill_switch", none: true}, {row: "non_essential", admittedOnly: true}},
		},
		{
			name: "4. DELETE /killswitch; one noisy tenant is throttled, the others are not",
			setup: func() error {
				return control("DELETE", "/killswitch", `{"scope": "operation", "pattern": "GET /api/items/{id}"}`)
			},
			flows: append(append([]flow(nil), normal...),
				flow{row: "standard (tenant noisy)", method: "GET", path: "/api/items/9", tenant: "noisy", rate: 400}),
			expect: []expect{{row: "standard", admittedOnly: true}, {row: "standard (tenant noisy)", reason: "throttled"}},
		},
		{
			name:   "5. burst of slow requests into an 8-slot bulkhead",
			flows:  []flow{{row: "standard", method: "GET", path: "/api/slow", tenant: "d", workers: 40}},
			expect: []expect{{row: "standard", reason: "bulkhead_full"}},
		},
		{
			name:  "6. upstream inventory fails: its breaker opens, shipping keeps serving",
			setup: func() error { app.inventoryFailing.Store(true); return nil },
			flows: []flow{
				{row: "standard (inventory)", method: "GET", path: "/api/inventory", tenant: "e", rate: 50},
				{row: "standard (shipping)", method: "GET", path: "/api/shipping", tenant: "f", rate: 50},
			},
			expect: []expect{{row: "standard (inventory)", reason: "breaker_open"}, {row: "standard (shipping)", admittedOnly: true}},
		},
		{
			name: "7. tenant big holds more than its 25 % share of the reports bulkhead",
			flows: []flow{
				{row: "standard (tenant big)", method: "GET", path: "/api/reports", tenant: "big", workers: 12},
				{row: "standard (tenants a, b)", method: "GET", path: "/api/reports", tenant: "a", workers: 2},
				{row: "standard (tenants a, b)", method: "GET", path: "/api/reports", tenant: "b", workers: 2},
			},
			expect: []expect{{row: "standard (tenant big)", reason: "share_cap"}, {row: "standard (tenants a, b)", admittedOnly: true}},
		},
		{
			name: "8. recovery: inventory healthy again, breaker half-opens and closes",
			setup: func() error {
				app.inventoryFailing.Store(false)
				return nil
			},
			// The breaker stays open for its 1 s open timeout, then probes.
			settle: 1100 * time.Millisecond,
			flows: append(append([]flow(nil), normal...),
				flow{row: "standard (inventory)", method: "GET", path: "/api/inventory", tenant: "e", rate: 50}),
			expect: []expect{{row: "critical", admittedOnly: true}, {row: "standard", admittedOnly: true}, {row: "non_essential", admittedOnly: true}, {row: "standard (inventory)", mostlyAdmitted: true}},
		},
	}

	var failed []string
	for _, ph := range phases {
		if ph.setup != nil {
			if err := ph.setup(); err != nil {
				return fmt.Errorf("%s: %w", ph.name, err)
			}
		}
		if ph.settle > 0 {
			time.Sleep(ph.settle)
		}
		tally := lg.drive(ph.flows, phaseLength)
		fmt.Fprintf(out, "\n%s\n", ph.name)
		tally.print(out)
		for _, e := range ph.expect {
			if msg := e.check(tally); msg != "" {
				failed = append(failed, ph.name+": "+msg)
				fmt.Fprintf(out, "   unexpected: %s\n", msg)
			}
		}
	}
	failed = append(failed, canaryPhase(out, reg, lg)...)
	failed = append(failed, chaosPhase(out)...)
	if err := printMetrics(out, "http://"+ln.Addr().String()+"/metrics"); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndone in %.1fs\n", time.Since(start).Seconds())
	if len(failed) > 0 {
		return fmt.Errorf("%d phase expectations not met: %v", len(failed), failed)
	}
	return nil
}

// phaseLength is how long each phase sends traffic.
const phaseLength = 1500 * time.Millisecond

type phase struct {
	name   string
	setup  func() error
	settle time.Duration
	flows  []flow
	expect []expect
}

// app is the demo service: fast routes, slow routes and two upstreams.
type app struct {
	inventoryFailing atomic.Bool
}

func newApp() *app { return &app{} }

func (a *app) routes() map[string]http.Handler {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(100 * time.Millisecond):
			_, _ = io.WriteString(w, "done\n")
		case <-r.Context().Done():
		}
	})
	return map[string]http.Handler{
		"GET /healthz":        ok,
		"GET /api/items/{id}": ok,
		"GET /api/recs":       ok,
		"POST /api/pay":       ok,
		"GET /api/shipping":   ok,
		"GET /api/slow":       slow,
		"GET /api/reports":    slow,
		"GET /api/inventory": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if a.inventoryFailing.Load() {
				http.Error(w, "inventory database unreachable", http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "in stock\n")
		}),
	}
}

// printMetrics scrapes the server's /metrics and prints the rejection
// counters that are not zero.
func printMetrics(out io.Writer, url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nGET /metrics (%d bytes), rejection counters:\n", len(body))
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "baldur_rejections_total{") && !strings.HasSuffix(line, " 0") {
			fmt.Fprintf(out, "   %s\n", line)
		}
	}
	return nil
}

// adminCall sends one control-plane request and fails on any answer but 2xx.
func adminCall(base, key, method, path, body string) error {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(admin.KeyHeader, key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("admin %s %s: %s %s", method, path, resp.Status, answer)
	}
	return nil
}
