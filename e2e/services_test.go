package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/registry"
	"github.com/baldur-go/baldur/watchdog"
)

// services are the operator services of a shop, built on its registry and
// fake clock the way examples/quickstart's serve mode builds them, so that
// the console's service views draw real rows.
type services struct {
	notify   *notify.Pipeline
	watchdog *watchdog.Runner
	levels   *notify.EmergencyLevels
}

// newServices builds the notification pipeline (one log channel, into
// io.Discard) and the watchdog with its built-in checks, and closes them
// when the test ends.
func newServices(t *testing.T, reg *registry.Registry, clk *clock.Fake) *services {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	em, ok := reg.Emergency.SafeGet()
	require.True(t, ok)
	pipe, err := notify.New(notify.Config{Service: "shop", Channels: []notify.ChannelConfig{{Name: "log", Type: notify.TypeLog}},
		Clock: clk, Emergency: em, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pipe.Close(context.Background()) })

	lk, err := lock.NewMemory(lock.MemoryConfig{Clock: clk})
	require.NoError(t, err)
	leases, err := watchdog.NewLeases(lk)
	require.NoError(t, err)
	breakers, err := watchdog.NewBreakers(reg)
	require.NoError(t, err)
	permits, err := watchdog.NewPermits(watchdog.PermitsConfig{Policies: reg, After: time.Minute})
	require.NoError(t, err)
	stuck, err := watchdog.NewEmergency(watchdog.EmergencyConfig{ManagerFunc: reg.Emergency.Get, Local: true})
	require.NoError(t, err)
	wd, err := watchdog.New(watchdog.Config{Interval: baldur.Duration(5 * time.Second),
		Checks: []watchdog.Check{leases, breakers, permits, stuck}, Lock: lk, Notifier: pipe,
		Replica: "e2e", Session: "e2e-1", Clock: clk, Logger: quiet})
	require.NoError(t, err)
	return &services{notify: pipe, watchdog: wd, levels: &notify.EmergencyLevels{Level: em, Manager: pipe, Clock: clk}}
}

// admin fills the services' fields of an admin configuration.
func (v *services) admin(c *admin.Config) {
	c.Notifications = v.notify
	c.Watchdog = v.watchdog
}

// newServiceShop is a shop whose admin server serves the services.
func newServiceShop(t *testing.T) (*shop, *services) {
	t.Helper()
	var v *services
	s := startShop(t, func(reg *registry.Registry, clk *clock.Fake, c *admin.Config) {
		v = newServices(t, reg, clk)
		v.admin(c)
	})
	return s, v
}

// leak gives the watchdog an incident: the reports bulkhead held full by
// permits never released for longer than the watchdog's patience, which
// it pages.
func (v *services) leak(t *testing.T, s *shop) {
	t.Helper()
	ctx := context.Background()
	const op = "GET /api/reports"
	for i := range 8 { // the bulkhead's capacity, one permit per tenant (the share cap allows 4 each)
		_, err := s.reg.Policy(op).Admit(ctx, baldur.Call{Operation: op, Key: "leaky-" + strconv.Itoa(i), Tier: baldur.TierStandard})
		require.NoError(t, err)
	}
	for range 3 {
		_, err := v.watchdog.Tick(ctx)
		require.NoError(t, err)
		s.clock.Advance(40 * time.Second)
	}
	code, body := s.call(t, http.MethodGet, "/watchdog/status", viewerKey, "")
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, body["incidents"], "the watchdog paged the leaked permits")
}

// Each wired service view draws real rows from its service: the
// notification channels and results, the watchdog's checks and the
// incident it paged. None says "not configured".
func TestServiceViewsShowRealData(t *testing.T) {
	s, v := newServiceShop(t)
	code, _ := s.call(t, http.MethodPost, "/emergency/trigger", operatorKey, `{"level":1,"reason":"payments provider degraded"}`)
	require.Equal(t, http.StatusOK, code)
	v.levels.Check(context.Background()) // notifies the level
	v.leak(t, s)
	ctx := tab(t)
	open(t, ctx, s, operatorKey, "watchdog")
	cells := func(col string) []string {
		return eval[[]string](t, ctx, `[...document.querySelectorAll('#view td[data-col=`+col+`]')].map(td => td.textContent)`)
	}
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Subset(t, cells("name"), []string{"lock_renewal", "breaker_force_expired", "leaked_permits", "emergency_stuck"})
	assert.Contains(t, cells("title"), "watchdog leaked_permits: reports")
	assert.Contains(t, cells("running"), "no", "started by nobody in this test: the status says so")

	goView(t, ctx, "notifications")
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Equal(t, []string{"log"}, cells("name"))
	titles := cells("title")
	assert.Contains(t, titles, "watchdog leaked_permits: reports")
	assert.Contains(t, titles, "emergency level LEVEL_1")
}
