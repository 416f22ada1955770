package main

import (
	"context"
	"time"

	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/redisstore"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/throttle"
)

// stores builds one replica's fleet stores over that replica's Backend
// (its own Redis client). A nil field is a store that is not built yet:
// every phase that needs it prints "SKIPPED: <name> store not built" and
// the demo exits non-zero. Nothing stands in for a missing store.
//
// PLUGGING THE REAL STORES IN: set the three fields in newStores, one
// line each (plus an adapter method where a store's API differs from the
// small interfaces below), and LeaseWindow to the fleet throttle's lease
// life.
type stores struct {
	// Governance returns the replica's governance store. The store calls
	// invalidate when another replica changed the state (pub/sub message,
	// version poll): it invalidates this replica's checker cache, so the
	// change reaches the per-call gate at once.
	Governance func(ctx context.Context, b *redisstore.Backend, fc registry.FleetConfig, invalidate func()) (governance.Store, error)
	// Throttle returns the fleet store of the throttle named name (one store
	// per throttle: throttle.Key carries no throttle name). replicas is the
	// live replica count the local fail mode divides the limit by.
	Throttle func(ctx context.Context, b *redisstore.Backend, fc registry.FleetConfig, name string, replicas ReplicaCounter) (fleetThrottle, error)
	// Membership starts the replica's heartbeat and counts live replicas.
	Membership func(ctx context.Context, b *redisstore.Backend, fc registry.FleetConfig) (membership, error)
	// LeaseWindow is the fleet throttle's lease life L: in any window w the
	// fleet admits at most burst + rate·(w + L) for one key.
	LeaseWindow time.Duration
}

// newStores is the one place to change when the stores land:
//
//	Governance: func(ctx, b, fc, inv) (governance.Store, error) { return redisstore.NewGovernanceStore(ctx, b, ..., inv) },
//	Throttle:   func(ctx, b, fc, name, n) (fleetThrottle, error) { return redisstore.NewFleetThrottle(b, ..., name, n) },
//	Membership: func(ctx, b, fc) (membership, error) { return redisstore.JoinFleet(ctx, b, fc.Cluster, fc.ReplicaID, ...) },
//	LeaseWindow: <the throttle's lease life>,
func newStores() stores {
	return stores{
		Governance:  nil, // not built yet: phases a, c, d are skipped
		Throttle:    nil, // not built yet: phases b, c, d are skipped
		Membership:  nil, // not built yet: phases c, d are skipped
		LeaseWindow: 50 * time.Millisecond,
	}
}

// ReplicaCounter reports how many replicas of the cluster are alive (fleet
// membership). The fleet throttle takes one.
type ReplicaCounter interface {
	Replicas() int
}

// fleetThrottle is what the demo needs of a fleet throttle store: the
// store itself, and the count of decisions it made without Redis (its
// local fail mode), which shows the fallback and the return to Redis.
type fleetThrottle interface {
	throttle.Store
	FallbackDecisions() uint64
}

// membership is one replica's membership in the fleet: its heartbeat and
// the live count. Close stops the heartbeat.
type membership interface {
	ReplicaCounter
	Close() error
}

// need names a store a phase requires.
type need string

const (
	needGovernance need = "governance"
	needThrottle   need = "fleet throttle"
	needMembership need = "membership"
)

// missing returns the stores of needs that are not built.
func (s stores) missing(needs ...need) []need {
	var out []need
	for _, n := range needs {
		built := map[need]bool{
			needGovernance: s.Governance != nil,
			needThrottle:   s.Throttle != nil,
			needMembership: s.Membership != nil,
		}[n]
		if !built {
			out = append(out, n)
		}
	}
	return out
}
