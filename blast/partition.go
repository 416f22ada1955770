package blast

import (
	"hash/maphash"
	"math/bits"

	"github.com/baldur-go/baldur"
)

// PartitionBy selects which fields of a baldur.Call name a breaker's
// partition.
type PartitionBy uint8

const (
	// ByKey partitions by Call.Key (a tenant, client or upstream host). It is
	// the zero value and the default.
	ByKey PartitionBy = iota
	// ByOperation partitions by Call.Operation (a route or gRPC method).
	ByOperation
	// ByKeyAndOperation gives every (Key, Operation) pair its own breaker.
	ByKeyAndOperation
)

func (p PartitionBy) String() string {
	switch p {
	case ByKey:
		return "key"
	case ByOperation:
		return "operation"
	case ByKeyAndOperation:
		return "key_and_operation"
	}
	return "unknown"
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
// breaker; no string is built or stored on the call path.
type hasher struct {
	by   PartitionBy
	seed maphash.Seed
}

func newHasher(by PartitionBy) hasher { return hasher{by: by, seed: maphash.MakeSeed()} }

func (h hasher) hash(key, op string) uint64 {
	switch h.by {
	case ByOperation:
		return maphash.String(h.seed, op)
	case ByKeyAndOperation:
		// Two string hashes mixed by an odd multiplier and a rotation, so
		// that (a, b) and (b, a) differ and no concatenation is needed.
		a := maphash.String(h.seed, key)
		b := maphash.String(h.seed, op)
		return a ^ bits.RotateLeft64(b*0x9e3779b97f4a7c15, 29)
	default:
		return maphash.String(h.seed, key)
	}
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
