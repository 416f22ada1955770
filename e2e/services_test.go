package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/middleware"
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
	dlq      *dlq.Queue
	canary   *canary.Service
	chaos    *chaos.Scheduler
	levels   *notify.EmergencyLevels
}

// serviceShopConfig is the shop with fault injection allowed (the chaos
// section puts the fault and observe gates into its policies).
var serviceShopConfig = strings.TrimSuffix(strings.TrimSpace(shopConfig), "}") + `,
  "chaos": {"enabled": true, "dry_run": false, "max_rate": 0.25, "windows": ["00:00-24:00"]}
}`

// newServices builds the notification pipeline (one log channel, into
// io.Discard), the dead-letter queue (in memory), the canary rollout
// service, the chaos scheduler and the watchdog with its built-in checks
// and the services', and closes them when the test ends.
func newServices(t *testing.T, reg *registry.Registry, clk *clock.Fake) *services {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	em, ok := reg.Emergency.SafeGet()
	require.True(t, ok)
	pipe, err := notify.New(notify.Config{Service: "shop", Channels: []notify.ChannelConfig{{Name: "log", Type: notify.TypeLog}},
		Clock: clk, Emergency: em, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pipe.Close(context.Background()) })

	q, err := dlq.New(dlq.Config{Repository: dlq.NewMemory(dlq.MemoryConfig{Clock: clk}), Clock: clk,
		Domains: []dlq.Domain{{Name: "payments"}}, Handler: dlq.HTTPHandler(http.DefaultClient),
		Governance: reg.Governance.Get(), Policies: reg, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close(context.Background()) })

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

	local, err := canary.NewLocal(canary.LocalConfig{Target: reg, Replica: "e2e"})
	require.NoError(t, err)
	rollouts, err := canary.New(canary.Config{Applier: local, Governance: reg.Governance.Get(), Service: reg.Service(),
		Lock: lk, Notify: pipe, Clock: clk, Logger: quiet})
	require.NoError(t, err)

	blast, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}, GlobalMaxTraffic: 0.5,
		Scopes: map[blastradius.Scope]blastradius.ScopeLimits{blastradius.ScopeService: {Approval: blastradius.AutoApprove}}, Clock: clk})
	require.NoError(t, err)
	chaosCfg, ok := reg.ChaosConfig()
	require.True(t, ok, "the shop's configuration has a chaos section")
	budget, _ := reg.ErrorBudgetService.SafeGet()
	chaosCfg.Governance, chaosCfg.Budget, chaosCfg.Blast = reg.Governance.Get(), budget, blast
	chaosCfg.Injector, chaosCfg.Policies, chaosCfg.Notify, chaosCfg.Clock, chaosCfg.Logger = reg.Chaos(), reg, pipe, clk, quiet
	sc, err := chaos.New(chaosCfg)
	require.NoError(t, err)
	t.Cleanup(sc.Close)
	wd, err := watchdog.New(watchdog.Config{Interval: baldur.Duration(5 * time.Second),
		Checks: append([]watchdog.Check{leases, breakers, permits, stuck, q.StuckCheck(), sc.TTLCheck()}, rollouts.Checks()...), Lock: lk, Notifier: pipe,
		Replica: "e2e", Session: "e2e-1", Clock: clk, Logger: quiet})
	require.NoError(t, err)
	return &services{notify: pipe, watchdog: wd, dlq: q, canary: rollouts, chaos: sc, levels: &notify.EmergencyLevels{Level: em, Manager: pipe, Clock: clk}}
}

// admin fills the services' fields of an admin configuration.
func (v *services) admin(c *admin.Config) {
	c.Notifications = v.notify
	c.Watchdog = v.watchdog
	c.DLQ = v.dlq
	c.Canary = v.canary
	c.Chaos = v.chaos
}

// changes starts a canary rollout (the reports bulkhead widened, on a
// quarter of the tenants) and schedules a chaos experiment (injected 503s
// on GET /api/inventory for a quarter of the tenants), which waits in its
// steady-state observation: the test clock moves only when a test says.
func (v *services) changes(t *testing.T, s *shop) (rollout string) {
	t.Helper()
	ctx := context.Background()
	doc := strings.Replace(string(s.reg.Document()), `"max_concurrent":8`, `"max_concurrent":12`, 1)
	require.NotEqual(t, string(s.reg.Document()), doc, "the reports bulkhead is in the document")
	op := canary.Op{Actor: "e2e", Reason: "widen the reports bulkhead"}
	st, err := v.canary.Create(ctx, canary.Plan{Candidate: []byte(doc), Stages: []canary.Stage{{Share: 0.25}, {Share: 1}}}, op)
	require.NoError(t, err)
	st, err = v.canary.Start(ctx, st.RolloutID, op)
	require.NoError(t, err)
	_, err = v.chaos.Schedule(ctx, chaos.Experiment{ID: "inventory-errors", Target: chaos.Target{Policy: "upstream", Operation: "GET /api/inventory"},
		Fault: chaos.Fault{Kind: chaos.FaultError}, Rate: 0.25, Duration: baldur.Duration(time.Minute), Scope: blastradius.ScopeService,
		Hypothesis: "the experiment cohort's breakers open; the control cohort is served"})
	require.NoError(t, err)
	return st.RolloutID
}

// deadLetters sends n charges through the toolkit's transport to a payment
// provider on 127.0.0.1:0 that answers 502, so that the DLQ captures them,
// and waits for its writer to store them.
func (v *services) deadLetters(t *testing.T, s *shop, n int) {
	t.Helper()
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream acquirer unavailable", http.StatusBadGateway)
	}))
	defer provider.Close()
	client := &http.Client{Transport: middleware.NewTransport(s.reg, middleware.TransportConfig{
		Operation: func(*http.Request) string { return "POST payments/charges" },
		DLQ:       v.dlq.CapturePoint("payments"), Clock: s.clock})}
	for i := range n {
		body := `{"order":` + strconv.Itoa(i) + `,"card_number":"4111111111111111"}`
		resp, err := client.Post(provider.URL+"/charges", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusBadGateway, resp.StatusCode)
		// One at a time: a batch that finds the store goroutine still
		// busy goes to the spill, and this queue has none (it would be
		// dropped, counted).
		require.Eventually(t, func() bool {
			st, err := v.dlq.Stats(context.Background())
			return err == nil && st.Total == i+1
		}, 10*time.Second, 5*time.Millisecond, "the DLQ's writer stores capture %d", i)
	}
}

// newServiceShop is a shop whose admin server serves the services.
func newServiceShop(t *testing.T) (*shop, *services) {
	t.Helper()
	var v *services
	s := startShop(t, serviceShopConfig, func(reg *registry.Registry, clk *clock.Fake, c *admin.Config) {
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
// incident it paged, the DLQ's stats, groups and entries (a dry-run replay
// through the form), the canary rollout and the chaos experiment. None says
// "not configured".
func TestServiceViewsShowRealData(t *testing.T) {
	s, v := newServiceShop(t)
	rollout := v.changes(t, s) // before the emergency level, which the chaos guard refuses
	code, _ := s.call(t, http.MethodPost, "/emergency/trigger", operatorKey, `{"level":1,"reason":"payments provider degraded"}`)
	require.Equal(t, http.StatusOK, code)
	v.levels.Check(context.Background()) // notifies the level
	v.leak(t, s)
	v.deadLetters(t, s, 3)
	ctx := tab(t)
	open(t, ctx, s, operatorKey, "watchdog")
	cells := func(col string) []string {
		return eval[[]string](t, ctx, `[...document.querySelectorAll('#view td[data-col=`+col+`]')].map(td => td.textContent)`)
	}
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Subset(t, cells("name"), []string{"lock_renewal", "breaker_force_expired", "leaked_permits", "emergency_stuck", "dlq_stuck_replay", "chaos_ttl"})
	assert.Contains(t, cells("title"), "watchdog leaked_permits: reports")
	assert.Contains(t, cells("running"), "no", "started by nobody in this test: the status says so")

	goView(t, ctx, "dlq")
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Equal(t, []string{"payments", "payments", "payments"}, cells("domain")[1:], "the group's row, then one per entry")
	assert.Equal(t, []string{"http_502", "http_502", "http_502", "http_502"}, cells("failure_type"))
	assert.Contains(t, cells("total"), "3")
	assert.NotContains(t, eval[string](t, ctx, `document.getElementById('view').textContent`), "4111111111111111")
	// A dry run through the console's form names what it would replay.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#replay-form input[name=domain]`), "payments"),
		chromedp.Click(chromedp.CSS(`#replay-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-dialog[open] #confirm-reason`)),
	))
	assert.Equal(t, "domain payments (dry run)", eval[string](t, ctx, `document.getElementById('confirm-scope').textContent`))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#confirm-reason`), "provider is back"),
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
	))
	poll(t, ctx, `[...document.querySelectorAll('#view pre.result')].some(p => JSON.parse(p.textContent).ids.length === 3)`)
	st, err := v.dlq.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, st.ByStatus[dlq.Pending], "a dry run replays nothing")

	goView(t, ctx, "canary")
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Equal(t, []string{rollout}, cells("id"))
	assert.Equal(t, []string{"canary"}, cells("state"))
	assert.Equal(t, []string{"0.25"}, cells("share"))
	assert.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll('#view button[data-action=pause]').length`))

	goView(t, ctx, "chaos")
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Equal(t, []string{"inventory-errors"}, cells("id"))
	assert.Equal(t, []string{"GET /api/inventory"}, cells("operation"))

	goView(t, ctx, "notifications")
	assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`))
	assert.Equal(t, []string{"log"}, cells("name"))
	titles := cells("title")
	assert.Contains(t, titles, "watchdog leaked_permits: reports")
	assert.Contains(t, titles, "emergency level LEVEL_1")

	// A silence added through the console's form is the pipeline's.
	const form = `#view form.action:has(textarea[name=matchers])`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(form+` textarea[name=matchers]`), `{"source":"watchdog","min_priority":"HIGH"}`),
		chromedp.SetValue(chromedp.CSS(form+` input[name=duration]`), "1h"),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-dialog[open] #confirm-reason`)),
		chromedp.SetValue(chromedp.CSS(`#confirm-reason`), "known leak, fix deploying"),
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
	))
	poll(t, ctx, `[...document.querySelectorAll('#view td[data-col=reason]')].some(td => td.textContent === 'known leak, fix deploying')`)
	sil := v.notify.Silences()
	require.Len(t, sil, 1)
	assert.Equal(t, "watchdog", sil[0].Matcher.Source)
	assert.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll('#view button[data-action=Delete]').length`), "an ADMIN may delete it")
}
