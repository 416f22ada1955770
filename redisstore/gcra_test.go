package redisstore

import (
	"context"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newGCRA(t *testing.T, b *Backend, name string, cfg GCRAConfig) *GCRA {
	t.Helper()
	g, err := NewGCRA(b.Guard(name, ClassControl), cfg)
	require.NoError(t, err)
	return g
}

// randomLimit draws a limit of 1/s to 1e6/s with a burst of 1 to 1e4, and
// sometimes an emergency-style cost raised by a factor.
func randomLimit(r *rand.Rand) throttle.Limit {
	rate := []float64{1, 3, 10, 100, 1000, 12345, 1e5, 1e6}[r.IntN(8)] * (0.5 + r.Float64())
	burst := []int{1, 2, 5, 10, 100, 1000, 10000}[r.IntN(7)]
	l, ok := throttle.NewLimit(rate, burst)
	if !ok {
		panic("bad limit")
	}
	if r.IntN(4) == 0 {
		l.Cost = int64(float64(l.Cost) / []float64{0.5, 0.1, 0.25}[r.IntN(3)])
	}
	return l
}

// TestGCRADifferential runs seeded random traces through throttle.Decide
// and the script (with the caller's clock) and requires the same decision
// and the same bucket state at every step.
func TestGCRADifferential(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{ControlTimeout: 2 * time.Second, Scripts: []*Script{GCRAScript}})
	g := newGCRA(t, b, "diff", GCRAConfig{KeySlack: time.Hour}) // caller time does not run with real time
	ctx := context.Background()
	const traces, steps = 12, 500
	var allowed, denied, waited int
	for seed := range uint64(traces) {
		r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		key := kp + "diff:" + strconv.FormatUint(seed, 10)
		l := randomLimit(r)
		// Half the traces start at a realistic Unix time (2^60.6 ns, where
		// doubles are not exact), half near the epoch.
		now := int64(r.Uint64N(1 << 40))
		if seed%2 == 0 {
			now = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).UnixNano() + int64(r.Uint64N(1<<40))
		}
		tat := throttle.Fresh
		for step := range steps {
			if r.IntN(50) == 0 {
				l = randomLimit(r) // the limit changes under a live bucket
			}
			var maxWait int64
			if r.IntN(2) == 0 {
				maxWait = int64(r.Uint64N(uint64(6*l.Cost + l.Tolerance/2 + 1)))
			}
			// Mostly bursts (0 or sub-cost deltas), sometimes long pauses,
			// and steps that land exactly on a boundary of the decision or
			// of the script's seconds/nanoseconds arithmetic.
			switch k := r.IntN(9); k {
			case 6, 7: // ahead = tolerance (+maxWait) - 1, +0 or +1
				if tat != throttle.Fresh {
					edge := tat - l.Tolerance
					if k == 7 {
						edge -= maxWait
					}
					now = max(now, edge+int64(r.IntN(3))-1)
				}
			case 8: // the nanoseconds of start + cost sum to exactly 1e9
				start := max(tat, now)
				l.Cost = 1e9 - start%1e9 + int64(r.IntN(3))*1e9
			}
			switch r.IntN(6) {
			case 0:
			case 1, 2, 3:
				now += int64(r.Uint64N(uint64(l.Cost) + 1))
			case 4:
				now += int64(r.Uint64N(uint64(l.Tolerance+l.Cost) + 1))
			case 5:
				now += int64(r.Uint64N(uint64(3*(l.Tolerance+l.Cost)) + 1))
			}
			want, next := throttle.Decide(tat, now, l, maxWait)
			got, err := g.Take(ctx, key, time.Unix(0, now), l, time.Duration(maxWait))
			require.NoError(t, err)
			if got.Decision != want || got.TAT != next || got.Now != now {
				t.Fatalf("seed %d step %d: tat %d now %d limit %+v maxWait %d:\n Decide %+v tat %d\n script %+v tat %d now %d",
					seed, step, tat, now, l, maxWait, want, next, got.Decision, got.TAT, got.Now)
			}
			tat = next
			switch {
			case !want.Allowed:
				denied++
			case want.Wait > 0:
				waited++
			default:
				allowed++
			}
		}
	}
	t.Logf("%d steps: %d allowed at once, %d allowed after a wait, %d denied", traces*steps, allowed, waited, denied)
	for _, n := range []int{allowed, waited, denied} {
		assert.Greater(t, n, traces*steps/20, "the traces cover every kind of decision")
	}
	st := b.Guard("diff", ClassControl).Stats()
	assert.EqualValues(t, traces*steps, st.Calls)
	assert.Zero(t, st.Errors)
	assert.Zero(t, st.ScriptReloads, "the script was preloaded by New")
}

// TestGCRAServerTime checks the default clock (Redis TIME): a burst of 3 at
// 1/s admits 3, then denies with about 1 s to wait, and the key expires
// when the bucket is full again.
func TestGCRAServerTime(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{})
	g := newGCRA(t, b, "time", GCRAConfig{})
	ctx := context.Background()
	l, _ := throttle.NewLimit(1, 3)
	key := kp + "time"
	var last GCRAResult
	for i := range 3 {
		res, err := g.Take(ctx, key, time.Time{}, l, 0)
		require.NoError(t, err)
		require.True(t, res.Decision.Allowed, "take %d", i)
		assert.EqualValues(t, 2-i, res.Decision.Remaining)
		last = res
	}
	wall := time.Now().UnixNano()
	assert.InDelta(t, wall, last.Now, float64(time.Second), "server TIME is the wall clock")
	res, err := g.Take(ctx, key, time.Time{}, l, 0)
	require.NoError(t, err)
	require.False(t, res.Decision.Allowed)
	assert.InDelta(t, float64(time.Second), float64(res.Decision.RetryAfter), float64(500*time.Millisecond))
	assert.Equal(t, last.TAT, res.TAT, "a denied take writes nothing")
	t.Logf("MEMORY USAGE of bucket key %q (%d bytes): %v B", key, len(key), s.Do(t, "MEMORY", "USAGE", key))
	pttl := s.Do(t, "PTTL", key).(int64)
	resetMs := (last.TAT - last.Now) / 1e6
	assert.LessOrEqual(t, pttl, resetMs+1)
	assert.Greater(t, pttl, resetMs-1000)
	// A wait within maxWait is granted with the wait to honour.
	res, err = g.Take(ctx, key, time.Time{}, l, 2*time.Second)
	require.NoError(t, err)
	assert.True(t, res.Decision.Allowed)
	assert.InDelta(t, float64(time.Second), float64(res.Decision.Wait), float64(500*time.Millisecond))
}

func TestGCRAMalformedState(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{})
	g := newGCRA(t, b, "bad", GCRAConfig{})
	l, _ := throttle.NewLimit(10, 10)
	for _, set := range [][]any{
		{"SET", kp + "bad:text", "not a number"},
		{"SET", kp + "bad:neg", "-5"},
		{"SET", kp + "bad:long", "123456789012345678901234"},
		{"RPUSH", kp + "bad:list", "x"},
	} {
		s.Do(t, set...)
		key := set[1].(string)
		_, err := g.Take(context.Background(), key, time.Time{}, l, 0)
		require.ErrorIs(t, err, ErrMalformed, key)
		assert.Equal(t, b.Guard("bad", ClassControl).Stats().State.String(), "closed", "the server answered")
	}
	assert.Equal(t, "not a number", s.Do(t, "GET", kp+"bad:text"), "nothing is overwritten")
}

func TestGCRAInputDomain(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{})
	g := newGCRA(t, b, "domain", GCRAConfig{})
	l, _ := throttle.NewLimit(1, 10)
	_, err := g.Take(context.Background(), kp+"domain", time.Unix(0, 1<<62), l, 1<<62)
	require.ErrorIs(t, err, errDomain)
	_, err = g.Take(context.Background(), kp+"domain", time.Unix(-1, 0), l, 0)
	require.Error(t, err)
	_, err = NewGCRA(nil, GCRAConfig{})
	require.Error(t, err)
}

// TestGCRAScriptFlush empties the script cache between two takes: the
// second recovers with EVAL in the same call and the decision is kept.
func TestGCRAScriptFlush(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	// 1 s: the recovering call (NOSCRIPT, then EVAL) missed the 5 ms
	// default on a loaded machine, and the deadline is not under test.
	b := newBackend(t, s.Client(t, nil), Config{ThrottleTimeout: time.Second, Scripts: []*Script{GCRAScript}})
	guard := b.Guard("flush", ClassThrottle)
	g, err := NewGCRA(guard, GCRAConfig{})
	require.NoError(t, err)
	l, _ := throttle.NewLimit(1, 2)
	ctx := context.Background()
	res, err := g.Take(ctx, kp+"flush", time.Time{}, l, 0)
	require.NoError(t, err)
	require.True(t, res.Decision.Allowed)
	s.Do(t, "SCRIPT", "FLUSH")
	res, err = g.Take(ctx, kp+"flush", time.Time{}, l, 0)
	require.NoError(t, err)
	assert.True(t, res.Decision.Allowed)
	assert.EqualValues(t, 0, res.Decision.Remaining, "the bucket survived the flush")
	st := guard.Stats()
	assert.EqualValues(t, 2, st.Calls)
	assert.EqualValues(t, 3, st.RoundTrips)
	assert.EqualValues(t, 1, st.ScriptReloads)
	assert.Zero(t, st.Errors)
	exists := s.Do(t, "SCRIPT", "EXISTS", GCRAScript.Hash()).([]any)
	assert.EqualValues(t, 1, exists[0], "EVAL cached the script again")
}

// TestGCRARestartWithoutAOF kills the server and starts it again without
// persistence: the script cache and the buckets are gone; takes recover.
func TestGCRARestartWithoutAOF(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := redistest.Start(t, redistest.Options{})
	b := newBackend(t, s.Client(t, nil), Config{Scripts: []*Script{GCRAScript}})
	guard := b.Guard("restart", ClassControl)
	g, err := NewGCRA(guard, GCRAConfig{})
	require.NoError(t, err)
	l, _ := throttle.NewLimit(1, 1)
	ctx := context.Background()
	res, err := g.Take(ctx, kp+"r", time.Time{}, l, 0)
	require.NoError(t, err)
	require.True(t, res.Decision.Allowed)
	s.Kill(t)
	_, err = g.Take(ctx, kp+"r", time.Time{}, l, 0)
	require.ErrorIs(t, err, ErrUnavailable)
	s.Restart(t)
	res, err = g.Take(ctx, kp+"r", time.Time{}, l, 0)
	require.NoError(t, err)
	assert.True(t, res.Decision.Allowed, "the bucket was lost with the data: a fresh one admits")
	assert.EqualValues(t, 1, guard.Stats().ScriptReloads)
}

// TestGCRARoundTrip measures take latency on the unix socket; it asserts
// nothing about time (the numbers go to the log).
func TestGCRARoundTrip(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := shared.Get(t)
	// A latency measurement, not a deadline test: the guard (a control
	// one) gets 10 s, which no loaded machine misses (250 ms was).
	b := newBackend(t, s.Client(t, nil), Config{ControlTimeout: 10 * time.Second, Scripts: []*Script{GCRAScript}})
	g := newGCRA(t, b, "rtt", GCRAConfig{})
	l, _ := throttle.NewLimit(1e6, 1000)
	ctx := context.Background()
	const n = 2000
	lat := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		_, err := g.Take(ctx, kp+"rtt:"+strconv.Itoa(i%64), time.Time{}, l, 0)
		lat[i] = time.Since(start)
		require.NoError(t, err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("GCRA take over the unix socket, %d calls: p50 %v p90 %v p99 %v max %v",
		n, lat[n/2], lat[n*9/10], lat[n*99/100], lat[n-1])
}

// TestGCRAOnConnectPreload loads the script on every new connection: after
// a restart the redialed connection has it, and no NOSCRIPT occurs.
func TestGCRAOnConnectPreload(t *testing.T) {
	redistest.NoLeaks(t)
	kp := prefix(t)
	s := redistest.Start(t, redistest.Options{})
	c := s.Client(t, func(o *redis.Options) { o.OnConnect = OnConnect(nil, GCRAScript) })
	b := newBackend(t, c, Config{})
	g := newGCRA(t, b, "preload", GCRAConfig{})
	l, _ := throttle.NewLimit(10, 10)
	ctx := context.Background()
	_, err := g.Take(ctx, kp+"k", time.Time{}, l, 0)
	require.NoError(t, err)
	s.Restart(t)
	for {
		// The pooled connection died with the server; the pool redials.
		if _, err = g.Take(ctx, kp+"k", time.Time{}, l, 0); err == nil {
			break
		}
		require.ErrorIs(t, err, ErrUnavailable)
		require.Less(t, b.Guard("preload", ClassControl).Stats().Errors, uint64(3))
	}
	assert.Zero(t, b.Guard("preload", ClassControl).Stats().ScriptReloads)
}
