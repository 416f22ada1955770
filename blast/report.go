package blast

import (
	"time"

	"github.com/baldur-go/baldur"
)

var (
	_ baldur.KeyReporter   = (*ShareCap)(nil)
	_ baldur.BreakerForcer = (*Breakers)(nil)
)

// KeyStats reports how many keys the share cap remembers and how many idle
// ones it keeps before forgetting them.
func (s *ShareCap) KeyStats() baldur.KeyStats {
	return baldur.KeyStats{Keys: s.Keys(), Cap: s.shardMax * len(s.shards)}
}

// OpenPartitions is Open in the shape admin and metrics read.
func (b *Breakers) OpenPartitions() []baldur.BreakerPartition {
	open := b.Open()
	out := make([]baldur.BreakerPartition, len(open))
	for i, ps := range open {
		out[i] = baldur.BreakerPartition{Key: ps.Partition.Key, Operation: ps.Partition.Operation, State: ps.State.String(), Until: ps.Until}
	}
	return out
}

// ForcePartition forces the partition open or closed for ttl (zero: the
// configured ForceTTL), or lifts its force, and returns its state
// afterwards. Beyond the bound on forced partitions it returns
// ErrTooManyForced and changes nothing.
func (b *Breakers) ForcePartition(key, operation string, f baldur.Force, ttl time.Duration) (string, error) {
	p := Partition{Key: key, Operation: operation}
	var err error
	switch f {
	case baldur.ForceOpen:
		err = b.ForceOpen(p, ttl)
	case baldur.ForceClosed:
		err = b.ForceClosed(p, ttl)
	default:
		b.Unforce(p)
	}
	return b.State(p).String(), err
}
