package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/redisstore"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests check the demo itself, not the fleet stores: a phase whose
// store is missing is skipped and fails the run; with stand-in stores (the
// crudest that could pass, defined here and never in the program) every
// phase runs and passes; a throttle store that is not fleet-wide fails
// phase b.

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestDemoSkipsMissingStoresAndFails(t *testing.T) {
	redistest.Binary(t)
	var out strings.Builder
	code, err := run(&out, newStores())
	require.NoError(t, err)
	assert.Equal(t, 1, code, out.String())
	assert.Equal(t, 8, strings.Count(out.String(), "SKIPPED: "), out.String())
	assert.Contains(t, out.String(), "SKIPPED: governance store not built")
	assert.NotContains(t, out.String(), "PASSED")
}

func TestDemoPassesWithStandInStores(t *testing.T) {
	redistest.Binary(t)
	if os.Getenv("BALDUR_DEMO_STANDINS") != "1" {
		// The stand-ins make one Redis call per request that is not denied
		// locally; on a loaded 2-core machine a cold connection pool misses
		// the 20 ms deadline at the start of a phase, the breaker opens and
		// phase b rightly reports local decisions. Opt in where the machine
		// is quiet.
		t.Skip("set BALDUR_DEMO_STANDINS=1 to run the demo on stand-in stores")
	}
	if raceEnabled {
		// The stand-in throttle makes one Redis call per request (the real
		// store's leases make about 20 per second per key): a race-built
		// binary on two shared cores misses the 20 ms deadline on a cold
		// pool, and phase b then rightly reports the local decisions.
		t.Skip("the stand-in throttle cannot keep its deadline under -race; run without -race")
	}
	var out strings.Builder
	code, err := run(&out, standIns(true))
	require.NoError(t, err)
	t.Log("\n" + out.String())
	assert.Equal(t, 0, code)
	assert.Contains(t, out.String(), "PASSED")
}

func TestDemoCatchesAPerReplicaLimit(t *testing.T) {
	redistest.Binary(t)
	st := stores{Throttle: func(context.Context, *redisstore.Backend, registry.FleetConfig, string, ReplicaCounter) (fleetThrottle, error) {
		return &localOnly{throttle.NewMemory(1000, time.Now())}, nil
	}, LeaseWindow: 50 * time.Millisecond}
	var out strings.Builder
	code, err := run(&out, st)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "above the bound", out.String())
}

type localOnly struct{ *throttle.Memory }

func (*localOnly) FallbackDecisions() uint64 { return 0 }

func standIns(withMembership bool) stores {
	st := stores{
		Governance: func(ctx context.Context, b *redisstore.Backend, fc registry.FleetConfig, invalidate func()) (governance.Store, error) {
			return newBlobGovernance(b, fc.Cluster, invalidate), nil
		},
		Throttle: func(_ context.Context, b *redisstore.Backend, fc registry.FleetConfig, name string, n ReplicaCounter) (fleetThrottle, error) {
			g, err := redisstore.NewGCRA(b.Guard("throttle/"+name, redisstore.ClassThrottle), redisstore.GCRAConfig{})
			if err != nil {
				return nil, err
			}
			return &gcraLocal{gcra: g, prefix: fc.Cluster + ":t:" + name + ":", n: n, local: throttle.NewMemory(1000, time.Now())}, nil
		},
		LeaseWindow: 50 * time.Millisecond,
	}
	if withMembership {
		st.Membership = func(context.Context, *redisstore.Backend, registry.FleetConfig) (membership, error) {
			return fixedMembership(fleetSize), nil
		}
	}
	return st
}

// fixedMembership counts a fixed fleet.
type fixedMembership int

func (m fixedMembership) Replicas() int { return int(m) }
func (fixedMembership) Close() error    { return nil }

// gcraLocal is a stand-in fleet throttle: GCRA in Redis behind a deny
// cache (a key Redis denied is denied locally until its retry time), and a
// local bucket at limit ÷ N when Redis is unavailable.
type gcraLocal struct {
	gcra      *redisstore.GCRA
	prefix    string
	n         ReplicaCounter
	local     *throttle.Memory
	denied    sync.Map // Redis key -> time.Time until which it is denied
	fallbacks atomic.Uint64
}

func (s *gcraLocal) Take(ctx context.Context, k throttle.Key, now time.Time, l throttle.Limit, maxWait time.Duration) (throttle.Decision, error) {
	key := s.prefix + k.Tier.String() + ":" + k.Partition
	if until, ok := s.denied.Load(key); ok && time.Now().Before(until.(time.Time)) {
		return throttle.Decision{RetryAfter: time.Until(until.(time.Time))}, nil
	}
	r, err := s.gcra.Take(ctx, key, time.Time{}, l, maxWait)
	if err == nil && !r.Decision.Allowed {
		s.denied.Store(key, time.Now().Add(r.Decision.RetryAfter))
	}
	if errors.Is(err, redisstore.ErrUnavailable) {
		s.fallbacks.Add(1)
		n := int64(max(s.n.Replicas(), 1))
		return s.local.Take(ctx, k, now, throttle.Limit{Cost: l.Cost * n, Tolerance: l.Tolerance / n}, maxWait)
	}
	return r.Decision, err
}

func (s *gcraLocal) Refund(context.Context, throttle.Key, throttle.Limit) error { return nil }

func (s *gcraLocal) FallbackDecisions() uint64 { return s.fallbacks.Load() }

// blobGovernance is a stand-in governance store: the whole state as one
// JSON value, a PUBLISH on each write, a subscriber that invalidates, and
// the last good state served when a read fails.
type blobGovernance struct {
	b          *redisstore.Backend
	key, ch    string
	invalidate func()

	mu   sync.Mutex
	last blobState
}

type blobState struct {
	Switches  []governance.KillSwitch
	Emergency baldur.EmergencyState
	Glass     governance.BreakGlass
}

func newBlobGovernance(b *redisstore.Backend, cluster string, invalidate func()) *blobGovernance {
	s := &blobGovernance{b: b, key: cluster + ":gov", ch: cluster + ":gov:chg", invalidate: invalidate}
	// Invalidate on every message, and every 300 ms for messages lost
	// while the subscriber reconnects. Both goroutines live as long as the
	// test binary.
	sub := b.Client().Subscribe(context.Background(), s.ch)
	go func() {
		for range sub.Channel() {
			s.invalidate()
		}
	}()
	go func() {
		for range time.Tick(300 * time.Millisecond) {
			s.invalidate()
		}
	}()
	return s
}

func (s *blobGovernance) read(ctx context.Context) (blobState, error) {
	var raw string
	err := s.b.Guard("governance", redisstore.ClassControl).Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		raw, err = c.Get(ctx, s.key).Result()
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case errors.Is(err, redis.Nil):
		s.last = blobState{}
	case err != nil:
		return s.last, nil // stale-if-error, unbounded in this stand-in
	default:
		var st blobState
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return s.last, err
		}
		s.last = st
	}
	return s.last, nil
}

func (s *blobGovernance) write(ctx context.Context, edit func(*blobState)) error {
	st, err := s.read(ctx)
	if err != nil {
		return err
	}
	st.Switches = append([]governance.KillSwitch(nil), st.Switches...)
	edit(&st)
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.b.Guard("governance", redisstore.ClassControl).Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		if err := c.Set(ctx, s.key, raw, 0).Err(); err != nil {
			return err
		}
		return c.Publish(ctx, s.ch, "x").Err()
	})
}

func (s *blobGovernance) KillSwitches(ctx context.Context) ([]governance.KillSwitch, error) {
	st, err := s.read(ctx)
	return st.Switches, err
}

func (s *blobGovernance) PutKillSwitch(ctx context.Context, ks governance.KillSwitch) error {
	return s.write(ctx, func(st *blobState) {
		for i, k := range st.Switches {
			if k.Scope == ks.Scope && k.Pattern == ks.Pattern {
				st.Switches[i] = ks
				return
			}
		}
		st.Switches = append(st.Switches, ks)
	})
}

func (s *blobGovernance) DeleteKillSwitch(ctx context.Context, scope governance.Scope, pattern string) (bool, error) {
	found := false
	err := s.write(ctx, func(st *blobState) {
		for i, k := range st.Switches {
			if k.Scope == scope && k.Pattern == pattern {
				st.Switches = append(st.Switches[:i], st.Switches[i+1:]...)
				found = true
				return
			}
		}
	})
	return found, err
}

func (s *blobGovernance) Emergency(ctx context.Context) (baldur.EmergencyState, error) {
	st, err := s.read(ctx)
	return st.Emergency, err
}

func (s *blobGovernance) PutEmergency(ctx context.Context, e baldur.EmergencyState) error {
	return s.write(ctx, func(st *blobState) { st.Emergency = e })
}

func (s *blobGovernance) BreakGlass(ctx context.Context) (governance.BreakGlass, error) {
	st, err := s.read(ctx)
	return st.Glass, err
}

func (s *blobGovernance) PutBreakGlass(ctx context.Context, bg governance.BreakGlass) error {
	return s.write(ctx, func(st *blobState) { st.Glass = bg })
}
