package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/watchdog"
)

// services are the operator services serve mode runs beside the guarded
// shop, each built from its section of baldur.json and shown in the
// console: the notification pipeline (a log channel only: the demo sends
// nothing off the host), the dead-letter queue (in memory) of the shop's
// calls to its payment provider, the checkout's idempotency ledger, the
// canary rollout service, the chaos scheduler, and the watchdog with its
// built-in checks and each service's. One process: every store is in
// memory.
type services struct {
	notify   *notify.Pipeline
	watchdog *watchdog.Runner
	dlq      *dlq.Queue
	// ledger is the idempotency ledger of the checkout (in memory).
	ledger *idempotency.Memory
	canary *canary.Service
	chaos  *chaos.Scheduler
	// breakers notifies the state changes of the file's breakers.
	breakers *notify.BreakerChanges

	// stops are run in reverse order by stop: the producers first, the
	// pipeline they send to last.
	stops []func(context.Context) error
}

// newServices builds the services of cfg's sections on reg. logger takes the
// log channel's lines and the services' own records; replays go out
// through replay.
func newServices(cfg registry.Config, reg *registry.Registry, logger *slog.Logger, replay *http.Client) (_ *services, err error) {
	chaosCfg, hasChaos := reg.ChaosConfig()
	if cfg.Notifications == nil || cfg.Watchdog == nil || cfg.DLQ == nil || cfg.Idempotency == nil || cfg.Canary == nil || !hasChaos {
		return nil, errors.New("serve mode needs the notifications, watchdog, dlq, idempotency, canary and chaos sections of baldur.json")
	}
	s := &services{}
	defer func() {
		if err != nil {
			_ = s.stop(context.Background()) // what was built before the error
		}
	}()
	ncfg := *cfg.Notifications
	ncfg.Logger = logger
	if em, ok := reg.Emergency.SafeGet(); ok {
		ncfg.Emergency = em // the emergency floor of governance and watchdog pages
	}
	pipe, err := notify.New(ncfg)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	s.notify = pipe
	s.stops = append(s.stops, pipe.Close)
	s.breakers = &notify.BreakerChanges{Manager: pipe, Name: "upstreams", Priority: notify.PriorityWarning}

	// Replays pass governance, the error budget and the policy of the
	// captured call's operation, like live traffic.
	dcfg := *cfg.DLQ
	dcfg.Repository = dlq.NewMemory(dlq.MemoryConfig{Limits: dcfg.Limits()})
	dcfg.Handler = dlq.HTTPHandler(replay)
	dcfg.Governance, dcfg.Policies = reg.Governance.Get(), reg
	dcfg.Budget, _ = reg.ErrorBudgetDecider.SafeGet()
	dcfg.Logger = logger
	q, err := dlq.New(dcfg)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	s.dlq = q
	s.stops = append(s.stops, q.Close)

	s.ledger, err = idempotency.NewMemory(idempotency.MemoryConfig{Lease: cfg.Idempotency.Lease.D(), TTL: cfg.Idempotency.TTL.D(), Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	claims, err := idempotency.NewExpiredClaimsCheck(idempotency.ExpiredClaimsConfig{Ledger: s.ledger})
	if err != nil {
		return nil, err
	}

	// One process: a memory lock leads every check, and the incidents stay
	// in the process (watchdog.MemoryIncidents, the default).
	lk, err := lock.NewMemory(lock.MemoryConfig{})
	if err != nil {
		return nil, err
	}
	leases, err := watchdog.NewLeases(lk)
	if err != nil {
		return nil, err
	}
	breakers, err := watchdog.NewBreakers(reg)
	if err != nil {
		return nil, err
	}
	permits, err := watchdog.NewPermits(watchdog.PermitsConfig{Policies: reg, After: cfg.Watchdog.LeakedPermitAfter.D()})
	if err != nil {
		return nil, err
	}
	stuck, err := watchdog.NewEmergency(watchdog.EmergencyConfig{ManagerFunc: reg.Emergency.Get,
		After: cfg.Watchdog.EmergencyStuckAfter.D(), Local: true}) // governance's store is this process's memory
	if err != nil {
		return nil, err
	}
	// Rollouts of the registry's own configuration, judged by the traffic
	// of their cohorts; the watchdog renews their locks, pages stalls and
	// applies the emergency interlock.
	ccfg := *cfg.Canary
	ccfg.Applier, err = canary.NewLocal(canary.LocalConfig{Target: reg, Replica: "quickstart"})
	if err != nil {
		return nil, err
	}
	ccfg.Governance, ccfg.Service, ccfg.Lock, ccfg.Notify, ccfg.Logger = reg.Governance.Get(), reg.Service(), lk, pipe, logger
	s.canary, err = canary.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("canary: %w", err)
	}

	// Fault injection into the registry's policies, under the guard:
	// governance, the error budget and the blast radius (any time of day,
	// approved automatically: the demo's experiment is its own).
	radius, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}, GlobalMaxTraffic: 0.5,
		Scopes: map[blastradius.Scope]blastradius.ScopeLimits{blastradius.ScopeService: {Approval: blastradius.AutoApprove}}})
	if err != nil {
		return nil, err
	}
	budget, _ := reg.ErrorBudgetService.SafeGet()
	chaosCfg.Governance, chaosCfg.Budget, chaosCfg.Blast = reg.Governance.Get(), budget, radius
	chaosCfg.Injector, chaosCfg.Policies, chaosCfg.Notify, chaosCfg.Logger = reg.Chaos(), reg, pipe, logger
	s.chaos, err = chaos.New(chaosCfg)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	s.stops = append(s.stops, func(context.Context) error { s.chaos.Close(); return nil })

	wcfg := *cfg.Watchdog
	wcfg.Checks = append([]watchdog.Check{leases, breakers, permits, stuck, q.StuckCheck(), claims, s.chaos.TTLCheck()}, s.canary.Checks()...)
	wcfg.Lock, wcfg.Notifier, wcfg.Logger = lk, pipe, logger
	wcfg.Replica = "quickstart"
	wd, err := watchdog.New(wcfg)
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	s.watchdog = wd
	return s, nil
}

// admin fills the services' fields of the admin server's configuration.
func (s *services) admin(c *admin.Config) {
	c.Notifications = s.notify
	c.Watchdog = s.watchdog
	c.DLQ = s.dlq
	c.Idempotency = s.ledger
	c.Canary = s.canary
	c.Chaos = s.chaos
}

// idempotent runs the checkout at most once per Idempotency-Key and
// tenant; requests without a key pass through.
func (s *services) idempotent(cfg *idempotency.Config, logger *slog.Logger) (func(http.Handler) http.Handler, error) {
	return idempotency.Middleware(idempotency.HTTPOptions{Config: *cfg, Ledger: s.ledger, Domain: "shop", Logger: logger,
		Scope: func(r *http.Request) string { return r.Header.Get("X-Tenant") }})
}

// summary says what runs, for the banner.
func (s *services) summary() string {
	st := s.watchdog.Status()
	names := make([]string, len(s.notify.Channels()))
	for i, c := range s.notify.Channels() {
		names[i] = c.Name
	}
	return fmt.Sprintf("notifications (channels %v), watchdog (%d checks every %v), DLQ and idempotency ledger (in memory), a canary rollout, a chaos experiment", names, len(st.Checks), st.Interval)
}

// breakerChanged is the registry's breaker hook: a breaker that opens is
// notified (and resolved when it closes), and a partition that closes
// arms the auto-replay of its DLQ domain.
func (s *services) breakerChanged(_ string, p blast.Partition, from, to blast.State) {
	s.breakers.Hook(p, from, to)
	s.dlq.OnBreakerStateChange(p, from, to)
}

// start starts the producers, the rollout controller, the chaos scheduler
// and the watchdog, the demo's rollout and experiment; they run until ctx
// is done or stop is called. Its last step notifies that the demo is up:
// everything before it has started (the serve test waits for it).
func (s *services) start(ctx context.Context, reg *registry.Registry, console string) error {
	bctx, stopBreakers := context.WithCancel(ctx)
	s.breakers.Start(bctx)
	s.stops = append(s.stops, func(context.Context) error { stopBreakers(); return nil })
	if em, ok := reg.Emergency.SafeGet(); ok {
		levels := &notify.EmergencyLevels{Level: em, Manager: s.notify}
		done := make(chan struct{})
		lctx, cancel := context.WithCancel(ctx)
		go func() { defer close(done); levels.Run(lctx, time.Second) }()
		s.stops = append(s.stops, func(context.Context) error { cancel(); <-done; return nil })
	}
	cctx, stopCanary := context.WithCancel(ctx)
	canaryDone := make(chan struct{})
	go func() { defer close(canaryDone); s.canary.Run(cctx, time.Second) }()
	s.stops = append(s.stops, func(context.Context) error { stopCanary(); <-canaryDone; return nil })
	if err := s.rollout(ctx, reg); err != nil {
		return fmt.Errorf("canary: %w", err)
	}
	s.chaos.Run(ctx)
	if err := s.experiment(ctx); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	if err := s.watchdog.Start(ctx); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	s.stops = append(s.stops, s.watchdog.Stop)
	if _, err := s.notify.Notify(ctx, notify.Notification{Priority: notify.PriorityInfo, Source: "quickstart",
		Title: "quickstart serving", Body: "console at " + console}); err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	return nil
}

// stop stops what start and newServices started, the last started first.
func (s *services) stop(ctx context.Context) error {
	var errs []error
	for i := len(s.stops) - 1; i >= 0; i-- {
		errs = append(errs, s.stops[i](ctx))
	}
	s.stops = nil
	return errors.Join(errs...)
}

// rollout starts the demo's canary: the slow bulkhead widened from 8 to
// 12 slots, on half of the tenants, then all, each stage judged on its
// cohorts' calls and promoted once its windows passed. A rollout the gates
// refuse to start stays created, and says why in the console.
func (s *services) rollout(ctx context.Context, reg *registry.Registry) error {
	var doc map[string]any
	if err := json.Unmarshal(reg.Document(), &doc); err != nil {
		return err
	}
	bulkheads, _ := doc["bulkheads"].(map[string]any)
	slow, ok := bulkheads["slow"].(map[string]any)
	if !ok {
		return errors.New("no slow bulkhead to widen")
	}
	slow["max_concurrent"] = 12
	candidate, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	op := canary.Op{Actor: "quickstart", Reason: "demo: widen the slow bulkhead to 12"}
	st, err := s.canary.Create(ctx, canary.Plan{Candidate: candidate, Stages: []canary.Stage{{Share: 0.5}, {Share: 1}}}, op)
	if err != nil {
		return err
	}
	_, _ = s.canary.Start(ctx, st.RolloutID, op)
	return nil
}

// experiment schedules the demo's chaos experiment: 200 ms of latency on
// GET /api/recs for a quarter of the tenants, against a control quarter
// only observed, for a minute, once the demo's rollout is over (its judge
// compares the latency of cohorts of the same tenants).
func (s *services) experiment(ctx context.Context) error {
	_, err := s.chaos.Schedule(ctx, chaos.Experiment{
		ID: "recs-latency", Target: chaos.Target{Policy: "api", Operation: "GET /api/recs"},
		Fault: chaos.Fault{Kind: chaos.FaultLatency, Delay: baldur.Duration(200 * time.Millisecond)},
		Rate:  0.25, Duration: baldur.Duration(time.Minute), Scope: blastradius.ScopeService, StartAt: time.Now().Add(4 * time.Minute),
		Hypothesis: "the experiment cohort's recommendations slow down; the control cohort's latency holds",
	})
	return err
}
