package memo

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func itoa(n int) string { return strconv.Itoa(n) }

func hashInt(n int) uint32 { return Hash(Offset, itoa(n)) }

func TestTableBuildsOnMissOnly(t *testing.T) {
	t.Parallel()
	var tab Table[int]
	builds := 0
	build := func(n int) string { builds++; return itoa(n) }
	assert.Equal(t, "42", tab.Get(42, hashInt(42), build))
	assert.Equal(t, "42", tab.Get(42, hashInt(42), build))
	assert.Equal(t, 1, builds)
}

func TestTableKeysSharingASlotEvictEachOther(t *testing.T) {
	t.Parallel()
	var tab Table[int]
	builds := 0
	build := func(n int) string { builds++; return itoa(n) }
	// Both hash to slot 7.
	assert.Equal(t, "1", tab.Get(1, 7, build))
	assert.Equal(t, "2", tab.Get(2, 7+Slots, build))
	assert.Equal(t, "1", tab.Get(1, 7, build))
	assert.Equal(t, 3, builds)
}

func TestTableBounded(t *testing.T) {
	var tab Table[int]
	for i := range 10_000 {
		require.Equal(t, itoa(i), tab.Get(i, hashInt(i), itoa))
	}
	n := 0
	for i := range tab.slots {
		if tab.slots[i].Load() != nil {
			n++
		}
	}
	assert.LessOrEqual(t, n, Slots)
	h := hashInt(7)
	tab.Get(7, h, itoa)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = tab.Get(7, h, itoa) }), "a hit allocates nothing")
}

func TestTableRace(t *testing.T) {
	t.Parallel()
	var tab Table[int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := (i + g) % 300
				if got := tab.Get(k, hashInt(k), itoa); got != itoa(k) {
					assert.Equal(t, itoa(k), got, "Get(%d)", k) // from a goroutine: assert, not require
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHash(t *testing.T) { // not parallel: AllocsPerRun
	// FNV-1a test vectors.
	assert.Equal(t, uint32(0x811c9dc5), Hash(Offset, ""))
	assert.Equal(t, uint32(0xe40c292c), Hash(Offset, "a"))
	assert.Equal(t, uint32(0xbf9cf968), Hash(Offset, "foobar"))
	assert.Equal(t, Hash(Offset, "foobar"), Hash(Hash(Offset, "foo"), []byte("bar")))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = Hash(Offset, "GET example.com") }))
}
