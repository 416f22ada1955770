package governance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (r *alertRecorder) last(kind AlertKind) (Alert, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.alerts) - 1; i >= 0; i-- {
		if r.alerts[i].Kind == kind {
			return r.alerts[i], true
		}
	}
	return Alert{}, false
}

func TestStaleIfErrorDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   time.Duration
		want time.Duration
	}{
		{"zero is 5m", 0, DefaultStaleIfError},
		{"negative is off", -time.Second, 0},
		{"given", 2 * time.Second, 2 * time.Second},
		{"max", MaxStaleIfError, MaxStaleIfError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := validate(Config{StaleIfError: baldur.Duration(tc.in)})
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.staleFor)
		})
	}
}

// TestStaleIfErrorHoldsLastGoodState: a part that cannot be read keeps its
// last good state for StaleIfError (alerting with StaleSince), then fails
// open with AlertStaleExpired; a readable store applies again.
func TestStaleIfErrorHoldsLastGoodState(t *testing.T) {
	t.Parallel()
	const window = 2 * time.Minute
	tests := []struct {
		name  string
		set   func(c *Checker)
		fail  func(s *flakyStore, on bool)
		kind  AlertKind
		held  func(t *testing.T, f *fixture) // asserts the state is in force
		clear func(t *testing.T, f *fixture) // asserts it is not
	}{
		{
			name: "kill switches",
			set: func(c *Checker) {
				require.NoError(t, c.Activate(bg, KillSwitch{Scope: ScopeService, Pattern: "shop", Reason: "r"}))
			},
			fail: func(s *flakyStore, on bool) { s.failKill.Store(on) },
			kind: AlertKillSwitchUnreadable,
			held: func(t *testing.T, f *fixture) {
				wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
			},
			clear: func(t *testing.T, f *fixture) { require.NoError(t, f.admit(t, f.call("GET /a", 0), baldur.Success)) },
		},
		{
			name: "emergency",
			set: func(c *Checker) {
				_, err := c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r"})
				require.NoError(t, err)
			},
			fail: func(s *flakyStore, on bool) { s.failEmergency.Store(on) },
			kind: AlertEmergencyUnreadable,
			held: func(t *testing.T, f *fixture) {
				blocking, lvl := f.c.EmergencyBlocking(bg, 0)
				assert.True(t, blocking)
				assert.Equal(t, baldur.Level3, lvl)
			},
			clear: func(t *testing.T, f *fixture) {
				blocking, lvl := f.c.EmergencyBlocking(bg, 0)
				assert.False(t, blocking)
				assert.Equal(t, baldur.LevelNormal, lvl)
			},
		},
		{
			name: "break glass",
			set: func(c *Checker) {
				require.NoError(t, c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}))
				require.NoError(t, c.BreakGlass(bg, true, "ana", "incident"))
			},
			fail: func(s *flakyStore, on bool) { s.failBreakGlass.Store(on) },
			kind: AlertBreakGlassUnreadable,
			held: func(t *testing.T, f *fixture) { require.NoError(t, f.admit(t, f.call("GET /a", 0), baldur.Success)) },
			clear: func(t *testing.T, f *fixture) {
				wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{StaleIfError: baldur.Duration(window), AlertCooldown: baldur.Duration(time.Hour), BreakGlassDuration: -1})
			tc.set(f.c)
			readAt := f.clk.Now()
			tc.fail(f.store, true)
			f.c.InvalidateCache()
			tc.held(t, f)
			a, ok := f.alerts.last(tc.kind)
			require.True(t, ok, "no %s alert", tc.kind)
			assert.Equal(t, readAt, a.StaleSince)
			assert.ErrorIs(t, a.Err, errDown)

			// Held until the window ends, re-read every second.
			for f.clk.Now().Before(readAt.Add(window - time.Second)) {
				f.clk.Advance(time.Second)
				tc.held(t, f)
			}
			assert.Zero(t, f.alerts.count(AlertStaleExpired))
			f.clk.Advance(time.Second)
			tc.clear(t, f)
			assert.Equal(t, 1, f.alerts.count(AlertStaleExpired))
			f.clk.Advance(time.Second)
			tc.clear(t, f)
			assert.Equal(t, 1, f.alerts.count(AlertStaleExpired), "raised once per loss")

			tc.fail(f.store, false)
			f.clk.Advance(time.Second)
			tc.held(t, f)
		})
	}
}

// TestStaleIfErrorOneFailedReadKeepsKillSwitch is the TTL-boundary case: a
// single failed read when the snapshot expires no longer drops the switch.
func TestStaleIfErrorOneFailedReadKeepsKillSwitch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}))
	f.store.failKill.Store(true)
	f.clk.Advance(30 * time.Second) // CacheTTL: the next call rebuilds
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	assert.False(t, f.c.SystemEnabled(bg))
	f.store.failKill.Store(false)
	f.clk.Advance(time.Second)
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
}

func TestStaleIfErrorKeepsExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r", ExpiresAt: t0.Add(time.Minute)}))
	_, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level3, Reason: "r", Duration: time.Minute})
	require.NoError(t, err)
	f.store.failKill.Store(true)
	f.store.failEmergency.Store(true)
	f.c.InvalidateCache()
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	f.clk.Advance(time.Minute)
	require.NoError(t, f.admit(t, f.call("GET /a", baldur.TierNonEssential), baldur.Success), "held state expires on time")
	blocking, lvl := f.c.EmergencyBlocking(bg, 0)
	assert.False(t, blocking)
	assert.Equal(t, baldur.LevelNormal, lvl)
}

// resetStore reports a data loss on every read while reset is set.
type resetStore struct {
	*MemoryStore
	reset atomic.Bool
}

var errLost = fmt.Errorf("redis epoch changed: %w", ErrStoreReset)

func (r *resetStore) KillSwitches(ctx context.Context) ([]KillSwitch, error) {
	if r.reset.Load() {
		return nil, errLost
	}
	return r.MemoryStore.KillSwitches(ctx)
}

func TestStaleIfErrorStoreReset(t *testing.T) {
	t.Parallel()
	st := &resetStore{MemoryStore: NewMemoryStore()}
	f := newFixture(t, Config{Store: st})
	require.NoError(t, f.c.Activate(bg, KillSwitch{Scope: ScopeAll, Reason: "r"}))
	st.reset.Store(true)
	f.c.InvalidateCache()
	wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
	a, ok := f.alerts.last(AlertStoreReset)
	require.True(t, ok)
	assert.ErrorIs(t, a.Err, ErrStoreReset)
	assert.Equal(t, t0, a.StaleSince)
	assert.Zero(t, f.alerts.count(AlertKillSwitchUnreadable))
}

// casStore is a MemoryStore with a compare-and-set UpdateEmergency; before
// the first attempt of each update it lets interfere change the state, as
// another replica would between the read and the write.
type casStore struct {
	*MemoryStore
	mu        sync.Mutex
	ver       int
	attempts  atomic.Int32
	interfere func(m *MemoryStore)
}

func (c *casStore) PutEmergency(ctx context.Context, st baldur.EmergencyState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ver++
	return c.MemoryStore.PutEmergency(ctx, st)
}

func (c *casStore) UpdateEmergency(ctx context.Context, fn func(baldur.EmergencyState) (baldur.EmergencyState, error)) (baldur.EmergencyState, error) {
	for {
		c.mu.Lock()
		cur, _ := c.MemoryStore.Emergency(ctx)
		ver := c.ver
		c.mu.Unlock()
		next, err := fn(cur)
		c.attempts.Add(1)
		if err != nil {
			return next, err
		}
		if i := c.interfere; i != nil {
			c.interfere = nil
			c.mu.Lock()
			i(c.MemoryStore)
			c.ver++
			c.mu.Unlock()
		}
		c.mu.Lock()
		if c.ver == ver {
			c.ver++
			c.MemoryStore.PutEmergency(ctx, next)
			c.mu.Unlock()
			return next, nil
		}
		c.mu.Unlock()
	}
}

func TestEmergencyUsesUpdater(t *testing.T) {
	t.Parallel()
	t.Run("trigger retries on the newer state", func(t *testing.T) {
		t.Parallel()
		st := &casStore{MemoryStore: NewMemoryStore()}
		f := newFixture(t, Config{Store: st})
		st.interfere = func(m *MemoryStore) {
			m.PutEmergency(bg, baldur.EmergencyState{Level: baldur.Level2, Reason: "other replica"})
		}
		got, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, "LEVEL_1 is below the LEVEL_2 another replica set")
		assert.Equal(t, baldur.Level2, got.Level)
		assert.EqualValues(t, 2, st.attempts.Load())
	})
	t.Run("step down from the newer state", func(t *testing.T) {
		t.Parallel()
		st := &casStore{MemoryStore: NewMemoryStore()}
		f := newFixture(t, Config{Store: st})
		_, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "r"})
		require.NoError(t, err)
		st.interfere = func(m *MemoryStore) {
			m.PutEmergency(bg, baldur.EmergencyState{Level: baldur.Level3, Reason: "other replica", From: baldur.Level1})
		}
		got, err := f.c.Emergency().StepDown(bg, "ana", "")
		require.NoError(t, err)
		assert.Equal(t, baldur.Level2, got.Level)
		assert.Equal(t, baldur.Level3, got.From)
		assert.Equal(t, baldur.Level2, f.c.Level())
	})
	t.Run("expiry keeps a newer trigger", func(t *testing.T) {
		t.Parallel()
		st := &casStore{MemoryStore: NewMemoryStore()}
		f := newFixture(t, Config{Store: st})
		_, err := f.c.Emergency().Trigger(bg, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "r", Duration: time.Minute})
		require.NoError(t, err)
		st.interfere = func(m *MemoryStore) {
			m.PutEmergency(bg, baldur.EmergencyState{Level: baldur.Level3, Reason: "other replica"})
		}
		// The snapshot expires the level exactly at its end; the expiry
		// write meets the other replica's LEVEL_3 and keeps it.
		f.clk.Advance(time.Minute)
		st2, err := f.c.Emergency().State(bg)
		require.NoError(t, err)
		assert.Equal(t, baldur.Level3, st2.Level)
		assert.Equal(t, "other replica", st2.Reason)
	})
}

// watchStore calls changed once per value sent on kick.
type watchStore struct {
	*MemoryStore
	kick chan struct{}
}

func (w *watchStore) Watch(ctx context.Context, changed func()) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.kick:
			changed()
		}
	}
}

func TestCheckerWatch(t *testing.T) {
	t.Parallel()
	t.Run("memory store returns at once", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{})
		require.NoError(t, f.c.Watch(bg))
	})
	t.Run("a change elsewhere applies on the watcher's call", func(t *testing.T) {
		t.Parallel()
		st := &watchStore{MemoryStore: NewMemoryStore(), kick: make(chan struct{})}
		f := newFixture(t, Config{Store: st})
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 1)
		go func() { done <- f.c.Watch(ctx) }()
		// Another process writes to the shared store.
		require.NoError(t, st.PutKillSwitch(bg, KillSwitch{Scope: ScopeAll, Reason: "elsewhere"}))
		require.NoError(t, f.admit(t, f.call("GET /a", 0), baldur.Success), "cached until told")
		st.kick <- struct{}{}
		st.kick <- struct{}{} // the first has been handled once this is taken
		wantReason(t, f.admit(t, f.call("GET /a", 0), baldur.Success), baldur.ReasonKillSwitch, 30*time.Second)
		cancel()
		assert.True(t, errors.Is(<-done, context.Canceled))
	})
}
