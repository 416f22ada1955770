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

// localStore is mapStore with a LocalTaker whose answer the test sets.
type localStore struct {
	mapStore
	local      bool // answer the next TakeLocal
	after      time.Duration
	allow      bool
	localCalls int
	hashes     []uint64
}

func (s *localStore) TakeLocal(hash uint64, tier baldur.Tier, now time.Time, l Limit) (bool, time.Duration, bool) {
	s.localCalls++
	s.hashes = append(s.hashes, hash)
	if !s.local {
		return false, 0, false
	}
	return s.allow, s.after, true
}

func TestLocalTakerStore(t *testing.T) {
	t.Parallel()
	st := &localStore{mapStore: mapStore{tats: map[Key]int64{}}}
	th, clk := newTest(t, Config{Rate: 1, Burst: 1, KeyBy: ByKey, Store: st})
	ctx := context.Background()
	c := baldur.Call{Key: "tenant-1", Tier: baldur.TierCritical, Now: clk.Now()}

	// No local hit: Take decides, with the full Key and the same hash.
	_, err := th.Admit(ctx, c)
	require.NoError(t, err)
	_, err = th.Admit(ctx, c)
	require.ErrorIs(t, err, baldur.ErrThrottled, "second call")
	require.Equal(t, 2, st.localCalls)
	require.Len(t, st.keys, 2)
	require.Equal(t, "tenant-1", st.keys[0].Partition)
	require.Equal(t, baldur.TierCritical, st.keys[0].Tier)
	require.Equal(t, st.hashes[0], st.keys[0].Hash, "TakeLocal and Take see one hash")

	// Local hits: Take is not asked.
	st.local, st.allow, st.after = true, true, 0
	p, err := th.Admit(ctx, c)
	require.NoError(t, err)
	require.NotZero(t, p, "permit")
	st.allow, st.after = false, 3*time.Second
	_, err = th.Admit(ctx, c)
	require.ErrorIs(t, err, baldur.ErrThrottled)
	var rej *baldur.Rejection
	require.ErrorAs(t, err, &rej)
	require.Equal(t, 3*time.Second, rej.RetryAfter(), "RetryAfter from TakeLocal")
	require.Len(t, st.keys, 2, "a local hit reached Take")

	// Store errors on a miss still fail open.
	st.local = false
	st.err = errors.New("store down")
	_, err = th.Admit(ctx, c)
	require.NoError(t, err)
	require.Equal(t, uint64(1), th.StoreErrors())
}
