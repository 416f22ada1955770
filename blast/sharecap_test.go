package blast

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestShareCapLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  ShareCapConfig
		want int
	}{
		{ShareCapConfig{Capacity: 100, Share: 0.25}, 25},
		{ShareCapConfig{Capacity: 10, Share: 0.05}, 1}, // at least one
		{ShareCapConfig{Capacity: 100, Share: 1}, 100},
		{ShareCapConfig{MaxPerKey: 7}, 7},
		{ShareCapConfig{Capacity: 100, Share: 0.5, MaxPerKey: 7}, 7},
		{ShareCapConfig{Capacity: 10, Share: 0.3, MaxPerKey: 7}, 3},
	}
	for _, tt := range tests {
		s, err := NewShareCap(tt.cfg)
		require.NoError(t, err)
		require.Equal(t, tt.want, s.Limit(), "%+v", tt.cfg)
	}
}

func TestShareCapRejectsOverShare(t *testing.T) {
	t.Parallel()
	s, err := NewShareCap(ShareCapConfig{Capacity: 10, Share: 0.3, RetryAfter: baldur.Duration(2 * time.Second)})
	require.NoError(t, err)
	ctx := context.Background()
	a := baldur.Call{Key: "tenant-a"}
	var held []baldur.Permit
	for i := 0; i < 3; i++ {
		p, err := s.Admit(ctx, a)
		require.NoError(t, err)
		require.True(t, p.Held())
		held = append(held, p)
	}
	_, err = s.Admit(ctx, a)
	require.ErrorIs(t, err, baldur.ErrShareCap)
	rej, _ := baldur.AsRejection(err)
	require.Equal(t, baldur.ReasonShareCap, rej.Reason())
	require.Equal(t, 2*time.Second, rej.RetryAfter())
	require.Equal(t, 429, rej.HTTPStatus())

	// Other keys are untouched, and keyless calls are not capped.
	p, err := s.Admit(ctx, baldur.Call{Key: "tenant-b"})
	require.NoError(t, err)
	p.Release(baldur.Outcome{})
	for i := 0; i < 20; i++ {
		p, err := s.Admit(ctx, baldur.Call{})
		require.NoError(t, err)
		require.False(t, p.Held())
	}

	require.Equal(t, 3, s.InFlight("tenant-a"))
	held[0].Release(baldur.Outcome{Result: baldur.Failure})
	held[0].Release(baldur.Outcome{}) // a second release through the same permit is a no-op
	require.Equal(t, 2, s.InFlight("tenant-a"))
	p, err = s.Admit(ctx, a)
	require.NoError(t, err)
	p.Release(baldur.Outcome{})
	for i := 1; i < len(held); i++ {
		held[i].Release(baldur.Outcome{})
	}
	require.Equal(t, 0, s.InFlight("tenant-a"))
}

// TestShareCapHammer runs thousands of goroutines over a few keys and
// checks, with an independent counter per key, that no key ever holds more
// than its limit, and that every slot comes back.
func TestShareCapHammer(t *testing.T) {
	t.Parallel()
	const (
		goroutines = 2000
		keys       = 5
		rounds     = 20
	)
	s, err := NewShareCap(ShareCapConfig{Capacity: 40, Share: 0.1, MaxKeys: 1}) // limit 4; sweep eagerly
	require.NoError(t, err)
	var inflight, peak [keys]atomic.Int64
	var admitted, rejected atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for r := 0; r < rounds; r++ {
				k := (g + r) % keys
				p, err := s.Admit(context.Background(), baldur.Call{Key: "key-" + strconv.Itoa(k)})
				if err != nil {
					rejected.Add(1)
					continue
				}
				admitted.Add(1)
				n := inflight[k].Add(1)
				for {
					m := peak[k].Load()
					if n <= m || peak[k].CompareAndSwap(m, n) {
						break
					}
				}
				inflight[k].Add(-1)
				p.Release(baldur.Outcome{})
			}
		}()
	}
	close(start)
	wg.Wait()
	for k := 0; k < keys; k++ {
		require.LessOrEqual(t, peak[k].Load(), int64(4), "key %d", k)
		require.Equal(t, 0, s.InFlight("key-"+strconv.Itoa(k)))
	}
	require.Equal(t, int64(goroutines*rounds), admitted.Load()+rejected.Load())
	require.Positive(t, admitted.Load())
}

func TestShareCapBoundedKeys(t *testing.T) {
	t.Parallel()
	s, err := NewShareCap(ShareCapConfig{MaxPerKey: 1, MaxKeys: 256})
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; i < 30000; i++ {
		p, err := s.Admit(ctx, baldur.Call{Key: "k" + strconv.Itoa(i)})
		require.NoError(t, err)
		p.Release(baldur.Outcome{})
	}
	require.LessOrEqual(t, s.Keys(), 256)

	// Keys with calls in flight are never dropped, whatever their number.
	var held []baldur.Permit
	for i := 0; i < 1000; i++ {
		p, err := s.Admit(ctx, baldur.Call{Key: "h" + strconv.Itoa(i)})
		require.NoError(t, err)
		held = append(held, p)
	}
	for i := 0; i < 1000; i++ {
		_, err := s.Admit(ctx, baldur.Call{Key: "h" + strconv.Itoa(i)})
		require.ErrorIs(t, err, baldur.ErrShareCap, "key h%d", i)
	}
	for i := range held {
		held[i].Release(baldur.Outcome{})
	}
}

func TestShareCapAdmitReleaseAllocs(t *testing.T) {
	s, err := NewShareCap(ShareCapConfig{Capacity: 100, Share: 0.2})
	require.NoError(t, err)
	ctx := context.Background()
	call := baldur.Call{Key: "tenant-1"}
	p, _ := s.Admit(ctx, call)
	p.Release(baldur.Outcome{})
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := s.Admit(ctx, call)
		if err != nil {
			panic(err)
		}
		p.Release(baldur.Outcome{})
	})
	require.Zero(t, allocs)

	held := make([]baldur.Permit, 20)
	for i := range held {
		held[i], _ = s.Admit(ctx, call)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := s.Admit(ctx, call); err == nil {
			panic("admitted over the cap")
		}
	})
	require.Zero(t, allocs)
	for i := range held {
		held[i].Release(baldur.Outcome{})
	}
}

func TestShareCapWithBulkheadSizedPolicy(t *testing.T) {
	t.Parallel()
	s, err := NewShareCap(ShareCapConfig{Capacity: 4, Share: 0.5})
	require.NoError(t, err)
	pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{s}})
	require.NoError(t, err)
	ctx := context.Background()
	t1, err := pol.Admit(ctx, baldur.Call{Key: "noisy"})
	require.NoError(t, err)
	t2, err := pol.Admit(ctx, baldur.Call{Key: "noisy"})
	require.NoError(t, err)
	_, err = pol.Admit(ctx, baldur.Call{Key: "noisy"})
	require.ErrorIs(t, err, baldur.ErrShareCap)
	t3, err := pol.Admit(ctx, baldur.Call{Key: "quiet"})
	require.NoError(t, err)
	for _, tk := range []*baldur.Ticket{&t1, &t2, &t3} {
		tk.Release(baldur.Outcome{})
	}
	require.Equal(t, 0, s.InFlight("noisy"))
}
