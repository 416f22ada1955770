package watchdog_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/watchdog"
)

// waitPasses waits (without letting time pass) until r completed n passes.
func waitPasses(t *testing.T, r *watchdog.Runner, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return r.Status().Passes >= n }, 5*time.Second, time.Millisecond)
}

// TestStartStop: Start runs a pass at once and then one per interval of
// the clock; Start and Stop twice are no-ops; Stop waits for the pass in
// progress and gives up the checks' locks.
func TestStartStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	var gate sync.RWMutex // write-locked by the test to keep a pass in progress
	var inPass atomic.Bool
	entered := make(chan struct{}, 16)
	c := &check{name: "c", w: newWorld(), observe: func(context.Context) error {
		inPass.Store(true)
		entered <- struct{}{}
		gate.RLock()
		inPass.Store(false)
		gate.RUnlock()
		return nil
	}}
	r := newRunner(t, clk, nil, c)
	require.NoError(t, r.Start(ctx))
	require.NoError(t, r.Start(ctx), "starting a running watchdog is a no-op")
	<-entered
	waitPasses(t, r, 1)
	assert.True(t, r.Status().Running)
	require.Eventually(t, func() bool { return clk.Pending() >= 1 }, 5*time.Second, time.Millisecond, "the next pass is armed")
	gate.Lock()
	clk.Advance(30 * time.Second)
	<-entered // the second pass is in progress, held by gate
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a pass was in progress")
	default:
	}
	gate.Unlock()
	require.NoError(t, <-stopped)
	assert.False(t, inPass.Load(), "Stop returned after the pass")
	assert.Equal(t, uint64(2), r.Status().Passes)
	assert.False(t, r.Status().Running)
	assert.Equal(t, watchdog.RoleUnknown, r.Status().Checks[0].Role, "the lock was given up")
	require.NoError(t, r.Stop(ctx), "stopping a stopped watchdog is a no-op")
	clk.Advance(time.Hour)
	assert.Equal(t, uint64(2), r.Status().Passes, "no pass after Stop")

	require.NoError(t, r.Start(ctx), "a stopped watchdog starts again")
	<-entered
	waitPasses(t, r, 3)
	require.NoError(t, r.Stop(ctx))
}

// TestStopBoundedByContext: Stop gives up waiting when its ctx ends.
func TestStopBoundedByContext(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	entered, unblock := make(chan struct{}), make(chan struct{})
	c := &check{name: "c", w: newWorld(), observe: func(context.Context) error {
		close(entered)
		<-unblock
		return nil
	}}
	r := newRunner(t, clk, nil, c)
	require.NoError(t, r.Start(context.Background()))
	<-entered
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, r.Stop(cancelled), context.Canceled)
	close(unblock)
}

// TestStartStopRace: concurrent Start, Stop, Tick and Status (for -race).
func TestStartStopRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	r := newRunner(t, clk, nil, &check{name: "c", w: newWorld("a")})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				switch i % 4 {
				case 0:
					_ = r.Start(ctx)
				case 1:
					_ = r.Stop(ctx)
				case 2:
					_, _ = r.Tick(ctx)
				default:
					_ = r.Status()
					clk.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, r.Stop(ctx))
	assert.False(t, r.Status().Running)
}

// TestHeartbeat: a good pass pings the heartbeat URL, a failed one does
// not; a failing heartbeat is reported without the URL, which may carry a
// token.
func TestHeartbeat(t *testing.T) { // not parallel: it sets the environment
	ctx := context.Background()
	var hits atomic.Int64
	var status atomic.Int64
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/ping/s3cr3t-token", r.URL.Path)
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	logs := &logtest.Buffer{}
	clk := clock.NewFake(t0)
	var fail error
	c := &check{name: "c", w: newWorld(), observe: func(context.Context) error { return fail }}
	t.Setenv("WATCHDOG_TEST_HEARTBEAT", srv.URL+"/ping/s3cr3t-token")
	r := newRunner(t, clk, func(cfg *watchdog.Config) {
		cfg.HeartbeatURLEnv = "WATCHDOG_TEST_HEARTBEAT"
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}, c)
	_, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, hits.Load(), "pinged after a good pass")

	fail = errors.New("store down")
	_, err = r.Tick(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, hits.Load(), "no ping after a failed pass")

	fail = nil
	status.Store(http.StatusInternalServerError)
	rep, err := r.Tick(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, hits.Load())
	assert.Equal(t, 1, count(rep, watchdog.KindHeartbeatFailed))
	assert.Equal(t, "heartbeat: heartbeat answered 500", r.Status().LastError)

	srv.Close()
	rep, err = r.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, count(rep, watchdog.KindHeartbeatFailed))
	for _, f := range rep.Findings {
		assert.NotContains(t, f.Detail, "s3cr3t")
	}
	assert.NotContains(t, r.Status().LastError, "s3cr3t")
	assert.NotContains(t, logs.String(), "s3cr3t")
}

// TestConfigValidate: each invalid field is a *baldur.ConfigError naming
// it.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	d := func(x time.Duration) baldur.Duration { return baldur.Duration(x) }
	tests := []struct {
		name  string
		cfg   watchdog.Config
		field string
	}{
		{"interval too short", watchdog.Config{Interval: d(time.Millisecond)}, "interval"},
		{"negative interval", watchdog.Config{Interval: d(-time.Second)}, "interval"},
		{"jitter too large", watchdog.Config{Jitter: 0.9}, "jitter"},
		{"deadline past the interval", watchdog.Config{PassDeadline: d(time.Minute)}, "pass_deadline"},
		{"lease within the interval", watchdog.Config{LeaseTTL: d(10 * time.Second)}, "lease_ttl"},
		{"negative budget", watchdog.Config{MaxActionsPerHour: -1}, "max_actions_per_hour"},
		{"negative backoff", watchdog.Config{BackoffBase: d(-1)}, "backoff_base"},
		{"base over max", watchdog.Config{BackoffBase: d(time.Hour), BackoffMax: d(time.Minute)}, "backoff_base"},
		{"unset heartbeat variable", watchdog.Config{HeartbeatURLEnv: "WATCHDOG_TEST_UNSET_VARIABLE"}, "heartbeat_url_env"},
		{"heartbeat not http", watchdog.Config{HeartbeatURL: "ftp://x/y"}, "HeartbeatURL"},
		{"per-check budget", watchdog.Config{PerCheck: map[string]watchdog.CheckConfig{"c": {MaxActionsPerHour: -3}}}, "checks.c.max_actions_per_hour"},
		{"unknown check override", watchdog.Config{PerCheck: map[string]watchdog.CheckConfig{"nope": {MaxActionsPerHour: 3}}}, "checks.nope"},
		{"bad check name", watchdog.Config{Checks: []watchdog.Check{&check{name: "Bad Name", w: newWorld()}}}, "Checks[0]"},
		{"duplicate check", watchdog.Config{Checks: []watchdog.Check{&check{name: "c", w: newWorld()}, &check{name: "c", w: newWorld()}}}, "Checks[1]"},
		{"nil check", watchdog.Config{Checks: []watchdog.Check{nil}}, "Checks[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := watchdog.New(tt.cfg)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
		})
	}
	r, err := watchdog.New(watchdog.Config{Checks: []watchdog.Check{&check{name: "c", w: newWorld()}},
		PerCheck: map[string]watchdog.CheckConfig{"c": {MaxActionsPerHour: 50}}})
	require.NoError(t, err)
	st := r.Status()
	assert.Equal(t, 30*time.Second, st.Interval)
	assert.Equal(t, 50, st.Checks[0].MaxActionsPerHour)
	off, err := watchdog.New(watchdog.Config{Checks: []watchdog.Check{&check{name: "c", w: newWorld()}},
		PerCheck: map[string]watchdog.CheckConfig{"c": {Disabled: true}}})
	require.NoError(t, err)
	assert.Empty(t, off.Status().Checks, "a disabled check is left out")
}
