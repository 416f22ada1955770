package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/watchdog"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newIncidents builds an Incidents store on c under prefix.
func newIncidents(t *testing.T, c redis.UniversalClient, prefix string) *Incidents {
	t.Helper()
	b := newBackend(t, c, Config{Scripts: IncidentScripts, Logger: discard()})
	s, err := NewIncidents(context.Background(), b, IncidentsConfig{Prefix: prefix, Server: ServerPolicy{Logger: discard()}})
	require.NoError(t, err)
	return s
}

// TestIncidentsProtocol: open once per (check, subject), resolve by key,
// fenced by the writer's token, against a real server.
func TestIncidentsProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	inc := func(subject string) watchdog.Incident {
		return watchdog.Incident{Check: "dlq_stuck_replay", Subject: subject, Title: "t", Priority: notify.PriorityHigh,
			OpenedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Session: "pod-a"}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, st *Incidents)
	}{
		{"opened once", func(t *testing.T, st *Incidents) {
			assert.True(t, must(st.Open(ctx, inc("e1"), 5)))
			assert.False(t, must(st.Open(ctx, inc("e1"), 5)), "already open: no second page")
			l, err := st.List(ctx, "dlq_stuck_replay")
			require.NoError(t, err)
			require.Len(t, l, 1)
			assert.Equal(t, inc("e1"), l[0])
		}},
		{"resolved by key once", func(t *testing.T, st *Incidents) {
			require.True(t, must(st.Open(ctx, inc("e1"), 5)))
			assert.True(t, must(st.Resolve(ctx, "dlq_stuck_replay", "e1", 5)))
			assert.False(t, must(st.Resolve(ctx, "dlq_stuck_replay", "e1", 5)))
			l, err := st.List(ctx, "dlq_stuck_replay")
			require.NoError(t, err)
			assert.Empty(t, l)
		}},
		{"a stale token is refused", func(t *testing.T, st *Incidents) {
			require.True(t, must(st.Open(ctx, inc("e1"), 9)))
			_, err := st.Open(ctx, inc("e2"), 8)
			assert.ErrorIs(t, err, lock.ErrStaleToken)
			_, err = st.Resolve(ctx, "dlq_stuck_replay", "e1", 8)
			assert.ErrorIs(t, err, lock.ErrStaleToken)
			assert.True(t, must(st.Resolve(ctx, "dlq_stuck_replay", "e1", 10)), "a newer token passes")
		}},
		{"token 0 is unfenced", func(t *testing.T, st *Incidents) {
			require.True(t, must(st.Open(ctx, inc(""), 9)))
			assert.True(t, must(st.Resolve(ctx, "dlq_stuck_replay", "", 0)), "an operator's brake release")
		}},
		{"checks index", func(t *testing.T, st *Incidents) {
			require.True(t, must(st.Open(ctx, inc("e1"), 1)))
			b := inc("x")
			b.Check = "leaked_permits@pod-a"
			require.True(t, must(st.Open(ctx, b, 0)))
			names, err := st.Checks(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"dlq_stuck_replay", "leaked_permits@pod-a"}, names)
			require.True(t, must(st.Resolve(ctx, "dlq_stuck_replay", "e1", 1)))
			names, err = st.Checks(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"leaked_permits@pod-a"}, names)
		}},
		{"a foreign record is malformed", func(t *testing.T, st *Incidents) {
			s.Do(t, "HSET", st.Key("dlq_stuck_replay"), "e1", "not json")
			_, err := st.List(ctx, "dlq_stuck_replay")
			assert.ErrorIs(t, err, ErrMalformed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newIncidents(t, s.Client(t, nil), prefix(t)))
		})
	}
}

// wdWorld is a stuck subject a test check watches, with the actions
// applied to it.
type wdWorld struct {
	mu      sync.Mutex
	stuck   bool
	applied []uint64 // tokens of the actions applied
}

// wdCheck converges a fenced resource (lock.Guarded) to a value, and pages
// while it differs. hook runs once inside Observe.
type wdCheck struct {
	w    *wdWorld
	res  *lock.Guarded[string]
	want string
	hook func()
}

func (c *wdCheck) Name() string { return "converge" }

func (c *wdCheck) Observe(context.Context, time.Time) ([]watchdog.Observation, error) {
	if h := c.hook; h != nil {
		c.hook = nil
		h()
	}
	c.w.mu.Lock()
	stuck := c.w.stuck
	c.w.mu.Unlock()
	if !stuck {
		return nil, nil
	}
	return []watchdog.Observation{{Subject: "resource", Action: "set", Page: true, Priority: notify.PriorityHigh,
		Apply: func(_ context.Context, token uint64) error {
			return c.res.Write(token, func(v *string) {
				*v = c.want
				c.w.mu.Lock()
				c.w.applied = append(c.w.applied, token)
				c.w.mu.Unlock()
			})
		}}}, nil
}

type wdPager struct {
	mu              sync.Mutex
	pages, resolves int
}

func (p *wdPager) Notify(context.Context, notify.Notification) (notify.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages++
	return notify.Result{Delivered: true}, nil
}

func (p *wdPager) Resolve(context.Context, notify.Notification) (notify.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resolves++
	return notify.Result{Delivered: true}, nil
}

func (p *wdPager) counts() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pages, p.resolves
}

// wdReplica is one watchdog of a fleet: its own client and backend on the
// shared server, a Redis lock and incident store under the test's prefix.
func wdReplica(t *testing.T, s interface {
	Client(testing.TB, func(*redis.Options)) *redis.Client
}, pfx, session string, clk *clock.Fake, c watchdog.Check, p notify.Manager) *watchdog.Runner {
	t.Helper()
	client := s.Client(t, nil)
	lk := newLock(t, client, LockConfig{Prefix: pfx, Clock: clk})
	st := newIncidents(t, client, pfx)
	r, err := watchdog.New(watchdog.Config{Checks: []watchdog.Check{c}, Lock: lk, Incidents: st, Notifier: p,
		Session: session, Clock: clk, Jitter: -1, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return r
}

func findingKinds(rep watchdog.Report) []string {
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Kind)
	}
	return out
}

// TestWatchdogFleetOnlyLeaderActs: two watchdogs on one real Redis: only
// the holder of watchdog:converge acts and pages; the other stands by;
// when the leader stops, the other takes over without paging again, and
// resolves once.
func TestWatchdogFleetOnlyLeaderActs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	pfx := prefix(t)
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	w := &wdWorld{stuck: true}
	var res lock.Guarded[string]
	pa, pb := &wdPager{}, &wdPager{}
	a := wdReplica(t, s, pfx, "pod-a", clk, &wdCheck{w: w, res: &res, want: "a"}, pa)
	b := wdReplica(t, s, pfx, "pod-b", clk, &wdCheck{w: w, res: &res, want: "b"}, pb)

	rep, err := a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{watchdog.KindActed, watchdog.KindPaged}, findingKinds(rep))
	for range 5 {
		rep, err = b.Tick(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{watchdog.KindStandby}, findingKinds(rep))
		clk.Advance(10 * time.Second)
	}
	assert.Equal(t, watchdog.RoleLeader, a.Status().Checks[0].Role)
	assert.Equal(t, watchdog.RoleStandby, b.Status().Checks[0].Role)
	v, _ := res.Load()
	assert.Equal(t, "a", v)
	w.mu.Lock()
	assert.Len(t, w.applied, 1, "only the leader acted")
	w.mu.Unlock()

	require.NoError(t, a.Start(ctx))
	require.Eventually(t, func() bool { return a.Status().Passes >= 2 }, 5*time.Second, time.Millisecond)
	require.NoError(t, a.Stop(ctx), "stopping gives the lock up")
	clk.Advance(2 * time.Minute) // past the backoff of the subject
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{watchdog.KindActed}, findingKinds(rep), "the new leader acts and does not page again")
	assert.Equal(t, watchdog.RoleLeader, b.Status().Checks[0].Role)
	w.mu.Lock()
	w.stuck = false
	w.mu.Unlock()
	rep, err = b.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{watchdog.KindResolved}, findingKinds(rep))
	pages, resolves := pa.counts()
	assert.Equal(t, [2]int{1, 0}, [2]int{pages, resolves})
	pages, resolves = pb.counts()
	assert.Equal(t, [2]int{0, 1}, [2]int{pages, resolves}, "paged once by the fleet, resolved once")
}

// TestWatchdogFleetStaleLeaderFenced: a leader whose lease lapses between
// taking it and acting acts after the new leader did: the fenced resource
// refuses the stale token, and the stale leader stands down.
func TestWatchdogFleetStaleLeaderFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	pfx := prefix(t)
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	w := &wdWorld{stuck: true}
	var res lock.Guarded[string]
	pb := &wdPager{}
	cb := &wdCheck{w: w, res: &res, want: "b"}
	b := wdReplica(t, s, pfx, "pod-b", clk, cb, pb)
	var bRep watchdog.Report
	var bErr error
	ca := &wdCheck{w: w, res: &res, want: "a", hook: func() {
		// a's lease lapses (a pause outlasted it: its key is gone), and b
		// takes the check over and acts.
		s.Do(t, "DEL", pfx+"{lock:watchdog:converge}")
		bRep, bErr = b.Tick(ctx)
	}}
	a := wdReplica(t, s, pfx, "pod-a", clk, ca, &wdPager{})
	rep, err := a.Tick(ctx)
	require.NoError(t, err)
	require.NoError(t, bErr)
	assert.Equal(t, []string{watchdog.KindActed, watchdog.KindPaged}, findingKinds(bRep))
	assert.Equal(t, []string{watchdog.KindFenced}, findingKinds(rep), "the stale leader's action is fenced off")
	v, highest := res.Load()
	assert.Equal(t, "b", v)
	assert.Equal(t, b.Status().Checks[0].Token, highest)
	assert.Greater(t, b.Status().Checks[0].Token, uint64(0))
	assert.Equal(t, watchdog.RoleStandby, a.Status().Checks[0].Role)
	w.mu.Lock()
	assert.Equal(t, []uint64{highest}, w.applied, "only the new leader's write landed")
	w.mu.Unlock()
	rep, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{watchdog.KindStandby}, findingKinds(rep))
}

// TestWatchdogFleetRedisDown: with Redis gone, the watchdog neither acts
// (its lock is unreachable: role unknown) nor pages, reports why, and the
// pass still ends; once Redis is back it leads and pages once.
func TestWatchdogFleetRedisDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := redistest.Start(t, redistest.Options{})
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	w := &wdWorld{stuck: true}
	var res lock.Guarded[string]
	p := &wdPager{}
	r := wdReplica(t, s, prefix(t), "pod-a", clk, &wdCheck{w: w, res: &res, want: "a"}, p)
	s.Kill(t)
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{watchdog.KindLockError, watchdog.KindStandby}, findingKinds(rep), "the lock's error, then the finding held back")
	assert.Equal(t, watchdog.RoleUnknown, r.Status().Checks[0].Role)
	assert.NotEmpty(t, r.Status().LastError)
	pages, _ := p.counts()
	assert.Zero(t, pages)
	w.mu.Lock()
	assert.Empty(t, w.applied, "no action without the lock")
	w.mu.Unlock()

	s.Restart(t)
	require.Eventually(t, func() bool {
		clk.Advance(2 * time.Second) // lets the breaker on Redis half-open
		rep, err := r.Tick(ctx)
		return err == nil && r.Status().Checks[0].Role == watchdog.RoleLeader && len(rep.Findings) > 0
	}, 10*time.Second, 10*time.Millisecond)
	pages, _ = p.counts()
	assert.Equal(t, 1, pages)
}

// FuzzIncidentRecord: a stored record that is not ours is an error, never
// a panic, and one that decodes names its key.
func FuzzIncidentRecord(f *testing.F) {
	f.Add("c", "s", `{"check":"c","subject":"s","title":"t","priority":3,"opened_at":"2026-01-02T03:04:05Z"}`)
	f.Add("c", "", `{"check":"c","subject":"","priority":9}`)
	f.Add("c", "s", `not json`)
	f.Add("c", "s", `{"check":"c","subject":"other"}`)
	f.Fuzz(func(t *testing.T, check, subject, rec string) {
		inc, err := decodeIncident(check, subject, rec)
		if err == nil {
			require.Equal(t, check, inc.Check)
			require.Equal(t, subject, inc.Subject)
			require.True(t, inc.Priority.Valid())
		}
	})
}

// FuzzIncidentReply: the scripts' replies are read without panicking; a
// negative code is a stale token, and nothing else is.
func FuzzIncidentReply(f *testing.F) {
	f.Add(int64(1), int64(0), 2, true)
	f.Add(int64(-1), int64(99), 2, true)
	f.Add(int64(0), int64(0), 3, false)
	f.Fuzz(func(t *testing.T, code, h int64, size int, ints bool) {
		var v any = code
		if size >= 0 && size < 5 {
			a := make([]any, size)
			for i := range a {
				if ints {
					a[i] = []int64{code, h}[i%2]
				} else {
					a[i] = strconv.FormatInt(code, 10)
				}
			}
			v = a
		}
		s := &Incidents{prefix: "p:"}
		n, err := s.fenced(v, "c", 5)
		if errors.Is(err, lock.ErrStaleToken) {
			require.Negative(t, code)
		}
		if err == nil {
			require.GreaterOrEqual(t, n, int64(0))
		}
	})
}
