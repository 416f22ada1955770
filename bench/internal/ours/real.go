package ours

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/throttle"
)

// Operation is the HTTP operation every benchmark call names, and
// GRPCOperation the gRPC one; the registry routes both to the benchmark
// policy.
const (
	Operation     = "GET /items/{id}"
	GRPCOperation = "/grpc.health.v1.Health/Check"
)

// Stage selects which real gate rejects in a benchmark's reject path.
type Stage = baldur.Stage

// Stages; None admits every call.
const (
	None       Stage = 0
	Governance Stage = baldur.StageGovernance
	Throttle   Stage = baldur.StageThrottle
	Blast      Stage = baldur.StageBlast
	Bulkhead   Stage = baldur.StageBulkhead
)

// Gates are the real gates of the full chain.
type Gates struct {
	Governance baldur.Gate // governance.Checker.Gate()
	Throttle   *throttle.Throttle
	Blast      *blast.Breakers
	Bulkhead   *bulkhead.Semaphore
}

// All returns the gates in chain order.
func (g *Gates) All() []baldur.Gate {
	return []baldur.Gate{g.Governance, g.Throttle, g.Blast, g.Bulkhead}
}

// NewGates builds the four real gates for a partition key. Limits are
// generous (nothing is rejected) except at the stage named by reject, which
// is driven into rejecting key's calls: a kill switch over everything, an
// exhausted bucket, a forced-open breaker, a full fail-fast bulkhead.
func NewGates(key string, reject Stage) (*Gates, error) {
	return newGates(key, reject, baldur.SystemClock())
}

func newGates(key string, reject Stage, clk baldur.Clock) (*Gates, error) {
	ctx := context.Background()
	gov, err := governance.New(governance.Config{Audit: discardAudit{}, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("governance: %w", err)
	}
	if reject == Governance {
		if err := gov.Activate(ctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "benchmark reject path"}); err != nil {
			return nil, fmt.Errorf("governance kill switch: %w", err)
		}
	}
	// Never empty on the admit path (1e9/s refills faster than calls come),
	// with a realistic burst; on the reject path one token every 10 s.
	tc := throttle.Config{Name: "bench", Rate: 1e9, Burst: 1000, Clock: clk}
	if reject == Throttle {
		tc.Rate, tc.Burst = 0.1, 1
	}
	thr, err := throttle.New(tc)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	if reject == Throttle { // spend the only token
		if _, err := thr.Admit(ctx, baldur.Call{Operation: Operation, Key: key, Now: time.Now()}); err != nil {
			return nil, fmt.Errorf("throttle: first call: %w", err)
		}
	}
	// Breakers partitioned by operation, the common case (a failing route or
	// dependency trips alone); the throttle is the per-key gate.
	brk, err := blast.NewBreakers(blast.BreakerConfig{PartitionBy: blast.ByOperation, Clock: clk})
	if err != nil {
		return nil, fmt.Errorf("blast: %w", err)
	}
	if reject == Blast {
		for _, op := range []string{Operation, GRPCOperation} {
			if err := brk.ForceOpen(blast.Partition{Operation: op}, time.Hour); err != nil {
				return nil, fmt.Errorf("blast: %w", err)
			}
		}
	}
	bc := bulkhead.Config{Name: "bench", MaxConcurrent: 1024, Clock: clk}
	if reject == Bulkhead {
		bc.MaxConcurrent = 1
	}
	bh, err := bulkhead.New(bc)
	if err != nil {
		return nil, fmt.Errorf("bulkhead: %w", err)
	}
	if reject == Bulkhead { // hold the only permit for good
		if _, err := bh.Admit(ctx, baldur.Call{Operation: Operation, Key: key}); err != nil {
			return nil, fmt.Errorf("bulkhead: first call: %w", err)
		}
	}
	return &Gates{Governance: gov.Gate(), Throttle: thr, Blast: brk, Bulkhead: bh}, nil
}

// NewRegistry returns a registry whose table routes Operation and
// GRPCOperation to a policy of gates (named name).
func NewRegistry(name string, gates ...baldur.Gate) (*registry.Registry, error) {
	return newRegistry(name, baldur.SystemClock(), gates...)
}

func newRegistry(name string, clk baldur.Clock, gates ...baldur.Gate) (*registry.Registry, error) {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: name, Gates: gates, Clock: clk})
	if err != nil {
		return nil, err
	}
	reg := registry.New()
	if err := reg.Apply(registry.Spec{
		Policies: []*baldur.Policy{p},
		Routes:   map[string]string{Operation: name, GRPCOperation: name},
	}); err != nil {
		return nil, err
	}
	return reg, nil
}

// FullRegistry returns the registry of the full real chain (governance,
// throttle, blast, bulkhead) for key, rejecting at stage reject.
func FullRegistry(key string, reject Stage) (*registry.Registry, error) {
	g, err := NewGates(key, reject)
	if err != nil {
		return nil, err
	}
	return NewRegistry("full", g.All()...)
}

// coarse is the 1 ms clock of the impl=baldur-coarse chain, started once.
var coarse = sync.OnceValue(func() *clock.Coarse {
	c, err := clock.NewCoarse(time.Millisecond)
	if err != nil {
		panic(err) // constant resolution above the minimum
	}
	return c
})

// CoarseRegistry is FullRegistry with every gate and the policy reading a
// clock.Coarse (1 ms) instead of time.Now: the chain's cost without the
// per-call system clock read.
func CoarseRegistry(key string, reject Stage) (*registry.Registry, error) {
	g, err := newGates(key, reject, coarse())
	if err != nil {
		return nil, err
	}
	return newRegistry("full", coarse(), g.All()...)
}

// NoBreakerRegistry is FullRegistry without the blast stage, so that the
// breaker's share of the chain's cost can be reported.
func NoBreakerRegistry(key string, reject Stage) (*registry.Registry, error) {
	g, err := NewGates(key, reject)
	if err != nil {
		return nil, err
	}
	return NewRegistry("nobreaker", g.Governance, g.Throttle, g.Bulkhead)
}

// NewPolicyOf returns a Policy of all of g's gates, without a registry.
func NewPolicyOf(g *Gates) *baldur.Policy {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "gates", Gates: g.All()})
	if err != nil {
		panic(err) // four gates of four stages: a failure is a bug
	}
	return p
}

// discardAudit drops audit records, so that the (rate-limited) audit line of
// a kill-switch block does not land in the middle of benchmark output. The
// gate still does all its audit bookkeeping.
type discardAudit struct{}

func (discardAudit) Audit(context.Context, governance.AuditRecord) {}
