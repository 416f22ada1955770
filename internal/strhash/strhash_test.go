package strhash_test

import (
	"fmt"
	"hash/maphash"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/strhash"
)

// Keys of every length hash the same under one seed and differently under
// another; no two of a few thousand related keys share a hash.
func TestStringIsASeededFunction(t *testing.T) {
	t.Parallel()
	s1, s2 := strhash.Seed(), strhash.Seed()
	require.NotEqual(t, s1, s2)
	seen := map[uint64]string{}
	differ := 0
	for n := 0; n <= 48; n++ {
		for i := range 100 {
			k := fmt.Sprintf("%0*d", n, i)[:n]
			if n == 0 && i > 0 {
				break
			}
			h := strhash.String(s1, k)
			assert.Equal(t, h, strhash.String(s1, k))
			if prev, dup := seen[h]; dup {
				if prev != k {
					t.Fatalf("%q and %q share hash %#x", prev, k, h)
				}
				continue // the cut made the same key again
			}
			seen[h] = k
			if strhash.String(s2, k) != h {
				differ++
			}
		}
	}
	assert.Equal(t, len(seen), differ, "another seed moves every key")
}

// Sequential keys (tenant names, client addresses) fill the buckets of a
// table indexed by the low bits, and of one indexed by the high bits, as
// independent draws would: the chi-square statistic of 256 buckets stays
// within five standard deviations of its mean.
func TestStringSpreadsSequentialKeys(t *testing.T) {
	t.Parallel()
	const buckets, keys = 256, 256 * 64
	for _, shape := range []string{"tenant-%d", "10.0.%d.%d", "%d"} {
		seed := strhash.Seed()
		var low, high [buckets]float64
		for i := range keys {
			var k string
			if shape == "10.0.%d.%d" {
				k = fmt.Sprintf(shape, i/256, i%256)
			} else {
				k = fmt.Sprintf(shape, i)
			}
			h := strhash.String(seed, k)
			low[h%buckets]++
			high[h>>56]++
		}
		for name, counts := range map[string]*[buckets]float64{"low bits": &low, "high bits": &high} {
			chi := 0.0
			for _, c := range counts {
				d := c - keys/buckets
				chi += d * d / (keys / buckets)
			}
			// chi-square with 255 degrees of freedom: mean 255, sd sqrt(510)
			assert.Less(t, math.Abs(chi-255), 5*math.Sqrt(510), "%s, %s: chi-square %.0f", shape, name, chi)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add(uint64(1), "10.0.3.17")
	f.Add(uint64(2), "")
	f.Add(uint64(3), "a-key-longer-than-sixteen-bytes")
	f.Fuzz(func(t *testing.T, seed uint64, s string) {
		h := strhash.String(seed, s)
		if h != strhash.String(seed, s) {
			t.Fatal("not deterministic")
		}
		if len(s) > 0 && strhash.String(seed, s[:len(s)-1]) == h && strhash.String(seed^1, s[:len(s)-1]) == strhash.String(seed^1, s) {
			t.Fatalf("%q and its prefix collide under two seeds", s)
		}
	})
}

func BenchmarkString(b *testing.B) {
	seed := strhash.Seed()
	keys := []string{"10.0.3.17", "192.168.100.201", "tenant-12345"}
	var sink uint64
	for i := 0; b.Loop(); i++ {
		sink += strhash.String(seed, keys[i%len(keys)])
	}
	_ = sink
}

// BenchmarkMaphash is hash/maphash's String on the same keys, the hash
// this package replaced on the call path, in the same run.
func BenchmarkMaphash(b *testing.B) {
	seed := maphash.MakeSeed()
	keys := []string{"10.0.3.17", "192.168.100.201", "tenant-12345"}
	var sink uint64
	for i := 0; b.Loop(); i++ {
		sink += maphash.String(seed, keys[i%len(keys)])
	}
	_ = sink
}
