package redisstore_test

import (
	"context"
	"errors"
	"log"
	"net/http"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/redisstore"
	"github.com/baldur-go/baldur/registry"
	"github.com/prometheus/client_golang/prometheus"
)

// A rollout runs under a fenced lease: Hold renews it and cancels the work
// when it is lost; each write carries the token.
func ExampleNewLock() {
	var b *redisstore.Backend // from redisstore.New, with Scripts: redisstore.LockScripts
	if b == nil {
		return
	}
	ctx := context.Background()
	l, err := redisstore.NewLock(ctx, b, redisstore.LockConfig{})
	if err != nil {
		log.Fatal(err) // e.g. the server evicts keys
	}
	h, held, err := lock.Hold(ctx, l, "rollout:cart", "pod-7f9c", lock.HoldConfig{})
	switch {
	case errors.Is(err, redisstore.ErrUnavailable):
		log.Print("recovery lock unavailable: proceeding unlocked") // the Locker's fail-open contract
	case err != nil:
		log.Fatal(err)
	case !held:
		return // another replica is on it
	}
	if h != nil {
		defer h.Release(ctx)
		_ = h.Context() // run the work under it; write with h.Token()
	}
}

// Each replica joins its cluster's membership at start-up; the admin API
// lists the fleet and Prometheus scrapes the stores' health.
func ExampleNewMembership() {
	var b *redisstore.Backend // from redisstore.New, with Scripts: redisstore.FleetScripts
	if b == nil {
		return
	}
	ctx := context.Background()
	m, err := redisstore.NewMembership(b, redisstore.MembershipConfig{ID: "pod-7f9c", Cluster: "checkout", Version: "v1.4.2"})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		log.Print(err) // heartbeats go on; Replicas() keeps MinReplicas meanwhile
	}
	defer m.Close(ctx)
	prometheus.MustRegister(redisstore.NewCollector(b, m))
	srv, err := admin.New(admin.Config{Registry: registry.New(), ViewerKey: "viewer-key-0123456789", Fleet: m.AdminFleet()})
	if err != nil {
		log.Fatal(err)
	}
	_ = http.ListenAndServe("127.0.0.1:9090", srv) // GET /fleet
}
