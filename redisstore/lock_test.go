package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newLock builds a Lock on c whose keys start with the test's prefix.
func newLock(t *testing.T, c redis.UniversalClient, cfg LockConfig) *Lock {
	t.Helper()
	return newLockWith(t, c, Config{}, cfg)
}

// newLockWith is newLock on a backend configured by bc.
func newLockWith(t *testing.T, c redis.UniversalClient, bc Config, cfg LockConfig) *Lock {
	t.Helper()
	bc.Scripts, bc.Logger = LockScripts, discard()
	b := newBackend(t, c, bc)
	if cfg.Prefix == "" {
		cfg.Prefix = prefix(t)
	}
	cfg.Server.Logger = discard()
	l, err := NewLock(context.Background(), b, cfg)
	require.NoError(t, err)
	return l
}

// TestLockProtocol: the rules of lock.Fenced, against a real server.
func TestLockProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	tests := []struct {
		name string
		run  func(t *testing.T, l *Lock)
	}{
		{"holder re-acquires with its token", func(t *testing.T, l *Lock) {
			a, held, err := l.AcquireFenced(ctx, "ns", "s1", time.Minute, false)
			require.NoError(t, err)
			require.True(t, held)
			b, held, err := l.AcquireFenced(ctx, "ns", "s1", time.Minute, false)
			require.NoError(t, err)
			require.True(t, held)
			assert.Equal(t, a.Token, b.Token)
		}},
		{"another session is refused without error", func(t *testing.T, l *Lock) {
			require.True(t, must(l.Acquire(ctx, "ns", "s1", false)))
			held, err := l.Acquire(ctx, "ns", "s2", false)
			require.NoError(t, err)
			assert.False(t, held)
		}},
		{"extend never resurrects an expired lock", func(t *testing.T, l *Lock) {
			_, _, err := l.AcquireFenced(ctx, "ns", "s1", 20*time.Millisecond, false)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return s.Do(t, "EXISTS", l.Key("ns")).(int64) == 0 }, 2*time.Second, 5*time.Millisecond)
			require.ErrorIs(t, l.Extend(ctx, "ns", "s1", time.Hour), lock.ErrNotHeld)
			assert.EqualValues(t, 0, s.Do(t, "EXISTS", l.Key("ns")), "extend wrote nothing")
			assert.True(t, must(l.Acquire(ctx, "ns", "s2", false)))
		}},
		{"extend pushes the server's expiry", func(t *testing.T, l *Lock) {
			a, _, _ := l.AcquireFenced(ctx, "ns", "s1", time.Second, false)
			got, err := l.ExtendFenced(ctx, "ns", "s1", a.Token, time.Hour)
			require.NoError(t, err)
			assert.Equal(t, a.Token, got.Token)
			assert.Greater(t, s.Do(t, "PTTL", l.Key("ns")).(int64), int64(time.Minute/time.Millisecond))
			_, err = l.ExtendFenced(ctx, "ns", "s1", a.Token+1, time.Hour)
			assert.ErrorIs(t, err, lock.ErrNotHeld, "another token")
			assert.ErrorIs(t, l.Extend(ctx, "ns", "s2", 0), lock.ErrNotHeld, "another session")
		}},
		{"release is compare-and-delete", func(t *testing.T, l *Lock) {
			a, _, _ := l.AcquireFenced(ctx, "ns", "s1", time.Minute, false)
			require.NoError(t, l.Release(ctx, "ns", "s2"))
			require.NoError(t, l.ReleaseFenced(ctx, "ns", "s1", a.Token+1))
			assert.False(t, must(l.Acquire(ctx, "ns", "s2", false)), "still held by s1")
			require.NoError(t, l.ReleaseFenced(ctx, "ns", "s1", a.Token))
			assert.True(t, must(l.Acquire(ctx, "ns", "s2", false)))
		}},
		{"tokens rise and are floored at server time", func(t *testing.T, l *Lock) {
			var last uint64
			for i := range 5 {
				session := fmt.Sprint("s", i)
				a, held, err := l.AcquireFenced(ctx, "ns", session, time.Minute, false)
				require.NoError(t, err)
				require.True(t, held)
				require.Greater(t, a.Token, last)
				last = a.Token
				require.NoError(t, l.Release(ctx, "ns", session))
			}
			assert.InDelta(t, float64(time.Now().UnixMicro()), float64(last), float64(time.Minute/time.Microsecond))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newLock(t, s.Client(t, nil), LockConfig{}))
		})
	}
}

func must(held bool, err error) bool {
	if err != nil {
		panic(err)
	}
	return held
}

// TestLockExclusion: 3 clients × 16 goroutines take one namespace in turn
// for 500 ms; the critical-section counter never exceeds 1, the tokens of
// successive sections strictly rise, and a fenced store sees every write.
func TestLockExclusion(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	kp := prefix(t)
	ctx := context.Background()
	var locks []*Lock
	for range 3 {
		// Control calls get 5 s: 48 goroutines on a loaded machine missed
		// the 250 ms default, and the deadline is not what this test checks.
		locks = append(locks, newLockWith(t, s.Client(t, func(o *redis.Options) { o.PoolSize = 16 }), Config{ControlTimeout: 5 * time.Second},
			LockConfig{Prefix: kp, Retry: lock.Retry{Interval: time.Millisecond, Attempts: 1 << 20}}))
	}
	var (
		inside, maxInside atomic.Int32
		mu                sync.Mutex
		tokens            []uint64
		store             lock.Guarded[int]
		wg                sync.WaitGroup
	)
	stop := time.Now().Add(500 * time.Millisecond)
	for c, l := range locks {
		for g := range 16 {
			wg.Go(func() {
				session := fmt.Sprintf("c%d-g%d", c, g)
				for time.Now().Before(stop) {
					lease, held, err := l.AcquireFenced(ctx, "ns", session, 5*time.Second, true)
					if !assert.NoError(t, err) || !assert.True(t, held) {
						return
					}
					if n := inside.Add(1); n > maxInside.Load() {
						maxInside.Store(n)
					}
					mu.Lock()
					tokens = append(tokens, lease.Token)
					mu.Unlock()
					assert.NoError(t, store.Write(lease.Token, func(v *int) { *v++ }))
					inside.Add(-1)
					assert.NoError(t, l.ReleaseFenced(ctx, "ns", session, lease.Token))
				}
			})
		}
	}
	wg.Wait()
	require.Equal(t, int32(1), maxInside.Load(), "two sessions were inside at once")
	require.NotEmpty(t, tokens)
	for i := 1; i < len(tokens); i++ {
		require.Greater(t, tokens[i], tokens[i-1], "section %d", i)
	}
	v, _ := store.Load()
	assert.Equal(t, len(tokens), v, "no write was fenced out")
	t.Logf("%d critical sections by 48 goroutines on 3 clients in 500 ms", len(tokens))
}

// TestLockHoldPausedHolder: a holder whose link to Redis is blackholed
// (a paused or partitioned process) cannot renew; Hold cancels its work at
// TTL − Margin, the lease expires on the server, another client acquires
// with a larger token, and the old holder's write is rejected by the
// fenced store. Its own acquire, meanwhile, fails as unavailable (the
// caller's fail mode applies).
func TestLockHoldPausedHolder(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	kp := prefix(t)
	ctx := context.Background()
	p := redistest.NewProxy(t, "unix", s.Socket())
	clk := clock.NewFake(time.Now())
	a := newLock(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() }), LockConfig{Prefix: kp, Clock: clk})
	b := newLock(t, s.Client(t, nil), LockConfig{Prefix: kp})

	const ttl = 300 * time.Millisecond
	h, held, err := lock.Hold(ctx, a, "rollout", "a", lock.HoldConfig{TTL: ttl, Clock: clk})
	require.NoError(t, err)
	require.True(t, held)
	var store lock.Guarded[string]
	require.NoError(t, store.Write(h.Token(), func(v *string) { *v = "a" }))

	p.Blackhole()
	waitTimers(t, clk, 2)
	clk.Advance(ttl / 3) // renewal: times out after the 250 ms control deadline
	waitTimers(t, clk, 2)
	require.NoError(t, h.Err(), "one failed renewal does not lose the lease")
	clk.Advance(ttl - ttl/10 - ttl/3) // the local deadline
	select {
	case <-h.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the paused holder's context was not cancelled")
	}
	require.ErrorIs(t, h.Err(), lock.ErrLeaseLost)

	var lease lock.Lease
	require.Eventually(t, func() bool {
		var ok bool
		lease, ok, err = b.AcquireFenced(ctx, "rollout", "b", time.Minute, false)
		require.NoError(t, err)
		return ok
	}, 5*time.Second, 10*time.Millisecond, "the lease expires on the server")
	require.Greater(t, lease.Token, h.Token())
	require.NoError(t, store.Write(lease.Token, func(v *string) { *v = "b" }))
	require.ErrorIs(t, store.Write(h.Token(), func(v *string) { *v = "a, late" }), lock.ErrStaleToken)
	v, _ := store.Load()
	assert.Equal(t, "b", v)

	_, err = a.Acquire(ctx, "other", "a", false)
	require.ErrorIs(t, err, ErrUnavailable)
	p.Heal()
	require.NoError(t, h.Release(ctx), "the old holder's release (once healed) is a no-op")
	assert.Equal(t, "b", s.Do(t, "HGET", b.Key("rollout"), "o"), "b still holds it")
}

// TestLockHoldKeyDeleted: when the lock's key vanishes (deleted, or lost
// with the data), the next renewal finds it not held and Hold cancels the
// work at once.
func TestLockHoldKeyDeleted(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	ctx := context.Background()
	clk := clock.NewFake(time.Now())
	l := newLock(t, s.Client(t, nil), LockConfig{Clock: clk})
	h, _, err := lock.Hold(ctx, l, "ns", "s1", lock.HoldConfig{TTL: time.Minute, Clock: clk})
	require.NoError(t, err)
	waitTimers(t, clk, 2)
	clk.Advance(20 * time.Second)
	waitTimers(t, clk, 2)
	require.NoError(t, h.Err(), "renewed")
	s.Do(t, "DEL", l.Key("ns"))
	clk.Advance(20 * time.Second)
	<-h.Context().Done()
	assert.ErrorIs(t, h.Err(), lock.ErrNotHeld)
	require.NoError(t, h.Release(ctx))
}

func waitTimers(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return clk.Pending() == n }, 5*time.Second, time.Millisecond)
}

// TestLockTokensAfterRestart: SIGKILL and restart the server. Without AOF
// the lock and its counter are lost, and the next token is still larger
// (the server-time floor); with AOF (appendfsync always) the lock survives
// with its holder, and tokens keep rising from the counter.
func TestLockTokensAfterRestart(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run("aof="+strconv.FormatBool(aof), func(t *testing.T) {
			redistest.NoLeaks(t)
			ctx := context.Background()
			s := redistest.Start(t, redistest.Options{AOF: aof})
			l := newLock(t, s.Client(t, nil), LockConfig{})
			before, held, err := l.AcquireFenced(ctx, "ns", "s1", time.Hour, false)
			require.NoError(t, err)
			require.True(t, held)
			s.Kill(t)
			s.Restart(t)
			var after lock.Lease
			require.Eventually(t, func() bool {
				after, held, err = l.AcquireFenced(ctx, "ns", "s2", time.Hour, false)
				return err == nil
			}, 5*time.Second, 10*time.Millisecond, "the server answers again")
			if aof {
				assert.False(t, held, "the lock survived the restart")
				assert.Equal(t, strconv.FormatUint(before.Token, 10), s.Do(t, "GET", l.Key("ns")+":fence"), "so did the counter")
				_ = l.Release(ctx, "ns", "s1")
				after, held, err = l.AcquireFenced(ctx, "ns", "s2", time.Hour, false)
				require.NoError(t, err)
			}
			require.True(t, held)
			assert.Greater(t, after.Token, before.Token, "tokens still increase")
			t.Logf("token before %d, after %d", before.Token, after.Token)
		})
	}
}

// TestLockMalformedData: data under our keys that we did not write is
// ErrMalformed from every call, never a panic, and nothing is overwritten.
func TestLockMalformedData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	tests := []struct {
		name  string
		setup func(l *Lock)
		calls []string // which calls must fail; the others must not panic
	}{
		{"lock is a string", func(l *Lock) { s.Do(t, "SET", l.Key("ns"), "x") }, []string{"acquire", "extend", "release"}},
		{"lock hash without owner", func(l *Lock) { s.Do(t, "HSET", l.Key("ns"), "f", "7") }, []string{"acquire"}},
		{"owner's token not a number", func(l *Lock) { s.Do(t, "HSET", l.Key("ns"), "o", "s1", "f", "x") }, []string{"acquire"}},
		{"counter not a number", func(l *Lock) { s.Do(t, "SET", l.Key("ns")+":fence", "abc") }, []string{"acquire"}},
		{"counter is a list", func(l *Lock) { s.Do(t, "RPUSH", l.Key("ns")+":fence", "1") }, []string{"acquire"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLock(t, s.Client(t, nil), LockConfig{})
			tt.setup(l)
			errs := map[string]error{}
			_, _, errs["acquire"] = l.AcquireFenced(ctx, "ns", "s1", time.Minute, false)
			errs["extend"] = l.Extend(ctx, "ns", "s1", time.Minute)
			errs["release"] = l.Release(ctx, "ns", "s1")
			for _, c := range tt.calls {
				require.ErrorIs(t, errs[c], ErrMalformed, c)
			}
		})
	}
}

// TestLockMemoryUsage logs MEMORY USAGE of a held lock and of its counter.
func TestLockMemoryUsage(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	l := newLock(t, s.Client(t, nil), LockConfig{})
	_, _, err := l.AcquireFenced(context.Background(), "runbook:checkout", "pod-7f9c-session-1", time.Minute, false)
	require.NoError(t, err)
	lk := s.Do(t, "MEMORY", "USAGE", l.Key("runbook:checkout")).(int64)
	fence := s.Do(t, "MEMORY", "USAGE", l.Key("runbook:checkout")+":fence").(int64)
	t.Logf("MEMORY USAGE: lock %d B, counter %d B (key length %d)", lk, fence, len(l.Key("runbook:checkout")))
	assert.LessOrEqual(t, lk, int64(200))
	assert.LessOrEqual(t, fence, int64(120))
}

func TestNewLockConfig(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	for _, tt := range []struct {
		cfg   LockConfig
		field string
	}{
		{LockConfig{TTL: -1}, "TTL"},
		{LockConfig{Retry: lock.Retry{Interval: -1}}, "Retry.Interval"},
	} {
		_, err := NewLock(context.Background(), b, tt.cfg)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.field, ce.Field)
	}
	_, err := NewLock(context.Background(), nil, LockConfig{})
	require.Error(t, err)
}

// TestNewLockEvictingServer: a server that evicts is refused (an evicted
// lock reads as free).
func TestNewLockEvictingServer(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{Policy: "allkeys-lru"})
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	_, err := NewLock(context.Background(), b, LockConfig{Server: ServerPolicy{Logger: discard()}})
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "maxmemory-policy", ce.Field)
}

func FuzzParseAcquire(f *testing.F) {
	f.Add(int64(1), int64(1778000000000000), 2, true)
	f.Add(int64(0), int64(1200), 2, true)
	f.Add(int64(7), int64(-3), 1, false)
	f.Fuzz(func(t *testing.T, g, n int64, size int, ints bool) {
		var v any
		if size >= 0 && size < 5 {
			a := make([]any, size)
			for i := range a {
				if ints {
					a[i] = []int64{g, n}[i%2]
				} else {
					a[i] = strconv.FormatInt(n, 10)
				}
			}
			v = a
		} else {
			v = n
		}
		granted, token, err := parseAcquire(v)
		if err == nil && granted {
			require.Positive(t, token)
		}
		if err != nil {
			require.False(t, granted)
		}
	})
}
