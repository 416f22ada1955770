package cohort

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSplitMatchesShare checks, over 100 000 keys, that the cohort holds
// the stage's share within 1 % (of the keys) and that a key in a smaller
// share stays in every larger one.
func TestSplitMatchesShare(t *testing.T) {
	t.Parallel()
	const n = 100_000
	seed := Seed("rollout-1")
	for _, share := range []float64{0.01, 0.05, 0.25, 0.5, 1} {
		in := 0
		for i := range n {
			if In(Hash(seed, "tenant-"+strconv.Itoa(i)), Threshold(share)) {
				in++
			}
		}
		got := float64(in) / n
		assert.InDelta(t, share, got, 0.01, "share %v: %d of %d keys", share, in, n)
	}
	small, large := Threshold(0.05), Threshold(0.25)
	for i := range n {
		h := Hash(seed, "k"+strconv.Itoa(i))
		if In(h, small) {
			require.True(t, In(h, large), "key %d left the cohort when the share grew", i)
		}
	}
}

func TestHashStable(t *testing.T) {
	t.Parallel()
	s := Seed("r1")
	assert.Equal(t, Hash(s, "tenant-a"), Hash(Seed("r1"), "tenant-a"), "same salt, same key")
	assert.NotEqual(t, Hash(s, "tenant-a"), Hash(Seed("r2"), "tenant-a"), "salt changes the split")
	assert.NotEqual(t, Hash(Seed("ab"), "c"), Hash(Seed("a"), "bc"), "salt and key are separated")
	assert.False(t, In(Hash(s, "x"), Threshold(0)))
	assert.False(t, In(0, Threshold(-1)))
	assert.True(t, In(^uint64(0), Threshold(1)))
	assert.Equal(t, uint64(0), Threshold(nan()))
}

func nan() float64 { z := 0.0; return z / z }

func BenchmarkHash(b *testing.B) {
	s := Seed("rollout-1")
	t := Threshold(0.05)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if In(Hash(s, "tenant-42"), t) {
			n++
		}
	}
	_ = n
}
