package throttle

import (
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// TestNewRejectsHugeMaxKeys: a key table larger than the bound is a
// ConfigError naming MaxKeys, never an allocation proportional to it (or a
// panic inside make).
func TestNewRejectsHugeMaxKeys(t *testing.T) {
	t.Parallel()
	for _, n := range []int{MaxKeysLimit + 1, 1e10, 1e11, 1 << 62, math.MaxInt} {
		_, err := New(Config{Rate: 1, Burst: 1, MaxKeys: n})
		var ce *baldur.ConfigError
		require.True(t, errors.As(err, &ce), "MaxKeys %d: want a ConfigError, got %v", n, err)
		assert.Equal(t, "MaxKeys", ce.Field)
	}
}

// TestNewMaxKeysAtTheBoundIsCheap builds the largest table allowed and
// requires that it costs its index only (about 300 KB), the buckets being
// allocated as keys arrive. Not parallel: it reads the process's allocation
// counter.
func TestNewMaxKeysAtTheBoundIsCheap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	th, err := New(Config{Rate: 1, Burst: 1, MaxKeys: MaxKeysLimit})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated at construction")
	assert.Equal(t, MaxKeysLimit, th.Stats().Cap)
	_, err = th.Admit(t.Context(), baldur.Call{Key: "k", Now: time.Unix(0, 0)})
	require.NoError(t, err)
}

// TestNewMemoryClampsCapacity: NewMemory never panics and never allocates
// beyond the bound, whatever it is asked for.
func TestNewMemoryClampsCapacity(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1 << 62, math.MaxInt} {
		m := NewMemory(n, time.Unix(0, 0))
		assert.Equal(t, MaxKeysLimit, m.Cap(), "NewMemory(%d)", n)
	}
}
