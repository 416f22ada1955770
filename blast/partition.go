package blast

import (
	"hash/maphash"
	"math/bits"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/enum"
	"github.com/baldur-go/baldur/internal/front"
)

// PartitionBy selects which fields of a baldur.Call name a breaker's
// partition.
type PartitionBy uint8

const (
	// ByKey partitions by Call.Key (a tenant, client or upstream host). It
	// is the zero value and the default.
	ByKey PartitionBy = iota
	// ByOperation partitions by Call.Operation (a route or gRPC method).
	ByOperation
	// ByKeyAndOperation gives every (Key, Operation) pair its own breaker.
	ByKeyAndOperation
)

var partitionByNames = enum.New[PartitionBy]("partition_by", "key", "operation", "key_and_operation")

// String returns the name a configuration file uses: "key", "operation" or
// "key_and_operation".
func (p PartitionBy) String() string { return partitionByNames.String(p) }

// MarshalText implements encoding.TextMarshaler.
func (p PartitionBy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: one of the String
// names.
func (p *PartitionBy) UnmarshalText(b []byte) error {
	v, err := partitionByNames.Parse(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Partition names one breaker. Only the fields selected by PartitionBy take
// part; the others are ignored (and empty in the partitions a Breakers
// reports).
type Partition struct {
	Key       string
	Operation string
}

// hasher maps partitions to 64-bit identities with hash/maphash. Two
// partitions whose hashes collide (probability 2^-64 per pair) share a
// breaker; no string is built or stored on the call path. Operation
// hashes are cached by the identity of the operation string, which an
// adapter keeps (a route pattern, a method name), so a call of a known
// operation hashes nothing for it.
type hasher struct {
	by   PartitionBy
	seed maphash.Seed
	ops  *front.Cache[uint64]
}

func newHasher(by PartitionBy) hasher {
	return hasher{by: by, seed: maphash.MakeSeed(), ops: new(front.Cache[uint64])}
}

func (h hasher) hash(key, op string) uint64 {
	switch h.by {
	case ByOperation:
		return h.op(op)
	case ByKeyAndOperation:
		// Two string hashes mixed by an odd multiplier and a rotation, so
		// that (a, b) and (b, a) differ and no concatenation is needed.
		a := maphash.String(h.seed, key)
		b := h.op(op)
		return a ^ bits.RotateLeft64(b*0x9e3779b97f4a7c15, 29)
	default:
		return maphash.String(h.seed, key)
	}
}

// op is the hash of an operation.
func (h hasher) op(op string) uint64 {
	if v, ok := h.ops.Get(op); ok {
		return v
	}
	v := maphash.String(h.seed, op)
	h.ops.Miss(op, v)
	return v
}

// partition returns the normalized partition (unused fields cleared).
func (h hasher) partition(key, op string) Partition {
	switch h.by {
	case ByOperation:
		return Partition{Operation: op}
	case ByKeyAndOperation:
		return Partition{Key: key, Operation: op}
	default:
		return Partition{Key: key}
	}
}

func (h hasher) call(c *baldur.Call) uint64 { return h.hash(c.Key, c.Operation) }
