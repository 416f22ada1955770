package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The overview shows the current emergency level, in the view and in the
// header badge.
func TestOverviewShowsEmergencyLevel(t *testing.T) {
	s := newShop(t)
	code, _ := s.call(t, http.MethodPost, "/emergency/trigger", operatorKey, `{"level":2,"reason":"checkout latency"}`)
	require.Equal(t, http.StatusOK, code)
	ctx := tab(t)
	open(t, ctx, s, viewerKey, "overview")
	assert.Equal(t, "LEVEL_2", eval[string](t, ctx, `document.getElementById('emergency-level').textContent`))
	assert.Equal(t, "LEVEL_2", eval[string](t, ctx, `document.getElementById('level-badge').textContent`))
	assert.Contains(t, eval[string](t, ctx, `document.getElementById('view').textContent`), "checkout latency")
}

// Throwing a kill switch through the console's form, with the reason asked
// by the confirmation, changes the state the API reports.
func TestKillSwitchThroughConsoleForm(t *testing.T) {
	s := newShop(t)
	ctx := tab(t)
	open(t, ctx, s, operatorKey, "overview")
	// The key lives in this tab's sessionStorage only.
	assert.NotContains(t, eval[string](t, ctx, `location.href`), operatorKey)
	assert.Zero(t, eval[int](t, ctx, `localStorage.length`))
	assert.Empty(t, eval[string](t, ctx, `document.cookie`))
	assert.Equal(t, operatorKey, eval[string](t, ctx, `sessionStorage.getItem('baldur.key')`))
	const reason = "bad deploy of items"
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#killswitch-form select[name=scope]`), "operation"),
		chromedp.SetValue(chromedp.CSS(`#killswitch-form input[name=pattern]`), "GET /api/items/{id}"),
		chromedp.Click(chromedp.CSS(`#killswitch-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-dialog[open] #confirm-reason`)),
	))
	scope := eval[string](t, ctx, `document.getElementById('confirm-scope').textContent`)
	assert.Equal(t, "operation GET /api/items/{id}", scope, "the confirmation names the scope")

	// No reason: refused by the dialog, nothing sent.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-ok`))))
	assert.Equal(t, "A reason is required.", eval[string](t, ctx, `document.getElementById('confirm-error').textContent`))
	_, st := s.call(t, http.MethodGet, "/status", viewerKey, "")
	assert.Empty(t, st["governance"].(map[string]any)["kill_switches"])

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#confirm-reason`), reason),
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
	))
	poll(t, ctx, `[...document.querySelectorAll('table.killswitches td[data-col=reason]')].some(td => td.textContent === '`+reason+`')`)
	_, st = s.call(t, http.MethodGet, "/status", viewerKey, "")
	ks := st["governance"].(map[string]any)["kill_switches"].([]any)
	require.Len(t, ks, 1)
	k := ks[0].(map[string]any)
	assert.Equal(t, "operation", k["scope"])
	assert.Equal(t, "GET /api/items/{id}", k["pattern"])
	assert.Equal(t, reason, k["reason"])
	_, audit := s.call(t, http.MethodGet, "/audit", viewerKey, "")
	assert.Equal(t, "killswitch.activate", audit["items"].([]any)[0].(map[string]any)["action"])
}

// A viewer sees the state but no action button in any view, and a write
// forged from the page with the viewer's key (or none) is refused and
// changes nothing.
func TestViewerSeesNoActionsAndForgedWritesAreRefused(t *testing.T) {
	s := newShop(t)
	code, _ := s.call(t, http.MethodPost, "/killswitch", operatorKey, `{"scope":"operation","pattern":"GET /api/items/{id}","reason":"r"}`)
	require.Equal(t, http.StatusOK, code)
	ctx := tab(t)
	open(t, ctx, s, viewerKey, "overview")
	assert.Equal(t, "VIEWER", eval[string](t, ctx, `document.getElementById('access-badge').textContent`))
	for _, view := range []string{"overview", "policies", "dlq", "canary", "chaos", "watchdog", "notifications", "audit"} {
		goView(t, ctx, view)
		n := eval[int](t, ctx, `document.querySelectorAll('#view button:not([data-read]), #view form.action').length`)
		assert.Zero(t, n, "view %s shows %d action controls to a viewer", view, n)
	}
	goView(t, ctx, "overview")
	assert.Contains(t, eval[string](t, ctx, `document.querySelector('table.killswitches').textContent`), "GET /api/items/{id}")

	forge := func(key string) int {
		hdr := `{'Content-Type': 'application/json'}`
		if key != "" {
			hdr = `{'Content-Type': 'application/json', 'X-Baldur-Admin-Key': '` + key + `'}`
		}
		return eval[int](t, ctx, `fetch('/killswitch', {method: 'POST', headers: `+hdr+`,
			body: JSON.stringify({scope: 'all', reason: 'forged'})}).then(r => r.status)`)
	}
	assert.Equal(t, http.StatusForbidden, forge(viewerKey))
	assert.Equal(t, http.StatusForbidden, forge(""))
	_, st := s.call(t, http.MethodGet, "/status", viewerKey, "")
	ks := st["governance"].(map[string]any)["kill_switches"].([]any)
	require.Len(t, ks, 1, "a forged write threw a switch")
}

// An operator-supplied reason is hostile input: it renders as text in every
// view that shows it, and never runs.
func TestHostileReasonRendersAsText(t *testing.T) {
	s := newShop(t)
	const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`
	code, _ := s.call(t, http.MethodPost, "/killswitch", operatorKey,
		`{"scope":"operation","pattern":"GET /api/items/{id}","reason":"`+strings.ReplaceAll(hostile, `"`, `\"`)+`"}`)
	require.Equal(t, http.StatusOK, code)
	code, _ = s.call(t, http.MethodPost, "/emergency/trigger", operatorKey, `{"level":1,"reason":"<b>bold</b>"}`)
	require.Equal(t, http.StatusOK, code)
	ctx := tab(t)
	for _, view := range []string{"overview", "audit"} {
		open(t, ctx, s, operatorKey, view)
		cells := eval[[]string](t, ctx, `[...document.querySelectorAll('td[data-col=reason]')].map(td => td.textContent)`)
		assert.Contains(t, cells, hostile, view)
		assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view img, #view script, #view b').length`), view)
		assert.True(t, eval[bool](t, ctx, `window.__pwned === undefined`), view)
	}
	assert.Contains(t, eval[string](t, ctx, `document.getElementById('view').textContent`), "<b>bold</b>")
}

// The Content-Security-Policy blocks inline script: a script element the
// page did not load from its own origin does not run, and the browser
// reports the violation.
func TestCSPBlocksInlineScript(t *testing.T) {
	s := newShop(t)
	resp, err := s.srv.Client().Get(s.srv.URL + "/console")
	require.NoError(t, err)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self'")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))

	ctx := tab(t)
	open(t, ctx, s, viewerKey, "overview")
	ran := eval[bool](t, ctx, `(() => {
		window.__violations = 0;
		document.addEventListener('securitypolicyviolation', () => { window.__violations++; });
		const s = document.createElement('script');
		s.textContent = 'window.__inline = 1';
		document.body.appendChild(s);
		const d = document.createElement('div');
		d.setAttribute('onclick', 'window.__handler = 1');
		document.body.appendChild(d);
		d.click();
		return window.__inline === 1 || window.__handler === 1;
	})()`)
	assert.False(t, ran, "inline script ran despite the policy")
	poll(t, ctx, `window.__violations >= 2`)
}

// The views of services this server does not run show "not configured";
// once an endpoint answers {"items": [...]}, its table shows the items,
// with the row actions of the caller's level.
func TestServiceViewsRenderListsOrNotConfigured(t *testing.T) {
	rollouts := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[{"id":"r-1","stage":"10%","verdict":"pass","cohort_errors":0.002},
			{"id":"r-2","stage":"50%","verdict":"<i>hold</i>","cohort_errors":0.04}]}`))
	})
	s := newShop(t, func(next http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /canary/rollouts", rollouts)
		mux.Handle("/", next)
		return mux
	})
	ctx := tab(t)
	open(t, ctx, s, operatorKey, "canary")
	ids := eval[[]string](t, ctx, `[...document.querySelectorAll('#view td[data-col=id]')].map(td => td.textContent)`)
	assert.Equal(t, []string{"r-1", "r-2"}, ids)
	assert.Contains(t, eval[[]string](t, ctx, `[...document.querySelectorAll('#view td[data-col=verdict]')].map(td => td.textContent)`), "<i>hold</i>")
	assert.Equal(t, 2, eval[int](t, ctx, `document.querySelectorAll('#view button[data-action=promote]').length`))

	goView(t, ctx, "dlq")
	assert.Contains(t, eval[string](t, ctx, `document.querySelector('#view .notconfigured').textContent`), "not configured")
	assert.Zero(t, eval[int](t, ctx, `[...document.querySelectorAll('#view .tail')].filter(t => !t.hidden && t.children.length).length`),
		"actions of an unconfigured service are hidden")
}

// Screenshots of every view, with the services wired, for the test's
// artifacts and (make console-screenshots) for docs/console.
func TestConsoleScreenshots(t *testing.T) {
	s, v := newServiceShop(t)
	v.leak(t, s) // before the kill switch on the reports it leaks from
	v.deadLetters(t, s, 6)
	v.changes(t, s) // before the emergency level, which the chaos guard refuses
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/emergency/trigger", `{"level":1,"reason":"payments provider degraded","duration":"30m"}`},
		{http.MethodPost, "/killswitch", `{"scope":"operation","pattern":"GET /api/reports","reason":"report queries overload the replica","expires_in":"1h"}`},
		{http.MethodPost, "/breakers/force", `{"policy":"upstream","operation":"GET /api/inventory","state":"open","ttl":"10m"}`},
	} {
		code, body := s.call(t, c.method, c.path, operatorKey, c.body)
		require.Equal(t, http.StatusOK, code, "%s %s: %v", c.method, c.path, body)
	}
	v.levels.Check(context.Background())
	s.history(t, 18) // three minutes
	ctx := tab(t)
	open(t, ctx, s, operatorKey, "overview")
	dir := os.Getenv("BALDUR_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, view := range []string{"overview", "policies", "dlq", "canary", "chaos", "watchdog", "notifications", "audit"} {
		goView(t, ctx, view)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.Greater(t, len(png), 1000)
		require.NoError(t, os.WriteFile(filepath.Join(dir, view+".png"), png, 0o644))
	}
	t.Logf("screenshots in %s", dir)
}
