package governance

import (
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// exemptCacheSize bounds the operations whose exemption is remembered.
const exemptCacheSize = 4096

// exemptSet decides whether an operation is exempt from governance. The
// patterns are fixed for the Checker's life, so the decision of an
// operation never changes: it is remembered in a direct-mapped table of
// exemptCacheSize slots, so that a rejected call costs one hash and one
// string compare instead of matching every pattern (the defaults are eight
// globs). A slot is filled once, by the first operation that hashes to it,
// and never replaced: operations are route patterns, a small set, and if
// they are not (raw paths, say) the table fills up and the rest are matched
// every time, with no allocation and no eviction churn. Safe for concurrent
// use.
type exemptSet struct {
	patterns []pattern
	seed     uint64
	slots    *[exemptCacheSize]atomic.Pointer[exemptEntry] // nil: no patterns
}

type exemptEntry struct {
	op     string
	exempt bool
}

func newExemptSet(patterns []pattern) *exemptSet {
	e := &exemptSet{patterns: patterns, seed: rand.Uint64()}
	if len(patterns) > 0 {
		e.slots = new([exemptCacheSize]atomic.Pointer[exemptEntry])
	}
	return e
}

// has reports whether op matches an exempt pattern.
func (e *exemptSet) has(op string) bool {
	if e.slots == nil {
		return false
	}
	slot := &e.slots[e.hash(op)&(exemptCacheSize-1)]
	c := slot.Load()
	if c != nil && c.op == op {
		return c.exempt
	}
	ex := e.match(op)
	if c == nil {
		// Clone: op may point into a request's buffer.
		slot.CompareAndSwap(nil, &exemptEntry{op: strings.Clone(op), exempt: ex})
	}
	return ex
}

func (e *exemptSet) match(op string) bool {
	for i := range e.patterns {
		if e.patterns[i].match(op) {
			return true
		}
	}
	return false
}

// hash mixes the length and the first and last eight bytes of s with a
// per-Checker seed: a few ns where a full string hash costs about ten.
// Strings that share those bytes share a slot, which costs only caching
// (the entry is compared in full); the seed keeps callers from choosing
// which operations collide.
func (e *exemptSet) hash(s string) uint64 {
	var a, b uint64
	switch n := len(s); {
	case n >= 8:
		a, b = le64(s, 0), le64(s, n-8)
	default:
		for i := range n {
			a |= uint64(s[i]) << (8 * i)
		}
	}
	hi, lo := bits.Mul64(a^e.seed, b^uint64(len(s))^0x9e3779b97f4a7c15)
	return (hi ^ lo) >> 20
}

func le64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
