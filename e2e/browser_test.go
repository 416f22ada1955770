package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/registry"
)

const (
	operatorKey = "e2e-operator-key-0123456789"
	viewerKey   = "e2e-viewer-key-0123456789"
)

// shopConfig is a small guarded service: governance, a throttle, a breaker,
// a share cap and bulkheads.
const shopConfig = `{
  "service": "shop",
  "region": "eu",
  "governance": {"budget_window": "10m", "budget_bucket": "10s", "slo_target": 0.95},
  "throttles": {"per_tenant": {"rate": 5, "burst": 5, "key_by": "key", "max_keys": 1000}},
  "breakers": {"upstreams": {"partition_by": "operation", "consecutive_failures": 3}},
  "share_caps": {"tenants": {"capacity": 16, "share": 0.25}},
  "bulkheads": {"api": {"max_concurrent": 32}, "reports": {"max_concurrent": 8}},
  "policies": [
    {"name": "api", "operations": ["GET /api/items/{id}", "POST /api/pay"], "governance": true, "throttle": "per_tenant", "bulkhead": "api"},
    {"name": "upstream", "operations": ["GET /api/inventory"], "governance": true, "breaker": "upstreams", "bulkhead": "api"},
    {"name": "reports", "operations": ["GET /api/reports"], "governance": true, "share_cap": "tenants", "bulkhead": "reports"}
  ]
}`

// shop is a registry and its admin server on 127.0.0.1:0.
type shop struct {
	reg   *registry.Registry
	srv   *httptest.Server
	clock *clock.Fake
}

// newShop starts an unlocked admin server (ADMIN with the operator key)
// with handler wrappers around it, when given.
func newShop(t *testing.T, wrap ...func(http.Handler) http.Handler) *shop {
	t.Helper()
	return startShop(t, shopConfig, nil, wrap...)
}

// startShop is newShop of a configuration, with a hook that completes the admin server's
// configuration (the services it serves) before the server is built.
func startShop(t *testing.T, config string, configure func(*registry.Registry, *clock.Fake, *admin.Config), wrap ...func(http.Handler) http.Handler) *shop {
	t.Helper()
	cfg, err := registry.ParseConfig(strings.NewReader(config))
	require.NoError(t, err)
	// The registry and the admin server share a fake clock starting now, so
	// a test can give the views a history without waiting for it.
	clk := clock.NewFake(time.Now())
	reg := registry.New(registry.WithClock(clk))
	require.NoError(t, reg.Load(cfg))
	acfg := admin.Config{Registry: reg, OperatorKey: operatorKey, ViewerKey: viewerKey, Unlock: true, Clock: clk,
		// A test loads pages faster than a person: the rate limit has its
		// own tests in package admin.
		RateLimit: admin.RateLimit{PerMinute: 100000},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil))}
	if configure != nil {
		configure(reg, clk, &acfg)
	}
	adm, err := admin.New(acfg)
	require.NoError(t, err)
	var h http.Handler = adm
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &shop{reg: reg, srv: srv, clock: clk}
}

// call sends one API request and decodes the answer.
func (s *shop) call(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set(admin.KeyHeader, key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// history gives the views a few minutes of past: bursts of traffic, each
// followed by a read of GET /rejections (which samples the counters) and a
// step of the clock.
func (s *shop) history(t *testing.T, steps int) {
	t.Helper()
	for i := range steps {
		s.traffic(t, 10+15*(i%4))
		code, _ := s.call(t, http.MethodGet, "/rejections", viewerKey, "")
		require.Equal(t, http.StatusOK, code)
		s.clock.Advance(10 * time.Second)
	}
}

// traffic runs n calls through the policies, so that the views have
// numbers: admissions, throttled calls, a few failures for the budget.
func (s *shop) traffic(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		op := "GET /api/items/{id}"
		key := "tenant-" + strconv.Itoa(i%6) // tenant-0 is the noisy one: it sends most
		if i%2 == 0 {
			key = "tenant-0"
		}
		tk, err := s.reg.Policy(op).Admit(ctx, baldur.Call{Operation: op, Key: key, Tier: baldur.TierStandard})
		if err == nil {
			res := baldur.Success
			if n == 55 && i == 1 { // one failure in every fourth burst
				res = baldur.Failure
			}
			tk.Release(baldur.Outcome{Result: res})
		}
	}
}

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    string
}

// chromium finds the browser binary.
func chromium() string {
	if p := os.Getenv("BALDUR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// mustBrowser is true where a missing browser is a failure, not a skip.
func mustBrowser() bool {
	return os.Getenv("CI") == "true" || os.Getenv("BALDUR_REQUIRE_BROWSER") == "1"
}

// tab opens a new tab of the one headless browser the tests share, and
// closes it when the test ends.
func tab(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(func() {
		path := chromium()
		if path == "" {
			browser.err = "no chromium on PATH (apt-get install chromium, or set BALDUR_CHROMIUM)"
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox, // CI runs as root
			chromedp.DisableGPU,
			chromedp.WindowSize(1280, 900),
			chromedp.Flag("disable-dev-shm-usage", true),
		)
		actx, _ := chromedp.NewExecAllocator(context.Background(), opts...)
		browser.ctx, browser.cancel = chromedp.NewContext(actx)
		// The first call starts the browser, on a context without a
		// timeout: the browser lives as long as it.
		if err := chromedp.Do(browser.ctx); err != nil {
			browser.err = "starting " + path + ": " + err.Error()
		}
	})
	if browser.err != "" {
		if mustBrowser() {
			t.Fatal(browser.err)
		}
		t.Skip(browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 20*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// open loads the console of s at view with key entered in the key form,
// and waits for the view's first refresh.
func open(t *testing.T, ctx context.Context, s *shop, key, view string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/console#"+view),
		chromedp.WaitVisible(chromedp.CSS(`#key-input`)),
	))
	poll(t, ctx, `document.body.dataset.loaded !== undefined`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#key-input`), key),
	))
	// The page has refreshed once without a key; wait for the refresh
	// with it.
	gen := eval[string](t, ctx, `document.body.dataset.loaded || '0'`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`))))
	poll(t, ctx, `document.body.dataset.access !== 'PUBLIC' && document.body.dataset.loaded !== '`+gen+`'`)
	settled(t, ctx)
}

// settled waits until the view has drawn every card (no "loading…" left)
// after a refresh.
func settled(t *testing.T, ctx context.Context) {
	t.Helper()
	poll(t, ctx, `document.body.dataset.loaded !== undefined && document.body.dataset.access !== undefined &&
		 ![...document.querySelectorAll('#view .card .body')].some(b => b.textContent === 'loading…')`)
}

// goView switches the open console to view and waits for its first
// refresh.
func goView(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	gen := eval[string](t, ctx, `document.body.dataset.loaded || '0'`)
	eval[string](t, ctx, `location.hash = '#`+view+`'`)
	poll(t, ctx, `document.getElementById('view').dataset.view === '`+view+`' && document.body.dataset.loaded !== '`+gen+`'`)
	settled(t, ctx)
}

// eval runs a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, "evaluating %s", expr)
	return v
}

// poll waits until a JavaScript predicate holds in the page.
func poll(t *testing.T, ctx context.Context, predicate string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[any](predicate,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "waiting for %s", predicate)
}
