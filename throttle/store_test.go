package throttle

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

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
	if _, err := th.Admit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := th.Admit(ctx, c); !errors.Is(err, baldur.ErrThrottled) {
		t.Fatalf("second call: %v", err)
	}
	k := st.keys[0]
	if k.Partition != "tenant-1" || k.Operation != "GET /x" || k.Tier != baldur.TierCritical || k.Hash == 0 {
		t.Fatalf("Key = %+v", k)
	}
	st.err = errors.New("store down")
	if _, err := th.Admit(ctx, c); err != nil {
		t.Fatalf("store error did not fail open: %v", err)
	}
	if th.StoreErrors() != 1 {
		t.Fatalf("StoreErrors = %d", th.StoreErrors())
	}
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
	if _, err := th.Admit(ctx, baldur.Call{Key: "k", Now: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	// Decided at early, the bucket would look 1 s from full and reject.
	if _, err := th.Admit(ctx, baldur.Call{Key: "k", Now: early}); err != nil {
		t.Fatalf("late arrival rejected: %v", err)
	}
}
