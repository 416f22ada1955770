package throttle

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// mapStore is a Store over a map, as a Redis store would be over keys.
type mapStore struct {
	mu   sync.Mutex
	tats map[Key]int64
	keys []Key
	err  error
}

func (s *mapStore) Take(_ context.Context, k Key, now time.Time, l Limit, maxWait time.Duration) (Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Decision{}, s.err
	}
	s.keys = append(s.keys, k)
	tat, ok := s.tats[k]
	if !ok {
		tat = Fresh
	}
	d, next := Decide(tat, now.UnixNano(), l, int64(maxWait))
	s.tats[k] = next
	return d, nil
}

func (s *mapStore) Refund(context.Context, Key, Limit) error { return nil }

func TestCustomStore(t *testing.T) {
	t.Parallel()
	st := &mapStore{tats: map[Key]int64{}}
	th, clk := newTest(t, Config{Rate: 1, Burst: 1, KeyBy: ByKeyAndOperation, Store: st})
	ctx := context.Background()
	c := baldur.Call{Key: "tenant-1", Operation: "GET /x", Tier: baldur.TierCritical, Now: clk.Now()}
	_, err := th.Admit(ctx, c)
	require.NoError(t, err)
	_, err = th.Admit(ctx, c)
	require.ErrorIs(t, err, baldur.ErrThrottled, "second call")
	k := st.keys[0]
	require.Equal(t, "tenant-1", k.Partition, "Key = %+v", k)
	require.Equal(t, "GET /x", k.Operation, "Key = %+v", k)
	require.Equal(t, baldur.TierCritical, k.Tier, "Key = %+v", k)
	require.NotZero(t, k.Hash, "Key = %+v", k)
	st.err = errors.New("store down")
	_, err = th.Admit(ctx, c)
	require.NoError(t, err, "store error did not fail open")
	require.Equal(t, uint64(1), th.StoreErrors(), "StoreErrors")
}

// TestLateArrivalIsNotCharged: a call whose clock reading is older than one
// already decided in its set (its goroutine was preempted) is decided at
// the newer time, as x/time/rate does, instead of being charged the gap.
func TestLateArrivalIsNotCharged(t *testing.T) {
	t.Parallel()
	th, clk := newTest(t, Config{Rate: 1000, Burst: 2, MaxKeys: 1})
	ctx := context.Background()
	early := clk.Now()
	clk.Advance(time.Second)
	_, err := th.Admit(ctx, baldur.Call{Key: "k", Now: clk.Now()})
	require.NoError(t, err)
	// Decided at early, the bucket would look 1 s from full and reject.
	_, err = th.Admit(ctx, baldur.Call{Key: "k", Now: early})
	require.NoError(t, err, "late arrival rejected")
}

// countingStore is a mapStore that reports fail-mode decisions.
type countingStore struct {
	mapStore
	n uint64
}

func (s *countingStore) Fallbacks() uint64 { return s.n }

func TestStoreFallbacks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store Store
		want  uint64
	}{
		{"memory", nil, 0},
		{"store without counter", &mapStore{tats: map[Key]int64{}}, 0},
		{"store with counter", &countingStore{mapStore: mapStore{tats: map[Key]int64{}}, n: 7}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			th, err := New(Config{Rate: 1, Burst: 1, Store: tc.store})
			require.NoError(t, err)
			require.Equal(t, tc.want, th.StoreFallbacks())
		})
	}
}
