package strhash

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A key longer than 16 bytes whose first word is the constant the round
// would XOR in (p1) must not cancel the seed: with a public round key the
// round multiplies by zero, the chained seed becomes 0 under every seed,
// and anyone can compute the hash, and collisions, offline.
func TestChosenFirstWordKeepsTheSeed(t *testing.T) {
	t.Parallel()
	var k [40]byte
	binary.LittleEndian.PutUint64(k[:], p1)
	copy(k[8:], "-chosen-by-a-client-of-the-api")
	key := string(k[:])
	s1, s2 := Seed(), Seed()
	assert.NotEqual(t, String(s1, key), String(s2, key), "the hash depends on the seed")
	other := []byte(key)
	other[12] ^= 1 // the round's second word, which a zero product would ignore
	assert.NotEqual(t, String(s1, key), String(s1, string(other)))
}
