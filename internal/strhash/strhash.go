// Package strhash hashes strings for in-memory tables keyed by
// caller-controlled strings (partition keys, operations), under a seed
// each table draws at random when it is made.
//
// It is the 64×64→128-bit multiply-and-fold construction the runtime's
// portable map hash uses, with the seed in both operands of every
// multiply, so that which keys collide depends on a seed an outside party
// does not know (a chosen word cannot zero a product: see Lanes). A key of up
// to 16 bytes (an address, a tenant name, a route) is two loads and two
// dependent multiplies, about half the cost of hash/maphash's String for
// such keys on amd64, whose call path reaches the AES hash through three
// calls. Hashes are not stable across seeds and must never be persisted
// or shared between processes.
package strhash

import (
	"math/bits"
	"math/rand/v2"
)

// Odd constants of the hash.
const (
	p0 = 0xa0761d6478bd642f
	p1 = 0xe7037ed1a0b428db
	p2 = 0x8ebc6af09c88c6e3
)

// Seed is a random hash seed: a table draws one when it is made.
func Seed() uint64 { return rand.Uint64() }

// String returns the hash of s under seed.
func String(seed uint64, s string) uint64 {
	var a, b uint64
	if n := len(s); n >= 8 && n <= 16 {
		a, b = Word(s, 0), Word(s, n-8) // Lanes' common case, without the call
	} else {
		a, b, seed = Lanes(seed, seed^p1, s)
	}
	return Mix(p2^seed^uint64(len(s)), Mix(a^p0^seed, b^p1^seed))
}

// Lanes is the part every hash of this construction shares: s as the two
// words its last rounds mix (up to 16 bytes: the first and last eight,
// overlapping; 4 to 7: two halves; fewer: three bytes; none: zero), and
// seed chained through one multiply per 16 bytes before the last 16, each
// round's first word XORed with k. A round whose first word equals k
// multiplies by zero and forgets the seed, so a hash that must resist
// chosen keys passes a secret k (String passes its seed^p1); a constant k
// leaves keys of more than 16 bytes open to that.
func Lanes(seed, k uint64, s string) (a, b, chained uint64) {
	n := len(s)
	switch {
	case n > 16:
		i := 0
		for ; n-i > 16; i += 16 {
			seed = Mix(Word(s, i)^k, Word(s, i+8)^seed)
		}
		a, b = Word(s, n-16), Word(s, n-8) // overlapping the last round
	case n >= 8:
		a, b = Word(s, 0), Word(s, n-8)
	case n >= 4:
		a = Half(s, 0)<<32 | Half(s, n-4)
	case n > 0:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return a, b, seed
}

// Mix multiplies a and b to 128 bits and folds the halves: one MUL on
// 64-bit machines, and every input bit reaches the top bits.
func Mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Word is the little-endian word at s[i:i+8]. Slicing first leaves one
// bounds check where indexing s[i+k] kept eight, and the compiler then
// loads the word at once.
func Word(s string, i int) uint64 {
	w := s[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// Half is the little-endian 32-bit word at s[i:i+4].
func Half(s string, i int) uint64 {
	w := s[i : i+4]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24
}
