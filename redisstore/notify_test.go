package redisstore

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingHook is a webhook endpoint on 127.0.0.1 counting what it got.
type countingHook struct {
	srv    *httptest.Server
	sent   atomic.Int64
	status atomic.Int64
	hang   chan struct{}
}

func newCountingHook(t *testing.T) *countingHook {
	h := &countingHook{hang: make(chan struct{})}
	h.status.Store(200)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if h.status.Load() == 0 { // hang until the test ends
			select {
			case <-h.hang:
			case <-r.Context().Done():
			}
			return
		}
		if h.status.Load() == 200 {
			h.sent.Add(1)
		}
		w.WriteHeader(int(h.status.Load()))
	}))
	t.Cleanup(func() { close(h.hang); h.srv.Close() })
	return h
}

type notifyReplica struct {
	p      *notify.Pipeline
	clk    *clock.Fake
	claims *NotifyClaims
}

// newNotifyReplica is one replica: its own client, backend, claims,
// pipeline and fake clock, on the shared server.
func newNotifyReplica(t *testing.T, s *redistest.Server, kp string, hook string, cooldown, lease time.Duration, wrap func(notify.Claims) notify.Claims) notifyReplica {
	t.Helper()
	b := newBackend(t, s.Client(t, func(o *redis.Options) { o.PoolSize = 40 }), Config{Scripts: NotifyScripts, Logger: discard(), ControlTimeout: 2 * time.Second})
	c, err := NewNotifyClaims(t.Context(), b, NotifyClaimsConfig{Prefix: kp, Server: ServerPolicy{Logger: discard()}})
	require.NoError(t, err)
	var claims notify.Claims = c
	if wrap != nil {
		claims = wrap(c)
	}
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	p, err := notify.New(notify.Config{Service: "checkout", Cooldown: baldur.Duration(cooldown), SendingLease: baldur.Duration(lease),
		NoGrouping: true, Rate: notify.Rate{Unlimited: true}, Clock: clk, Claims: claims, Logger: slog.New(slog.DiscardHandler),
		Channels:  []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "HOOK", MaxAttempts: 1}},
		LookupEnv: func(string) (string, bool) { return hook, true }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return notifyReplica{p: p, clk: clk, claims: c}
}

func waitDrained(t *testing.T, ps ...*notify.Pipeline) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, p := range ps {
			for _, c := range p.Channels() {
				if c.QueueDepth > 0 || c.Sending {
					return false
				}
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)
}

// TestNotifyFleetOneSendPerCooldown: three replicas sharing one real Redis,
// 1,000 identical notifications from 30 goroutines: exactly one send per
// cooldown, over two cooldowns.
func TestNotifyFleetOneSendPerCooldown(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	hook := newCountingHook(t)
	const cooldown, lease = time.Second, 500 * time.Millisecond
	var reps []notifyReplica
	for range 3 {
		reps = append(reps, newNotifyReplica(t, s, kp, hook.srv.URL, cooldown, lease, nil))
	}
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "governance", Key: "store_reset", Title: "store reset"}
	round := func() (delivered int64) {
		var wg sync.WaitGroup
		for g := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each goroutine sends its own share (calls g, g+30, ...), so
				// every replica takes part: with a shared counter the first
				// goroutine could send all 1,000 from its local cooldown
				// before another was scheduled.
				for i := g; i < 1000; i += 30 {
					r, err := reps[g%3].p.Notify(context.Background(), n)
					assert.NoError(t, err)
					if r.Delivered {
						atomic.AddInt64(&delivered, 1)
					} else {
						assert.Equal(t, notify.SuppressCooldown, r.Suppressed)
					}
				}
			}()
		}
		wg.Wait()
		waitDrained(t, reps[0].p, reps[1].p, reps[2].p)
		return delivered
	}
	assert.EqualValues(t, 1, round(), "one Notify was delivered")
	assert.EqualValues(t, 1, hook.sent.Load(), "one send in the first cooldown")
	key := reps[0].claims.Key(notify.DedupKey("checkout", n.Key) + ".3")
	pttl := s.Do(t, "PTTL", key).(int64)
	assert.Greater(t, pttl, int64(lease/time.Millisecond), "the claim was extended to the cooldown after the send")

	// The cooldown passes, on the server and on the replicas' clocks.
	require.Eventually(t, func() bool { return s.Do(t, "EXISTS", key).(int64) == 0 }, 5*time.Second, 5*time.Millisecond)
	for _, r := range reps {
		r.clk.Advance(cooldown)
	}
	assert.EqualValues(t, 1, round())
	assert.EqualValues(t, 2, hook.sent.Load(), "one send in the second cooldown")
	var fleet uint64
	for _, r := range reps {
		fleet += r.p.Stats().FleetCooldowns
		assert.Zero(t, r.p.Stats().ClaimErrors)
	}
	assert.Positive(t, fleet, "replicas that lost the claim were told by Redis")
}

// frozen is the claims of a replica that dies after its claim: nothing it
// claimed is ever settled.
type frozen struct{ notify.Claims }

func (frozen) Confirm(context.Context, string, string, time.Duration) (bool, error) { return true, nil }
func (frozen) Release(context.Context, string, string) error                        { return nil }

// TestNotifyFleetSenderKilledAfterClaim: the notifyReplica that claimed dies
// before settling; another sends once the sending lease has run out.
func TestNotifyFleetSenderKilledAfterClaim(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	dead, live := newCountingHook(t), newCountingHook(t)
	dead.status.Store(0) // the dying notifyReplica's send never completes
	const cooldown, lease = time.Minute, 300 * time.Millisecond
	a := newNotifyReplica(t, s, kp, dead.srv.URL, cooldown, lease, func(c notify.Claims) notify.Claims { return frozen{c} })
	b := newNotifyReplica(t, s, kp, live.srv.URL, cooldown, lease, nil)
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "watchdog", Key: "dlq_stuck/e1", Title: "stuck"}
	r, err := a.p.Notify(t.Context(), n)
	require.NoError(t, err)
	require.True(t, r.Delivered, "A claimed and queued it")
	r, err = b.p.Notify(t.Context(), n)
	require.NoError(t, err)
	assert.Equal(t, notify.SuppressCooldown, r.Suppressed, "B sees A's claim")
	key := a.claims.Key(notify.DedupKey("checkout", n.Key) + ".3")
	assert.LessOrEqual(t, s.Do(t, "PTTL", key).(int64), int64(lease/time.Millisecond), "only the sending lease")
	require.Eventually(t, func() bool { return s.Do(t, "EXISTS", key).(int64) == 0 }, 5*time.Second, 5*time.Millisecond)
	b.clk.Advance(lease)
	r, err = b.p.Notify(t.Context(), n)
	require.NoError(t, err)
	assert.True(t, r.Delivered, "B sends after the lease")
	waitDrained(t, b.p)
	assert.EqualValues(t, 1, live.sent.Load())
}

// TestNotifyFleetFailedSendReleasesClaim: a send that every channel
// failed deletes the claim, so another replica sends at once.
func TestNotifyFleetFailedSendReleasesClaim(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	bad, good := newCountingHook(t), newCountingHook(t)
	bad.status.Store(500)
	a := newNotifyReplica(t, s, kp, bad.srv.URL, time.Minute, 10*time.Second, nil)
	b := newNotifyReplica(t, s, kp, good.srv.URL, time.Minute, 10*time.Second, nil)
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "governance", Key: "k", Title: "t"}
	r, _ := a.p.Notify(t.Context(), n)
	require.True(t, r.Delivered)
	key := a.claims.Key(notify.DedupKey("checkout", n.Key) + ".3")
	require.Eventually(t, func() bool { return s.Do(t, "EXISTS", key).(int64) == 0 }, 5*time.Second, time.Millisecond, "released on failure")
	r, _ = b.p.Notify(t.Context(), n)
	assert.True(t, r.Delivered)
	waitDrained(t, b.p)
	assert.EqualValues(t, 1, good.sent.Load())
}

// TestNotifyFleetResolveOnce: a resolve is sent once across the fleet and
// reopens the key for the next trigger.
func TestNotifyFleetResolveOnce(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	hook := newCountingHook(t)
	a := newNotifyReplica(t, s, kp, hook.srv.URL, time.Minute, 10*time.Second, nil)
	b := newNotifyReplica(t, s, kp, hook.srv.URL, time.Minute, 10*time.Second, nil)
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "watchdog", Key: "stall/r1", Title: "stalled"}
	r, _ := a.p.Notify(t.Context(), n)
	require.True(t, r.Delivered)
	r, _ = a.p.Resolve(t.Context(), n)
	assert.True(t, r.Delivered)
	r, _ = b.p.Resolve(t.Context(), n)
	assert.Equal(t, notify.SuppressNotOpen, r.Suppressed, "the other replica's resolve is a duplicate")
	r, _ = b.p.Notify(t.Context(), n)
	assert.True(t, r.Delivered, "the resolve cleared the fleet cooldown")
	waitDrained(t, a.p, b.p)
	assert.EqualValues(t, 3, hook.sent.Load())
}

// TestNotifyFleetRedisDownFallsBackToLocalCooldown: with Redis unreachable
// each replica keeps its own cooldown, counted.
func TestNotifyFleetRedisDownFallsBackToLocalCooldown(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	px := redistest.NewProxy(t, "unix", s.Socket())
	hook := newCountingHook(t)
	b := newBackend(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", px.Addr() }), Config{Logger: discard(), ControlTimeout: 50 * time.Millisecond})
	c, err := NewNotifyClaims(t.Context(), b, NotifyClaimsConfig{Prefix: prefix(t), Server: ServerPolicy{Logger: discard()}})
	require.NoError(t, err)
	px.Blackhole()
	p, err := notify.New(notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true}, Claims: c, Clock: clock.NewFake(time.Unix(1_800_000_000, 0)),
		Logger: slog.New(slog.DiscardHandler), Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H"}},
		LookupEnv: func(string) (string, bool) { return hook.srv.URL, true }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	n := notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "k", Title: "t"}
	r, err := p.Notify(t.Context(), n)
	require.NoError(t, err)
	assert.True(t, r.Delivered, "fail open: sent under the local cooldown")
	r, _ = p.Notify(t.Context(), n)
	assert.Equal(t, notify.SuppressCooldown, r.Suppressed, "the local cooldown holds")
	assert.EqualValues(t, 1, p.Stats().ClaimErrors)
}

func TestNotifyClaimsMalformedData(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	b := newBackend(t, s.Client(t, nil), Config{Scripts: NotifyScripts, Logger: discard()})
	c, err := NewNotifyClaims(t.Context(), b, NotifyClaimsConfig{Prefix: kp, Server: ServerPolicy{Logger: discard()}})
	require.NoError(t, err)
	s.Do(t, "HSET", c.Key("x"), "a", "b")
	_, err = c.Confirm(t.Context(), "x", "tok", time.Second)
	assert.ErrorIs(t, err, ErrMalformed)
	cl, err := c.Claim(t.Context(), "x", time.Second)
	assert.NoError(t, err, "SET NX on a foreign key is simply not granted")
	assert.False(t, cl.Granted)
}

func FuzzParseNotifyClaim(f *testing.F) {
	f.Add(int64(1), int64(30000), 2)
	f.Add(int64(0), int64(-2), 2)
	f.Add(int64(7), int64(1), 3)
	f.Fuzz(func(t *testing.T, g, n int64, l int) {
		a := make([]any, max(min(l, 4), 0))
		if len(a) > 0 {
			a[0] = g
		}
		if len(a) > 1 {
			a[1] = n
		}
		granted, _, err := parseNotifyClaim(a)
		if err == nil && granted != (g == 1) {
			t.Fatalf("granted %v for %d", granted, g)
		}
	})
}

// TestNotifyClaimsRoundTripsAndMemory: a first send costs 2 round trips
// (claim, confirm), a repeat in the cooldown none; a claim is a small
// string key whose name holds only the hash.
func TestNotifyClaimsRoundTripsAndMemory(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	kp := prefix(t)
	hook := newCountingHook(t)
	r := newNotifyReplica(t, s, kp, hook.srv.URL, time.Minute, 10*time.Second, nil)
	// CRITICAL: no escalation step can raise it and break its cooldown.
	n := notify.Notification{Priority: notify.PriorityCritical, Source: "governance", Key: "tenant-acme:secret-ish", Title: "t"}
	res, err := r.p.Notify(t.Context(), n)
	require.NoError(t, err)
	require.True(t, res.Delivered)
	waitDrained(t, r.p)
	require.Eventually(t, func() bool { return r.claims.guard.Stats().Calls >= 2 }, 5*time.Second, time.Millisecond)
	for range 100 {
		res, _ = r.p.Notify(t.Context(), n)
		assert.Equal(t, notify.SuppressCooldown, res.Suppressed)
	}
	st := r.claims.guard.Stats()
	assert.EqualValues(t, 2, st.Calls, "claim + confirm; repeats answered locally")
	assert.EqualValues(t, 2, st.RoundTrips-st.ScriptReloads, "one round trip each (+1 per NOSCRIPT recovery)")
	keys := s.Do(t, "KEYS", kp+"*").([]any)
	require.Len(t, keys, 1)
	assert.NotContains(t, keys[0], "acme", "the raw key never reaches Redis")
	mem := s.Do(t, "MEMORY", "USAGE", keys[0], "SAMPLES", "0").(int64)
	t.Logf("claim %s: %d bytes", keys[0], mem)
	assert.Less(t, mem, int64(200))
}
