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

// newStores builds each replica's stores from redisstore: the governance
// store (its watcher invalidates the replica's checker on a change), one
// fleet throttle store per throttle (falling back locally at limit ÷ live
// replicas), and the replica's membership heartbeat.
func newStores() stores {
	return stores{
		Governance: func(ctx context.Context, b *redisstore.Backend, fc registry.FleetConfig, invalidate func()) (governance.Store, error) {
			g, err := redisstore.NewGovernance(ctx, b, redisstore.GovernanceConfig{Name: fc.Cluster})
			if err != nil {
				return nil, err
			}
			go func() { _ = g.Watch(ctx, invalidate) }()
			return g, nil
		},
		Throttle: func(_ context.Context, b *redisstore.Backend, fc registry.FleetConfig, name string, replicas ReplicaCounter) (fleetThrottle, error) {
			s, err := redisstore.NewThrottleStore(b, redisstore.ThrottleStoreConfig{Name: fc.Cluster + "-" + name, Replicas: replicas})
			if err != nil {
				return nil, err
			}
			return throttleStore{s}, nil
		},
		Membership: func(ctx context.Context, b *redisstore.Backend, fc registry.FleetConfig) (membership, error) {
			// A demo-scale heartbeat (the default is every 5 s, TTL 15 s),
			// so the replicas agree on the fleet's size within a second.
			m, err := redisstore.NewMembership(b, redisstore.MembershipConfig{ID: fc.ReplicaID, Cluster: fc.Cluster,
				TTL: 2 * time.Second, Interval: 250 * time.Millisecond})
			if err != nil {
				return nil, err
			}
			if err := m.Start(ctx); err != nil {
				return nil, err
			}
			return member{m}, nil
		},
		LeaseWindow: redisstore.DefaultLease,
	}
}

// throttleStore counts the fail mode's decisions as the demo reads them.
type throttleStore struct{ *redisstore.ThrottleStore }

func (s throttleStore) FallbackDecisions() uint64 {
	st := s.Stats()
	return st.FallbackAllowed + st.FallbackDenied
}

// member leaves the fleet at once on Close.
type member struct{ *redisstore.Membership }

func (m member) Close() error { return m.Membership.Close(context.Background()) }

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
