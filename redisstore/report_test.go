package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/redisstore/internal/redistest"
)

// TestThrottleStoreReportsFallbacks: the store's fail-mode decisions reach
// the Collector and GET /fleet through StoreStats.
func TestThrottleStoreReportsFallbacks(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{Replicas: StaticReplicas(2)})
	ctx := context.Background()
	l := mustLimit(t, 100, 10)
	st := s.StoreStats()
	assert.False(t, st.Synced, "no take reached Redis yet")
	_, err := s.Take(ctx, keyOf("a"), time.Now(), l, 0)
	require.NoError(t, err)
	st = s.StoreStats()
	assert.True(t, st.Synced)
	assert.Zero(t, st.Fallbacks)
	assert.Zero(t, st.Staleness)

	srv.Kill(t)
	for i := range 5 {
		_, err := s.Take(ctx, keyOf("b"+string(rune('0'+i))), time.Now(), l, 0)
		require.NoError(t, err, "the local fail mode answers")
	}
	st = s.StoreStats()
	assert.EqualValues(t, 5, st.Fallbacks, "every decision without Redis is counted")
	assert.Equal(t, s.guard.Name(), st.Store)
}
