package baldur

import (
	"context"
	"time"
)

// BulkheadState is a bulkhead compartment's occupancy.
type BulkheadState struct {
	Name string
	// Kind is "semaphore" or "pool".
	Kind          string
	MaxConcurrent int
	Active        int
	Waiting       int
	Rejected      uint64
	LastRejection time.Time
	// Utilization is Active / MaxConcurrent, 0..1.
	Utilization float64
}

// Bulkhead is one compartment of bounded concurrency.
//
// Implementations must be safe for concurrent use.
type Bulkhead interface {
	Name() string
	// Acquire takes a permit, waiting at most the compartment's max wait. A
	// full compartment is a *Rejection with ReasonBulkheadFull; a done ctx
	// is ctx.Err().
	Acquire(ctx context.Context) (Permit, error)
	// Execute runs fn within a permit.
	Execute(ctx context.Context, fn func(context.Context) error) error
	State() BulkheadState
}

// BulkheadRegistry holds the named compartments. The registry's
// "bulkhead_registry" slot; unset by default.
//
// Implementations must be safe for concurrent use.
type BulkheadRegistry interface {
	// Get returns the named compartment; an unknown name is an error that
	// lists the registered names.
	Get(name string) (Bulkhead, error)
	Names() []string
	States() []BulkheadState
}
