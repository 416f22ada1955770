package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

// Serve mode: the shop service and its admin API and console stay up on
// fixed loopback ports under a gentle load, until interrupted.
var (
	serveMode   = flag.Bool("serve", false, "run the shop service, its admin API and console until interrupted, under a gentle built-in load")
	serviceAddr = flag.String("addr", "127.0.0.1:8480", "serve mode: the shop service's listen address")
	adminAddr   = flag.String("admin-addr", "127.0.0.1:8481", "serve mode: the admin API and console's listen address")
)

// The demo's keys: printed, so anyone on this host may use them. A real
// deployment takes its keys from a secret store.
const (
	serveOperatorKey = "quickstart-operator-key-0123456789"
	serveViewerKey   = "quickstart-viewer-key-0123456789"
)

// serve runs until ctx is done. Listening on a port in use is an error
// naming the flag to change.
func serve(ctx context.Context, out io.Writer) error {
	cfg, err := registry.ParseConfig(bytes.NewReader(configJSON))
	if err != nil {
		return err
	}
	// The breakers the file declares tell the services (built next, on the
	// registry) of their state changes.
	var svcs atomic.Pointer[services]
	reg := registry.New(registry.WithBreakerStateChange(func(name string, p blast.Partition, from, to blast.State) {
		if s := svcs.Load(); s != nil {
			s.breakerChanged(name, p, from, to)
		}
	}))
	if err := reg.Load(cfg); err != nil {
		return err
	}
	loadBalancer, err := middleware.ParseTrustedProxies("127.0.0.1")
	if err != nil {
		return err
	}
	app := newApp()
	mw := middleware.New(reg,
		middleware.WithKey(middleware.KeyTrustedHeader("X-Tenant", loadBalancer, nil)),
		middleware.WithLatency(), // the canary's judge compares the cohorts' latencies
		middleware.WithTierRules(
			middleware.TierRule{Method: "POST", Path: "/api/pay", Tier: baldur.TierCritical},
			middleware.TierRule{Path: "/api/recs", Tier: baldur.TierNonEssential},
		),
	)
	// The operator services of the file's sections: their log lines go to
	// out, beside the banner.
	pay, err := startProvider()
	if err != nil {
		return err
	}
	defer pay.close()
	logger := slog.New(slog.NewTextHandler(out, nil))
	s, err := newServices(cfg, reg, logger, &http.Client{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	svcs.Store(s)
	defer func() { _ = s.stop(context.Background()) }()

	mux := http.NewServeMux()
	routes := app.routes()
	// Serve mode's checkout also charges the card at the payment provider,
	// a call the DLQ captures when it fails, at most once per
	// Idempotency-Key.
	idem, err := s.idempotent(cfg.Idempotency, logger)
	if err != nil {
		return err
	}
	routes["POST /api/pay"] = idem(payHandler(chargeClient(reg, s.dlq.CapturePoint("payments")), pay.url))
	for pattern, h := range routes {
		mux.Handle(pattern, mw(h))
	}
	mux.Handle("GET /metrics", metrics.Handler(reg))

	// Unlocked, so the console's destructive actions (break glass, forcing
	// a breaker) can be tried; they still ask for a typed CONFIRM.
	admCfg := admin.Config{Registry: reg, OperatorKey: serveOperatorKey, ViewerKey: serveViewerKey, Unlock: true}
	s.admin(&admCfg)
	adm, err := admin.New(admCfg)
	if err != nil {
		return err
	}
	svcLn, err := net.Listen("tcp", *serviceAddr)
	if err != nil {
		return fmt.Errorf("service listener (change it with -addr): %w", err)
	}
	admLn, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		_ = svcLn.Close()
		return fmt.Errorf("admin listener (change it with -admin-addr): %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	admSrv := &http.Server{Handler: adm, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(svcLn) }()
	go func() { errc <- admSrv.Serve(admLn) }()

	svc, ctl := "http://"+svcLn.Addr().String(), "http://"+admLn.Addr().String()
	fmt.Fprintf(out, `baldur-go quickstart, serving until interrupted (Ctrl-C)

  console   %[2]s/console
            operator key  %[3]s   (ADMIN: this demo server is unlocked)
            viewer key    %[4]s
  service   %[1]s  (policies %[5]v)
  metrics   %[1]s/metrics
  services  %[6]s

Try:
  curl -i %[1]s/api/items/1 -H 'X-Tenant: me'
  curl -s %[2]s/status -H 'X-Baldur-Admin-Key: %[4]s'
  curl -s %[2]s/killswitch -H 'X-Baldur-Admin-Key: %[3]s' -H 'Content-Type: application/json' \
       -d '{"scope":"operation","pattern":"GET /api/items/{id}","reason":"trying the kill switch"}'
  curl -i %[1]s/api/items/1 -H 'X-Tenant: me'      # now 503 kill_switch
  curl -s -X DELETE %[2]s/killswitch -H 'X-Baldur-Admin-Key: %[3]s' -H 'Content-Type: application/json' \
       -d '{"scope":"operation","pattern":"GET /api/items/{id}"}'
  curl -s %[2]s/emergency/trigger -H 'X-Baldur-Admin-Key: %[3]s' -H 'Content-Type: application/json' \
       -d '{"level":2,"reason":"trying the emergency level","duration":"2m"}'
  curl -i -X POST %[1]s/api/pay -H 'X-Tenant: me' -H 'Idempotency-Key: "order-1"'   # twice: replayed
  curl -s %[2]s/killswitch -H 'X-Baldur-Admin-Key: %[3]s' -H 'Content-Type: application/json' \
       -d '{"scope":"operation","pattern":"POST payments/charges","reason":"stop charging"}'   # charges wait in the DLQ
  curl -s '%[2]s/dlq/entries?domain=payments' -H 'X-Baldur-Admin-Key: %[4]s'
  curl -s %[2]s/dlq/replay -H 'X-Baldur-Admin-Key: %[3]s' -H 'Content-Type: application/json' \
       -d '{"domain":"payments","dry_run":true,"reason":"trying a replay"}'   # after lifting the switch

A built-in load runs: steady traffic on every tier, a noisy tenant throttled
every 30 s, and an upstream and the payment provider that fail for a few
seconds: the breaker opens (notified), failed charges wait in the DLQ.
`, svc, ctl, serveOperatorKey, serveViewerKey, reg.PolicyNames(), s.summary())

	// The services start once the banner is out, so their first log lines
	// follow it.
	if err = s.start(ctx, reg, ctl+"/console"); err == nil {
		lg := newLoadgen(svc)
		defer lg.close()
		loadCtx, stopLoad := context.WithCancel(ctx)
		loadDone := make(chan struct{})
		failing := func(on bool) { app.inventoryFailing.Store(on); pay.failing.Store(on) }
		go func() { defer close(loadDone); gentleLoad(loadCtx, lg, failing) }()

		select {
		case <-ctx.Done():
		case err = <-errc:
		}
		stopLoad()
		<-loadDone // at most one step of load after the interrupt
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	_ = admSrv.Shutdown(shut)
	_ = s.stop(shut)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(out, "\nstopped")
	return nil
}

// gentleLoad drives the service in 30 s cycles: steady traffic, then a
// noisy tenant over its rate, then failing upstreams, until ctx is done.
func gentleLoad(ctx context.Context, lg *loadgen, failing func(bool)) {
	// Every tenant sends the same mix, so that the canary's cohorts (a
	// share of the tenants) see the same traffic.
	var steady []flow
	for i := range 8 {
		tenant := "t" + strconv.Itoa(i+1)
		steady = append(steady,
			flow{row: "critical", method: "POST", path: "/api/pay", tenant: tenant, rate: 1},
			flow{row: "standard", method: "GET", path: "/api/items/1", tenant: tenant, rate: 1},
			flow{row: "standard", method: "GET", path: "/api/inventory", tenant: tenant, rate: 1},
			flow{row: "non_essential", method: "GET", path: "/api/recs", tenant: tenant, rate: 1},
		)
		if i%2 == 0 {
			steady = append(steady, flow{row: "standard", method: "GET", path: "/api/shipping", tenant: tenant, rate: 1})
		}
	}
	noisy := append(append([]flow(nil), steady...), flow{row: "noisy", method: "GET", path: "/api/items/9", tenant: "noisy", rate: 150})
	const step = 2 * time.Second
	for start := time.Now(); ctx.Err() == nil; {
		// The failures come last: the error budget needs the calls of the
		// steady phase to absorb them (at the start, with few calls, they
		// would spend it at once).
		switch t := time.Since(start) % (30 * time.Second); {
		case t < 20*time.Second:
			lg.drive(steady, step)
		case t < 24*time.Second:
			lg.drive(noisy, step)
		default:
			failing(true)
			lg.drive(steady, step)
			failing(false)
		}
	}
}
