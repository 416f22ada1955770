package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/redisstore"
	"github.com/baldur-go/baldur/registry"
)

// operatorKey is the admin API's operator key of every replica.
const operatorKey = "demo-fleet-operator-key-0123456789"

// replica is one replica of the quickstart service: its own registry, its
// own Redis client (Backend), its own HTTP server and admin API, on
// 127.0.0.1:0.
type replica struct {
	id       string
	reg      *registry.Registry
	backend  *redisstore.Backend
	throttle fleetThrottle // nil when the fleet throttle is not built
	member   membership    // nil when membership is not built

	base, adminBase string
	closers         []func()
}

// staticCount is the replica count handed to a fleet throttle when
// membership is not built.
type staticCount int

func (n staticCount) Replicas() int { return int(n) }

// newReplica starts replica n (1-based) of a fleet of size with the
// configuration cfg, its fleet section pointing at the demo's Redis.
func newReplica(ctx context.Context, n, size int, cfg registry.Config, st stores, log *slog.Logger) (_ *replica, err error) {
	fc := *cfg.Fleet
	fc.ReplicaID = fmt.Sprintf("replica-%d", n)
	r := &replica{id: fc.ReplicaID}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	b, err := redisstore.Open(ctx, fc, redisstore.WithBackendConfig(redisstore.Config{Logger: log}))
	if err != nil {
		return nil, err
	}
	r.backend = b
	r.closers = append(r.closers, func() { _ = b.Client().Close() })

	var count ReplicaCounter = staticCount(size)
	if st.Membership != nil {
		m, err := st.Membership(ctx, b, fc)
		if err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
		r.member, count = m, m
		r.closers = append(r.closers, func() { _ = m.Close() })
	}

	var opts []registry.Option
	var loaded atomic.Pointer[registry.Registry]
	if st.Governance != nil {
		invalidate := func() {
			if reg := loaded.Load(); reg != nil {
				reg.Governance.Get().InvalidateCache()
			}
		}
		gs, err := st.Governance(ctx, b, fc, invalidate)
		if err != nil {
			return nil, fmt.Errorf("governance store: %w", err)
		}
		opts = append(opts, registry.WithGovernanceStore(gs))
	}

	// The throttles' stores are per replica: copy the map before setting them.
	cfg.Throttles = maps.Clone(cfg.Throttles)
	cfg.Fleet = &fc
	if st.Throttle != nil {
		for name, ts := range cfg.Throttles {
			s, err := st.Throttle(ctx, b, fc, name, count)
			if err != nil {
				return nil, fmt.Errorf("fleet throttle %s: %w", name, err)
			}
			ts.Store = s
			cfg.Throttles[name] = ts
			if name == tenantThrottle {
				r.throttle = s
			}
		}
	}

	reg := registry.New(opts...)
	if err := reg.Load(cfg); err != nil {
		return nil, err
	}
	if _, ok := reg.Governance.SafeGet(); !ok || cfg.Governance == nil {
		return nil, errors.New("the configuration has no governance section")
	}
	loaded.Store(reg)
	r.reg = reg

	lb, err := middleware.ParseTrustedProxies("127.0.0.1")
	if err != nil {
		return nil, err
	}
	mw := middleware.New(reg,
		middleware.WithKey(middleware.KeyTrustedHeader("X-Tenant", lb, nil)),
		middleware.WithTierRules(
			middleware.TierRule{Method: "POST", Path: "/api/pay", Tier: baldur.TierCritical},
			middleware.TierRule{Path: "/api/recs", Tier: baldur.TierNonEssential},
		),
	)
	mux := http.NewServeMux()
	ok200 := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	for _, pattern := range []string{"GET /healthz", "GET /api/items/{id}", "GET /api/recs", "POST /api/pay"} {
		mux.Handle(pattern, mw(ok200))
	}
	if r.base, err = serve(mux, &r.closers); err != nil {
		return nil, err
	}
	adm, err := admin.New(admin.Config{Registry: reg, OperatorKey: operatorKey})
	if err != nil {
		return nil, err
	}
	if r.adminBase, err = serve(adm, &r.closers); err != nil {
		return nil, err
	}
	return r, nil
}

// serve serves h on 127.0.0.1:0 and returns its base URL.
func serve(h http.Handler, closers *[]func()) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	*closers = append(*closers, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

func (r *replica) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

// control sends one admin request to the replica, as an operator would,
// and fails on any answer but 2xx.
func (r *replica) control(method, path, body string) error {
	req, err := http.NewRequest(method, r.adminBase+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(admin.KeyHeader, operatorKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: admin %s %s: %s %s", r.id, method, path, resp.Status, strings.TrimSpace(string(answer)))
	}
	return nil
}

// fallbacks returns the fleet throttle's local decisions so far (0 when
// it is not built).
func (r *replica) fallbacks() uint64 {
	if r.throttle == nil {
		return 0
	}
	return r.throttle.FallbackDecisions()
}
