// Package front is a small cache keyed by identity: of a string (the
// address of its bytes and its length), or of a pointer.
//
// Adapters name an operation by a string they keep (the ServeMux pattern
// of the route, the gRPC method name, the transport's interned
// "METHOD host"), so the same string comes back on every call, and
// comparing two words is cheaper than hashing the string for a map. A
// Cache sits in front of such a map (the registry's operation table, a
// breaker's partition hash) and answers for the strings it has seen twice.
//
// An entry holds its string, so the bytes stay alive and their address
// cannot be reused for other bytes while the entry exists: equal identity
// means equal content, as long as strings are immutable, as Go requires (a
// string made with unsafe.String over a buffer that is later rewritten
// would be answered with what the buffer held when it was cached). Pointers does the same for objects an adapter
// sees again and again, such as a connection's peer address. A miss stores an entry (the only allocation) only
// when the same address missed at the slot just before, so names built
// afresh per call, which never repeat an address while they are live,
// cost one atomic store and never allocate. Two kept strings that share a
// slot both miss; the map behind answers them.
package front

import (
	"sync/atomic"
	"unsafe"
)

// Slots is the size of a Cache: room for every operation of a typical
// service without collisions between them.
const Slots = 256

// Cache maps strings, by identity, to values of type V. The zero value is
// empty and ready; it must not be copied after first use. Safe for
// concurrent use.
type Cache[V any] struct {
	entries [Slots]atomic.Pointer[entry[V]]
	missed  [Slots]atomic.Uintptr // address and length of the last miss per slot; not a reference
}

type entry[V any] struct {
	s string
	v V
}

func index(s string) uint64 {
	// Fibonacci hashing of the address: its top 8 bits pick the slot.
	a := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
	return (a * 0x9e3779b97f4a7c15) >> (64 - 8)
}

// Get returns the value cached for s and whether there was one.
func (c *Cache[V]) Get(s string) (v V, ok bool) {
	e := c.entries[index(s)].Load()
	if e != nil && unsafe.StringData(e.s) == unsafe.StringData(s) && len(e.s) == len(s) {
		return e.v, true
	}
	return v, false
}

// Miss records that s, absent from the cache, has value v, and caches it
// when the same string missed at its slot the last time. The string's
// length is part of what is compared, so two strings at one address (a
// name and a prefix of it) taking turns never store.
func (c *Cache[V]) Miss(s string, v V) {
	i := index(s)
	addr := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	if addr == 0 {
		return
	}
	token := addr ^ uintptr(len(s))*0x9e3779b97f4a7c15
	if c.missed[i].Swap(token) == token {
		c.entries[i].Store(&entry[V]{s: s, v: v})
	}
}

// PointerSlots is the size of a Pointers: a server's connections are
// many more than its operations.
const PointerSlots = 4096

// Pointers maps pointers to values of type V by the pointer's identity. An
// entry holds its pointer, so the object cannot be freed and its address
// reused while the entry exists; the object must not change in ways its
// value depends on. A miss stores, as in Cache, only when the same pointer
// missed at its slot the last time, and never over an entry hit since the
// slot's previous miss: of two hot pointers sharing a slot one stays
// cached and the other is answered behind it, instead of both allocating
// in turn. The zero value is empty and ready; it must not be copied after
// first use. Safe for concurrent use.
type Pointers[P, V any] struct {
	entries [PointerSlots]atomic.Pointer[pointerEntry[P, V]]
	missed  [PointerSlots]atomic.Uintptr
}

type pointerEntry[P, V any] struct {
	p   *P
	v   V
	hit atomic.Bool // since the slot's last miss
}

func pointerIndex(a uintptr) uint64 { return (uint64(a) * 0x9e3779b97f4a7c15) >> (64 - 12) }

// Get returns the value cached for p and whether there was one.
func (c *Pointers[P, V]) Get(p *P) (v V, ok bool) {
	e := c.entries[pointerIndex(uintptr(unsafe.Pointer(p)))].Load()
	if e != nil && e.p == p {
		if !e.hit.Load() { // a load, not a store, on the steady path
			e.hit.Store(true)
		}
		return e.v, true
	}
	return v, false
}

// Miss records that p, absent from the cache, has value v, and caches it
// when the same pointer missed at its slot the last time and the slot's
// entry was not hit since.
func (c *Pointers[P, V]) Miss(p *P, v V) {
	addr := uintptr(unsafe.Pointer(p))
	i := pointerIndex(addr)
	again := c.missed[i].Swap(addr) == addr && addr != 0
	if e := c.entries[i].Load(); e != nil && e.hit.Load() {
		e.hit.Store(false) // a second chance: replaced only if not hit again before the next miss
		return
	}
	if again {
		c.entries[i].Store(&pointerEntry[P, V]{p: p, v: v})
	}
}

// Len returns the number of cached entries, for tests and metrics.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.entries {
		if c.entries[i].Load() != nil {
			n++
		}
	}
	return n
}
