package redisstore

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newMembership builds a membership of id in a cluster named after t, on
// its own backend over c.
func newMembership(t *testing.T, c redis.UniversalClient, kp, id string, edit func(*MembershipConfig)) *Membership {
	t.Helper()
	b := newBackend(t, c, Config{Scripts: FleetScripts, Logger: discard()})
	cfg := MembershipConfig{ID: id, Cluster: "shop", Prefix: kp, Version: "v1.2.3", ConfigHash: "c0ffee", TTL: time.Minute, Logger: discard()}
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewMembership(b, cfg)
	require.NoError(t, err)
	return m
}

func ids(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// TestMembershipExpiry: three replicas heartbeat; one stops and drops out
// of Members once its TTL (server time) has passed; the next heartbeat of
// another purges its record and reports two replicas.
func TestMembershipExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	kp := prefix(t)
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var ms []*Membership
	for i, id := range []string{"pod-a", "pod-b", "pod-c"} {
		ttl := time.Minute
		if i == 2 {
			ttl = 200 * time.Millisecond
		}
		ms = append(ms, newMembership(t, s.Client(t, nil), kp, id, func(c *MembershipConfig) { c.TTL, c.Started = ttl, started }))
		require.NoError(t, ms[i].Heartbeat(ctx))
	}
	assert.Equal(t, 3, ms[2].Replicas())
	got, err := ms[0].Members(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"pod-c", "pod-a", "pod-b"}, ids(got), "ordered by expiry")
	a := got[1]
	assert.Equal(t, Member{ID: "pod-a", Cluster: "shop", Version: "v1.2.3", Started: started, ConfigHash: "c0ffee", Expires: a.Expires}, a)
	assert.WithinDuration(t, time.Now().Add(time.Minute), a.Expires, 5*time.Second)

	require.Eventually(t, func() bool {
		got, err = ms[0].Members(ctx)
		require.NoError(t, err)
		return len(got) == 2
	}, 5*time.Second, 20*time.Millisecond, "pod-c expires without a heartbeat")
	assert.Equal(t, []string{"pod-a", "pod-b"}, ids(got))
	require.NoError(t, ms[1].Heartbeat(ctx))
	assert.Equal(t, 2, ms[1].Replicas())
	assert.EqualValues(t, 2, s.Do(t, "HLEN", ms[0].keys[1]), "the expired member's record was purged")
	assert.Greater(t, s.Do(t, "PTTL", ms[0].keys[0]).(int64), int64(50_000), "the keys live as long as the last member")

	require.NoError(t, ms[0].Close(ctx))
	got, err = ms[1].Members(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"pod-b"}, ids(got), "Close leaves at once")
}

// TestMembershipKeysExpireWithTheFleet: when every member stops, both keys
// expire with the last one.
func TestMembershipKeysExpireWithTheFleet(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	m := newMembership(t, s.Client(t, nil), prefix(t), "pod-a", func(c *MembershipConfig) { c.TTL = 100 * time.Millisecond })
	require.NoError(t, m.Heartbeat(context.Background()))
	require.Eventually(t, func() bool {
		return s.Do(t, "EXISTS", m.keys[0], m.keys[1]).(int64) == 0
	}, 5*time.Second, 10*time.Millisecond)
}

// TestMembershipHeartbeatsOnItsClock: Start heartbeats at once and then
// every Interval of the injected clock; SetConfigHash reaches the next one.
func TestMembershipHeartbeatsOnItsClock(t *testing.T) {
	redistest.NoLeaks(t)
	ctx := context.Background()
	s := shared.Get(t)
	clk := clock.NewFake(time.Now())
	m := newMembership(t, s.Client(t, nil), prefix(t), "pod-a", func(c *MembershipConfig) { c.Clock = clk })
	require.NoError(t, m.Start(ctx))
	require.NoError(t, m.Start(ctx), "a second Start does nothing")
	assert.EqualValues(t, 1, m.Stats().Heartbeats)
	m.SetConfigHash("beef")
	for i := 2; i <= 4; i++ {
		waitTimers(t, clk, 1)
		clk.Advance(20 * time.Second)
		require.Eventually(t, func() bool { return m.Stats().Heartbeats == uint64(i) }, 5*time.Second, time.Millisecond)
	}
	got, err := m.Members(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "beef", got[0].ConfigHash)
	waitTimers(t, clk, 1)
	require.NoError(t, m.Close(ctx))
	assert.Zero(t, clk.Pending(), "Close stopped the heartbeats")
}

// TestMembershipReplicasWhileRedisIsDown: Replicas is MinReplicas before
// the first heartbeat, the live count after, and keeps the last count (its
// staleness growing) while heartbeats fail; it reads one atomic.
func TestMembershipReplicasWhileRedisIsDown(t *testing.T) {
	redistest.NoLeaks(t)
	ctx := context.Background()
	s := shared.Get(t)
	kp := prefix(t)
	p := redistest.NewProxy(t, "unix", s.Socket())
	clk := clock.NewFake(time.Now())
	other := newMembership(t, s.Client(t, nil), kp, "pod-b", nil)
	require.NoError(t, other.Heartbeat(ctx))
	m := newMembership(t, s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() }), kp, "pod-a",
		func(c *MembershipConfig) { c.Clock, c.MinReplicas = clk, 1 })
	assert.Equal(t, 1, m.Replicas(), "MinReplicas before the first heartbeat")
	assert.False(t, m.StoreStats().Synced)
	require.NoError(t, m.Heartbeat(ctx))
	assert.Equal(t, 2, m.Replicas())
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = m.Replicas() }), "Replicas allocates")

	p.Blackhole()
	clk.Advance(20 * time.Second)
	require.ErrorIs(t, m.Heartbeat(ctx), ErrUnavailable)
	assert.Equal(t, 2, m.Replicas(), "the last count is kept")
	st := m.StoreStats()
	assert.True(t, st.Synced)
	assert.Equal(t, 20*time.Second, st.Staleness)
	assert.EqualValues(t, 1, m.Stats().Failures)
	p.Heal()
}

func TestMembershipMinReplicas(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	m := newMembership(t, s.Client(t, nil), prefix(t), "pod-a", func(c *MembershipConfig) { c.MinReplicas = 4 })
	assert.Equal(t, 4, m.Replicas())
	require.NoError(t, m.Heartbeat(context.Background()))
	assert.Equal(t, 4, m.Replicas(), "alone, but the floor is 4")
}

// TestMembershipMalformedData: data under our keys that we did not write is
// an error matching ErrMalformed, never a panic; Members returns the
// members that parsed with it.
func TestMembershipMalformedData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	far := float64(time.Now().Add(time.Hour).UnixMilli())
	tests := []struct {
		name          string
		setup         func(m *Membership)
		heartbeatErr  bool
		membersErr    bool
		membersParsed int
	}{
		{"members key is a string", func(m *Membership) { s.Do(t, "SET", m.keys[0], "x") }, true, true, 0},
		{"records key is a list", func(m *Membership) { s.Do(t, "RPUSH", m.keys[1], "x") }, true, true, 0},
		{"a record is not JSON", func(m *Membership) {
			s.Do(t, "ZADD", m.keys[0], far, "pod-x")
			s.Do(t, "HSET", m.keys[1], "pod-x", "{not json")
		}, false, true, 1},
		{"a record names another member", func(m *Membership) {
			s.Do(t, "ZADD", m.keys[0], far, "pod-x")
			s.Do(t, "HSET", m.keys[1], "pod-x", `{"id":"pod-y","s":1}`)
		}, false, true, 1},
		{"a member has no record", func(m *Membership) { s.Do(t, "ZADD", m.keys[0], far, "pod-x") }, false, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMembership(t, s.Client(t, nil), prefix(t), "pod-a", nil)
			if !tt.heartbeatErr {
				require.NoError(t, m.Heartbeat(ctx))
			}
			tt.setup(m)
			err := m.Heartbeat(ctx)
			if tt.heartbeatErr {
				require.ErrorIs(t, err, ErrMalformed)
			} else {
				require.NoError(t, err)
			}
			got, err := m.Members(ctx)
			if tt.membersErr {
				require.ErrorIs(t, err, ErrMalformed)
			}
			assert.Len(t, got, tt.membersParsed)
		})
	}
}

// TestMembershipMemoryUsage logs MEMORY USAGE of a cluster's two keys with
// 10 members and checks the cost per member.
func TestMembershipMemoryUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	kp := prefix(t)
	var m *Membership
	for i := range 10 {
		m = newMembership(t, s.Client(t, nil), kp, "shop-7f9c5d-"+strings.Repeat(string(rune('a'+i)), 5), func(c *MembershipConfig) {
			c.ConfigHash = "sha256:9f86d081884c7d659a2feaa0c55ad015"
		})
		require.NoError(t, m.Heartbeat(ctx))
	}
	set := s.Do(t, "MEMORY", "USAGE", m.keys[0]).(int64)
	rec := s.Do(t, "MEMORY", "USAGE", m.keys[1]).(int64)
	t.Logf("MEMORY USAGE with 10 members: set %d B, records %d B, %d B per member", set, rec, (set+rec)/10)
	assert.LessOrEqual(t, (set+rec)/10, int64(300), "records over 64 bytes make the hash a hashtable")
}

// TestFleetAdminEndpoint: GET /fleet on the admin API lists the live
// replicas and the health of the backend's stores.
func TestFleetAdminEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	kp := prefix(t)
	a := newMembership(t, s.Client(t, nil), kp, "pod-a", nil)
	b := newMembership(t, s.Client(t, nil), kp, "pod-b", nil)
	require.NoError(t, a.Heartbeat(ctx))
	require.NoError(t, b.Heartbeat(ctx))
	const key = "viewer-key-0123456789"
	srv, err := admin.New(admin.Config{Registry: registry.New(), ViewerKey: key, Fleet: a.AdminFleet(), Logger: discard()})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/fleet", nil)
	r.Header.Set("X-Baldur-Admin-Key", key)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var v struct {
		Replicas int `json:"replicas"`
		Members  []struct {
			ID, Cluster, Version string
			ConfigHash           string `json:"config_hash"`
		} `json:"members"`
		Stores []admin.FleetStore `json:"stores"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	assert.Equal(t, 2, v.Replicas)
	require.Len(t, v.Members, 2)
	assert.Equal(t, "pod-a", v.Members[0].ID)
	assert.Equal(t, "shop", v.Members[0].Cluster)
	assert.Equal(t, "c0ffee", v.Members[0].ConfigHash)
	require.Len(t, v.Stores, 1)
	assert.Equal(t, "fleet", v.Stores[0].Name)
	assert.Equal(t, "closed", v.Stores[0].Breaker)
	assert.EqualValues(t, 2, v.Stores[0].Calls, "a heartbeat and the members read")
	require.NotNil(t, v.Stores[0].StalenessSeconds)
	t.Logf("GET /fleet: %s", w.Body.String())
}

// TestCollector: the collector exports every guard's counters and breaker
// state, and the membership's replicas and staleness.
func TestCollector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	clk := clock.NewFake(time.Now())
	m := newMembership(t, s.Client(t, nil), prefix(t), "pod-a", func(c *MembershipConfig) { c.Clock = clk })
	require.NoError(t, m.Heartbeat(ctx))
	clk.Advance(3 * time.Second)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(NewCollector(m.guard.b, m)))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP baldur_fleet_replicas Live replicas of the cluster at the last heartbeat (what a fleet throttle divides by).
# TYPE baldur_fleet_replicas gauge
baldur_fleet_replicas{cluster="shop"} 1
# HELP baldur_redis_breaker_state 1 for the state the breaker on Redis is in, by store.
# TYPE baldur_redis_breaker_state gauge
baldur_redis_breaker_state{state="closed",store="fleet"} 1
baldur_redis_breaker_state{state="forced_closed",store="fleet"} 0
baldur_redis_breaker_state{state="forced_open",store="fleet"} 0
baldur_redis_breaker_state{state="half_open",store="fleet"} 0
baldur_redis_breaker_state{state="open",store="fleet"} 0
# HELP baldur_redis_round_trips_total Requests sent to Redis (a call plus its NOSCRIPT recovery), by store.
# TYPE baldur_redis_round_trips_total counter
baldur_redis_round_trips_total{store="fleet"} 1
# HELP baldur_redis_staleness_seconds Age of the Redis state a store serves (since its last sync), by store; absent before the first.
# TYPE baldur_redis_staleness_seconds gauge
baldur_redis_staleness_seconds{store="fleet"} 3
# HELP baldur_redis_fallback_decisions_total Decisions a store's fail mode made instead of Redis, by store.
# TYPE baldur_redis_fallback_decisions_total counter
baldur_redis_fallback_decisions_total{store="fleet"} 0
`), "baldur_fleet_replicas", "baldur_redis_breaker_state", "baldur_redis_round_trips_total", "baldur_redis_staleness_seconds", "baldur_redis_fallback_decisions_total"))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Equal(t, 7+5+3, n, "7 guard counters, 5 breaker states, fallbacks, staleness, replicas")
	assert.Equal(t, blast.StateClosed, m.guard.Stats().State)
}

func TestNewMembershipConfig(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	for _, tt := range []struct {
		cfg   MembershipConfig
		field string
	}{
		{MembershipConfig{}, "ID"},
		{MembershipConfig{ID: "a", TTL: -1}, "TTL"},
		{MembershipConfig{ID: "a", TTL: time.Second, Interval: time.Second}, "Interval"},
		{MembershipConfig{ID: "a", MinReplicas: -1}, "MinReplicas"},
	} {
		_, err := NewMembership(b, tt.cfg)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tt.field, ce.Field)
	}
}

func FuzzParseMemberRecord(f *testing.F) {
	f.Add("pod-a", `{"id":"pod-a","v":"v1","s":1767322800000,"h":"c0ffee"}`)
	f.Add("pod-a", `{"id":"pod-b","s":1}`)
	f.Add("x", `{"id":"x","s":-1}`)
	f.Add("x", `[1,2]`)
	f.Add("x", ``)
	f.Fuzz(func(t *testing.T, id, s string) {
		r, err := parseMemberRecord(id, s)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.Equal(t, id, r.ID)
		require.GreaterOrEqual(t, r.Started, int64(0))
	})
}

func FuzzParseMembers(f *testing.F) {
	f.Add(3, "pod-a", "1767322800000", `{"id":"pod-a","s":1}`, true)
	f.Add(4, "pod-a", "nan", `{"id":"pod-a","s":1}`, false)
	f.Add(1, "", "", "", true)
	f.Fuzz(func(t *testing.T, n int, id, score, rec string, hasRec bool) {
		if n < 0 || n > 12 {
			n = 0
		}
		a := []any{int64(1)}
		for i := range n {
			switch i % 3 {
			case 0:
				a = append(a, id)
			case 1:
				a = append(a, score)
			default:
				if hasRec {
					a = append(a, rec)
				} else {
					a = append(a, nil)
				}
			}
		}
		ms, err := parseMembers("c", a)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
		}
		for _, m := range ms {
			require.Equal(t, id, m.ID)
		}
	})
}
