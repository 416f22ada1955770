package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

// occupancy tracks the calls inside a compartment and the most ever seen.
type occupancy struct{ cur, peak atomic.Int64 }

func (o *occupancy) enter() {
	n := o.cur.Add(1)
	for {
		p := o.peak.Load()
		if n <= p || o.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (o *occupancy) leave() { o.cur.Add(-1) }

type hammerPanic struct{}

// Thousands of goroutines acquire, release, cancel, time out and panic at
// random, while the limit is resized: no more than the largest limit ever
// run at once, and when all is done no permit or waiter is left behind.
// With the per-P caches on, the limits switch them on and off (8 and 4: a
// cap of 1 and 0) and resize them (64 and 24: 8 and 3).
func TestSemaphoreHammer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		big, small int
		cached     bool
	}{{8, 4, false}, {8, 4, true}, {64, 24, true}} {
		t.Run(fmt.Sprintf("%d-%d-cached=%t", tc.big, tc.small, tc.cached), func(t *testing.T) {
			t.Parallel()
			hammerSemaphore(t, tc.big, tc.small, tc.cached)
		})
	}
}

func hammerSemaphore(t *testing.T, big, small int, cached bool) {
	const (
		goroutines = 2000
		rounds     = 10
	)
	for _, wait := range []time.Duration{0, 200 * time.Microsecond, time.Hour} {
		cfg := Config{Name: "hammer", MaxConcurrent: big, MaxWait: baldur.Duration(wait)}
		s := newUncached(t, cfg)
		if cached {
			s = newCached(t, cfg)
		}
		var (
			occ                 occupancy
			wg                  sync.WaitGroup
			ok, full, cancelled atomic.Int64
		)
		stopResize := make(chan struct{})
		resized := make(chan struct{})
		go func() {
			defer close(resized)
			for i := 0; ; i++ {
				select {
				case <-stopResize:
					_ = s.Resize(big)
					return
				default:
				}
				_ = s.Resize([]int{big, small}[i%2])
				runtime.Gosched()
			}
		}()
		for g := range goroutines {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				for range rounds {
					ctx, cancel := context.WithCancel(context.Background())
					switch rng.IntN(4) {
					case 0:
						cancel()
					case 1:
						go cancel()
					case 2:
						ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(300))*time.Microsecond)
					}
					err := func() (err error) {
						defer func() {
							if r := recover(); r != nil {
								if _, ok := r.(hammerPanic); !ok {
									panic(r)
								}
							}
						}()
						return s.Execute(ctx, func(context.Context) error {
							occ.enter()
							defer occ.leave()
							if rng.IntN(8) == 0 {
								runtime.Gosched()
							}
							if rng.IntN(16) == 0 {
								panic(hammerPanic{})
							}
							return nil
						})
					}()
					cancel()
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrFull):
						full.Add(1)
					case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
						cancelled.Add(1)
					default:
						assert.Failf(t, "unexpected error", "%v", err)
					}
				}
			})
		}
		wg.Wait()
		close(stopResize)
		<-resized
		p := occ.peak.Load()
		require.LessOrEqual(t, p, int64(big), "wait %v: %d calls ran at once, max %d", wait, p, big)
		checkIdle(t, s)
		require.NotZero(t, ok.Load()+full.Load()+cancelled.Load(), "nothing ran")
		t.Logf("wait %v: ok %d, full %d, cancelled %d, peak %d", wait, ok.Load(), full.Load(), cancelled.Load(), occ.peak.Load())
		// The compartment still works at full size.
		var held []baldur.Permit
		for range big {
			p, ok := s.TryAcquire()
			require.True(t, ok, "permit lost")
			held = append(held, p)
		}
		releaseAll(held)
	}
}

func TestPoolHammer(t *testing.T) {
	t.Parallel()
	const workers, goroutines, rounds = 4, 1000, 5
	p := mustPool(t, PoolConfig{Name: "hammer", Workers: workers, QueueSize: 16, Timeout: baldur.Duration(time.Millisecond)})
	var (
		occ occupancy
		wg  sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(4) == 0 {
					go cancel()
				}
				mode := rng.IntN(8)
				err := func() (err error) {
					defer func() {
						if r := recover(); r != nil {
							if _, ok := r.(hammerPanic); !ok {
								panic(r)
							}
						}
					}()
					if mode == 7 {
						permit, err := p.Acquire(ctx)
						if err == nil {
							occ.enter()
							occ.leave()
							permit.Release(baldur.Outcome{})
						}
						return err
					}
					return p.Execute(ctx, func(wctx context.Context) error {
						occ.enter()
						defer occ.leave()
						switch mode {
						case 0:
							panic(hammerPanic{})
						case 1:
							<-wctx.Done() // overruns: freed by the timeout
							return wctx.Err()
						}
						return nil
					})
				}()
				cancel()
				if err != nil {
					assert.True(t, errors.Is(err, ErrFull) || errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled),
						"unexpected error %v", err)
				}
			}
		})
	}
	wg.Wait()
	eventually(t, "pool idle", func() bool { st := p.State(); return st.Active == 0 && st.Waiting == 0 })
	peak := occ.peak.Load()
	require.LessOrEqual(t, peak, int64(workers), "%d calls ran at once on %d workers", peak, workers)
	require.NoError(t, p.Close())
}
