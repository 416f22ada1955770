// Package memo remembers the strings an adapter builds from a key on every
// call (an operation name from a method and a host, the text of a peer's
// address), so that building one again allocates nothing.
package memo

import "sync/atomic"

// Slots is the number of slots of a Table: enough for the peers of a busy
// server (a gRPC server keys calls by the text of their peer's address, one
// per connection) to stay without evicting each other, at 32 KiB a table.
const Slots = 4096

// Table maps keys to the strings built from them. It is direct-mapped and
// fixed in size: a key lives in the slot its hash picks, and a key hashed
// to a taken slot replaces the one there, so many distinct keys only evict
// each other and memory never grows. The zero value is empty and ready to
// use; a Table is safe for concurrent use and must not be copied.
type Table[K comparable] struct {
	slots [Slots]atomic.Pointer[entry[K]]
}

type entry[K comparable] struct {
	key K
	s   string
}

// Get returns the string of k, whose hash is h, built by build(k) on a
// miss. build must be a pure function of k: callers racing on one slot may
// each build the string, and one of them stays.
func (t *Table[K]) Get(k K, h uint32, build func(K) string) string {
	slot := &t.slots[h%Slots]
	if e := slot.Load(); e != nil && e.key == k {
		return e.s
	}
	e := &entry[K]{key: k, s: build(k)}
	slot.Store(e)
	return e.s
}

// Offset is the FNV-1a offset basis: the hash of nothing, where Hash
// starts.
const Offset uint32 = 2166136261

// Hash continues the 32-bit FNV-1a hash h over the bytes of s. It inlines
// and allocates nothing.
func Hash[T ~string | ~[]byte](h uint32, s T) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
