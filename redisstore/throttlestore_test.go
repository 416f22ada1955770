package redisstore

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fleetScripts = []*Script{LeaseScript, RefundScript}

// newStore builds a ThrottleStore on c, named after t, on a backend with a
// fake breaker clock (returned) and a 1 s deadline unless cfg says
// otherwise.
func newStore(t *testing.T, c redis.UniversalClient, bc Config, cfg ThrottleStoreConfig) (*ThrottleStore, *Backend, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	if bc.Clock == nil {
		bc.Clock = clk
	}
	if bc.ThrottleTimeout == 0 {
		bc.ThrottleTimeout = time.Second
	}
	bc.Scripts = fleetScripts
	bc.Logger = discard()
	b := newBackend(t, c, bc)
	if cfg.Name == "" {
		cfg.Name = strings.NewReplacer("/", "-", ":", "-", " ", "-").Replace(prefix(t))
	}
	if cfg.Replicas == nil {
		cfg.Replicas = StaticReplicas(1)
	}
	s, err := NewThrottleStore(b, cfg)
	require.NoError(t, err)
	return s, b, clk
}

func mustLimit(t testing.TB, rate float64, burst int) throttle.Limit {
	l, ok := throttle.NewLimit(rate, burst)
	require.True(t, ok)
	return l
}

func keyOf(name string) throttle.Key {
	return throttle.Key{Hash: uint64(len(name))<<56 ^ hashString(name), Partition: name, Tier: baldur.TierStandard}
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h | 1
}

// modelLease is what LeaseScript must answer: want calls of
// throttle.Decide at one now, stopped at the first that does not conform
// (want 1: one call of Decide with maxWait).
func modelLease(tat, now int64, l throttle.Limit, maxWait, want int64) (throttle.Decision, int64, int64) {
	d, next := throttle.Decide(tat, now, l, maxWait)
	if !d.Allowed {
		return d, tat, 0
	}
	n := int64(1)
	for ; n < want; n++ {
		d2, nt := throttle.Decide(next, now, l, 0)
		if !d2.Allowed {
			break
		}
		next = nt
	}
	d.Reset = time.Duration(next - now)
	d.Remaining = 0
	if next-now <= l.Tolerance {
		d.Remaining = (l.Tolerance-(next-now))/l.Cost + 1
	}
	return d, next, n
}

// TestLeaseScriptDifferential holds LeaseScript to throttle.Decide over
// seeded random traces on the caller's clock: for want 1 (any maxWait) the
// decision, and for want n the grant, equal those of the model.
func TestLeaseScriptDifferential(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: 1000 * time.Hour})
	ctx := context.Background()
	for seed := uint64(1); seed <= 8; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		rate := []float64{1, 10, 1000, 1e6, 1e9}[rng.IntN(5)]
		burst := []int{1, 2, 10, 1000, 10000}[rng.IntN(5)]
		l := mustLimit(t, rate, burst)
		key := s.prefix + "diff:" + strconv.FormatUint(seed, 10)
		tat, now := throttle.Fresh, epoch.UnixNano()
		for i := range 300 {
			now += rng.Int64N(3 * (l.Cost + 1))
			want, maxWait := int64(1), int64(0)
			switch rng.IntN(3) {
			case 0:
				want = 1 + rng.Int64N(64)
			case 1:
				maxWait = rng.Int64N(l.Tolerance + 2*l.Cost + 1)
			}
			r, granted, err := s.take(ctx, key, time.Unix(0, now), l, maxWait, want)
			require.NoError(t, err)
			d, next, n := modelLease(tat, now, l, maxWait, want)
			require.Equal(t, d, r.Decision, "seed %d step %d (rate %v burst %d want %d maxWait %d)", seed, i, rate, burst, want, maxWait)
			require.Equal(t, n, granted, "seed %d step %d granted", seed, i)
			if n > 0 {
				require.Equal(t, next, r.TAT, "seed %d step %d TAT", seed, i)
			}
			tat = next
		}
	}
}

// TestThrottleStoreDenyCacheIsExact: once Redis denied a key, calls are
// denied locally (no round trip) until exactly the retry time Redis gave,
// and the next call after it goes to Redis and is admitted.
func TestThrottleStoreDenyCacheIsExact(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour})
	ctx := context.Background()
	l := mustLimit(t, 10, 1) // one call per 100 ms
	k := keyOf("deny")
	now := epoch
	d, err := s.Take(ctx, k, now, l, 0)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	now = now.Add(30 * time.Millisecond)
	d, err = s.Take(ctx, k, now, l, 0)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, 70*time.Millisecond, d.RetryAfter)
	rt := s.Guard().Stats().RoundTrips
	for _, dt := range []time.Duration{0, 10 * time.Millisecond, 70*time.Millisecond - 1} {
		d, err = s.Take(ctx, k, now.Add(dt), l, 0)
		require.NoError(t, err)
		require.False(t, d.Allowed, "at +%v", dt)
		require.Equal(t, 70*time.Millisecond-dt, d.RetryAfter, "at +%v", dt)
	}
	// A call that may wait longer than the cached retry is not denied locally.
	d, err = s.Take(ctx, k, now, l, 80*time.Millisecond)
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.Equal(t, 70*time.Millisecond, d.Wait)
	require.Equal(t, rt+1, s.Guard().Stats().RoundTrips, "cached denies made no round trip; the reservation one")
	require.Equal(t, uint64(3), s.Stats().DenyHits)
}

// TestThrottleStoreLeases: a hot key takes several tokens per round trip
// and spends them locally; a lease ends after Lease, and a change of limit
// (emergency factor) drops it.
func TestThrottleStoreLeases(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour})
	ctx := context.Background()
	l := mustLimit(t, 1e6, 1e6)
	k := keyOf("lease")
	now := epoch
	admitted := 0
	for range 2000 { // 2000 calls in 20 ms: 100 k/s
		now = now.Add(10 * time.Microsecond)
		d, err := s.Take(ctx, k, now, l, 0)
		require.NoError(t, err)
		if d.Allowed {
			admitted++
		}
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	require.Equal(t, 2000, admitted, "a key far below its limit is never denied")
	require.LessOrEqual(t, st.Guard.RoundTrips, uint64(8), "leases grow with the rate")
	require.Greater(t, st.LeaseHits, uint64(1900))
	require.Zero(t, st.BudgetDenies)

	// After Lease the tokens left are dropped: the next call takes again.
	rt := st.Guard.RoundTrips
	_, err := s.Take(ctx, k, now.Add(DefaultLease), l, 0)
	require.NoError(t, err)
	require.Equal(t, rt+1, s.Guard().Stats().RoundTrips, "expired lease")
	// A different cost (emergency factor) does not spend the lease either.
	l2 := l
	l2.Cost *= 2
	_, err = s.Take(ctx, k, now.Add(3*DefaultLease), l2, 0)
	require.NoError(t, err)
	require.Equal(t, rt+2, s.Guard().Stats().RoundTrips, "lease of another cost")
}

// TestThrottleStoreCallBudget: a key over its limit makes at most
// 3 + T/Lease takes in any T, whatever the call rate; the calls between are
// denied locally with the time until the next take.
func TestThrottleStoreCallBudget(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour})
	ctx := context.Background()
	l := mustLimit(t, 1000, 10)
	k := keyOf("budget")
	now := epoch
	admitted := 0
	for range 100_000 { // 1 s at 100 k calls/s
		now = now.Add(10 * time.Microsecond)
		d, err := s.Take(ctx, k, now, l, 0)
		require.NoError(t, err)
		if d.Allowed {
			admitted++
		} else {
			require.Positive(t, d.RetryAfter)
		}
	}
	st := s.Stats()
	t.Logf("admitted %d, stats %+v", admitted, st)
	require.LessOrEqual(t, st.Guard.RoundTrips, uint64(3+time.Second/DefaultLease), "takes in 1 s")
	require.LessOrEqual(t, admitted, 10+1000+50, "≤ burst + rate·(1 s + Lease)")
	require.Greater(t, st.BudgetDenies, uint64(0))
}

// TestThrottleStoreCoalesces: 32 concurrent misses on one key, far below
// its limit, at one instant (the caller's clock), share takes: the first
// take is held in flight (a blackholed proxy) until all 32 wait on it, and
// then the 32 calls are admitted with exactly 2 round trips (the key's
// first take asks for 1 token, the second for the waiters).
func TestThrottleStoreCoalesces(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	p := redistest.NewProxy(t, "unix", srv.Socket())
	c := srv.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() })
	s, _, _ := newStore(t, c, Config{ThrottleTimeout: time.Minute}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour})
	ctx := context.Background()
	l := mustLimit(t, 1e6, 1e6)
	k := keyOf("coalesce")
	const n = 32
	p.Blackhole()
	var wg sync.WaitGroup
	decisions := make([]throttle.Decision, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { decisions[i], errs[i] = s.Take(ctx, k, epoch, l, 0) })
	}
	require.Eventually(t, func() bool { return s.state(k).pending.Load() == n }, 30*time.Second, time.Millisecond,
		"all %d misses wait on the first take", n)
	p.Heal()
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.True(t, decisions[i].Allowed, "call %d: %+v", i, decisions[i])
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	require.Equal(t, uint64(2), st.Guard.RoundTrips, "32 misses coalesced into 2 takes")
	require.GreaterOrEqual(t, st.Coalesced, uint64(n-1))
	require.Zero(t, st.BudgetDenies+st.Overdrafts+st.Starved)
}

// TestThrottleStoreSpurtAtOneInstant: a spurt of concurrent misses on one
// key at one instant (the caller's clock), more than three takes' worth of
// leases, is decided as throttle.Decide decides the same calls in a row:
// all admitted when the key is under its limit (the call budget spent, the
// takes beyond it are overdrafts), and when it is over, exactly as many
// admitted as conform and every other call denied with Decide's decision.
// Another replica's earlier take counts against the key.
func TestThrottleStoreSpurtAtOneInstant(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	for _, tc := range []struct {
		name              string
		rate              float64
		burst             int
		goroutines, calls int
		before            int64 // tokens another replica took first
		maxLease          int
	}{
		{"under, one caller", 1e6, 1e6, 1, 10_000, 0, 0},
		{"under, 16 callers", 1e6, 1e6, 16, 500, 0, 0},
		{"under, 32 callers, MaxLease reached", 1e9, 1 << 20, 32, 500, 0, 1024},
		{"over, one caller", 1, 1000, 1, 1_500, 0, 0},
		{"over, 16 callers", 1, 1000, 16, 100, 0, 0},
		{"over, after another replica", 1, 5000, 16, 400, 2000, 0},
		{"exactly at the limit", 10, 3200, 32, 100, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "spurt" + strconv.FormatInt(runs.Add(1), 10)
			cfg := ThrottleStoreConfig{Name: name, CallerClock: true, KeySlack: time.Hour, MaxLease: tc.maxLease}
			// A deadline no loaded machine misses: a timed-out take would be
			// the fail mode's decision, which is not what this test checks.
			s, _, _ := newStore(t, srv.Client(t, nil), Config{ThrottleTimeout: time.Minute}, cfg)
			other, _, _ := newStore(t, srv.Client(t, nil), Config{ThrottleTimeout: time.Minute}, cfg)
			ctx := context.Background()
			l := mustLimit(t, tc.rate, tc.burst)
			k := keyOf("spurt")

			// The model: Decide on the same calls in a row.
			tat := throttle.Fresh
			if tc.before > 0 {
				_, granted, err := other.take(ctx, other.Key(k), epoch, l, 0, tc.before)
				require.NoError(t, err)
				require.Equal(t, tc.before, granted)
				_, tat, _ = modelLease(tat, epoch.UnixNano(), l, 0, tc.before)
			}
			n := tc.goroutines * tc.calls
			wantAllowed := 0
			var wantDeny throttle.Decision
			for range n {
				d, next := throttle.Decide(tat, epoch.UnixNano(), l, 0)
				if d.Allowed {
					wantAllowed++
				} else {
					wantDeny = d
				}
				tat = next
			}

			var wg sync.WaitGroup
			got := make([][]throttle.Decision, tc.goroutines)
			for g := range tc.goroutines {
				wg.Go(func() {
					for range tc.calls {
						d, err := s.Take(ctx, k, epoch, l, 0)
						if err != nil {
							t.Error(err)
							return
						}
						got[g] = append(got[g], d)
					}
				})
			}
			wg.Wait()
			allowed := 0
			for _, ds := range got {
				for _, d := range ds {
					if d.Allowed {
						allowed++
					} else {
						require.Equal(t, wantDeny, d, "a denied call is Decide's deny")
					}
				}
			}
			st := s.Stats()
			t.Logf("%d calls: %d admitted (Decide %d); stats %+v", n, allowed, wantAllowed, st)
			require.Equal(t, wantAllowed, allowed, "admitted calls")
			require.Zero(t, st.FallbackAllowed+st.FallbackDenied)
			require.Zero(t, st.BudgetDenies, "no call denied by the call budget at one instant")
			// Takes: 3 of budget, then overdrafts that at least double the
			// lease each (up to MaxLease), then one per MaxLease calls.
			bound := 3 + uint64(math.Ceil(math.Log2(float64(n)))) + uint64(n/cmp0(tc.maxLease, DefaultMaxLease)) + st.Starved
			require.LessOrEqual(t, st.Guard.RoundTrips, bound, "round trips")
		})
	}
}

// TestThrottleStoreLocalHitAllocs: a deny-cache hit and a lease hit
// allocate nothing, through the Store and through throttle.Throttle.
func TestThrottleStoreLocalHitAllocs(t *testing.T) {
	srv := shared.Get(t)
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour, MaxLease: 1 << 20})
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		allow bool
	}{
		{"lease", 1e9, 1 << 20, true},
		{"deny", 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, err := throttle.New(throttle.Config{Name: s.prefix, Rate: tc.rate, Burst: tc.burst, KeyBy: throttle.ByKey, Store: s, Clock: clk})
			require.NoError(t, err)
			c := baldur.Call{Key: "allocs-" + tc.name, Now: clk.Now()}
			for range 1000 { // warm: leases grown, or the deny cached
				c.Now = c.Now.Add(time.Nanosecond)
				th.Admit(ctx, c)
			}
			rt := s.Guard().Stats().RoundTrips
			allocs := testing.AllocsPerRun(1000, func() {
				c.Now = c.Now.Add(time.Nanosecond)
				_, err := th.Admit(ctx, c)
				if (err == nil) != tc.allow {
					t.Fatalf("admit: %v", err)
				}
			})
			assert.Zero(t, allocs)
			assert.Equal(t, rt, s.Guard().Stats().RoundTrips, "local hits made round trips")
		})
	}
}

// TestThrottleStoreFailModes: with the breaker on Redis open, each mode
// decides as documented, without a round trip, and counts.
func TestThrottleStoreFailModes(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	l := mustLimit(t, 100, 40) // 4 replicas: 25/s, burst 10 each
	for _, tc := range []struct {
		mode    FailMode
		allowed int
	}{
		{FailLocal, 10},
		{FailOpen, 50},
		{FailClosed, 0},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			s, b, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{FailMode: tc.mode, Replicas: StaticReplicas(4)})
			require.NoError(t, b.breakers.ForceOpen(blast.Partition{Key: s.Guard().Name()}, time.Hour))
			ctx := context.Background()
			now := time.Now()
			n := 0
			for range 50 {
				d, err := s.Take(ctx, keyOf("fail"), now, l, 0)
				require.NoError(t, err)
				if d.Allowed {
					n++
				} else {
					require.Positive(t, d.RetryAfter)
				}
			}
			st := s.Stats()
			require.Equal(t, tc.allowed, n)
			require.Equal(t, uint64(tc.allowed), st.FallbackAllowed)
			require.Equal(t, uint64(50-tc.allowed), st.FallbackDenied)
			require.Equal(t, uint64(50), s.Fallbacks())
			require.Zero(t, st.Guard.Calls, "no round trip while open")
			require.Zero(t, st.Errors)
		})
	}
	t.Run("closed retry after", func(t *testing.T) {
		t.Parallel()
		s, b, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{FailMode: FailClosed, ClosedRetryAfter: 3 * time.Second})
		require.NoError(t, b.breakers.ForceOpen(blast.Partition{Key: s.Guard().Name()}, time.Hour))
		d, err := s.Take(context.Background(), keyOf("x"), time.Now(), l, 0)
		require.NoError(t, err)
		require.Equal(t, throttle.Decision{RetryAfter: 3 * time.Second}, d)
	})
}

// TestThrottleStoreMalformedBucket: a value under a bucket key that the
// store did not write is an error reply; the fail mode decides, it is
// counted as an error, and nothing is overwritten.
func TestThrottleStoreMalformedBucket(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	c := srv.Client(t, nil)
	s, _, _ := newStore(t, c, Config{}, ThrottleStoreConfig{FailMode: FailOpen})
	ctx := context.Background()
	l := mustLimit(t, 1, 1)
	for _, tc := range []struct {
		name string
		set  func(key string) error
	}{
		{"not a number", func(key string) error { return c.Set(ctx, key, "12x", 0).Err() }},
		{"wrong type", func(key string) error { return c.RPush(ctx, key, "a").Err() }},
	} {
		k := keyOf("malformed " + tc.name)
		key := s.Key(k)
		require.NoError(t, tc.set(key))
		before := s.Stats().Errors
		d, err := s.Take(ctx, k, time.Now(), l, 0)
		require.NoError(t, err, tc.name)
		require.True(t, d.Allowed, tc.name)
		require.Equal(t, before+1, s.Stats().Errors, tc.name)
		require.ErrorIs(t, s.Refund(ctx, k, l), ErrMalformed, tc.name)
		typ, _ := c.Type(ctx, key).Result()
		require.NotEqual(t, "none", typ, "%s: overwritten", tc.name)
	}
}

// TestThrottleStoreRefund: a refund moves the bucket back by one call and
// drops the key's cached deny; a full bucket is left alone.
func TestThrottleStoreRefund(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	c := srv.Client(t, nil)
	s, _, _ := newStore(t, c, Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour})
	ctx := context.Background()
	l := mustLimit(t, 1, 2)
	k := keyOf("refund")
	now := epoch
	for i, want := range []bool{true, true, false} {
		d, err := s.Take(ctx, k, now, l, 0)
		require.NoError(t, err)
		require.Equal(t, want, d.Allowed, "call %d", i)
	}
	now = now.Add(200 * time.Millisecond) // the call budget refilled, the bucket not
	d, err := s.Take(ctx, k, now, l, 0)
	require.NoError(t, err)
	require.False(t, d.Allowed, "cached deny")
	require.NoError(t, s.Refund(ctx, k, l))
	d, err = s.Take(ctx, k, now, l, 0)
	require.NoError(t, err)
	require.True(t, d.Allowed, "refunded call, deny cache dropped")
	// Refunds of a missing bucket leave it missing.
	require.NoError(t, s.Refund(ctx, keyOf("refund-none"), l))
	require.Zero(t, c.Exists(ctx, s.Key(keyOf("refund-none"))).Val())
	require.Equal(t, uint64(2), s.Stats().Refunds)
}

// TestThrottleStoreKeys: keys are readable for short parts and bounded for
// long or ambiguous ones; one key's MEMORY USAGE is logged and bounded.
func TestThrottleStoreKeys(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	c := srv.Client(t, nil)
	s, _, _ := newStore(t, c, Config{}, ThrottleStoreConfig{Name: "api"})
	long := strings.Repeat("x", 200)
	for _, tc := range []struct {
		k    throttle.Key
		want string
	}{
		{throttle.Key{Partition: "tenant-1", Operation: "GET /x", Tier: baldur.TierCritical}, "bd:t:api:critical:tenant-1\x1fGET /x"},
		{throttle.Key{Tier: baldur.TierStandard}, "bd:t:api:standard:\x1f"},
		{throttle.Key{Partition: long}, "bd:t:api:standard:\x1e" + keyPart(long)[1:] + "\x1f"},
		{throttle.Key{Partition: "a\x1fb"}, "bd:t:api:standard:" + keyPart("a\x1fb") + "\x1f"},
	} {
		require.Equal(t, tc.want, s.Key(tc.k))
	}
	require.Len(t, keyPart(long), 23)
	require.NotEqual(t, keyPart("a\x1fb"), keyPart("a\x1eb"))

	ctx := context.Background()
	k := throttle.Key{Hash: 7, Partition: "tenant-0001", Operation: "GET /items/{id}"}
	_, err := s.Take(ctx, k, time.Now(), mustLimit(t, 1, 100), 0)
	require.NoError(t, err)
	mem, err := c.MemoryUsage(ctx, s.Key(k)).Result()
	require.NoError(t, err)
	t.Logf("MEMORY USAGE %q = %d B", s.Key(k), mem)
	require.LessOrEqual(t, mem, int64(160))
}

func TestThrottleStoreConfigErrors(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	b := newBackend(t, srv.Client(t, nil), Config{Logger: discard()})
	ok := ThrottleStoreConfig{Name: "api", Replicas: StaticReplicas(3)}
	for _, tc := range []struct {
		field string
		edit  func(*ThrottleStoreConfig)
	}{
		{"Name", func(c *ThrottleStoreConfig) { c.Name = "" }},
		{"Name", func(c *ThrottleStoreConfig) { c.Name = "a:b" }},
		{"Name", func(c *ThrottleStoreConfig) { c.Name = strings.Repeat("a", 129) }},
		{"Lease", func(c *ThrottleStoreConfig) { c.Lease = time.Microsecond }},
		{"Lease", func(c *ThrottleStoreConfig) { c.Lease = -1 }},
		{"MaxLease", func(c *ThrottleStoreConfig) { c.MaxLease = maxWant + 1 }},
		{"FailMode", func(c *ThrottleStoreConfig) { c.FailMode = 9 }},
		{"Replicas", func(c *ThrottleStoreConfig) { c.Replicas = nil }},
		{"LocalKeys", func(c *ThrottleStoreConfig) { c.LocalKeys = -1 }},
		{"FallbackKeys", func(c *ThrottleStoreConfig) { c.FallbackKeys = -1 }},
		{"ClosedRetryAfter", func(c *ThrottleStoreConfig) { c.ClosedRetryAfter = -1 }},
		{"KeySlack", func(c *ThrottleStoreConfig) { c.KeySlack = -1 }},
	} {
		cfg := ok
		tc.edit(&cfg)
		_, err := NewThrottleStore(b, cfg)
		var ce *baldur.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tc.field, err)
		require.Equal(t, tc.field, ce.Field)
	}
	_, err := NewThrottleStore(nil, ok)
	require.Error(t, err)
	_, err = NewThrottleStore(b, ok)
	require.NoError(t, err)
	cfg := ok
	cfg.FailMode, cfg.Replicas = FailOpen, nil
	_, err = NewThrottleStore(b, cfg)
	require.NoError(t, err, "Replicas is needed by FailLocal only")
}

func TestShareOf(t *testing.T) {
	t.Parallel()
	l := mustLimit(t, 100, 40)
	for _, tc := range []struct {
		n           int
		rate, burst int64
	}{
		{0, 100, 40}, {1, 100, 40}, {4, 25, 10}, {40, 2, 1}, {1000, 0, 1},
	} {
		s := shareOf(l, tc.n)
		require.Equal(t, tc.burst, s.Burst(), "n=%d", tc.n)
		require.Equal(t, tc.rate, int64(1e9)/s.Cost, "n=%d", tc.n)
	}
	huge := shareOf(throttle.Limit{Cost: 1 << 62, Tolerance: 1 << 62}, 8)
	require.Positive(t, huge.Cost)
}

// FuzzParseLease: no reply, however malformed, panics the parser, and an
// accepted reply is consistent (a grant exactly when allowed).
func FuzzParseLease(f *testing.F) {
	f.Add(int64(1), "0", "0", "100", "1700000000000000100", "1700000000000000000", int64(3))
	f.Add(int64(0), "0", "5", "10", "", "1", int64(0))
	f.Add(int64(1), "x", "0", "-1", "9", "99999999999999999999", int64(-1))
	l := throttle.Limit{Cost: 10, Tolerance: 100}
	f.Fuzz(func(t *testing.T, allowed int64, wait, retry, reset, tat, now string, granted int64) {
		r, n, err := parseLease([]any{allowed, wait, retry, reset, tat, now, granted}, l)
		if err != nil {
			return
		}
		if r.Decision.Allowed != (n > 0) || n > maxWant {
			t.Fatalf("inconsistent: %+v granted %d", r, n)
		}
	})
}

// TestThrottleStoreTakeLocal: TakeLocal answers what Take's local layer
// answers (a cached deny, a leased token), counts it alike, and leaves
// everything else (an unknown key, another tier or limit) to Take.
func TestThrottleStoreTakeLocal(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	s, _, _ := newStore(t, srv.Client(t, nil), Config{}, ThrottleStoreConfig{CallerClock: true, KeySlack: time.Hour})
	ctx := context.Background()
	now := epoch
	deny, _ := throttle.NewLimit(1, 1)
	lease, _ := throttle.NewLimit(1e6, 1e6)
	kd := throttle.Key{Hash: 11, Partition: "takelocal-deny"}
	kl := throttle.Key{Hash: 12, Partition: "takelocal-lease"}

	_, _, hit := s.TakeLocal(kd.Hash, kd.Tier, now, deny)
	require.False(t, hit, "unknown key")
	for range 2 { // allowed, then denied: the deny is cached
		_, err := s.Take(ctx, kd, now, deny, 0)
		require.NoError(t, err)
	}
	for range 3 { // the first take leases one token; the next grow it
		_, err := s.Take(ctx, kl, now, lease, 0)
		require.NoError(t, err)
	}
	now = now.Add(time.Millisecond)
	st := s.Stats()
	want, err := s.Take(ctx, kd, now, deny, 0)
	require.NoError(t, err)
	require.False(t, want.Allowed)
	allowed, after, hit := s.TakeLocal(kd.Hash, kd.Tier, now, deny)
	require.True(t, hit, "cached deny")
	require.False(t, allowed)
	require.Equal(t, want.RetryAfter, after)
	require.Equal(t, st.DenyHits+2, s.Stats().DenyHits)

	_, _, hit = s.TakeLocal(kd.Hash, baldur.TierCritical, now, deny)
	require.False(t, hit, "another tier")
	_, _, hit = s.TakeLocal(kd.Hash, kd.Tier, now, lease)
	require.False(t, hit, "another limit")

	want, err = s.Take(ctx, kl, now, lease, 0)
	require.NoError(t, err)
	require.True(t, want.Allowed)
	require.Greater(t, s.Stats().LeaseHits, st.LeaseHits, "the warmed key holds a lease")
	allowed, after, hit = s.TakeLocal(kl.Hash, kl.Tier, now, lease)
	require.True(t, hit, "leased token")
	require.True(t, allowed)
	require.Equal(t, want.Reset, after)
	require.Equal(t, st.LeaseHits+2, s.Stats().LeaseHits)
	rt := s.Guard().Stats().RoundTrips
	_, _, _ = s.TakeLocal(99, 0, now, lease)
	require.Equal(t, rt, s.Guard().Stats().RoundTrips, "TakeLocal made a round trip")
}
