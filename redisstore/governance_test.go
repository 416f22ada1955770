package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var bgctx = context.Background()

// govName is a governance name unique to this run of t.
func govName(t *testing.T) string {
	return strings.NewReplacer("{", "(", "}", ")").Replace(prefix(t))
}

func newGov(t *testing.T, c redis.UniversalClient, cfg GovernanceConfig) *Governance {
	t.Helper()
	b := newBackend(t, c, Config{Logger: discard(), Scripts: GovernanceScripts})
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	g, err := NewGovernance(bgctx, b, cfg)
	require.NoError(t, err)
	return g
}

// alerts records a Checker's alerts.
type alerts struct {
	mu sync.Mutex
	a  []governance.Alert
}

func (r *alerts) Alert(_ context.Context, a governance.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.a = append(r.a, a)
}

func (r *alerts) find(kind governance.AlertKind) (governance.Alert, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.a {
		if a.Kind == kind {
			return a, true
		}
	}
	return governance.Alert{}, false
}

// replica is one process of the fleet: its own client, store and Checker.
type replica struct {
	store   *Governance
	checker *governance.Checker
	alerts  *alerts
}

func newReplica(t *testing.T, c redis.UniversalClient, gcfg GovernanceConfig, ccfg governance.Config, watch bool) *replica {
	t.Helper()
	r := &replica{store: newGov(t, c, gcfg), alerts: &alerts{}}
	ccfg.Store = r.store
	ccfg.Alerts = r.alerts
	ccfg.Audit = &governance.MemoryAudit{}
	ch, err := governance.New(ccfg)
	require.NoError(t, err)
	r.checker = ch
	if watch {
		ctx, cancel := context.WithCancel(bgctx)
		done := make(chan error, 1)
		go func() { done <- ch.Watch(ctx) }()
		t.Cleanup(func() {
			cancel()
			assert.ErrorIs(t, <-done, context.Canceled)
		})
		// Subscribed, and the reload the subscription asks for is done.
		require.GreaterOrEqual(t, waitFor(2*time.Second, func() bool { return r.store.Stats().Resubscribes >= 1 }), time.Duration(0))
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// rejects reports whether the replica's gate rejects call op now.
func (r *replica) rejects(op string) bool {
	p, err := r.checker.Gate().Admit(bgctx, baldur.Call{Operation: op, Service: "shop"})
	if err == nil {
		p.Release(baldur.Outcome{Result: baldur.Success})
		return false
	}
	return true
}

// waitFor polls cond every 500 µs until it holds or limit passes and
// returns how long it took (or -1).
func waitFor(limit time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			return -1
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func TestGovernanceConfigErrors(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	for _, tc := range []struct {
		name  string
		cfg   GovernanceConfig
		field string
	}{
		{"hash tag in name", GovernanceConfig{Name: "a}b"}, "Name"},
		{"poll too fast", GovernanceConfig{PollInterval: time.Millisecond}, "PollInterval"},
		{"negative hold", GovernanceConfig{ResetHold: -time.Second}, "ResetHold"},
		{"negative retries", GovernanceConfig{ConflictRetries: -1}, "ConflictRetries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGovernance(bgctx, b, tc.cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
	_, err := NewGovernance(bgctx, nil, GovernanceConfig{})
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
}

// TestGovernanceEvictingServerRefused: a kill switch must not be evicted.
func TestGovernanceEvictingServerRefused(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Options{Policy: "allkeys-lru"})
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	_, err := NewGovernance(bgctx, b, GovernanceConfig{Logger: discard()})
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Field, "maxmemory-policy")
}

// TestGovernanceVersionedWrites: each write that changes the state raises
// the version by one and publishes it; a read sees what was written; the
// state costs a few hundred bytes (MEMORY USAGE).
func TestGovernanceVersionedWrites(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	name := govName(t)
	g := newGov(t, s.Client(t, nil), GovernanceConfig{Name: name})
	sub := s.Client(t, nil).Subscribe(bgctx, "bd:{gov:"+name+"}:chg")
	defer sub.Close()
	_, err := sub.Receive(bgctx) // the subscription confirmation
	require.NoError(t, err)

	ver := func() string { v, _ := s.Do(t, "GET", "bd:{gov:"+name+"}:ver").(string); return v }
	published := func() string {
		ctx, cancel := context.WithTimeout(bgctx, time.Second)
		defer cancel()
		m, err := sub.ReceiveMessage(ctx)
		require.NoError(t, err)
		return m.Payload
	}
	exp := time.Date(2031, 1, 1, 0, 0, 0, 5, time.UTC)
	steps := []struct {
		name  string
		write func() error
	}{
		{"put switch", func() error {
			return g.PutKillSwitch(bgctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /a*", Reason: "r", Actor: "ana", ExpiresAt: exp})
		}},
		{"put all", func() error {
			return g.PutKillSwitch(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "all"})
		}},
		{"delete all", func() error { _, err := g.DeleteKillSwitch(bgctx, governance.ScopeAll, ""); return err }},
		{"emergency", func() error {
			return g.PutEmergency(bgctx, baldur.EmergencyState{Level: baldur.Level3, Reason: "r", From: baldur.Level1, ExpiresAt: exp})
		}},
		{"break glass", func() error {
			return g.PutBreakGlass(bgctx, governance.BreakGlass{On: true, Reason: "r", Actor: "bo", ExpiresAt: exp})
		}},
	}
	for i, st := range steps {
		require.NoError(t, st.write(), st.name)
		assert.Equal(t, fmt.Sprint(i+1), ver(), st.name)
		assert.Equal(t, fmt.Sprint(i+1), published(), st.name)
	}
	ok, err := g.DeleteKillSwitch(bgctx, governance.ScopeAll, "")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, "5", ver(), "a delete of nothing raises no version")

	list, err := g.KillSwitches(bgctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /a*", Reason: "r", Actor: "ana", ExpiresAt: exp}, list[0])
	em, err := g.Emergency(bgctx)
	require.NoError(t, err)
	assert.Equal(t, baldur.EmergencyState{Level: baldur.Level3, Reason: "r", From: baldur.Level1, ExpiresAt: exp}, em)
	bgs, err := g.BreakGlass(bgctx)
	require.NoError(t, err)
	assert.Equal(t, governance.BreakGlass{On: true, Reason: "r", Actor: "bo", ExpiresAt: exp}, bgs)
	assert.EqualValues(t, 5, g.Stats().Version)

	n, err := g.PurgeKillSwitches(bgctx, exp)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, "6", ver())

	keys, _ := g.Keys()
	total := int64(0)
	for _, k := range keys {
		if v, ok := s.Do(t, "MEMORY", "USAGE", k).(int64); ok {
			t.Logf("MEMORY USAGE %s: %d B", k, v)
			total += v
		}
	}
	require.NoError(t, g.PutKillSwitch(bgctx, governance.KillSwitch{Scope: governance.ScopeService, Pattern: "payments", Reason: "incident 42", Actor: "ana@example.com", Since: time.Now()}))
	ks := s.Do(t, "MEMORY", "USAGE", keys[keyKS]).(int64)
	t.Logf("MEMORY USAGE of the state: %d B; kill-switch hash with one switch: %d B", total, ks)
	assert.Less(t, total, int64(2048))
}

// TestGovernancePropagationPubSub: a kill switch thrown on one replica
// rejects on another within 50 ms (pub/sub, then one reload), and lifting
// it admits again within 50 ms.
func TestGovernancePropagationPubSub(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	name := govName(t)
	a := newReplica(t, s.Client(t, nil), GovernanceConfig{Name: name}, governance.Config{}, true)
	b := newReplica(t, s.Client(t, nil), GovernanceConfig{Name: name}, governance.Config{}, true)
	require.False(t, b.rejects("GET /a"))
	var worst time.Duration
	for i := range 5 {
		require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: "GET /*", Reason: "r"}))
		d := waitFor(time.Second, func() bool { return b.rejects("GET /a") })
		require.GreaterOrEqual(t, d, time.Duration(0), "round %d: never seen", i)
		worst = max(worst, d)
		_, err := a.checker.Deactivate(bgctx, governance.ScopeOperation, "GET /*")
		require.NoError(t, err)
		d = waitFor(time.Second, func() bool { return !b.rejects("GET /a") })
		require.GreaterOrEqual(t, d, time.Duration(0))
		worst = max(worst, d)
	}
	st := b.store.Stats()
	t.Logf("pub/sub propagation: worst %v over 10 changes; replica b: %+v", worst, st)
	assert.LessOrEqual(t, worst, 50*time.Millisecond)
	assert.GreaterOrEqual(t, st.PubSubInvalidations, uint64(5), "most changes arrive by pub/sub (a reload may already have read the next)")
}

// TestGovernancePropagationPubSubKilled: with the subscribers' connections
// killed (CLIENT KILL TYPE pubsub) just before each write, the change still
// reaches the other replica within 1.1 s (the version poll, or the
// resubscription).
func TestGovernancePropagationPubSubKilled(t *testing.T) {
	redistest.NoLeaks(t)
	s := redistest.Start(t, redistest.Options{})
	a := newReplica(t, s.Client(t, nil), GovernanceConfig{}, governance.Config{}, true)
	b := newReplica(t, s.Client(t, nil), GovernanceConfig{}, governance.Config{}, true)
	var worst time.Duration
	for i := range 3 {
		s.Do(t, "CLIENT", "KILL", "TYPE", "pubsub")
		on := i%2 == 0
		if on {
			require.NoError(t, a.checker.Activate(bgctx, governance.KillSwitch{Scope: governance.ScopeAll, Reason: "r"}))
		} else {
			_, err := a.checker.Deactivate(bgctx, governance.ScopeAll, "")
			require.NoError(t, err)
		}
		d := waitFor(2*time.Second, func() bool { return b.rejects("GET /a") == on })
		require.GreaterOrEqual(t, d, time.Duration(0), "round %d: never seen", i)
		worst = max(worst, d)
	}
	st := b.store.Stats()
	t.Logf("propagation with pub/sub killed: worst %v; replica b: %+v", worst, st)
	assert.LessOrEqual(t, worst, 1100*time.Millisecond)
	assert.Greater(t, st.Resubscribes, uint64(1), "the subscriber reconnected")
}

// TestGovernancePollBoundsLostMessages: a change whose message never
// arrives (written straight into Redis, as a lost message would leave it)
// is seen by the version poll within PollInterval plus one reload.
func TestGovernancePollBoundsLostMessages(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	name := govName(t)
	b := newReplica(t, s.Client(t, nil), GovernanceConfig{Name: name}, governance.Config{}, true)
	require.False(t, b.rejects("GET /a"))
	tag := "bd:{gov:" + name + "}:"
	s.Do(t, "HSET", tag+"ks", "all\x1f", `{"v":1,"reason":"silent"}`)
	s.Do(t, "INCR", tag+"ver") // no PUBLISH: the message is lost
	d := waitFor(2*time.Second, func() bool { return b.rejects("GET /a") })
	st := b.store.Stats()
	t.Logf("seen by the poll after %v; %+v", d, st)
	require.GreaterOrEqual(t, d, time.Duration(0))
	assert.LessOrEqual(t, d, 1100*time.Millisecond)
	assert.GreaterOrEqual(t, st.PollInvalidations, uint64(1))
}

// opKey carries a test operation's id to the recording store.
type opKey struct{}

type casRecord struct {
	id    int
	down  bool
	level baldur.EmergencyLevel // trigger's level
	ver   int64                 // written at, or decided at on error
	st    baldur.EmergencyState
	err   error
}

// recordingGov records every UpdateEmergency with its version.
type recordingGov struct {
	*Governance
	mu   sync.Mutex
	recs []casRecord
}

func (r *recordingGov) UpdateEmergency(ctx context.Context, fn func(baldur.EmergencyState) (baldur.EmergencyState, error)) (baldur.EmergencyState, error) {
	st, ver, err := r.updateEmergency(ctx, fn)
	rec := ctx.Value(opKey{}).(casRecord)
	rec.ver, rec.st, rec.err = ver, st, err
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	return st, err
}

// TestGovernanceEmergencyCompareAndSet: 2 replicas × 100 concurrent
// Trigger/StepDown. Every successful write has its own version, the
// versions are consecutive, each result is the operation applied to the
// previous result, each refusal is right for the state at the version it
// read, and the stored state is the last result.
func TestGovernanceEmergencyCompareAndSet(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	name := govName(t)
	stores := make([]*recordingGov, 2)
	checkers := make([]*governance.Checker, 2)
	for i := range stores {
		stores[i] = &recordingGov{Governance: newGov(t, s.Client(t, func(o *redis.Options) { o.PoolSize = 16 }), GovernanceConfig{Name: name})}
		c, err := governance.New(governance.Config{Store: stores[i], Alerts: &alerts{}, Audit: &governance.MemoryAudit{}})
		require.NoError(t, err)
		checkers[i] = c
	}
	_, v0, err := stores[0].updateEmergency(bgctx, func(baldur.EmergencyState) (baldur.EmergencyState, error) {
		return baldur.EmergencyState{}, errors.New("read only")
	})
	require.Error(t, err)

	const perReplica = 100
	var wg sync.WaitGroup
	for r := range 2 {
		for i := range perReplica {
			id := r*perReplica + i
			rec := casRecord{id: id, down: id%3 == 0, level: baldur.EmergencyLevel(1 + id%3)}
			wg.Go(func() {
				ctx := context.WithValue(bgctx, opKey{}, rec)
				em := checkers[r].Emergency()
				if rec.down {
					em.StepDown(ctx, "op", fmt.Sprintf("down-%d", id))
				} else {
					em.Trigger(ctx, baldur.EmergencyTrigger{Level: rec.level, Reason: fmt.Sprintf("up-%d", id)})
				}
			})
		}
	}
	wg.Wait()

	var ok, refused []casRecord
	conflicts := 0
	for _, st := range stores {
		for _, rec := range st.recs {
			switch {
			case rec.err == nil:
				ok = append(ok, rec)
			case errors.Is(rec.err, ErrConflict):
				conflicts++
			default:
				refused = append(refused, rec)
			}
		}
	}
	require.Len(t, ok, 2*perReplica-len(refused)-conflicts)
	t.Logf("%d written, %d refused, %d gave up on conflicts; %d conflicts retried", len(ok), len(refused), conflicts,
		stores[0].Stats().Conflicts+stores[1].Stats().Conflicts)
	assert.Zero(t, conflicts)

	sort.Slice(ok, func(i, j int) bool { return ok[i].ver < ok[j].ver })
	history := map[int64]baldur.EmergencyState{v0: {}}
	prev := baldur.EmergencyState{}
	for i, rec := range ok {
		require.Equal(t, v0+int64(i)+1, rec.ver, "versions are consecutive, one per write")
		want := baldur.EmergencyState{Reason: fmt.Sprintf("up-%d", rec.id), From: prev.Level, Level: rec.level}
		if rec.down {
			require.Greater(t, prev.Level, baldur.LevelNormal, "op %d stepped down from NORMAL", rec.id)
			want = baldur.EmergencyState{Reason: fmt.Sprintf("down-%d", rec.id), Level: prev.Level - 1, From: prev.Level}
		} else {
			require.GreaterOrEqual(t, rec.level, prev.Level, "op %d lowered the level by Trigger", rec.id)
			if rec.level == prev.Level {
				want.From = prev.From
			}
		}
		got := rec.st
		assert.Equal(t, [3]any{want.Level, want.From, want.Reason}, [3]any{got.Level, got.From, got.Reason}, "op %d at version %d", rec.id, rec.ver)
		history[rec.ver] = got
		prev = got
	}
	for _, rec := range refused {
		at, ok := history[rec.ver]
		require.True(t, ok, "op %d refused at unknown version %d", rec.id, rec.ver)
		if rec.down {
			assert.ErrorIs(t, rec.err, governance.ErrAlreadyNormal)
			assert.Equal(t, baldur.LevelNormal, at.Level, "op %d", rec.id)
		} else {
			assert.Less(t, rec.level, at.Level, "op %d refused: %v", rec.id, rec.err)
		}
	}
	final, err := stores[0].Emergency(bgctx)
	require.NoError(t, err)
	assert.Equal(t, prev.Level, final.Level)
	assert.Equal(t, prev.Reason, final.Reason)
	assert.EqualValues(t, v0+int64(len(ok)), stores[1].Stats().Version)
}
