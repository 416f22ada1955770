package redisstore

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGovernanceRestart: SIGKILL and restart. Without AOF the epoch is
// gone: the reads fail with a *ResetError, the Checker raises
// AlertStoreReset and keeps the kill switch and the level; a write through
// another replica adopts the new state there; AcknowledgeReset (or the end
// of the hold) adopts it here. With AOF the state and versions survive.
func TestGovernanceRestart(t *testing.T) {
	redistest.NoLeaks(t)
	for _, tc := range []struct {
		name string
		aof  bool
	}{{"without AOF", false}, {"with AOF", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := redistest.Start(t, redistest.Options{AOF: tc.aof})
			clk := clock.NewFake(time.Now())
			const hold = time.Minute
			gcfg := GovernanceConfig{Clock: clk, ResetHold: hold}
			ccfg := governance.Config{Clock: clk, StaleIfError: baldur.Duration(hold)}
			a := newReplica(t, s.Client(t, nil), gcfg, ccfg, false)
			require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "r"}))
			_, err := a.checker.Emergency().Trigger(bgctx, baldur.EmergencyTrigger{Level: baldur.Level2, Reason: "r"})
			require.NoError(t, err)
			before := a.store.Stats().Version

			s.Kill(t)
			s.Restart(t)
			// The first calls may meet the dead connections (and open the
			// breaker for a second of real time): rebuild until a read
			// reaches the restarted server.
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				a.checker.InvalidateCache()
				if _, err := a.store.Emergency(bgctx); err == nil || errors.As(err, new(*ResetError)) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			a.checker.InvalidateCache()
			assert.True(t, a.rejects("GET /a"), "the kill switch holds")
			blocking, lvl := a.checker.EmergencyBlocking(bgctx, 0)
			assert.True(t, blocking)
			assert.Equal(t, baldur.Level2, lvl)

			if tc.aof {
				_, found := a.alerts.find(governance.AlertStoreReset)
				assert.False(t, found)
				assert.Zero(t, a.store.Stats().Resets)
				require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeService, Pattern: "x", Reason: "r"}))
				assert.Greater(t, a.store.Stats().Version, before, "versions keep rising")
				return
			}
			al, found := a.alerts.find(governance.AlertStoreReset)
			require.True(t, found, "AlertStoreReset raised")
			var re *ResetError
			require.ErrorAs(t, al.Err, &re)
			assert.Empty(t, re.Found)
			assert.False(t, al.StaleSince.IsZero(), "the last good state is held")
			st := a.store.Stats()
			assert.EqualValues(t, 1, st.Resets)
			assert.False(t, st.ResetSince.IsZero())

			// Replica b re-applies one switch: its write adopts the state.
			b := newReplica(t, s.Client(t, nil), GovernanceConfig{Clock: clk}, governance.Config{Clock: clk}, false)
			require.NoError(t, b.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /b", Reason: "re-applied"}))
			assert.True(t, b.rejects("GET /b"))
			assert.False(t, b.rejects("GET /a"))
			// a still holds (new epoch, still not its own) until told.
			a.checker.InvalidateCache()
			assert.True(t, a.rejects("GET /a"))
			require.NoError(t, a.store.AcknowledgeReset(bgctx))
			a.checker.InvalidateCache()
			assert.False(t, a.rejects("GET /a"))
			assert.True(t, a.rejects("GET /b"))
			assert.Equal(t, baldur.LevelNormal, a.checker.Emergency().Level())
		})
	}
}

// TestGovernanceResetHoldEnds: without a write or an acknowledgement, the
// store reads what Redis holds once ResetHold has passed.
func TestGovernanceResetHoldEnds(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	name := govName(t)
	clk := clock.NewFake(time.Now())
	a := newReplica(t, s.Client(t, nil), GovernanceConfig{Name: name, Clock: clk, ResetHold: time.Minute},
		governance.Config{Clock: clk, StaleIfError: baldur.Duration(time.Minute)}, false)
	require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "r"}))
	keys, _ := a.store.Keys()
	s.Do(t, "DEL", keys[keyKS], keys[keyVer], keys[keyEpoch]) // what a FLUSHALL leaves
	a.checker.InvalidateCache()
	assert.True(t, a.rejects("GET /a"))
	clk.Advance(59 * time.Second)
	a.checker.InvalidateCache()
	assert.True(t, a.rejects("GET /a"))
	clk.Advance(time.Second)
	a.checker.InvalidateCache()
	assert.False(t, a.rejects("GET /a"), "hold over: the empty store is read")
	_, found := a.alerts.find(governance.AlertStaleExpired)
	assert.False(t, found, "the store's hold ended with the checker's window: its content was read")
	// The next write creates an epoch; this process adopted "none", so it
	// adopts the new one without a second reset.
	require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "again"}))
	assert.True(t, a.rejects("GET /a"))
	assert.EqualValues(t, 1, a.store.Stats().Resets)
}

// TestGovernancePausedServer: SIGSTOP for 2 s. The per-call gate reads only
// the snapshot: its latency does not move; the watcher's poll times out in
// the background; after SIGCONT changes propagate again.
func TestGovernancePausedServer(t *testing.T) {
	redistest.NoLeaks(t)
	s := redistest.Start(t, redistest.Options{})
	a := newReplica(t, s.Client(t, nil), GovernanceConfig{}, governance.Config{}, true)
	b := newReplica(t, s.Client(t, nil), GovernanceConfig{}, governance.Config{}, true)
	require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /x*", Reason: "r"}))
	require.GreaterOrEqual(t, waitFor(time.Second, func() bool { return b.rejects("GET /x") }), time.Duration(0))

	s.Pause(t)
	paused := time.Now()
	var lat []time.Duration
	for time.Since(paused) < 2*time.Second {
		start := time.Now()
		rejected := b.rejects("GET /x")
		admitted := !b.rejects("GET /y")
		lat = append(lat, time.Since(start)/2)
		require.True(t, rejected && admitted)
		if len(lat)%1000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	s.Resume(t)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	t.Logf("during a 2 s SIGSTOP: %d admits, p50 %v, p99 %v, max %v; replica b: %+v", len(lat), p50, p99, worst, b.store.Stats())
	assert.Less(t, p99, 100*time.Microsecond)
	// A call that waited for the stopped server would take its whole
	// control deadline (250 ms); scheduling on a shared machine costs a
	// few ms at worst.
	assert.Less(t, worst, DefaultControlTimeout, "no call waited for Redis")

	// After SIGCONT (and the breaker's probe) changes propagate again.
	d := waitFor(3*time.Second, func() bool {
		_, err := a.checker.Deactivate(bgctx, governance.ScopeOperation, "GET /x*")
		return err == nil
	})
	require.GreaterOrEqual(t, d, time.Duration(0))
	assert.GreaterOrEqual(t, waitFor(2*time.Second, func() bool { return !b.rejects("GET /x") }), time.Duration(0))
}

// TestGovernanceMalformedData: values under our keys that we did not write
// give typed errors or the documented fallback, never a panic, and the
// Checker keeps working.
func TestGovernanceMalformedData(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	tests := []struct {
		name  string
		setup func(tag string)
		check func(t *testing.T, g *Governance, r *replica)
	}{
		{"kill switches not a hash", func(tag string) { s.Do(t, "SET", tag+"ks", "x") }, func(t *testing.T, g *Governance, r *replica) {
			_, err := g.KillSwitches(bgctx)
			assert.ErrorIs(t, err, ErrMalformed)
			err = g.PutKillSwitch(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "r"})
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Equal(t, "x", s.Do(t, "GET", g.keys[keyKS]), "nothing overwritten")
		}},
		{"kill switch record not JSON", func(tag string) { s.Do(t, "HSET", tag+"ks", "service\x1fpay", "{oops") }, func(t *testing.T, g *Governance, r *replica) {
			list, err := g.KillSwitches(bgctx)
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, governance.ScopeService, list[0].Scope)
			assert.Contains(t, list[0].Reason, "unreadable record")
			p, err := r.checker.Gate().Admit(bgctx, baldur.Call{Service: "pay", Operation: "GET /"})
			assert.Error(t, err, "the switch under a readable field applies")
			_ = p
			ok, err := r.checker.Deactivate(bgctx, governance.ScopeService, "pay")
			require.NoError(t, err)
			assert.True(t, ok)
		}},
		{"kill switch field unparsable", func(tag string) { s.Do(t, "HSET", tag+"ks", "nonsense", `{"v":1,"reason":"r"}`) }, func(t *testing.T, g *Governance, r *replica) {
			assert.False(t, r.rejects("GET /a"))
			_, found := r.alerts.find(governance.AlertKillSwitchMalformed)
			assert.True(t, found)
		}},
		{"emergency not JSON", func(tag string) { s.Do(t, "SET", tag+"em", "LEVEL_9") }, func(t *testing.T, g *Governance, r *replica) {
			_, err := g.Emergency(bgctx)
			assert.ErrorIs(t, err, ErrMalformed)
			_, found := r.alerts.find(governance.AlertEmergencyUnreadable)
			assert.True(t, found)
			st, err := r.checker.Emergency().Trigger(bgctx, baldur.EmergencyTrigger{Level: baldur.Level1, Reason: "repair"})
			require.NoError(t, err, "an operator's write replaces it")
			assert.Equal(t, baldur.Level1, st.Level)
		}},
		{"emergency level out of range", func(tag string) { s.Do(t, "SET", tag+"em", `{"v":1,"level":9}`) }, func(t *testing.T, g *Governance, r *replica) {
			_, err := g.Emergency(bgctx)
			assert.ErrorIs(t, err, ErrMalformed)
		}},
		{"break glass wrong type", func(tag string) { s.Do(t, "LPUSH", tag+"bg", "x") }, func(t *testing.T, g *Governance, r *replica) {
			_, err := g.BreakGlass(bgctx)
			assert.ErrorIs(t, err, ErrMalformed)
		}},
		{"version not a number", func(tag string) { s.Do(t, "SET", tag+"ver", "abc") }, func(t *testing.T, g *Governance, r *replica) {
			_, err := g.Emergency(bgctx)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.ErrorIs(t, g.PutBreakGlass(bgctx, governance.BreakGlass{}), ErrMalformed)
			assert.Equal(t, "abc", s.Do(t, "GET", g.keys[keyVer]))
		}},
		{"epoch wrong type", func(tag string) { s.Do(t, "DEL", tag+"epoch"); s.Do(t, "SADD", tag+"epoch", "x") }, func(t *testing.T, g *Governance, r *replica) {
			_, err := g.KillSwitches(bgctx)
			assert.ErrorIs(t, err, ErrMalformed)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := govName(t)
			r := newReplica(t, s.Client(t, nil), GovernanceConfig{Name: name}, governance.Config{}, false)
			tc.setup("bd:{gov:" + name + "}:")
			assert.NotPanics(t, func() {
				r.checker.InvalidateCache()
				tc.check(t, r.store, r)
			})
			assert.Positive(t, r.store.Stats().Malformed+uint64(len(r.alerts.a)))
		})
	}
}

// TestGovernanceOutOfMemory: with maxmemory reached, writes fail with
// ErrOutOfMemory and write nothing; reads keep working.
func TestGovernanceOutOfMemory(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{})
	c := s.Client(t, nil)
	g := newGov(t, c, GovernanceConfig{})
	require.NoError(t, g.PutKillSwitch(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "before"}))
	s.Do(t, "CONFIG", "SET", "maxmemory", "1") // far below what the server uses
	defer s.Do(t, "CONFIG", "SET", "maxmemory", "0")
	ver := s.Do(t, "GET", g.keys[keyVer])
	err := g.PutKillSwitch(bgctx, governance.KillSwitch{Scope: governance.ScopeService, Pattern: "p", Reason: "after"})
	require.ErrorIs(t, err, ErrOutOfMemory)
	t.Logf("write at maxmemory: %v", err)
	assert.Equal(t, ver, s.Do(t, "GET", g.keys[keyVer]), "no version raised")
	list, err := g.KillSwitches(bgctx)
	require.NoError(t, err, "reads work at maxmemory")
	require.Len(t, list, 1)
	assert.Equal(t, "before", list[0].Reason)
	_, err = g.UpdateEmergency(bgctx, func(baldur.EmergencyState) (baldur.EmergencyState, error) {
		return baldur.EmergencyState{Level: baldur.Level1}, nil
	})
	assert.ErrorIs(t, err, ErrOutOfMemory)
}

// TestGovernanceUnavailable: a blackholed Redis makes reads fail within
// the control deadline as ErrUnavailable, then the breaker answers.
func TestGovernanceUnavailable(t *testing.T) {
	redistest.NoLeaks(t)
	s := redistest.Start(t, redistest.Options{})
	p := redistest.NewProxy(t, "unix", s.Socket())
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, PoolSize: 4})
	t.Cleanup(func() { c.Close() })
	g := newGov(t, c, GovernanceConfig{})
	p.Blackhole()
	defer p.Heal()
	for range 5 {
		start := time.Now()
		_, err := g.KillSwitches(bgctx)
		require.ErrorIs(t, err, ErrUnavailable)
		assert.Less(t, time.Since(start), 400*time.Millisecond)
	}
	assert.Equal(t, "open", g.Stats().Guard.State.String())
}
