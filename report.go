package baldur

import "time"

// A gate reports what an operator or a scrape can see of it through the
// small optional interfaces below, and admin and metrics discover them with
// a type assertion on the Gate, as net/http discovers http.Flusher. A new
// kind of gate shows up in both by implementing the ones that fit; neither
// names a concrete gate type. Every implementation must be safe for
// concurrent use and may take locks (it is not on the call path).

// KeyStats is the occupancy of a gate's per-partition-key table.
type KeyStats struct {
	// Keys is how many partition keys the gate holds state for.
	Keys int
	// Cap is how many keys it holds before evicting; zero means unbounded.
	Cap int
	// LossyEvictions counts keys evicted while their state still mattered
	// (a bucket not yet full, calls still in flight).
	LossyEvictions uint64
	// StoreErrors counts calls admitted because the gate's store failed.
	StoreErrors uint64
}

// KeyReporter is a gate that keeps state per partition key (a throttle, a
// share cap).
type KeyReporter interface {
	KeyStats() KeyStats
}

// CompartmentReporter is a gate that holds bulkhead compartments (one, or
// one per tier).
type CompartmentReporter interface {
	// CompartmentStates returns the occupancy of each compartment.
	CompartmentStates() []BulkheadState
}

// BreakerPartition is one partition of a partitioned breaker that is not
// plainly closed.
type BreakerPartition struct {
	// Key and Operation name the partition; the one the breaker does not
	// partition by is empty.
	Key, Operation string
	// State is "half_open", "open", "forced_open" or "forced_closed".
	State string
	// Until is when an open state or a force ends; zero for half-open.
	Until time.Time
}

// BreakerReporter is a gate that keeps a circuit breaker per partition.
type BreakerReporter interface {
	// Partitions returns how many partitions the gate tracks.
	Partitions() int
	// OpenPartitions returns the partitions that are open, half-open or
	// forced, ordered by key then operation.
	OpenPartitions() []BreakerPartition
}

// Force is what an operator imposes on a breaker partition.
type Force uint8

const (
	// ForceNone lifts a force: the partition's breaker decides again.
	ForceNone Force = iota
	// ForceOpen rejects every call of the partition until the force ends.
	ForceOpen
	// ForceClosed admits every call of the partition until the force ends.
	ForceClosed
)

// BreakerForcer is a gate whose breaker partitions an operator may force.
type BreakerForcer interface {
	BreakerReporter
	// ForcePartition imposes f on the partition named by key and operation
	// for ttl (zero: the gate's default) and returns the partition's state
	// afterwards ("forced_open", ...). A gate that bounds how many
	// partitions may be forced at once returns its own error beyond that
	// bound and changes nothing.
	ForcePartition(key, operation string, f Force, ttl time.Duration) (state string, err error)
}
