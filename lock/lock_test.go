package lock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestNoOpFailsOpen checks that NoOp admits every caller, whatever its
// context, and that Release and Extend succeed.
func TestNoOpFailsOpen(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, ctx := range []context.Context{context.Background(), cancelled} {
		for _, blocking := range []bool{false, true} {
			t.Run(fmt.Sprintf("ctx_err=%v/blocking=%v", ctx.Err(), blocking), func(t *testing.T) {
				t.Parallel()
				held, err := lock.NoOp{}.Acquire(ctx, "runbook", "s1", blocking)
				require.NoError(t, err)
				assert.True(t, held, "NoOp fails open")
			})
		}
	}
	ctx := context.Background()
	l := lock.NoOp{}
	assert.NoError(t, l.Release(ctx, "ns", "s1"), "Release")
	assert.NoError(t, l.Release(ctx, "ns", "s1"), "second Release")
	assert.NoError(t, l.Extend(ctx, "ns", "s1", time.Minute), "Extend")
}

func newMemory(t *testing.T) (*lock.Memory, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	m, err := lock.NewMemory(lock.MemoryConfig{TTL: time.Minute, Clock: clk})
	require.NoError(t, err)
	return m, clk
}

// TestMemoryProtocol walks the rules every Fenced lock keeps.
func TestMemoryProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, m *lock.Memory, clk *clock.Fake)
	}{
		{"holder re-acquires with its token, pushing the expiry", func(t *testing.T, m *lock.Memory, clk *clock.Fake) {
			a, held, err := m.AcquireFenced(ctx, "ns", "s1", 0, false)
			require.NoError(t, err)
			require.True(t, held)
			assert.Equal(t, t0.Add(time.Minute), a.Until)
			clk.Advance(30 * time.Second)
			b, held, err := m.AcquireFenced(ctx, "ns", "s1", 0, false)
			require.NoError(t, err)
			require.True(t, held)
			assert.Equal(t, a.Token, b.Token)
			assert.Equal(t, t0.Add(90*time.Second), b.Until)
		}},
		{"another session is refused without error", func(t *testing.T, m *lock.Memory, _ *clock.Fake) {
			require.True(t, must(m.Acquire(ctx, "ns", "s1", false)))
			held, err := m.Acquire(ctx, "ns", "s2", false)
			require.NoError(t, err)
			assert.False(t, held)
			assert.True(t, must(m.Acquire(ctx, "other", "s2", false)), "namespaces are independent")
		}},
		{"extend never resurrects an expired lock", func(t *testing.T, m *lock.Memory, clk *clock.Fake) {
			require.True(t, must(m.Acquire(ctx, "ns", "s1", false)))
			clk.Advance(time.Minute)
			require.ErrorIs(t, m.Extend(ctx, "ns", "s1", time.Hour), lock.ErrNotHeld)
			assert.True(t, must(m.Acquire(ctx, "ns", "s2", false)), "the failed extend left the namespace free")
		}},
		{"extend pushes a live lease", func(t *testing.T, m *lock.Memory, clk *clock.Fake) {
			a, _, _ := m.AcquireFenced(ctx, "ns", "s1", 0, false)
			clk.Advance(59 * time.Second)
			l, err := m.ExtendFenced(ctx, "ns", "s1", a.Token, 2*time.Minute)
			require.NoError(t, err)
			assert.Equal(t, t0.Add(59*time.Second+2*time.Minute), l.Until)
			assert.Equal(t, a.Token, l.Token)
			require.NoError(t, m.Extend(ctx, "ns", "s1", 0), "zero ttl takes the default")
			assert.ErrorIs(t, m.Extend(ctx, "ns", "s2", 0), lock.ErrNotHeld, "another session's lock")
		}},
		{"extend with another token is refused", func(t *testing.T, m *lock.Memory, _ *clock.Fake) {
			a, _, _ := m.AcquireFenced(ctx, "ns", "s1", 0, false)
			_, err := m.ExtendFenced(ctx, "ns", "s1", a.Token+1, 0)
			assert.ErrorIs(t, err, lock.ErrNotHeld)
		}},
		{"release is compare-and-delete", func(t *testing.T, m *lock.Memory, _ *clock.Fake) {
			a, _, _ := m.AcquireFenced(ctx, "ns", "s1", 0, false)
			require.NoError(t, m.Release(ctx, "ns", "s2"))
			require.NoError(t, m.ReleaseFenced(ctx, "ns", "s1", a.Token+1))
			assert.False(t, must(m.Acquire(ctx, "ns", "s2", false)), "still held by s1")
			require.NoError(t, m.ReleaseFenced(ctx, "ns", "s1", a.Token))
			assert.True(t, must(m.Acquire(ctx, "ns", "s2", false)))
			require.NoError(t, m.Release(ctx, "ns", "s1"), "releasing what one does not hold is a no-op")
		}},
		{"tokens strictly increase across grants", func(t *testing.T, m *lock.Memory, clk *clock.Fake) {
			var last uint64
			for i := range 5 {
				l, held, err := m.AcquireFenced(ctx, "ns", fmt.Sprint("s", i), 0, false)
				require.NoError(t, err)
				require.True(t, held)
				require.Greater(t, l.Token, last)
				last = l.Token
				require.NoError(t, m.Release(ctx, "ns", fmt.Sprint("s", i)))
			}
			assert.GreaterOrEqual(t, last, uint64(t0.UnixMicro()), "tokens are floored at the clock")
			// The clock goes back (a restarted process): the counter keeps rising.
			m2, err := lock.NewMemory(lock.MemoryConfig{Clock: clock.NewFake(t0.Add(time.Hour))})
			require.NoError(t, err)
			l, _, _ := m2.AcquireFenced(ctx, "ns", "s", 0, false)
			assert.Greater(t, l.Token, last, "a later process starts above the earlier tokens")
		}},
		{"cancelled context is an error", func(t *testing.T, m *lock.Memory, _ *clock.Fake) {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := m.Acquire(c, "ns", "s1", false)
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, m.Extend(c, "ns", "s1", 0), context.Canceled)
		}},
		{"many expired namespaces are swept", func(t *testing.T, m *lock.Memory, clk *clock.Fake) {
			for i := range 1000 {
				require.True(t, must(m.Acquire(ctx, fmt.Sprint("ns", i), "s", false)))
				clk.Advance(time.Second) // each lives a minute
			}
			assert.True(t, must(m.Acquire(ctx, "ns999", "s", false)))
			assert.False(t, must(m.Acquire(ctx, "ns999", "other", false)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, clk := newMemory(t)
			tt.run(t, m, clk)
		})
	}
}

func must(held bool, err error) bool {
	if err != nil {
		panic(err)
	}
	return held
}

func TestMemoryConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg   lock.MemoryConfig
		field string
	}{
		{lock.MemoryConfig{TTL: -1}, "TTL"},
		{lock.MemoryConfig{Retry: lock.Retry{Interval: -1}}, "Retry.Interval"},
		{lock.MemoryConfig{Retry: lock.Retry{Attempts: -1}}, "Retry.Attempts"},
	} {
		_, err := lock.NewMemory(tt.cfg)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.field, ce.Field)
	}
}

// TestMemoryBlocking: a blocking acquire retries on the lock's clock until
// the lock is free, its attempts are spent, or its context ends.
func TestMemoryBlocking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	m, err := lock.NewMemory(lock.MemoryConfig{Clock: clk, Retry: lock.Retry{Interval: time.Second, Attempts: 3}})
	require.NoError(t, err)
	require.True(t, must(m.Acquire(ctx, "ns", "s1", false)))

	type result struct {
		held bool
		err  error
	}
	wait := func(ctx context.Context) chan result {
		ch := make(chan result, 1)
		go func() {
			held, err := m.Acquire(ctx, "ns", "s2", true)
			ch <- result{held, err}
		}()
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond, "waiter armed its retry")
		return ch
	}

	t.Run("granted once released", func(t *testing.T) {
		ch := wait(ctx)
		require.NoError(t, m.Release(ctx, "ns", "s1"))
		clk.Advance(2 * time.Second)
		r := <-ch
		require.NoError(t, r.err)
		assert.True(t, r.held)
	})
	t.Run("attempts spent", func(t *testing.T) {
		// s2 holds the lock now; s3 tries three times, then gives up.
		done := make(chan result, 1)
		go func() {
			held, err := m.Acquire(ctx, "ns", "s3", true)
			done <- result{held, err}
		}()
		for range 2 {
			require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
			clk.Advance(2 * time.Second)
		}
		r := <-done
		require.NoError(t, r.err)
		assert.False(t, r.held, "three refusals, then held false")
	})
	t.Run("context ends the wait", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := m.Acquire(c, "ns", "s4", true)
			done <- err
		}()
		require.Eventually(t, func() bool { return clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		assert.Zero(t, clk.Pending(), "the retry timer was stopped")
	})
}

// TestMemoryExclusion: 16 goroutines contend for one namespace; at most one
// is ever inside the critical section, and grants' tokens rise.
func TestMemoryExclusion(t *testing.T) {
	t.Parallel()
	m, err := lock.NewMemory(lock.MemoryConfig{Retry: lock.Retry{Interval: 50 * time.Microsecond, Attempts: 1 << 30}})
	require.NoError(t, err)
	exclusion(t, m, 16, 200)
}

// exclusion runs n goroutines that each enter a critical section rounds
// times under l, and checks that none overlapped and that tokens rose.
func exclusion(t *testing.T, l lock.Fenced, n, rounds int) {
	ctx := context.Background()
	var inside, maxInside atomic.Int32
	var g lock.Guarded[int]
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			session := fmt.Sprint("s", i)
			for range rounds {
				lease, held, err := l.AcquireFenced(ctx, "ns", session, time.Minute, true)
				if !assert.NoError(t, err) || !assert.True(t, held) {
					return
				}
				in := inside.Add(1)
				for {
					m := maxInside.Load()
					if in <= m || maxInside.CompareAndSwap(m, in) {
						break
					}
				}
				assert.NoError(t, g.Write(lease.Token, func(v *int) { *v++ }), "a holder's write passes the fence")
				inside.Add(-1)
				assert.NoError(t, l.ReleaseFenced(ctx, "ns", session, lease.Token))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxInside.Load(), "critical sections overlapped")
	v, _ := g.Load()
	assert.Equal(t, n*rounds, v)
}

func TestFence(t *testing.T) {
	t.Parallel()
	var f lock.Fence
	for _, tt := range []struct {
		token uint64
		stale bool
	}{
		{0, true}, {5, false}, {5, false}, {4, true}, {9, false}, {6, true}, {0, true}, {10, false},
	} {
		err := f.Admit(tt.token)
		if tt.stale {
			assert.ErrorIs(t, err, lock.ErrStaleToken, "token %d", tt.token)
		} else {
			assert.NoError(t, err, "token %d", tt.token)
		}
	}
	assert.Equal(t, uint64(10), f.Highest())
}

// TestFenceConcurrent: concurrent admits never lower the high-water mark.
func TestFenceConcurrent(t *testing.T) {
	t.Parallel()
	var f lock.Fence
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				_ = f.Admit(uint64(j*8 + i + 1))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(8000), f.Highest())
}

// fenced wraps a Fenced and lets a test fail its extends.
type fenced struct {
	lock.Fenced
	fail atomic.Pointer[error]
	n    atomic.Int32
}

func (f *fenced) ExtendFenced(ctx context.Context, ns, s string, tok uint64, ttl time.Duration) (lock.Lease, error) {
	f.n.Add(1)
	if e := f.fail.Load(); e != nil {
		return lock.Lease{}, *e
	}
	return f.Fenced.ExtendFenced(ctx, ns, s, tok, ttl)
}

func holdFixture(t *testing.T) (*fenced, *clock.Fake) {
	t.Helper()
	m, clk := newMemory(t)
	return &fenced{Fenced: m}, clk
}

// advance moves clk by d once the Held has armed its two timers (renewal
// and deadline), and waits for the renewals that came due to finish.
func advance(t *testing.T, clk *clock.Fake, f *fenced, d time.Duration, renewals int32) {
	t.Helper()
	require.Eventually(t, func() bool { return clk.Pending() == 2 }, 5*time.Second, time.Millisecond, "timers armed")
	n := f.n.Load()
	clk.Advance(d)
	require.Eventually(t, func() bool { return f.n.Load() >= n+renewals }, 5*time.Second, time.Millisecond, "renewals ran")
}

// TestHoldRenews: Hold renews every TTL/3 and the work's context stays live
// for as long as the renewals succeed.
func TestHoldRenews(t *testing.T) {
	t.Parallel()
	f, clk := holdFixture(t)
	h, held, err := lock.Hold(context.Background(), f, "ns", "s1", lock.HoldConfig{TTL: 30 * time.Second, Clock: clk})
	require.NoError(t, err)
	require.True(t, held)
	defer h.Release(context.Background())
	assert.Equal(t, t0.Add(27*time.Second), h.Until(), "deadline = TTL − Margin (TTL/10)")
	for i := 1; i <= 10; i++ {
		advance(t, clk, f, 10*time.Second, 1)
		require.Eventually(t, func() bool { return h.Until().Equal(t0.Add(time.Duration(i)*10*time.Second + 27*time.Second)) },
			5*time.Second, time.Millisecond, "renewal %d pushed the deadline", i)
	}
	assert.NoError(t, h.Context().Err())
	assert.NoError(t, h.Err())
	assert.False(t, must(f.Acquire(context.Background(), "ns", "s2", false)), "still held after 100 s of a 30 s lease")
}

// TestHoldLostLease: the holder's renewals stop getting through (a paused or
// partitioned holder); its context is cancelled at TTL − Margin, before the
// lock can pass to another session, and its writes with the old token are
// rejected once the new holder has written.
func TestHoldLostLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, clk := holdFixture(t)
	var store lock.Guarded[string]
	h, _, err := lock.Hold(ctx, f, "ns", "s1", lock.HoldConfig{TTL: 30 * time.Second, Clock: clk})
	require.NoError(t, err)
	require.NoError(t, store.Write(h.Token(), func(s *string) { *s = "s1" }))

	unavailable := errors.New("lock server unreachable")
	f.fail.Store(&unavailable)
	advance(t, clk, f, 10*time.Second, 1) // renewal fails: retried every 5 s
	assert.NoError(t, h.Err(), "one failed renewal does not lose the lease")
	for range 3 {
		advance(t, clk, f, 5*time.Second, 1) // 15, 20, 25 s
	}
	require.NoError(t, h.Context().Err())
	clk.Advance(2 * time.Second) // 27 s: the deadline
	select {
	case <-h.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled at the deadline")
	}
	assert.ErrorIs(t, h.Err(), lock.ErrLeaseLost)
	assert.ErrorContains(t, h.Err(), "lock server unreachable")
	assert.False(t, must(f.Acquire(ctx, "ns", "s2", false)), "the lease has not ended yet: the holder stopped first")

	clk.Advance(3 * time.Second) // 30 s: the lease ends
	l2, held, err := f.AcquireFenced(ctx, "ns", "s2", 0, false)
	require.NoError(t, err)
	require.True(t, held)
	require.Greater(t, l2.Token, h.Token())
	require.NoError(t, store.Write(l2.Token, func(s *string) { *s = "s2" }))
	require.ErrorIs(t, store.Write(h.Token(), func(s *string) { *s = "s1 again" }), lock.ErrStaleToken)
	v, hi := store.Load()
	assert.Equal(t, "s2", v)
	assert.Equal(t, l2.Token, hi)
	require.NoError(t, h.Release(ctx))
	assert.False(t, must(f.Acquire(ctx, "ns", "s1", false)), "the old holder's release left the new lease alone")
}

// TestHoldNotHeld: a renewal that finds the lock gone cancels at once, with a
// cause matching ErrNotHeld.
func TestHoldNotHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, clk := holdFixture(t)
	h, _, err := lock.Hold(ctx, f, "ns", "s1", lock.HoldConfig{TTL: 30 * time.Second, Clock: clk})
	require.NoError(t, err)
	require.NoError(t, f.Release(ctx, "ns", "s1")) // deleted behind the holder's back
	advance(t, clk, f, 10*time.Second, 1)
	<-h.Context().Done()
	assert.ErrorIs(t, h.Err(), lock.ErrLeaseLost)
	assert.ErrorIs(t, h.Err(), lock.ErrNotHeld)
	require.Eventually(t, func() bool { return clk.Pending() == 0 }, 5*time.Second, time.Millisecond, "timers stopped")
}

func TestHoldEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("release frees the lock and cancels the work", func(t *testing.T) {
		t.Parallel()
		f, clk := holdFixture(t)
		h, _, err := lock.Hold(ctx, f, "ns", "s1", lock.HoldConfig{Clock: clk})
		require.NoError(t, err)
		require.NoError(t, h.Release(ctx))
		require.NoError(t, h.Release(ctx), "idempotent")
		assert.ErrorIs(t, h.Context().Err(), context.Canceled)
		assert.NotErrorIs(t, h.Err(), lock.ErrLeaseLost)
		assert.Zero(t, clk.Pending())
		assert.True(t, must(f.Acquire(ctx, "ns", "s2", false)))
	})
	t.Run("parent context ends the renewals", func(t *testing.T) {
		t.Parallel()
		f, clk := holdFixture(t)
		parent, cancel := context.WithCancel(ctx)
		h, _, err := lock.Hold(parent, f, "ns", "s1", lock.HoldConfig{Clock: clk})
		require.NoError(t, err)
		cancel()
		<-h.Context().Done()
		require.Eventually(t, func() bool { return clk.Pending() == 0 }, 5*time.Second, time.Millisecond)
		assert.NotErrorIs(t, h.Err(), lock.ErrLeaseLost)
	})
	t.Run("held elsewhere", func(t *testing.T) {
		t.Parallel()
		f, clk := holdFixture(t)
		require.True(t, must(f.Acquire(ctx, "ns", "s2", false)))
		h, held, err := lock.Hold(ctx, f, "ns", "s1", lock.HoldConfig{Clock: clk})
		require.NoError(t, err)
		assert.False(t, held)
		assert.Nil(t, h)
	})
}

func TestHoldConfigErrors(t *testing.T) {
	t.Parallel()
	m, _ := newMemory(t)
	for _, tt := range []struct {
		name  string
		l     lock.Fenced
		cfg   lock.HoldConfig
		field string
	}{
		{"no lock", nil, lock.HoldConfig{}, "Lock"},
		{"negative ttl", m, lock.HoldConfig{TTL: -1}, "TTL"},
		{"negative margin", m, lock.HoldConfig{Margin: -1}, "Margin"},
		{"margin past the first renewal", m, lock.HoldConfig{TTL: 30 * time.Second, Margin: 20 * time.Second}, "Margin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := lock.Hold(context.Background(), tt.l, "ns", "s", tt.cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
}
