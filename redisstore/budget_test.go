package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// budgetConfig is the SLO every budget test uses: 99 % over 10 minutes in
// 10 s buckets (61 buckets), no minimum of calls.
func budgetConfig(clk baldur.Clock) governance.Config {
	return governance.Config{
		Clock: clk, SLOTarget: 0.99, BudgetMinCalls: 1,
		BudgetWindow: baldur.Duration(10 * time.Minute), BudgetBucket: baldur.Duration(10 * time.Second),
		BurnWindows: []governance.BurnWindow{{Long: 5 * time.Minute, Short: 30 * time.Second, Factor: 2}},
		Audit:       &governance.MemoryAudit{}, Alerts: governance.SlogSink{Logger: discard()},
	}
}

// budgetReplica is one replica of a service: its checker, and the fleet
// budget sharing the checker's budget through its own client and breaker.
type budgetReplica struct {
	c  *governance.Checker
	b  *governance.Budget
	fb *FleetBudget
	g  *Guard
}

func newBudgetReplica(t *testing.T, c redis.UniversalClient, clk *clock.Fake, service, id string, edit func(*FleetBudgetConfig)) *budgetReplica {
	t.Helper()
	chk, err := governance.New(budgetConfig(clk))
	require.NoError(t, err)
	be := newBackend(t, c, Config{Clock: clk, Scripts: []*Script{BudgetScript}, Logger: discard()})
	g := be.Guard("budget", ClassControl)
	cfg := FleetBudgetConfig{Service: service, ReplicaID: id}
	if edit != nil {
		edit(&cfg)
	}
	fb, err := NewFleetBudget(g, chk.Budget(), cfg)
	require.NoError(t, err)
	chk.Budget().AttachFleet()
	return &budgetReplica{c: chk, b: chk.Budget(), fb: fb, g: g}
}

// record records calls outcomes at now, failed of them failures, in r's
// budget and in every budget of also (the reference fed the whole fleet).
func (r *budgetReplica) record(now time.Time, calls, failed int, also ...*governance.Budget) {
	for _, b := range append([]*governance.Budget{r.b}, also...) {
		for i := range calls {
			res := baldur.Success
			if i < failed {
				res = baldur.Failure
			}
			b.Record(now, res)
		}
	}
}

// newFleet makes n replicas of one service (named after t) on s, sharing a
// fake clock.
func newFleet(t *testing.T, s *redistest.Server, n int, service string, edit func(*FleetBudgetConfig)) (*clock.Fake, []*budgetReplica) {
	t.Helper()
	clk := clock.NewFake(epoch)
	if service == "" {
		service = prefix(t)
	}
	reps := make([]*budgetReplica, n)
	for i := range reps {
		reps[i] = newBudgetReplica(t, s.Client(t, nil), clk, service, fmt.Sprint("r", i), edit)
	}
	return clk, reps
}

// syncRound syncs every replica once, then advances the clock by 1 s.
func syncRound(t *testing.T, clk *clock.Fake, reps []*budgetReplica) []error {
	t.Helper()
	errs := make([]error, len(reps))
	for i, r := range reps {
		errs[i] = r.fb.Sync(context.Background())
	}
	clk.Advance(time.Second)
	return errs
}

// requireFleetEqual requires every replica to evaluate exactly what the
// reference budget (fed every replica's records) evaluates.
func requireFleetEqual(t *testing.T, now time.Time, ref *governance.Budget, reps []*budgetReplica) {
	t.Helper()
	want := ref.Status(now)
	for i, r := range reps {
		st := r.b.Status(now)
		require.True(t, r.b.FleetState().Fleet, "replica %d evaluates fleet totals", i)
		require.Equal(t, want.Total, st.Total, "replica %d total", i)
		require.Equal(t, want.Failed, st.Failed, "replica %d failed", i)
		require.Equal(t, want.RemainingPct, st.RemainingPct, "replica %d remaining", i)
		require.Equal(t, want.BurnRates, st.BurnRates, "replica %d burn rates", i)
		require.Equal(t, ref.BurnAlerts(now), r.b.BurnAlerts(now), "replica %d burn alerts", i)
	}
}

// TestFleetBudgetExactAcrossReplicas: three replicas failing at 0 %, 0.2 %
// and 0.8 % over several buckets evaluate one remaining budget, equal (to
// the last bit) to a single budget fed every call, after two sync rounds.
func TestFleetBudgetExactAcrossReplicas(t *testing.T) {
	t.Parallel()
	clk, reps := newFleet(t, shared.Get(t), 3, "", nil)
	ref, err := governance.New(budgetConfig(clk))
	require.NoError(t, err)
	rates := []int{0, 2, 8} // failures per 1000
	for phase := range 4 {
		for i, r := range reps {
			calls := 200 * (i + 1) * (phase + 1)
			r.record(clk.Now(), calls, calls*rates[i]/1000, ref.Budget())
		}
		syncRound(t, clk, reps)
		syncRound(t, clk, reps)
		requireFleetEqual(t, clk.Now(), ref.Budget(), reps)
		clk.Advance(40 * time.Second) // next phase in another bucket
	}
	st := reps[0].b.Status(clk.Now())
	require.Greater(t, st.RemainingPct, 0.0)
	require.Less(t, st.RemainingPct, 100.0)
	t.Logf("fleet: %d calls, %d failed, %.6f %% left; replica 0 alone: %v calls", st.Total, st.Failed, st.RemainingPct, 200*(1+2+3+4))
	// The window rolls on: the first phases leave it on every replica alike.
	clk.Advance(8 * time.Minute)
	syncRound(t, clk, reps)
	requireFleetEqual(t, clk.Now(), ref.Budget(), reps)
}

// TestFleetBudgetGateBlocksEveryReplica: the fleet's budget crosses the
// standard tier's threshold while one replica's own calls all succeed; the
// gate blocks the tier on every replica, the healthy one included.
func TestFleetBudgetGateBlocksEveryReplica(t *testing.T) {
	t.Parallel()
	clk, reps := newFleet(t, shared.Get(t), 3, "", nil)
	check := func(r *budgetReplica) baldur.GovernanceResult {
		return r.c.CheckAll(context.Background(), baldur.GovernanceRequest{Operation: "op", Tier: baldur.TierStandard})
	}
	now := clk.Now()
	reps[0].record(now, 2000, 0)
	reps[1].record(now, 1000, 15)
	reps[2].record(now, 1000, 15)
	syncRound(t, clk, reps)
	syncRound(t, clk, reps)
	// 4000 calls allow 40 failures; 30 spent: 25 % left.
	for i, r := range reps {
		require.True(t, check(r).Allowed, "replica %d", i)
		blocked, remaining, _ := r.c.ErrorBudgetBlocking(context.Background(), baldur.TierStandard, "")
		require.False(t, blocked)
		require.InDelta(t, 25, remaining, 1e-9, "replica %d", i)
	}
	reps[2].record(clk.Now(), 10, 10) // 4010 calls, 40 failures: 0.25 % left
	syncRound(t, clk, reps)
	syncRound(t, clk, reps)
	for i, r := range reps {
		res := check(r)
		assert.False(t, res.Allowed, "replica %d blocks standard", i)
		assert.Equal(t, baldur.BlockErrorBudget, res.Reason, "replica %d", i)
		crit := r.c.CheckAll(context.Background(), baldur.GovernanceRequest{Operation: "op", Tier: baldur.TierCritical})
		assert.False(t, crit.Allowed, "replica %d blocks critical (15 %%) too", i)
	}
	own := reps[0].b.Counts(now.UnixNano() / int64(reps[0].b.Bucket()))
	assert.Equal(t, governance.BucketCounts{Total: 2000}, own, "replica 0 alone is healthy")
	st := reps[0].b.FleetState()
	assert.Equal(t, governance.BucketCounts{Total: 2010, Failed: 40}, st.Others)
}

// TestFleetBudgetFlushCadence runs three replicas' syncs on a fake clock
// for 20 simulated seconds, recording every 100 ms: each replica makes one
// round trip per second, and the fleet view is exact at the end.
func TestFleetBudgetFlushCadence(t *testing.T) {
	redistest.NoLeaks(t)
	clk, reps := newFleet(t, shared.Get(t), 3, "", nil)
	var mu sync.Mutex
	synced := 0
	for _, r := range reps {
		r.fb.onSync = func(err error) {
			assert.NoError(t, err)
			mu.Lock()
			synced++
			mu.Unlock()
		}
		r.fb.Start()
	}
	ref, err := governance.New(budgetConfig(clk))
	require.NoError(t, err)
	const seconds, steps = 20, 10
	for step := range seconds * steps {
		for i, r := range reps {
			r.record(clk.Now(), i+1, i, ref.Budget())
		}
		clk.Advance(time.Second / steps)
		// Wait for the syncs that came due to finish and re-arm.
		require.Eventually(t, func() bool { return clk.Pending() == len(reps) }, 5*time.Second, time.Millisecond)
		mu.Lock()
		require.Equal(t, 3*((step+1)/steps), synced)
		mu.Unlock()
	}
	for i, r := range reps {
		st := r.g.Stats()
		assert.EqualValues(t, seconds, st.RoundTrips, "replica %d: one round trip per second", i)
		assert.EqualValues(t, seconds, r.fb.Stats().Syncs)
	}
	// Two more rounds without moving the clock (no timer fires): every
	// replica has read every other's last flush.
	for range 2 {
		for _, r := range reps {
			require.NoError(t, r.fb.Sync(context.Background()))
		}
	}
	requireFleetEqual(t, clk.Now(), ref.Budget(), reps)
	for _, r := range reps {
		require.NoError(t, r.fb.Close())
		assert.False(t, r.b.FleetState().Attached, "Close detaches the fleet view")
	}
}

// syncUntilEqual runs sync rounds until every replica evaluates what ref
// evaluates, for at most rounds rounds, and returns how many it took.
func syncUntilEqual(t *testing.T, clk *clock.Fake, ref *governance.Budget, reps []*budgetReplica, rounds int) int {
	t.Helper()
	for i := 1; i <= rounds; i++ {
		syncRound(t, clk, reps)
		now, want, ok := clk.Now(), ref.Status(clk.Now()), true
		for _, r := range reps {
			st := r.b.Status(now)
			ok = ok && r.b.FleetState().Fleet && st.Total == want.Total && st.Failed == want.Failed
		}
		if ok {
			requireFleetEqual(t, now, ref, reps)
			return i
		}
	}
	requireFleetEqual(t, clk.Now(), ref, reps)
	return rounds
}

// TestFleetBudgetRedisLost kills the server under three replicas: past
// StaleAfter each falls back to its local counts, flagged, counted and
// logged; records go on; after a restart (with AOF: the data survived;
// without: the epoch changed and every replica writes its window again)
// the fleet view is exact again, outage records included.
func TestFleetBudgetRedisLost(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run(fmt.Sprint("aof=", aof), func(t *testing.T) {
			redistest.NoLeaks(t)
			s := redistest.Start(t, redistest.Options{AOF: aof})
			log, buf := newLogger()
			clk, reps := newFleet(t, s, 3, "shop", func(c *FleetBudgetConfig) { c.Logger = log })
			ref, err := governance.New(budgetConfig(clk))
			require.NoError(t, err)
			feed := func(calls, failed []int) {
				for i, r := range reps {
					r.record(clk.Now(), calls[i], failed[i], ref.Budget())
				}
			}
			feed([]int{500, 500, 500}, []int{0, 2, 8})
			syncRound(t, clk, reps)
			syncRound(t, clk, reps)
			requireFleetEqual(t, clk.Now(), ref.Budget(), reps)
			clk.Advance(10 * time.Second) // the outage's records go in another bucket

			s.Kill(t)
			for range 6 { // StaleAfter is 5 s
				for _, err := range syncRound(t, clk, reps) {
					require.ErrorIs(t, err, ErrUnavailable)
				}
			}
			feed([]int{100, 100, 100}, []int{0, 0, 30})
			syncRound(t, clk, reps) // fails, and finds the bucket to write
			for i, r := range reps {
				st := r.b.FleetState()
				assert.True(t, st.Fallback, "replica %d flags the fallback", i)
				assert.EqualValues(t, 1, st.Fallbacks, "replica %d", i)
				assert.EqualValues(t, 1, r.fb.Stats().Fallbacks)
				assert.EqualValues(t, 600, r.b.Status(clk.Now()).Total, "replica %d evaluates its own counts alone", i)
				assert.Equal(t, 1, r.fb.Stats().Pending, "replica %d keeps the outage's bucket to write", i)
			}
			assert.Contains(t, buf.String(), "falling back to local counts")

			s.Restart(t)
			t.Logf("reconverged in %d rounds", syncUntilEqual(t, clk, ref.Budget(), reps, 10))
			for i, r := range reps {
				resets := r.fb.Stats().Resets
				if aof {
					assert.Zero(t, resets, "replica %d: the data survived", i)
				} else {
					assert.EqualValues(t, 1, resets, "replica %d: the epoch changed", i)
				}
			}
			assert.Contains(t, buf.String(), "fleet view restored")
			if !aof {
				assert.Contains(t, buf.String(), "redis lost the budget's data")
			}
		})
	}
}

// TestFleetBudgetFlushReplyLost resets the connection in the middle of a
// flush, once before the request reaches Redis and once after Redis ran it
// (the reply is lost). The writes are absolute values per replica, so the
// next flush sends them again: nothing is lost and nothing is counted
// twice, whichever happened.
func TestFleetBudgetFlushReplyLost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		resetAt time.Duration
		applied bool // Redis ran the script before the reset
	}{
		{"request lost", 30 * time.Millisecond, false},
		{"reply lost", 150 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.NoLeaks(t)
			s := shared.Get(t)
			p := redistest.NewProxy(t, "unix", s.Socket())
			clk := clock.NewFake(epoch)
			svc := prefix(t)
			viaProxy := s.Client(t, func(o *redis.Options) { o.Network, o.Addr = "tcp", p.Addr() })
			r := newBudgetReplica(t, viaProxy, clk, svc, "r0", nil)
			peer := newBudgetReplica(t, s.Client(t, nil), clk, svc, "r1", nil)
			period := clk.Now().UnixNano() / int64(r.b.Bucket())
			key := r.fb.bucket + fmt.Sprint(period)
			r.record(clk.Now(), 100, 10)

			p.Delay(100 * time.Millisecond) // each way
			done := make(chan struct{})
			go func() {
				defer close(done)
				time.Sleep(tc.resetAt)
				p.Reset()
			}()
			err := r.fb.Sync(context.Background())
			<-done
			p.Heal()
			require.ErrorIs(t, err, ErrUnavailable, "the flush failed as the client sees it")
			got := s.Do(t, "HGET", key, r.fb.Field())
			if tc.applied {
				require.Equal(t, "100:10", got, "Redis ran the flush; its reply was lost")
			} else {
				require.Nil(t, got, "the request never reached Redis")
			}
			assert.Equal(t, 1, r.fb.Stats().Pending, "the bucket waits for an acknowledged write")

			r.record(clk.Now(), 50, 5)
			require.NoError(t, r.fb.Sync(context.Background()))
			assert.Equal(t, "150:15", s.Do(t, "HGET", key, r.fb.Field()), "sent again, not added twice")
			assert.Zero(t, r.fb.Stats().Pending)
			require.NoError(t, peer.fb.Sync(context.Background()))
			assert.Equal(t, governance.BucketCounts{Total: 150, Failed: 15}, peer.b.FleetState().Others)
		})
	}
}

// TestFleetBudgetMalformedData puts data the store did not write under its
// keys: a meta or log key of another type, or a seq that is not a number,
// fails the sync with ErrMalformed (the Budget falls back to local counts
// after StaleAfter); a bucket key of another type, an unparsable count and
// a log member that is not a period are skipped and counted, and the
// other buckets still count. Nothing panics.
func TestFleetBudgetMalformedData(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, r *budgetReplica, period int64)
		failed  bool // the sync fails with ErrMalformed
		others  governance.BucketCounts
	}{
		{"meta is a string", func(t *testing.T, r *budgetReplica, _ int64) {
			s.Do(t, "SET", r.fb.keys[0], "junk")
		}, true, governance.BucketCounts{}},
		{"log is a list", func(t *testing.T, r *budgetReplica, _ int64) {
			s.Do(t, "DEL", r.fb.keys[1])
			s.Do(t, "RPUSH", r.fb.keys[1], "junk")
		}, true, governance.BucketCounts{}},
		{"seq is not a number", func(t *testing.T, r *budgetReplica, _ int64) {
			s.Do(t, "HSET", r.fb.keys[0], "seq", "junk")
		}, true, governance.BucketCounts{}},
		{"bucket is a string", func(t *testing.T, r *budgetReplica, p int64) {
			s.Do(t, "SET", r.fb.bucket+fmt.Sprint(p-1), "junk")
			s.Do(t, "ZADD", r.fb.keys[1], 1, fmt.Sprint(p-1))
		}, false, governance.BucketCounts{Total: 40, Failed: 4}},
		{"unparsable counts", func(t *testing.T, r *budgetReplica, p int64) {
			k := r.fb.bucket + fmt.Sprint(p)
			for _, v := range []string{"junk", "5:9", "-1:0", "99999999999999999999:1", "1:2:3", ""} {
				s.Do(t, "HSET", k, "x#"+v, v)
			}
			s.Do(t, "HSET", k, "y#0", "18446744073709551615:0") // overflows the sum
		}, false, governance.BucketCounts{Total: 40, Failed: 4}},
		{"log member not a period", func(t *testing.T, r *budgetReplica, _ int64) {
			s.Do(t, "ZADD", r.fb.keys[1], 1, "junk")
			s.Do(t, "ZADD", r.fb.keys[1], 1e9, "-5") // a score no sync wrote
		}, false, governance.BucketCounts{Total: 40, Failed: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk, reps := newFleet(t, s, 2, "", nil)
			r, peer := reps[0], reps[1]
			period := clk.Now().UnixNano() / int64(r.b.Bucket())
			peer.record(clk.Now(), 40, 4)
			require.NoError(t, peer.fb.Sync(context.Background()))
			tc.corrupt(t, r, period)
			r.record(clk.Now(), 10, 0)
			var err error
			for range 6 {
				err = r.fb.Sync(context.Background())
				clk.Advance(time.Second)
			}
			st, fs := r.fb.Stats(), r.b.FleetState()
			assert.NotZero(t, st.Malformed, "counted")
			if tc.failed {
				require.ErrorIs(t, err, ErrMalformed)
				assert.False(t, fs.Fleet, "no fleet view without a readable log")
				assert.Equal(t, uint64(10), r.b.Status(clk.Now()).Total, "local counts alone")
				return
			}
			require.NoError(t, err)
			assert.True(t, fs.Fleet)
			assert.Equal(t, tc.others, fs.Others)
			// The corruption does not stop later writes from being read.
			peer.record(clk.Now(), 10, 1)
			require.NoError(t, peer.fb.Sync(context.Background()))
			require.NoError(t, r.fb.Sync(context.Background()))
			want := tc.others
			want.Total, want.Failed = want.Total+10, want.Failed+1
			assert.Equal(t, want, r.b.FleetState().Others)
		})
	}
}

// TestFleetBudgetMemoryUsage measures MEMORY USAGE of a bucket key (one
// field per replica) and of the two logs per period, for docs/fleet.md.
func TestFleetBudgetMemoryUsage(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	clk, reps := newFleet(t, s, 3, "", nil)
	for range 61 { // a whole window of buckets
		for _, r := range reps {
			r.record(clk.Now(), 1000, 3)
		}
		syncRound(t, clk, reps)
		clk.Advance(9 * time.Second)
	}
	period := (clk.Now().UnixNano() - int64(10*time.Second)) / int64(reps[0].b.Bucket())
	bucket := s.Do(t, "MEMORY", "USAGE", reps[0].fb.bucket+fmt.Sprint(period)).(int64)
	logs := s.Do(t, "MEMORY", "USAGE", reps[0].fb.keys[1]).(int64) + s.Do(t, "MEMORY", "USAGE", reps[0].fb.keys[2]).(int64)
	n := s.Do(t, "ZCARD", reps[0].fb.keys[1]).(int64)
	t.Logf("bucket key with 3 replica fields: %d B; logs: %d B for %d periods (%.0f B a period)", bucket, logs, n, float64(logs)/float64(n))
	assert.LessOrEqual(t, n, reps[0].b.Buckets()+1, "the logs hold the window, no more")
	// A bucket of 50 replicas, fields as FleetBudget names them.
	big := reps[0].fb.bucket + "synthetic"
	for i := range 50 {
		s.Do(t, "HSET", big, fmt.Sprintf("pod-%02d-abcdef#0123456789ab", i), "12345:67")
	}
	t.Logf("bucket key with 50 replica fields: %d B", s.Do(t, "MEMORY", "USAGE", big).(int64))
	s.Do(t, "DEL", big)
	assert.Less(t, bucket, int64(400))
}

// TestFleetBudgetConfigErrors: invalid options are *baldur.ConfigError
// naming the field.
func TestFleetBudgetConfigErrors(t *testing.T) {
	t.Parallel()
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	g := b.Guard("budget", ClassControl)
	chk, err := governance.New(budgetConfig(nil))
	require.NoError(t, err)
	for _, tc := range []struct {
		field string
		g     *Guard
		b     *governance.Budget
		cfg   FleetBudgetConfig
	}{
		{"Guard", nil, chk.Budget(), FleetBudgetConfig{Service: "s", ReplicaID: "r"}},
		{"Budget", g, nil, FleetBudgetConfig{Service: "s", ReplicaID: "r"}},
		{"Service", g, chk.Budget(), FleetBudgetConfig{ReplicaID: "r"}},
		{"Service", g, chk.Budget(), FleetBudgetConfig{Service: "a{b}", ReplicaID: "r"}},
		{"ReplicaID", g, chk.Budget(), FleetBudgetConfig{Service: "s"}},
		{"FlushInterval", g, chk.Budget(), FleetBudgetConfig{Service: "s", ReplicaID: "r", FlushInterval: 100 * time.Millisecond}},
		{"StaleAfter", g, chk.Budget(), FleetBudgetConfig{Service: "s", ReplicaID: "r", FlushInterval: 2 * time.Second, StaleAfter: time.Second}},
		{"MaxBatch", g, chk.Budget(), FleetBudgetConfig{Service: "s", ReplicaID: "r", MaxBatch: MaxBudgetMaxBatch + 1}},
		{"KeySlack", g, chk.Budget(), FleetBudgetConfig{Service: "s", ReplicaID: "r", KeySlack: -1}},
	} {
		_, err := NewFleetBudget(tc.g, tc.b, tc.cfg)
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, tc.field)
		assert.Equal(t, tc.field, ce.Field)
	}
}

// FuzzParseCounts: a field value parses only as formatCounts writes it,
// and never panics.
func FuzzParseCounts(f *testing.F) {
	for _, s := range []string{"0:0", "10:3", "3:10", "junk", ":", "18446744073709551615:1", "+1:0", " 1:0", "1:0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseCounts(s)
		if !ok {
			return
		}
		require.LessOrEqual(t, c.Failed, c.Total)
		c2, ok := parseCounts(formatCounts(c))
		require.True(t, ok)
		require.Equal(t, c, c2)
	})
}

// TestParseBudgetReply: the script's reply shape parses, the own field is
// left out of the sums, bad values are skipped and counted, and a reply of
// another shape is ErrMalformed.
func TestParseBudgetReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		v         any
		entries   []budgetEntry
		malformed int
		err       bool
	}{
		{"empty", []any{"e", "0", int64(0)}, nil, 0, false},
		{"own left out", []any{"e", "9", int64(0), "5", "9", []any{"own", "1:1", "x", "3:1", "y", "junk"}},
			[]budgetEntry{{period: 5, seq: 9, others: governance.BucketCounts{Total: 3, Failed: 1}}}, 1, false},
		{"bad period", []any{"e", "9", int64(0), "p", "8", []any{}}, []budgetEntry{{seq: 8}}, 1, false},
		{"odd fields", []any{"e", "9", int64(0), "5", "8", []any{"x"}}, []budgetEntry{{seq: 8}}, 1, false},
		{"bad seq", []any{"e", "9", int64(0), "5", "s", []any{}}, nil, 1, false},
		{"seq past meta's", []any{"e", "9", int64(0), "5", "10", []any{"x", "1:0"}}, nil, 1, false},
		{"not an array", "junk", nil, 0, true},
		{"short", []any{"e", "0"}, nil, 0, true},
		{"ragged", []any{"e", "0", int64(0), "5"}, nil, 0, true},
		{"no epoch", []any{"", "0", int64(0)}, nil, 0, true},
		{"seq not a number", []any{"e", "x", int64(0)}, nil, 0, true},
		{"skipped not an integer", []any{"e", "0", "0"}, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseBudgetReply(tc.v, "own")
			if tc.err {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.entries, r.entries)
			assert.Equal(t, tc.malformed, r.malformed)
		})
	}
}

// FuzzParseBudgetReply builds replies of any shape from the fuzzer's bytes
// (strings, integers, nested arrays): the parser returns ErrMalformed or a
// reply, never panics, and never counts more failures than calls.
func FuzzParseBudgetReply(f *testing.F) {
	for _, v := range []any{
		[]any{"e", "9", int64(0), "5", "9", []any{"own", "1:1", "x", "3:1", "y", "junk"}},
		[]any{"e", "1", int64(2), "7", "1", []any{"a", "18446744073709551615:0", "b", "1:0"}, "x", "2", nil},
	} {
		f.Add(encodeReply(nil, v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := decodeReply(&data, 0)
		r, err := parseBudgetReply(v, "own")
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		for _, e := range r.entries {
			require.LessOrEqual(t, e.others.Failed, e.others.Total)
		}
	})
}

// encodeReply is decodeReply's inverse, for seeds.
func encodeReply(b []byte, v any) []byte {
	switch v := v.(type) {
	case []any:
		b = append(b, 0, byte(len(v)))
		for _, e := range v {
			b = encodeReply(b, e)
		}
		return b
	case int64:
		return append(b, 1, byte(v+128))
	case string:
		return append(append(b, 3, byte(len(v))), v...)
	}
	return append(b, 2)
}

// decodeReply turns bytes into a reply value: a tag byte picks a string,
// an integer, an array (of up to 15 values) or nil.
func decodeReply(data *[]byte, depth int) any {
	next := func() byte {
		if len(*data) == 0 {
			return 0
		}
		b := (*data)[0]
		*data = (*data)[1:]
		return b
	}
	switch tag := next(); {
	case len(*data) == 0 && tag == 0:
		return nil
	case tag%4 == 0 && depth < 3:
		n := int(next() % 16)
		a := make([]any, 0, n)
		for range n {
			a = append(a, decodeReply(data, depth+1))
		}
		return a
	case tag%4 == 1:
		return int64(next()) - 128
	case tag%4 == 2:
		return nil
	default:
		n := min(int(next()%24), len(*data))
		s := string((*data)[:n])
		*data = (*data)[n:]
		return strings.ToValidUTF8(s, "?")
	}
}

// BenchmarkFleetBudgetSync is one sync of a replica among three (one
// round trip over the unix socket: its current bucket written, the
// buckets the others and it changed read back), beside the local
// evaluation it feeds.
func BenchmarkFleetBudgetSync(b *testing.B) {
	s := shared.Get(b)
	clk := clock.NewFake(epoch)
	svc := fmt.Sprintf("%s#%d", b.Name(), runs.Add(1))
	var reps []*budgetReplica
	for i := range 3 {
		chk, err := governance.New(budgetConfig(clk))
		require.NoError(b, err)
		be, err := New(context.Background(), s.Client(b, nil), Config{Clock: clk, Scripts: []*Script{BudgetScript}, Logger: discard()})
		require.NoError(b, err)
		fb, err := NewFleetBudget(be.Guard("budget", ClassControl), chk.Budget(), FleetBudgetConfig{Service: svc, ReplicaID: fmt.Sprint("r", i)})
		require.NoError(b, err)
		chk.Budget().AttachFleet()
		reps = append(reps, &budgetReplica{c: chk, b: chk.Budget(), fb: fb})
	}
	ctx := context.Background()
	b.Run("sync", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := reps[i%3]
			r.b.Record(clk.Now(), baldur.Success)
			if err := r.fb.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("status", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = reps[0].b.Status(clk.Now())
		}
	})
}
